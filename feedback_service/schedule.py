"""When an account's events go out. Pure: the clock is a parameter.

IMMEDIATE sends whenever there is something pending. DAILY sends once per day at the configured hour
in the account's time zone — and, when the process was down at that hour, at the first look after it
("at least once a day"). Retries of failed attempts follow their own backoff in either mode.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

IMMEDIATE = "IMMEDIATE"
DAILY = "DAILY"


def zone(name: str) -> ZoneInfo:
    """The IANA zone, ValueError naming it when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def latest_daily_slot(now: datetime, hour: int, time_zone: str) -> datetime:
    """The most recent instant (at or before now) when the local clock in time_zone read hour:00."""
    tz = zone(time_zone)
    local_now = now.astimezone(tz)
    day = local_now.date()
    for _ in range(3):  # a DST gap can skip an hour; look back at most two more days
        slot = datetime.combine(day, time(hour), tzinfo=tz)
        # Normalise through UTC: a non-existent local time (DST gap) moves forward consistently.
        slot_utc = slot.astimezone(UTC)
        if slot_utc <= now.astimezone(UTC):
            return slot_utc
        day -= timedelta(days=1)
    return slot_utc


def daily_due(now: datetime, hour: int, time_zone: str, last_run: datetime | None) -> bool:
    """True when the day's slot has passed and no run happened since (or ever)."""
    slot = latest_daily_slot(now, hour, time_zone)
    return last_run is None or last_run < slot


def is_due(mode: str, now: datetime, hour: int, time_zone: str, last_run: datetime | None) -> bool:
    if mode == DAILY:
        return daily_due(now, hour, time_zone, last_run)
    return True


def backoff_seconds(attempts: int, base: float, ceiling: float, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempts + 1`: base doubling per attempt, capped, with ±20% jitter so
    many accounts do not return to Meta in step."""
    delay: float = min(ceiling, base * (2 ** max(0, attempts - 1)))
    jitter: float = (rng or random).uniform(0.8, 1.2)
    return min(ceiling, delay * jitter)
