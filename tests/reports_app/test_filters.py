"""A schedule's relative window ("the last N days") as the UTC days the reports count in."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from reports_app.filters import schedule_filter

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def test_the_window_is_utc_days_whatever_the_zone_the_schedule_runs_in() -> None:
    # 00:30 in Berlin is still 23:30 UTC of the day before: that UTC day is "today", not Berlin's.
    just_after_midnight_in_berlin = datetime(2026, 11, 24, 0, 30, tzinfo=BERLIN)
    f = schedule_filter({"days": 1}, just_after_midnight_in_berlin)
    assert (f.since, f.until) == (date(2026, 11, 23), date(2026, 11, 23))
    # 18:00 in Los Angeles is already 02:00 UTC of the next day.
    f = schedule_filter({"days": 7}, datetime(2026, 11, 23, 18, 0, tzinfo=LOS_ANGELES))
    assert (f.since, f.until, f.days) == (date(2026, 11, 18), date(2026, 11, 24), 7)


def test_stored_filters_carry_over() -> None:
    source = "6f1d0c9e-2b55-4a7e-9d59-0c3c1f0a7b21"
    f = schedule_filter(
        {"days": 30, "source_id": source, "status": "REJECTED", "disposition_code": "REJECT_LEAD_INVALID_EMAIL"},
        datetime(2026, 3, 31, 12, tzinfo=BERLIN),
    )
    assert (f.since, f.until) == (date(2026, 3, 2), date(2026, 3, 31))
    assert (f.source_id, f.status, f.disposition_code) == (UUID(source), "REJECTED", "REJECT_LEAD_INVALID_EMAIL")


@pytest.mark.parametrize("days", [0, -1, 367])
def test_a_window_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match=f"days must be between 1 and 366, not {days}"):
        schedule_filter({"days": days}, datetime(2026, 11, 23, 12, tzinfo=BERLIN))
