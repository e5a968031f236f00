"""A Graph lead node -> an IncomingLead. Pure.

- `field_data` items become answers as sent (values are always lists);
- `custom_disclaimer_responses` checkboxes become answers named by `checkbox_key` with "true"/"false"
  (Graph sends is_checked as "1"/"" or a boolean);
- ad, ad set, campaign and form ids, `is_organic` and `platform` are kept in platform_context;
- Meta has no test flag: a lead whose values are the testing tool's "<test lead: dummy data for …>"
  placeholders is flagged is_test (and test leads are organic, which context keeps too)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leadrelay.capture.leads import Answer, IncomingLead

CONTEXT_KEYS = ("ad_id", "ad_name", "adset_id", "adset_name", "campaign_id", "campaign_name", "form_id", "platform")
TEST_MARKER = "<test lead:"


def parse_created_time(raw: object) -> datetime | None:
    """Graph's "2015-02-28T08:49:14+0000" (or Unix seconds from a webhook)."""
    if isinstance(raw, int | float):
        return datetime.fromtimestamp(raw, UTC)
    if isinstance(raw, str) and raw:
        try:
            return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
        except ValueError:
            return None
    return None


def _checked(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in {"1", "true", "yes"}


def answers(lead: Mapping[str, Any]) -> tuple[Answer, ...]:
    out = [
        Answer(str(item.get("name", "")), tuple(str(v) for v in item.get("values") or ()))
        for item in lead.get("field_data") or ()
        if isinstance(item, Mapping)
    ]
    for box in lead.get("custom_disclaimer_responses") or ():
        if isinstance(box, Mapping) and box.get("checkbox_key"):
            out.append(Answer(str(box["checkbox_key"]), ("true" if _checked(box.get("is_checked")) else "false",)))
    return tuple(out)


def is_test_lead(lead: Mapping[str, Any]) -> bool:
    return any(
        str(v).startswith(TEST_MARKER)
        for item in lead.get("field_data") or ()
        if isinstance(item, Mapping)
        for v in item.get("values") or ()
    )


def to_incoming(source_id: UUID, page_id: str, lead: Mapping[str, Any]) -> IncomingLead:
    context = {k: str(lead[k]) for k in CONTEXT_KEYS if lead.get(k) not in (None, "")}
    organic = bool(lead.get("is_organic")) or not lead.get("ad_id")
    context["is_organic"] = "true" if organic else "false"
    context["page_id"] = page_id
    return IncomingLead(
        source_id=source_id,
        answers=answers(lead),
        form_ref=str(lead.get("form_id", "")),
        platform_lead_id=str(lead["id"]),
        captured_at=parse_created_time(lead.get("created_time")),
        is_test=is_test_lead(lead),
        platform_context=context,
    )
