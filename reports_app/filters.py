"""What a report covers: a window of days in the account's time zone and optional source, form,
status and disposition. Pages build one from their widgets; schedules store a relative one ("the
last 7 days") as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

REPORTS: Final = ("LEADS", "SOURCE", "REJECTIONS")
FORMATS: Final = ("CSV", "XLSX")
STATUSES: Final = ("PROCESSING", "ACCEPTED", "REJECTED")
# leads.post_out_status values a page filters by; NONE stands for '' (never enqueued: rejected or
# being checked), which a URL cannot carry.
POST_OUTS: Final = ("POSTED", "PENDING", "RETRYING", "FAILED", "REJECTED_BY_DESTINATION", "NOT_POSTED", "NONE")
MAX_DAYS: Final = 366


@dataclass(frozen=True)
class ReportFilter:
    since: date
    until: date  # inclusive
    source_id: UUID | None = None
    form_id: UUID | None = None
    status: str = ""
    disposition_code: str = ""
    # The account's zone: the days are its local days (the report aggregates count by them).
    zone: str = "UTC"
    post_out_status: str = ""  # one of POST_OUTS, "" for any

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"the window ends ({self.until}) before it starts ({self.since})")
        if self.status and self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.post_out_status and self.post_out_status not in POST_OUTS:
            raise ValueError(f"post-out status {self.post_out_status!r} is not one of {', '.join(POST_OUTS)}")

    @property
    def stored_post_out(self) -> str | None:
        """The post-out filter as leads.post_out_status holds it (None: any)."""
        if not self.post_out_status:
            return None
        return "" if self.post_out_status == "NONE" else self.post_out_status

    @property
    def start(self) -> datetime:
        """First instant of the window: local midnight starting `since` (in UTC)."""
        return _midnight(self.since, self.zone)

    @property
    def end(self) -> datetime:
        """First instant after the window: local midnight ending `until` (in UTC)."""
        return _midnight(self.until + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def describe(self) -> str:
        parts = [f"{self.since.isoformat()} to {self.until.isoformat()}"]
        if self.status:
            parts.append(f"status {self.status}")
        if self.disposition_code:
            parts.append(self.disposition_code)
        if self.post_out_status:
            parts.append(f"post-out {self.post_out_status}")
        return ", ".join(parts)


def _midnight(day: date, zone: str) -> datetime:
    """When `day` begins in the zone, in UTC. A day that begins in a DST gap (a midnight the clocks
    skip, as in America/Havana) begins at the first moment after it; datetime's fold=0 reading
    of a skipped time is that moment in the old offset, which is the same instant."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def last_days(days: int, today: date, **kw: Any) -> ReportFilter:
    return ReportFilter(since=today - timedelta(days=days - 1), until=today, **kw)


def schedule_filter(stored: Mapping[str, Any], now: datetime, zone: str = "UTC") -> ReportFilter:
    """A schedule's stored filters ({"days": 7, "source_id": ..., "status": ..., ...}) as of `now`: the
    last N days of the account's zone, today's included. The account's today whatever zone the
    schedule runs in: the reports count by the account's days."""
    today = now.astimezone(ZoneInfo(zone)).date()
    days = int(stored["days"]) if stored.get("days") is not None else 1
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    return last_days(
        days,
        today,
        source_id=UUID(stored["source_id"]) if stored.get("source_id") else None,
        form_id=UUID(stored["form_id"]) if stored.get("form_id") else None,
        status=str(stored.get("status") or ""),
        disposition_code=str(stored.get("disposition_code") or ""),
        zone=zone,
    )


def stored_filters(
    days: int, source_id: UUID | str | None = None, status: str = "", disposition_code: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {"days": days}
    if source_id:
        out["source_id"] = str(source_id)
    if status:
        out["status"] = status
    if disposition_code:
        out["disposition_code"] = disposition_code
    schedule_filter(out, datetime.now(UTC))  # validates
    return out
