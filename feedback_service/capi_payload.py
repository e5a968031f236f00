"""Conversions API for CRM events: one event per recorded stage change. Pure (no I/O).

Today's shape (reference §4): event_name = the advertiser's stage, event_time = the change, action_source
`system_generated`, user_data.lead_id = Meta's lead id unhashed, every identifier the lead has hashed
(em, ph, fn, ln, ct, st, zp, country), custom_data event_source `crm` + lead_event_source, and Limited
Data Use where configured or where the lead opted out (limited_data_use). Kept from the 2020
lead-quality guide (today's API still accepts extra custom_data keys): `facebook_lifecycle_stage_name`
(Meta's stage, in the enum spelling the one known sender uses, e.g. `LEAD`) and `lifecycle_stage_name`
(the advertiser's stage).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from feedback_service import limited_data_use
from feedback_service.hashing import DEFAULT_REGION, identifier_values, lead_country, user_data_hashes
from feedback_service.stages import MetaStage

MAX_EVENTS_PER_REQUEST = 1000
# Meta refuses a whole request when one event_time is older than 7 days.
WINDOW = timedelta(days=7)
# An event this close to the window's edge is expired rather than sent: it could cross the edge
# while in flight, and one such event would have the whole batch refused.
EDGE_MARGIN = timedelta(seconds=60)

_META_LEAD_ID = re.compile(r"[1-9]\d{14,15}")

T = TypeVar("T")


@dataclass(frozen=True)
class StageEvent:
    """A recorded stage change as the dispatcher reads it (joined with its lead)."""

    event_id: int
    crm_stage: str
    meta_stage: MetaStage
    changed_at: datetime
    platform_lead_id: str
    fields: Mapping[str, object] = field(default_factory=dict)


def meta_lead_id_problem(platform_lead_id: str) -> str | None:
    """Why a Facebook lead's id cannot be sent as user_data.lead_id (Meta: 15-16 digits), or None."""
    if _META_LEAD_ID.fullmatch(platform_lead_id or ""):
        return None
    return f"Meta lead id {platform_lead_id!r} is not a 15-16 digit number"


def expiry_cutoff(now: datetime) -> datetime:
    """Changes before this instant are EXPIRED, never put in a batch."""
    return now - WINDOW + EDGE_MARGIN


def is_expired(changed_at: datetime, now: datetime) -> bool:
    return changed_at < expiry_cutoff(now)


def expired_reason(changed_at: datetime) -> str:
    return (
        f"change at {changed_at.isoformat()} is older than the Conversions API's 7-day window; Meta refuses such events"
    )


def event_id_for(event_id: int) -> str:
    """Stable per change, so a batch resent after a crash is deduplicated by Meta."""
    return f"lr-{event_id}"


@dataclass(frozen=True)
class EventOptions:
    """The account's configuration as it shapes each event."""

    # Region of national phone numbers when the lead has no country of its own.
    phone_region: str = DEFAULT_REGION
    # Lead columns per user_data key (hashing.identifier_columns); keys left out use the defaults.
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Limited Data Use for every event; otherwise only for leads whose opt-out columns say yes.
    ldu_all_events: bool = False
    ldu_opt_out_columns: tuple[str, ...] = ()


def build_event(event: StageEvent, lead_event_source: str, options: EventOptions = EventOptions()) -> dict[str, Any]:
    user_data: dict[str, Any] = {"lead_id": int(event.platform_lead_id)}
    user_data.update(user_data_hashes(event.fields, options.phone_region, options.columns))
    body = {
        "event_name": event.crm_stage,
        "event_time": int(event.changed_at.timestamp()),
        "action_source": "system_generated",
        "event_id": event_id_for(event.event_id),
        "user_data": user_data,
        "custom_data": {
            "event_source": "crm",
            "lead_event_source": lead_event_source,
            "facebook_lifecycle_stage_name": event.meta_stage.value,
            "lifecycle_stage_name": event.crm_stage,
        },
    }
    if options.ldu_all_events or limited_data_use.opted_out(event.fields, options.ldu_opt_out_columns):
        values = identifier_values(event.fields, options.columns)
        body.update(limited_data_use.processing_options(lead_country(values), values.get("st", [])))
    return body


def request_body(
    events: Sequence[Mapping[str, Any]], *, access_token: str, test_event_code: str = "", appsecret_proof: str = ""
) -> dict[str, Any]:
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"{len(events)} events in one request; Meta takes at most {MAX_EVENTS_PER_REQUEST}")
    body: dict[str, Any] = {"data": list(events), "access_token": access_token}
    if appsecret_proof:
        body["appsecret_proof"] = appsecret_proof
    if test_event_code:
        body["test_event_code"] = test_event_code
    return body


def batches(items: Sequence[T], size: int = MAX_EVENTS_PER_REQUEST) -> Iterator[Sequence[T]]:
    if size < 1 or size > MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"batch size must be 1..{MAX_EVENTS_PER_REQUEST}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
