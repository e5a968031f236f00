"""What admins change from the reports app goes through the services that own it, never by SQL:
the picklist value mapper through ValidationService.SetAcceptanceCriteria (a new criteria version),
retries through PostOutService.RetryPostOuts, resuming a paused destination through
ResumeDestination, a platform count through IngestService.GetSourceCounts — all called with the
internal token on the signed-in user's account, naming the user as the actor of every call (audit
trails say who acted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import ingest_pb2, ingest_pb2_grpc, validation_pb2, validation_pb2_grpc


def picklist_rule(rules: Sequence[validation_pb2.Rule], column: str) -> validation_pb2.Rule | None:
    for rule in rules:
        if rule.WhichOneof("kind") == "picklist" and rule.column == column:
            return rule
    return None


def with_mapping(
    rules: Sequence[validation_pb2.Rule], column: str, value: str, target: str
) -> list[validation_pb2.Rule]:
    """The rules with `value` mapped to the allowed `target` in `column`'s picklist."""
    out = [validation_pb2.Rule.FromString(r.SerializeToString()) for r in rules]
    rule = picklist_rule(out, column)
    if rule is None:
        raise ValueError(f"{column}: the source has no picklist rule for this column")
    if target not in rule.picklist.allowed:
        raise ValueError(f"{column}: {target!r} is not one of the picklist's allowed values")
    rule.picklist.mapper[value] = target
    return out


async def allowed_values(
    settings: Settings, account_id: UUID, source_id: UUID, column: str, *, actor_user_id: UUID
) -> list[str]:
    async with clients.channel(settings.validation_target) as ch:
        current = await validation_pb2_grpc.ValidationServiceStub(ch).GetAcceptanceCriteria(
            validation_pb2.GetAcceptanceCriteriaRequest(source_id=str(source_id)),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=10,
        )
    rule = picklist_rule(current.rules, column)
    return list(rule.picklist.allowed) if rule else []


async def add_to_mapper(
    settings: Settings, account_id: UUID, source_id: UUID, column: str, value: str, target: str, *, actor_user_id: UUID
) -> int:
    """Adds value → target to the column's picklist mapper; returns the new criteria version."""
    meta = clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id)
    async with clients.channel(settings.validation_target) as ch:
        stub = validation_pb2_grpc.ValidationServiceStub(ch)
        current = await stub.GetAcceptanceCriteria(
            validation_pb2.GetAcceptanceCriteriaRequest(source_id=str(source_id)), metadata=meta, timeout=10
        )
        saved = await stub.SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(
                source_id=str(source_id), rules=with_mapping(current.rules, column, value, target)
            ),
            metadata=meta,
            timeout=10,
        )
    return saved.version


async def retry_post_outs(
    settings: Settings,
    account_id: UUID,
    *,
    actor_user_id: UUID,
    lead_ids: Sequence[UUID | str] = (),
    source_id: UUID | None = None,
) -> int:
    """Requeues the given leads' failed deliveries, or every failed one of `source_id`."""
    request = (
        validation_pb2.RetryPostOutsRequest(all_failed=True, source_id=str(source_id))
        if source_id
        else validation_pb2.RetryPostOutsRequest(lead_ids=[str(i) for i in lead_ids])
    )
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.PostOutServiceStub(ch).RetryPostOuts(
            request,
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=30,
        )
    return reply.requeued


async def resume_destination(
    settings: Settings, account_id: UUID, destination_id: UUID, *, actor_user_id: UUID
) -> None:
    """Resumes a destination the circuit breaker paused (PostOutService.ResumeDestination)."""
    async with clients.channel(settings.validation_target) as ch:
        await validation_pb2_grpc.PostOutServiceStub(ch).ResumeDestination(
            validation_pb2.ResumeDestinationRequest(destination_id=str(destination_id)),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=10,
        )


async def check_platform_count(
    settings: Settings, account_id: UUID, source_id: UUID, since: datetime, until: datetime, *, actor_user_id: UUID
) -> int:
    """Asks the platform for its count of the window now (IngestService.GetSourceCounts records it
    beside ours); returns the platform's count, -1 when the platform cannot be asked."""
    request = ingest_pb2.GetSourceCountsRequest(source_id=str(source_id))
    request.since.FromDatetime(since)
    request.until.FromDatetime(until)
    async with clients.channel(settings.ingest_target) as ch:
        reply = await ingest_pb2_grpc.IngestServiceStub(ch).GetSourceCounts(
            request,
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=30,
        )
    return int(reply.platform_reported)


def mapped_to(rule: validation_pb2.Rule, value: str) -> str | None:
    """The allowed value `value` is already mapped to by the picklist's mapper (or is itself), or
    None: the value is not taken care of yet."""
    fold = rule.picklist.case_insensitive
    for k, v in rule.picklist.mapper.items():
        if k == value or (fold and k.casefold() == value.casefold()):
            return v
    for allowed in rule.picklist.allowed:
        if allowed == value or (fold and allowed.casefold() == value.casefold()):
            return allowed
    return None


async def picklist(
    settings: Settings, account_id: UUID, source_id: UUID, column: str, *, actor_user_id: UUID
) -> tuple[validation_pb2.Rule | None, int]:
    """The column's picklist rule in the source's current criteria (None without one), and the version."""
    async with clients.channel(settings.validation_target) as ch:
        current = await validation_pb2_grpc.ValidationServiceStub(ch).GetAcceptanceCriteria(
            validation_pb2.GetAcceptanceCriteriaRequest(source_id=str(source_id)),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=10,
        )
    return picklist_rule(current.rules, column), current.version


async def revalidate(
    settings: Settings,
    account_id: UUID,
    *,
    actor_user_id: UUID,
    lead_ids: Sequence[UUID | str] = (),
    source_id: UUID | None = None,
    disposition_code: str = "",
    column: str = "",
    value: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> validation_pb2.RevalidateProgress:
    """Re-judges the selected REJECTED and PROCESSING leads under their source's current criteria
    (ValidationService.RevalidateLeads; the accepted ones are posted out); returns the last progress
    message: how many were judged, accepted, still rejected, left alone, with examples."""
    request = validation_pb2.RevalidateLeadsRequest(
        lead_ids=[str(i) for i in lead_ids],
        source_id=str(source_id or ""),
        disposition_code=disposition_code,
        column=column,
        value=value,
    )
    if since is not None:
        request.since.FromDatetime(since)
    if until is not None:
        request.until.FromDatetime(until)
    last = validation_pb2.RevalidateProgress()
    async with clients.channel(settings.validation_target) as ch:
        stream = validation_pb2_grpc.ValidationServiceStub(ch).RevalidateLeads(
            request,
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=300,
        )
        async for progress in stream:
            last = progress
    return last


async def resend(
    settings: Settings, account_id: UUID, lead_ids: Sequence[UUID | str], *, actor_user_id: UUID
) -> list[str]:
    """Sends the leads' failed and CRM-rejected deliveries again (PostOutService.RetryPostOuts);
    returns the ids of the leads that had such a delivery."""
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.PostOutServiceStub(ch).RetryPostOuts(
            validation_pb2.RetryPostOutsRequest(lead_ids=[str(i) for i in lead_ids]),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=actor_user_id),
            timeout=30,
        )
    return list(reply.lead_ids)
