"""Backoff with jitter, the retry horizon and the circuit breaker, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from validation_service.backoff import (
    ACTIVE,
    DISABLED,
    PAUSED,
    Breaker,
    Policy,
    breaker_after,
    delay,
    next_attempt,
    state,
)

POLICY = Policy(base_seconds=5.0, max_seconds=3600.0, horizon_seconds=7 * 24 * 3600.0)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_delay_doubles_and_is_capped() -> None:
    assert [delay(n, POLICY, 0.0) for n in (1, 2, 3, 4)] == [2.5, 5.0, 10.0, 20.0]
    assert [delay(n, POLICY, 0.5) for n in (1, 2, 3)] == [3.75, 7.5, 15.0]
    assert delay(30, POLICY, 0.0) == 1800.0
    assert delay(10_000, POLICY, 0.0) == 1800.0


def test_jitter_spreads_between_half_and_full_delay() -> None:
    assert delay(3, POLICY, 0.0) == 10.0
    assert delay(3, POLICY, 0.5) == 15.0


def test_next_attempt_until_the_horizon_then_none() -> None:
    enqueued = NOW - timedelta(days=1)
    assert next_attempt(NOW, enqueued, 1, POLICY, 0.0) == NOW + timedelta(seconds=2.5)
    late = NOW - timedelta(days=7) + timedelta(seconds=100)
    assert next_attempt(NOW, late, 20, POLICY, 0.0) is None
    assert next_attempt(NOW, late, 1, POLICY, 0.0) == NOW + timedelta(seconds=2.5)


def test_breaker_counts_failures_in_a_row() -> None:
    assert breaker_after(["failure", "failure"], 0, 3) == Breaker(2, False, False)
    assert breaker_after(["failure", "failure", "failure"], 0, 3) == Breaker(3, False, True)
    assert breaker_after(["failure", "success", "failure"], 0, 3) == Breaker(1, True, False)
    assert breaker_after(["neutral", "neutral"], 2, 3) == Breaker(2, False, False)
    assert breaker_after(["failure"], 9, 10) == Breaker(10, False, True)


def test_a_half_open_destination_pauses_again_on_its_next_failure() -> None:
    assert breaker_after(["failure"], 10, 10).trip
    assert breaker_after(["success"], 10, 10) == Breaker(0, True, False)


def test_state_paused_until_the_cooldown_ends() -> None:
    assert state(True, None, NOW) == ACTIVE
    assert state(True, NOW + timedelta(seconds=1), NOW) == PAUSED
    assert state(True, NOW - timedelta(seconds=1), NOW) == ACTIVE
    assert state(False, NOW + timedelta(seconds=1), NOW) == DISABLED
