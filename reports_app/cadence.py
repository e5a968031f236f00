"""When a schedule runs: daily, weekly or a cron expression, in the schedule's own time zone.
Daily and weekly are stored as the cron expression they stand for, so one function finds every
next slot (croniter, evaluated in local time so 08:00 stays 08:00 across DST changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

CADENCES: Final = ("DAILY", "WEEKLY", "CRON")
WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Cadence:
    kind: str  # DAILY, WEEKLY or CRON
    cron: str
    timezone: str


def cadence(kind: str, timezone: str, *, at: str = "08:00", weekday: int = 0, cron: str = "") -> Cadence:
    """Validates and normalises what a person chose; raises ValueError naming the bad part."""
    zone(timezone)
    if kind == "DAILY":
        hour, minute = _clock(at)
        expr = f"{minute} {hour} * * *"
    elif kind == "WEEKLY":
        hour, minute = _clock(at)
        if not 0 <= weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        expr = f"{minute} {hour} * * {(weekday + 1) % 7}"  # cron counts from Sunday = 0
    elif kind == "CRON":
        expr = " ".join(cron.split())
        if len(expr.split()) != 5:
            raise ValueError(f"cron {cron!r} needs five fields (minute hour day month weekday)")
        try:
            croniter(expr)
        except (CroniterBadCronError, ValueError, KeyError) as exc:
            raise ValueError(f"cron {cron!r} is not a valid expression: {exc}") from None
    else:
        raise ValueError(f"cadence {kind!r} is not one of {', '.join(CADENCES)}")
    return Cadence(kind, expr, timezone)


def next_run(c: Cadence, after: datetime) -> datetime:
    """The first slot strictly after `after` (UTC in, UTC out). After downtime, pass now: the slots
    missed in between collapse into the one run already due."""
    local = after.astimezone(zone(c.timezone))
    nxt = croniter(c.cron, local).get_next(datetime)
    return nxt.astimezone(UTC)


def describe(c: Cadence) -> str:
    minute, hour, _, _, dow = c.cron.split()
    if c.kind == "DAILY":
        return f"daily at {int(hour):02d}:{int(minute):02d} ({c.timezone})"
    if c.kind == "WEEKLY":
        return f"weekly on {WEEKDAYS[(int(dow) - 1) % 7]} at {int(hour):02d}:{int(minute):02d} ({c.timezone})"
    return f"cron “{c.cron}” ({c.timezone})"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is not known (use an IANA name such as Europe/Berlin)") from None


def _clock(at: str) -> tuple[int, int]:
    try:
        hour, minute = (int(p) for p in at.split(":"))
    except ValueError:
        raise ValueError(f"time {at!r} is not HH:MM") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"time {at!r} is not HH:MM")
    return hour, minute
