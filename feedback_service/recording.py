"""Turning the CRM's stage changes into events to store. Pure: the leads, the mapping and the clock
are parameters.

Every item is judged on its own — a bad item is an error naming it, never a failed batch: a missing or
malformed lead id, an unknown lead, a blank stage name, a change time that is missing, in the future
or before the lead was captured. A good item becomes an event with both stages; its status says
whether it will be sent (PENDING), cannot be (NOT_SENDABLE: neither a Facebook lead nor a LinkedIn
lead of an account sending to LinkedIn, or no valid lead id) or is already out of the API's window
(EXPIRED: Meta 7 days, LinkedIn 90); and its channel, the API it goes to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from feedback_service import linkedin_payload
from feedback_service.capi_payload import expired_reason, is_expired, meta_lead_id_problem
from feedback_service.stages import MetaStage, map_stage, stage_name_problem
from leadrelay.ids import as_id

PENDING, SENT, FAILED, EXPIRED, NOT_SENDABLE = "PENDING", "SENT", "FAILED", "EXPIRED", "NOT_SENDABLE"
STATUSES = (PENDING, SENT, FAILED, EXPIRED, NOT_SENDABLE)
# Where an event goes: a Facebook lead's to Meta's Conversions API, a LinkedIn lead's to LinkedIn's.
META, LINKEDIN = "META", "LINKEDIN"

# CRM and LeadRelay clocks differ a little: a change this far ahead of our clock is still "now".
FUTURE_SKEW = timedelta(seconds=60)
# Capture times and CRM times are often at different precisions (milliseconds vs seconds).
CAPTURE_SKEW = timedelta(seconds=1)
MAX_PLATFORM_LEAD_ID = 200


@dataclass(frozen=True)
class LeadRef:
    lead_id: UUID
    account_id: UUID
    platform: str
    platform_lead_id: str
    captured_at: datetime


@dataclass(frozen=True)
class NewEvent:
    lead_id: UUID
    crm_stage: str
    meta_stage: MetaStage
    changed_at: datetime
    status: str = PENDING
    reason: str = ""
    channel: str = META


@dataclass(frozen=True)
class ChangeIn:
    """One requested change as parsed from the request (`index` is its place in the request)."""

    index: int
    lead_id: str
    platform_lead_id: str
    crm_stage: str
    changed_at: datetime | None


@dataclass(frozen=True)
class ChangeError:
    index: int
    lead_id: str
    platform_lead_id: str
    message: str


def parse_problem(change: ChangeIn, now: datetime) -> str | None:
    """What is wrong with a change before any lead is looked up, or None."""
    if change.lead_id:
        if as_id(change.lead_id) is None:
            return f"lead_id {change.lead_id!r} is not a LeadRelay lead id (a UUID)"
    elif change.platform_lead_id:
        pid = change.platform_lead_id
        if pid != pid.strip() or len(pid) > MAX_PLATFORM_LEAD_ID or any(ord(ch) < 32 for ch in pid):
            return f"platform_lead_id {pid!r} is malformed"
    else:
        return "lead_id or platform_lead_id is required"
    problem = stage_name_problem(change.crm_stage)
    if problem:
        return problem
    if change.changed_at is None:
        return "changed_at is required"
    if change.changed_at > now + FUTURE_SKEW:
        return f"changed_at {change.changed_at.isoformat()} is in the future"
    return None


def resolve(
    change: ChangeIn,
    account_id: UUID,
    by_id: Mapping[UUID, LeadRef],
    by_platform_id: Mapping[str, Sequence[LeadRef]],
) -> LeadRef | str:
    """The change's lead, or the error naming it."""
    if change.lead_id:
        lead = by_id.get(UUID(change.lead_id))
        if lead is None:
            return f"lead {change.lead_id} not found"
        if lead.account_id != account_id:
            return f"lead {change.lead_id} belongs to another account"
        return lead
    found = by_platform_id.get(change.platform_lead_id, ())
    if not found:
        return f"no lead with platform_lead_id {change.platform_lead_id!r}"
    if len(found) > 1:
        # The same platform id under two sources (say a Facebook Page and a CSV import of it): prefer
        # the Facebook lead, which is the one Meta knows.
        facebook = [lead for lead in found if lead.platform == "FACEBOOK"]
        if len(facebook) == 1:
            return facebook[0]
        return f"platform_lead_id {change.platform_lead_id!r} matches {len(found)} leads; send lead_id instead"
    return found[0]


def plan_event(
    change: ChangeIn, lead: LeadRef, mapping: Mapping[str, MetaStage], now: datetime, linkedin: bool = False
) -> NewEvent | str:
    """The event to store for a resolved change, or the error naming why not. `linkedin`: the account
    sends LinkedIn leads' changes to LinkedIn's Conversions API."""
    assert change.changed_at is not None
    if change.changed_at < lead.captured_at - CAPTURE_SKEW:
        return (
            f"changed_at {change.changed_at.isoformat()} is before the lead was captured "
            f"({lead.captured_at.isoformat()})"
        )
    meta_stage = map_stage(mapping, change.crm_stage)
    if linkedin and lead.platform == "LINKEDIN":
        status, reason = linkedin_sendability(lead, change.changed_at, now)
        return NewEvent(lead.lead_id, change.crm_stage, meta_stage, change.changed_at, status, reason, LINKEDIN)
    status, reason = sendability(lead, change.changed_at, now)
    return NewEvent(lead.lead_id, change.crm_stage, meta_stage, change.changed_at, status, reason)


def linkedin_sendability(lead: LeadRef, changed_at: datetime, now: datetime) -> tuple[str, str]:
    problem = linkedin_payload.lead_id_problem(lead.platform_lead_id)
    if problem:
        return NOT_SENDABLE, problem
    if linkedin_payload.is_expired(changed_at, now):
        return EXPIRED, linkedin_payload.expired_reason(changed_at)
    return PENDING, ""


def sendability(lead: LeadRef, changed_at: datetime, now: datetime) -> tuple[str, str]:
    if lead.platform == "LINKEDIN":
        return (
            NOT_SENDABLE,
            "a LinkedIn lead and no LinkedIn Conversions API configuration (SetLinkedInConversionsConfig)",
        )
    if lead.platform != "FACEBOOK":
        return NOT_SENDABLE, f"not a Facebook lead ({lead.platform}): Meta has no lead id to match"
    problem = meta_lead_id_problem(lead.platform_lead_id)
    if problem:
        return NOT_SENDABLE, problem
    if is_expired(changed_at, now):
        return EXPIRED, expired_reason(changed_at)
    return PENDING, ""


def initial_change(lead: LeadRef, crm_stage: str, index: int) -> ChangeIn:
    """Backfill without CRM history: the lead's initial stage, at its capture time."""
    return ChangeIn(index, str(lead.lead_id), "", crm_stage, lead.captured_at)


def as_error(change: ChangeIn, message: str) -> ChangeError:
    return ChangeError(change.index, change.lead_id, change.platform_lead_id, message)
