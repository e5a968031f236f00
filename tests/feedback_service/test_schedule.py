import random
from datetime import UTC, datetime

import pytest

from feedback_service.schedule import backoff_seconds, daily_due, is_due, latest_daily_slot, zone


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_latest_slot_in_the_accounts_time_zone():
    # 09:00 in Berlin (summer, UTC+2) is 07:00 UTC.
    assert latest_daily_slot(at("2026-07-10T08:00:00+00:00"), 9, "Europe/Berlin") == at("2026-07-10T07:00:00+00:00")
    assert latest_daily_slot(at("2026-07-10T06:59:00+00:00"), 9, "Europe/Berlin") == at("2026-07-09T07:00:00+00:00")


def test_daily_runs_once_after_the_hour():
    last = at("2026-03-01T09:00:05+00:00")
    assert not daily_due(at("2026-03-01T23:00:00+00:00"), 9, "UTC", last)
    assert not daily_due(at("2026-03-02T08:59:59+00:00"), 9, "UTC", last)
    assert daily_due(at("2026-03-02T09:00:00+00:00"), 9, "UTC", last)


def test_daily_catches_up_after_downtime_at_least_once_a_day():
    last = at("2026-03-01T09:00:00+00:00")
    assert daily_due(at("2026-03-04T15:00:00+00:00"), 9, "UTC", last)


def test_daily_first_slot_after_the_config_was_saved():
    saved = at("2026-03-01T10:30:00+00:00")
    assert not daily_due(at("2026-03-01T12:00:00+00:00"), 10, "UTC", saved)
    assert daily_due(at("2026-03-02T10:00:00+00:00"), 10, "UTC", saved)


def test_daily_slot_on_a_dst_change_day():
    # 2026-03-29: clocks in Berlin jump from 02:00 to 03:00; the 02:00 slot still happens once.
    slot = latest_daily_slot(at("2026-03-29T05:00:00+00:00"), 2, "Europe/Berlin")
    assert at("2026-03-29T00:00:00+00:00") <= slot <= at("2026-03-29T02:00:00+00:00")


def test_immediate_is_always_due():
    assert is_due("IMMEDIATE", at("2026-03-01T10:00:00+00:00"), 3, "UTC", at("2026-03-01T09:59:00+00:00"))


def test_unknown_time_zone():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")


def test_backoff_doubles_with_jitter_and_a_ceiling():
    rng = random.Random(7)
    delays = [backoff_seconds(n, 5.0, 60.0, rng) for n in (1, 2, 3, 10)]
    assert 4.0 <= delays[0] <= 6.0
    assert 8.0 <= delays[1] <= 12.0
    assert 16.0 <= delays[2] <= 24.0
    assert delays[3] == 60.0 or 48.0 <= delays[3] <= 60.0
