import pytest

from feedback_service.dispatch_plan import Bisection, halves


def run(events, bad):
    """Drives a bisection against a 'Meta' that refuses any request containing a bad event."""
    plan = Bisection.of(events)
    sizes = []
    while (batch := plan.next_batch()) is not None:
        sizes.append(len(batch))
        offending = [e for e in batch if e in bad]
        if offending:
            plan.rejected(batch, f"bad event {offending[0]}")
        else:
            plan.accepted(batch)
    return plan, sizes


def test_a_clean_batch_is_one_request():
    plan, sizes = run(list(range(1000)), set())
    assert sizes == [1000]
    assert plan.sent == list(range(1000)) and plan.failed == []


def test_isolates_each_bad_event_and_sends_the_rest_in_order():
    plan, sizes = run(list(range(1000)), {3, 517, 999})
    assert plan.failed == [(3, "bad event 3"), (517, "bad event 517"), (999, "bad event 999")]
    assert plan.sent == [e for e in range(1000) if e not in {3, 517, 999}]
    assert sizes[0] == 1000 and plan.requests == len(sizes)
    assert len(sizes) <= 2 * 3 * 10 + 1


def test_every_event_bad():
    plan, sizes = run([1, 2, 3], {1, 2, 3})
    assert [e for e, _ in plan.failed] == [1, 2, 3]
    assert sizes == [3, 1, 2, 1, 1]


def test_undecided_events_when_a_run_stops_early():
    plan = Bisection.of(list(range(8)))
    plan.rejected(plan.next_batch(), "bad")
    plan.accepted(plan.next_batch())  # 0..3
    assert plan.undecided() == [4, 5, 6, 7]


def test_answers_must_match_the_batch_being_sent():
    plan = Bisection.of([1, 2])
    with pytest.raises(ValueError):
        plan.accepted([1, 2])
    with pytest.raises(ValueError):
        halves([1])
