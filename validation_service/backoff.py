"""When to try a failed delivery again, when to give up, and the per-destination circuit breaker.

Pure: time and randomness come in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"
DISABLED = "DISABLED"


@dataclass(frozen=True)
class Policy:
    base_seconds: float
    max_seconds: float
    horizon_seconds: float


def delay(attempts: int, policy: Policy, jitter: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base * 2^(attempts-1), capped, times a jitter
    factor in [0.5, 1) so that a burst of failures does not retry in lockstep. `jitter` is in [0, 1)."""
    exponent = min(max(attempts - 1, 0), 60)
    return min(policy.max_seconds, policy.base_seconds * 2.0**exponent) * (0.5 + jitter / 2)


def next_attempt(now: datetime, enqueued_at: datetime, attempts: int, policy: Policy, jitter: float) -> datetime | None:
    """When to retry, or None when the next try would fall past the horizon (the delivery FAILS)."""
    at = now + timedelta(seconds=delay(attempts, policy, jitter))
    if at > enqueued_at + timedelta(seconds=policy.horizon_seconds):
        return None
    return at


@dataclass(frozen=True)
class Breaker:
    """A destination's consecutive failures after a run of outcomes, and whether it must pause."""

    consecutive_failures: int
    reset: bool  # a success happened: the count restarts from the failures after it
    trip: bool  # the count reached the threshold: pause for the cool-down


def breaker_after(outcomes: Sequence[str], current: int, threshold: int) -> Breaker:
    """`outcomes` in completion order: "success", "failure", or anything else (neutral: a rejection
    means the CRM is up and answering). A destination half-open after its cool-down keeps its count,
    so its first failure pauses it again."""
    count = current
    reset = False
    for outcome in outcomes:
        if outcome == "success":
            count, reset = 0, True
        elif outcome == "failure":
            count += 1
    return Breaker(count, reset, threshold > 0 and count >= threshold and "failure" in outcomes)


def state(enabled: bool, paused_until: datetime | None, now: datetime) -> str:
    if not enabled:
        return DISABLED
    if paused_until is not None and paused_until > now:
        return PAUSED
    return ACTIVE
