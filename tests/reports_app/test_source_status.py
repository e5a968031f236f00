from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from reports_app.source_status import count_check, status

OSLO = ZoneInfo("Europe/Oslo")


def _src(**changes):
    base = {"platform": "FACEBOOK", "enabled": True, "state": "ACTIVE", "connected": True, "paused_until": None}
    return base | changes


def test_states_in_words():
    assert status(_src(), OSLO) == "Active"
    assert status(_src(enabled=False, state="NEEDS_RECONNECT"), OSLO).startswith("Disabled")
    assert status(_src(state="NEEDS_RECONNECT"), OSLO) == "Needs reconnect"
    assert status(_src(state="DISCONNECTED", connected=False), OSLO) == "Disconnected"
    assert status(_src(connected=False), OSLO) == "Not connected to Facebook yet"
    paused = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    assert status(_src(platform="LINKEDIN", paused_until=paused), OSLO) == (
        "Paused by LinkedIn's rate limit until 14:05"
    )
    assert status(_src(platform="CSV", connected=False), OSLO) == "Active"


def test_count_check_in_words():
    assert count_check(_src(platform="API")) == "—"
    assert count_check(_src(checked_day=None)) == "not checked yet"
    day = date(2026, 12, 6)
    assert count_check(_src(checked_day=day, platform_reported=12, leadrelay_count=12)) == "06 Dec: both 12"
    assert count_check(_src(checked_day=day, platform_reported=12, leadrelay_count=9)) == (
        "06 Dec: Facebook 12, LeadRelay 9 (+3)"
    )
