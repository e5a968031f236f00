"""A schedule's relative window ("the last N days") as the days the reports count in: the account's,
whatever zone the schedule runs in; and a window's first and last instants in the account's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from reports_app.filters import ReportFilter, schedule_filter

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def test_a_utc_account_counts_utc_days_whatever_the_zone_the_schedule_runs_in() -> None:
    # 00:30 in Berlin is still 23:30 UTC of the day before: that UTC day is "today", not Berlin's.
    just_after_midnight_in_berlin = datetime(2026, 11, 24, 0, 30, tzinfo=BERLIN)
    f = schedule_filter({"days": 1}, just_after_midnight_in_berlin)
    assert (f.since, f.until) == (date(2026, 11, 23), date(2026, 11, 23))
    # 18:00 in Los Angeles is already 02:00 UTC of the next day.
    f = schedule_filter({"days": 7}, datetime(2026, 11, 23, 18, 0, tzinfo=LOS_ANGELES))
    assert (f.since, f.until, f.days) == (date(2026, 11, 18), date(2026, 11, 24), 7)


def test_the_window_is_the_accounts_days() -> None:
    # 00:30 in Berlin, for a Berlin account: Berlin's new day is today, though UTC's is the day before.
    f = schedule_filter({"days": 1}, datetime(2026, 11, 24, 0, 30, tzinfo=BERLIN), "Europe/Berlin")
    assert (f.since, f.until, f.zone) == (date(2026, 11, 24), date(2026, 11, 24), "Europe/Berlin")
    assert (f.start, f.end) == (datetime(2026, 11, 23, 23, 0, tzinfo=UTC), datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    # 18:14 UTC is 23:59 in Kathmandu (+05:45); a minute later its next day has begun.
    f = schedule_filter({"days": 2}, datetime(2026, 11, 23, 18, 15, tzinfo=UTC), "Asia/Kathmandu")
    assert (f.since, f.until) == (date(2026, 11, 23), date(2026, 11, 24))
    assert f.start == datetime(2026, 11, 22, 18, 15, tzinfo=UTC)


def test_a_window_across_a_dst_change_keeps_whole_local_days() -> None:
    # Berlin's clocks went back on 2026-10-25: that day had 25 hours.
    f = ReportFilter(date(2026, 10, 25), date(2026, 10, 25), zone="Europe/Berlin")
    assert (f.start, f.end) == (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    # Havana skips midnight when its clocks go forward (2026-03-08): the day begins at 01:00 local.
    f = ReportFilter(date(2026, 3, 8), date(2026, 3, 8), zone="America/Havana")
    assert f.start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


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
