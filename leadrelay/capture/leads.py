"""Domain types of a lead shared by every service: answers, statuses, outcomes. Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from uuid import UUID

PROCESSING: Final = "PROCESSING"
ACCEPTED: Final = "ACCEPTED"
REJECTED: Final = "REJECTED"
STATUSES: Final = (PROCESSING, ACCEPTED, REJECTED)

PLATFORMS: Final = ("LINKEDIN", "FACEBOOK", "CSV", "API")


@dataclass(frozen=True)
class Answer:
    """One form answer as the platform sent it (several values for checkboxes / multiple choice)."""

    name: str
    values: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "values": list(self.values)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Answer:
        values = raw.get("values") or ()
        return cls(str(raw.get("name", "")), tuple(str(v) for v in values))


@dataclass(frozen=True)
class IncomingLead:
    """A lead as it arrives, from any channel (gRPC, webhook, poll, sync, file)."""

    source_id: UUID
    answers: tuple[Answer, ...]
    # The platform's form id or LeadRelay's form_id; "" for a source without forms.
    form_ref: str = ""
    # The platform's id; "" lets LeadRelay assign one (no idempotency then).
    platform_lead_id: str = ""
    captured_at: datetime | None = None
    is_test: bool = False
    platform_context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    lead_id: UUID | None
    platform_lead_id: str
    status: str
    disposition_code: str = ""
    custom_reason: str = ""
    # True when the lead was already known: nothing changed, this is its first outcome.
    duplicate: bool = False
    fields: Mapping[str, str] = field(default_factory=dict)
