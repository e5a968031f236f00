"""LinkedIn Conversions API: one conversion event per recorded stage change of a LinkedIn lead. Pure.

The wire format is documented in docs/linkedin-conversions-api.md: `POST /rest/conversionEvents` with
`X-RestLi-Method: BATCH_CREATE` and `{"elements": [...]}`, each element `conversion` (the advertiser's
conversion rule URN for the stage), `conversionHappenedAt` (epoch MILLIseconds), `user` (`userIds`
— required, here the lead's SHA-256 email — and `lead`, the lead's form response URN) and `eventId`.
At most 5,000 events a call; an event more than 90 days old is refused, so it is never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from feedback_service.capi_payload import EDGE_MARGIN, StageEvent, event_id_for
from feedback_service.hashing import hash_values, identifier_values

MAX_EVENTS_PER_REQUEST = 5000
WINDOW = timedelta(days=90)

_RULE_URN = re.compile(r"urn:lla:llaPartnerConversion:(\d{1,19})")
_RULE_ID = re.compile(r"\d{1,19}")


def rule_urn(raw: str) -> str | None:
    """A conversion rule as its URN (`urn:lla:llaPartnerConversion:123`, or its bare id), or None."""
    value = raw.strip()
    if _RULE_URN.fullmatch(value):
        return value
    if _RULE_ID.fullmatch(value):
        return f"urn:lla:llaPartnerConversion:{value}"
    return None


def rule_for(rules: Mapping[str, str], crm_stage: str) -> str | None:
    """The conversion rule of an advertiser stage: exact name first, then ignoring case and spacing."""
    found = rules.get(crm_stage)
    if found is not None:
        return found
    folded = " ".join(crm_stage.split()).casefold()
    for name, urn in rules.items():
        if " ".join(name.split()).casefold() == folded:
            return urn
    return None


def lead_urn(platform_lead_id: str) -> str:
    return f"urn:li:leadGenFormResponse:{platform_lead_id}"


def lead_id_problem(platform_lead_id: str) -> str | None:
    if platform_lead_id and platform_lead_id.strip() == platform_lead_id and " " not in platform_lead_id:
        return None
    return f"LinkedIn lead id {platform_lead_id!r} cannot be sent as a form response URN"


def expiry_cutoff(now: datetime) -> datetime:
    return now - WINDOW + EDGE_MARGIN


def is_expired(changed_at: datetime, now: datetime) -> bool:
    return changed_at < expiry_cutoff(now)


def expired_reason(changed_at: datetime) -> str:
    return f"change at {changed_at.isoformat()} is older than LinkedIn's 90-day window; LinkedIn refuses such events"


def build_event(
    event: StageEvent, conversion: str, columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> dict[str, Any]:
    """`columns`: the account's identifier columns (hashing.identifier_columns); its `em` columns
    hold the email, as for Meta."""
    emails = hash_values("em", identifier_values(event.fields, columns).get("em", []))
    return {
        "conversion": conversion,
        "conversionHappenedAt": int(event.changed_at.timestamp() * 1000),
        "user": {
            # Required even when empty; LinkedIn matches on the first email it is given.
            "userIds": [{"idType": "SHA256_EMAIL", "idValue": emails[0]}] if emails else [],
            "lead": lead_urn(event.platform_lead_id),
        },
        "eventId": event_id_for(event.event_id),
    }


def request_body(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"{len(events)} events in one request; LinkedIn takes at most {MAX_EVENTS_PER_REQUEST}")
    return {"elements": list(events)}
