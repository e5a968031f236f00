"""Each condition starts when its situation appears and clears when it is gone (pure: plain facts)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from reports_app.notifications import conditions as c

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
SRC = c.Source("s1", "Spring Page", "FACEBOOK", "ACTIVE")


def keys(facts: c.Facts) -> set[str]:
    return set(c.holding(facts))


def step(open_keys: set[str], facts: c.Facts) -> tuple[list[str], list[str]]:
    ch = c.changes(open_keys, c.holding(facts))
    return sorted(a.key for a in ch.started), ch.cleared


def test_a_source_needing_reconnect_starts_once_and_clears_when_active_again():
    bad = c.Facts(NOW, [replace(SRC, state="NEEDS_RECONNECT", last_error="Graph 190: token expired")])
    (alert,) = c.holding(bad).values()
    assert alert.title == "Source “Spring Page” needs reconnecting" and "Graph 190" in alert.message
    assert step(set(), bad) == (["reconnect:s1"], [])
    assert step({"reconnect:s1"}, bad) == ([], [])  # still holds: no second message
    assert step({"reconnect:s1"}, c.Facts(NOW, [SRC])) == ([], ["reconnect:s1"])


def test_a_platform_authorisation_ending_within_the_warning_starts_and_a_renewed_one_clears():
    ending = c.Grant("g1", "FACEBOOK", NOW + timedelta(days=10), ("Spring Page",))
    assert keys(c.Facts(NOW, [SRC], [ending])) == {"token:g1"}
    assert "in 10 days" in c.holding(c.Facts(NOW, [SRC], [ending]))["token:g1"].message
    assert keys(c.Facts(NOW, [SRC], [replace(ending, reconnect_by=NOW + timedelta(days=90))])) == set()
    assert keys(c.Facts(NOW, [SRC], [replace(ending, sources=())])) == set()  # nothing uses it any more


def test_a_destination_paused_or_failing_holds_one_alert_until_it_works_again():
    ok = c.Destination("d1", "Acme CRM", None, "", 0)
    paused = replace(ok, paused_until=NOW + timedelta(minutes=5), consecutive_failures=10)
    failing = replace(ok, consecutive_failures=3)
    assert keys(c.Facts(NOW, destinations=[ok])) == set()
    assert c.holding(c.Facts(NOW, destinations=[paused]))["destination:d1"].title == "Destination “Acme CRM” is paused"
    assert (
        c.holding(c.Facts(NOW, destinations=[failing]))["destination:d1"].title == "Destination “Acme CRM” is failing"
    )
    # Failing, then paused: the same alert (no second message); resumed: cleared.
    assert step({"destination:d1"}, c.Facts(NOW, destinations=[paused])) == ([], [])
    assert step({"destination:d1"}, c.Facts(NOW, destinations=[ok])) == ([], ["destination:d1"])
    # A pause that ran out is no longer a pause.
    assert keys(c.Facts(NOW, destinations=[replace(paused, paused_until=NOW, consecutive_failures=0)])) == set()


def _days(today_rejected: int, base_rejected_per_day: int) -> list[c.DayCounts]:
    today = NOW.date()
    base = [c.DayCounts("s1", today - timedelta(days=i), 20, base_rejected_per_day) for i in range(1, 8)]
    return [c.DayCounts("s1", today, 40, today_rejected), *base]


def test_a_rejection_rate_jump_against_the_seven_day_baseline_starts_and_clears():
    assert keys(c.Facts(NOW, [SRC], days=_days(20, 2))) == {"rejections:s1"}  # 50 % against 10 %
    assert "20 of 40 leads today (50%)" in c.holding(c.Facts(NOW, [SRC], days=_days(20, 2)))["rejections:s1"].message
    assert keys(c.Facts(NOW, [SRC], days=_days(8, 2))) == set()  # 20 % against 10 %: under 20 points more
    assert keys(c.Facts(NOW, [SRC], days=_days(30, 12))) == set()  # 75 % against 60 %: not a jump
    few = [c.DayCounts("s1", NOW.date(), 10, 10), *_days(0, 0)[1:]]
    assert keys(c.Facts(NOW, [SRC], days=few)) == set()  # too few leads today to say


def test_a_complete_day_whose_counts_differ_beyond_the_threshold_starts_and_an_agreeing_recount_clears():
    day = NOW.date() - timedelta(days=1)
    gap = c.PlatformDay("s1", day, 120, 100, complete=True)
    assert keys(c.Facts(NOW, [SRC], platform_days=[gap])) == {f"counts:s1:{day.isoformat()}"}
    assert keys(c.Facts(NOW, [SRC], platform_days=[replace(gap, complete=False)])) == set()  # day not over
    assert keys(c.Facts(NOW, [SRC], platform_days=[replace(gap, ours=118)])) == set()  # within 2 leads
    assert keys(c.Facts(NOW, [SRC], platform_days=[replace(gap, platform=1000, ours=960)])) == set()  # within 5 %
    old = replace(gap, day=date(2026, 5, 1))
    assert keys(c.Facts(NOW, [SRC], platform_days=[old])) == set()


def test_a_crm_stage_without_a_meta_stage_starts_and_mapping_it_clears():
    assert keys(c.Facts(NOW, unmapped_stages={"Qualified": 4})) == {"stage:Qualified"}
    assert step({"stage:Qualified"}, c.Facts(NOW)) == ([], ["stage:Qualified"])


def test_an_ended_job_is_one_event_that_clears_at_once():
    done = c.Job("import", "i1", "fair.csv", True, NOW, "120 rows read")
    failed = c.Job("sync", "r1", "Spring Page", False, NOW, "Graph 190")
    alerts = c.holding(c.Facts(NOW, jobs=[done, failed]))
    assert {a.title for a in alerts.values()} == {"Import of “fair.csv” finished", "Sync of “Spring Page” failed"}
    assert all(a.event for a in alerts.values())


def test_cleared_messages_say_the_situation_is_over():
    assert c.cleared_title("Destination “Acme CRM” is paused") == "Resolved: Destination “Acme CRM” is paused"
    assert "no longer holds" in c.cleared_message("destination", "Destination “Acme CRM” is paused")
