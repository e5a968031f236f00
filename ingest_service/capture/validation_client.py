"""Every call ingest makes to ValidationService, and what its failures mean for the leads.

ValidateLeads judges stored leads: a chunk that cannot be judged (service unreachable, deadline
passed, an error) comes back PROCESSING with the reason, and the sweeper re-drives it. ValidateNewLeads
judges and stores a file's leads: a failure raises NotJudged with the reason, and the caller stores
them PROCESSING instead. EvaluateLeads (a dry run): a failure is UNAVAILABLE, nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import grpc

from ingest_service.resources import IngestResources
from leadrelay import clients
from leadrelay.capture.leads import ACCEPTED, PROCESSING, Outcome
from leadrelay.errors import Unavailable
from leadrelay.protoconv import LEAD_STATUS_NAME, outcome_from_proto, set_timestamp
from leadrelay.v1 import validation_pb2

log = logging.getLogger(__name__)

UNREACHABLE = "stored; the validation service could not be reached, the lead will be judged when it is back"


class NotJudged(Exception):
    """ValidateNewLeads could not judge (nor store) the leads; `reason` is what their outcome says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NewLead(NamedTuple):
    """A lead not stored yet, on its way to ValidateNewLeads, with the platform identity its file
    row carried, if any."""

    lead_id: UUID
    source_id: UUID
    platform_lead_id: str
    answers: str  # JSON text
    fields: str  # JSON text
    form_id: UUID | None = None
    platform_context: str = "{}"  # JSON text
    is_test: bool = False
    captured_at: datetime | None = None


def unjudged_reason(code: grpc.StatusCode) -> str:
    """What a stored lead's outcome says when the validation call for it failed with `code`."""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return UNREACHABLE
    return f"stored; validation failed ({code.name}), the lead will be judged again"


def bulk_deadline(deps: IngestResources) -> float:
    """A bulk chunk is one transaction of real work: it gets at least a minute. An unreachable
    service still fails at once."""
    return max(deps.settings.validation_timeout_seconds, 60.0)


async def judge(
    deps: IngestResources,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    *,
    chunk: int | None = None,
    deadline_seconds: float | None = None,
    with_fields: bool = True,
) -> dict[UUID, Outcome]:
    """Has the leads judged, one ValidateLeads call per chunk (default `validate_batch_size`), all
    chunks at once. Leads of a chunk that could not be judged (validation unreachable, deadline
    passed) come back PROCESSING with the reason. Bulk callers that only count statuses pass
    with_fields=False: reading each outcome's fields costs ~18 us a lead."""
    if not lead_ids:
        return {}
    size = max(1, chunk or deps.settings.validate_batch_size)
    deadline = deadline_seconds or deps.settings.validation_timeout_seconds
    chunks = [lead_ids[i : i + size] for i in range(0, len(lead_ids), size)]
    results = await asyncio.gather(*(_judge_chunk(deps, account_id, c, deadline, with_fields) for c in chunks))
    return {k: v for r in results for k, v in r.items()}


async def _judge_chunk(
    deps: IngestResources, account_id: UUID, lead_ids: Sequence[UUID], deadline: float, with_fields: bool
) -> dict[UUID, Outcome]:
    try:
        response = await deps.validation.ValidateLeads(
            validation_pb2.ValidateLeadsRequest(lead_ids=[str(i) for i in lead_ids]),
            metadata=clients.as_account(deps.settings.internal_token, account_id),
            timeout=deadline,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "validation unreachable; leads stay PROCESSING",
            extra={"leads": len(lead_ids), "code": exc.code().name, "detail": exc.details()},
        )
        reason = unjudged_reason(exc.code())
        return {i: Outcome(i, "", PROCESSING, "", reason) for i in lead_ids}
    return {UUID(o.lead_id): outcome_from_proto(o, with_fields=with_fields) for o in response.outcomes}


async def forget(deps: IngestResources, account_id: UUID, lead_ids: Sequence[UUID]) -> None:
    """ForgetLeads: validation drops what it kept of these erased leads' values. Raises Unavailable
    (with the reason) if it could not; the caller tries again."""
    try:
        await deps.validation.ForgetLeads(
            validation_pb2.ForgetLeadsRequest(lead_ids=[str(i) for i in lead_ids]),
            metadata=clients.as_account(deps.settings.internal_token, account_id),
            timeout=deps.settings.validation_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(f"validation could not forget the erased leads ({exc.code().name})") from None


async def judge_new(deps: IngestResources, account_id: UUID, via: str, leads: Sequence[NewLead]) -> list[Outcome]:
    """One ValidateNewLeads call: judges and stores the leads (one outcome each, in order). Raises
    NotJudged if the service could not take them. The service lists only the leads not ACCEPTED
    (most of a file's are): an accepted lead's outcome is the shared ACCEPTED_NEW."""
    source_text = {sid: str(sid) for sid in {lead.source_id for lead in leads}}
    ids = [str(lead.lead_id) for lead in leads]
    with_identity = any(_has_identity(lead) for lead in leads)
    request = validation_pb2.ValidateNewLeadsRequest(
        via=via,
        omit_accepted=True,
        with_identity=with_identity,
        leads=[
            validation_pb2.NewLead(
                lead_id=lead_id,
                source_id=source_text[lead.source_id],
                platform_lead_id=lead.platform_lead_id,
                answers_json=lead.answers,
                fields_json=lead.fields,
            )
            if not with_identity
            else _identified(lead, lead_id, source_text[lead.source_id])
            for lead, lead_id in zip(leads, ids, strict=True)
        ],
    )
    try:
        response = await deps.validation.ValidateNewLeads(
            request, metadata=clients.as_account(deps.settings.internal_token, account_id), timeout=bulk_deadline(deps)
        )
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "validation could not judge a chunk of new leads",
            extra={"leads": len(leads), "code": exc.code().name, "detail": exc.details()},
        )
        raise NotJudged(unjudged_reason(exc.code())) from None
    listed = {o.lead_id: o for o in response.outcomes}
    if len(listed) + response.accepted != len(leads):
        raise NotJudged(f"stored; validation answered {len(listed) + response.accepted} of {len(leads)} leads")
    out = []
    for lead, lead_id in zip(leads, ids, strict=True):
        o = listed.get(lead_id)
        if o is None:
            out.append(ACCEPTED_NEW)
        else:
            out.append(
                Outcome(
                    lead.lead_id,
                    lead.platform_lead_id,
                    LEAD_STATUS_NAME[o.status],
                    o.disposition_code,
                    o.custom_reason,
                    o.duplicate,
                )
            )
    return out


# A new lead stored ACCEPTED, as the importer counts it (it reads no id or platform id of those).
ACCEPTED_NEW = Outcome(None, "", ACCEPTED, "", "")


def _has_identity(lead: NewLead) -> bool:
    return lead.form_id is not None or lead.is_test or lead.captured_at is not None or lead.platform_context != "{}"


def _identified(lead: NewLead, lead_id: str, source_id: str) -> validation_pb2.NewLead:
    message = validation_pb2.NewLead(
        lead_id=lead_id,
        source_id=source_id,
        platform_lead_id=lead.platform_lead_id,
        answers_json=lead.answers,
        fields_json=lead.fields,
        form_id=str(lead.form_id) if lead.form_id else "",
        platform_context_json=lead.platform_context,
        is_test=lead.is_test,
    )
    if lead.captured_at is not None:
        set_timestamp(message.captured_at, lead.captured_at)
    return message


async def judge_fields(
    deps: IngestResources,
    account_id: UUID,
    source_id: UUID,
    rows: Sequence[dict[str, str]],
    is_test: Sequence[bool] = (),
) -> list[Outcome]:
    """EvaluateLeads: judges mapped fields of one source without storing anything (`is_test`: per
    row, when some are test leads)."""
    flags = list(is_test) or [False] * len(rows)
    try:
        response = await deps.validation.EvaluateLeads(
            validation_pb2.EvaluateLeadsRequest(
                source_id=str(source_id),
                rows=[validation_pb2.FieldRow(fields=f, is_test=t) for f, t in zip(rows, flags, strict=True)],
            ),
            metadata=clients.as_account(deps.settings.internal_token, account_id),
            timeout=deps.settings.validation_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(f"the validation service could not judge the rows: {exc.details()}") from None
    return [outcome_from_proto(o) for o in response.outcomes]
