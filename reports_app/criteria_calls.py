"""The acceptance-criteria page's calls to ValidationService (GetAcceptanceCriteria,
ListCriteriaVersions, SetAcceptanceCriteria, EvaluateLeads, RevalidateLeads), each on the signed-in
user's account and naming that user as the actor; rules travel as criteria_draft's plain dicts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC
from typing import Any
from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, validation_pb2, validation_pb2_grpc

_SCOPES = {"source": validation_pb2.DUPLICATE_SCOPE_SOURCE, "account": validation_pb2.DUPLICATE_SCOPE_ACCOUNT}


def rule_to_proto(rule: Mapping[str, Any]) -> validation_pb2.Rule:
    p = rule.get("params") or {}
    out = validation_pb2.Rule(
        column=rule.get("column", ""),
        disposition_code=rule.get("disposition_code", ""),
        custom_reason=rule.get("custom_reason", ""),
    )
    kind = rule["kind"]
    if kind == "required":
        out.required.SetInParent()
    elif kind == "email":
        out.email.check_deliverability = bool(p.get("check_deliverability"))
        out.email.SetInParent()
    elif kind == "phone":
        out.phone.default_region = p.get("default_region", "")
        out.phone.SetInParent()
    elif kind == "picklist":
        out.picklist.allowed.extend(p.get("allowed") or [])
        out.picklist.mapper.update(p.get("mapper") or {})
        out.picklist.case_insensitive = bool(p.get("case_insensitive"))
        out.picklist.SetInParent()
    elif kind == "max_length":
        out.max_length.max = int(p.get("max") or 0)
    elif kind == "pattern":
        out.pattern.regex = p.get("regex", "")
        out.pattern.SetInParent()
    elif kind == "duplicate":
        out.duplicate.window_days = int(p.get("window_days") or 0)
        out.duplicate.columns.extend(p.get("columns") or [])
        out.duplicate.scope = _SCOPES.get(p.get("scope", "source"), validation_pb2.DUPLICATE_SCOPE_SOURCE)
    elif kind == "reject_test_leads":
        out.reject_test_leads.SetInParent()
    return out


def rule_from_proto(r: validation_pb2.Rule) -> dict[str, Any]:
    kind = r.WhichOneof("kind") or ""
    params: dict[str, Any] = {}
    if kind == "email":
        params = {"check_deliverability": r.email.check_deliverability}
    elif kind == "phone":
        params = {"default_region": r.phone.default_region}
    elif kind == "picklist":
        params = {
            "allowed": list(r.picklist.allowed),
            "mapper": dict(sorted(r.picklist.mapper.items())),
            "case_insensitive": r.picklist.case_insensitive,
        }
    elif kind == "max_length":
        params = {"max": r.max_length.max}
    elif kind == "pattern":
        params = {"regex": r.pattern.regex}
    elif kind == "duplicate":
        account = r.duplicate.scope == validation_pb2.DUPLICATE_SCOPE_ACCOUNT
        params = {
            "window_days": r.duplicate.window_days,
            "columns": list(r.duplicate.columns),
            "scope": "account" if account else "source",
        }
    return {
        "kind": kind,
        "column": r.column,
        "params": params,
        "disposition_code": r.disposition_code,
        "custom_reason": r.custom_reason,
    }


def version_dict(c: validation_pb2.AcceptanceCriteria) -> dict[str, Any]:
    return {
        "version": c.version,
        "rules": [rule_from_proto(r) for r in c.rules],
        "actor": c.actor,
        "note": c.note,
        "created_at": c.created_at.ToDatetime(tzinfo=UTC) if c.HasField("created_at") else None,
    }


def _meta(settings: Settings, account_id: UUID, user_id: UUID) -> Any:
    return clients.as_account(settings.internal_token, account_id, actor_user_id=user_id)


async def versions(settings: Settings, account_id: UUID, user_id: UUID, source_id: str) -> list[dict[str, Any]]:
    """The source's criteria versions, newest first (at most 200)."""
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.ValidationServiceStub(ch).ListCriteriaVersions(
            validation_pb2.ListCriteriaVersionsRequest(source_id=source_id, page_size=200),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )
    return [version_dict(v) for v in reply.versions]


async def save(
    settings: Settings, account_id: UUID, user_id: UUID, source_id: str, rules: Sequence[Mapping[str, Any]], note: str
) -> int:
    """Saves the rules as the source's new version; returns its number."""
    async with clients.channel(settings.validation_target) as ch:
        saved = await validation_pb2_grpc.ValidationServiceStub(ch).SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(
                source_id=source_id, rules=[rule_to_proto(r) for r in rules], note=note
            ),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )
    return int(saved.version)


_STATUS = {v: k.removeprefix("LEAD_STATUS_") for k, v in common_pb2.LeadStatus.items()}


async def try_draft(
    settings: Settings,
    account_id: UUID,
    user_id: UUID,
    source_id: str,
    rules: Sequence[Mapping[str, Any]],
    last_leads: int,
) -> list[dict[str, Any]]:
    """The draft judged against the source's last leads (EvaluateLeads, nothing written): per lead,
    its stored judgement and the draft's."""
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.ValidationServiceStub(ch).EvaluateLeads(
            validation_pb2.EvaluateLeadsRequest(
                source_id=source_id,
                draft_rules=[rule_to_proto(r) for r in rules],
                use_draft_rules=True,
                last_leads=last_leads,
            ),
            metadata=_meta(settings, account_id, user_id),
            timeout=60,
        )
    return [
        {
            "lead_id": e.lead_id,
            "stored_status": _STATUS[e.stored_status],
            "stored_code": e.stored_disposition_code,
            "stored_reason": e.stored_custom_reason,
            "status": _STATUS[e.status],
            "code": e.disposition_code,
            "reason": e.custom_reason,
        }
        for e in reply.leads
    ]


async def rejudge(
    settings: Settings, account_id: UUID, user_id: UUID, source_id: str
) -> AsyncIterator[validation_pb2.RevalidateProgress]:
    """Re-judges the source's rejected (and waiting) leads under its current criteria, with progress."""
    async with clients.channel(settings.validation_target) as ch:
        stream = validation_pb2_grpc.ValidationServiceStub(ch).RevalidateLeads(
            validation_pb2.RevalidateLeadsRequest(source_id=source_id),
            metadata=_meta(settings, account_id, user_id),
            timeout=600,
        )
        async for progress in stream:
            yield progress
