"""When a platform authorisation is renewed, reminded about or given up (plain dates, no I/O)."""

from datetime import UTC, datetime, timedelta

from ingest_service.connectors.token_lifetimes import Lifetime, Step, steps

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WEEK, FORTNIGHT = timedelta(days=7), timedelta(days=15)


def test_a_fresh_authorisation_needs_nothing():
    life = Lifetime(NOW + timedelta(days=60), NOW + timedelta(days=90), reminded=False)
    assert steps(life, NOW, WEEK, FORTNIGHT) == []


def test_the_access_token_is_renewed_a_week_before_it_expires():
    life = Lifetime(NOW + timedelta(days=6), NOW + timedelta(days=300), reminded=False)
    assert steps(life, NOW, WEEK, FORTNIGHT) == [Step.RENEW]


def test_admins_are_reminded_once_fifteen_days_before_only_a_reconnect_helps():
    life = Lifetime(NOW + timedelta(days=50), NOW + timedelta(days=14), reminded=False)
    assert steps(life, NOW, WEEK, FORTNIGHT) == [Step.REMIND]
    assert steps(Lifetime(life.access_expires_at, life.reconnect_by, reminded=True), NOW, WEEK, FORTNIGHT) == []


def test_past_the_reconnect_date_nothing_but_giving_up_is_left():
    life = Lifetime(NOW + timedelta(days=5), NOW - timedelta(seconds=1), reminded=True)
    assert steps(life, NOW, WEEK, FORTNIGHT) == [Step.EXPIRED]


def test_a_token_without_dates_is_left_alone():
    assert steps(Lifetime(None, None, reminded=False), NOW, WEEK, FORTNIGHT) == []
