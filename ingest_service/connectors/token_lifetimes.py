"""What a platform authorisation needs now, from its dates alone (no I/O): renew the access token
before it expires, remind the admins before only a reconnect helps, or give up when that moment
has passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Step(Enum):
    RENEW = "renew"
    REMIND = "remind"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Lifetime:
    access_expires_at: datetime | None
    # When only the user can renew it (LinkedIn's refresh token, Facebook's 90 days of data access).
    reconnect_by: datetime | None
    reminded: bool


def steps(life: Lifetime, now: datetime, renew_before: timedelta, remind_before: timedelta) -> list[Step]:
    if life.reconnect_by is not None and life.reconnect_by <= now:
        return [Step.EXPIRED]
    out = []
    if life.access_expires_at is not None and life.access_expires_at - renew_before <= now:
        out.append(Step.RENEW)
    if life.reconnect_by is not None and life.reconnect_by - remind_before <= now and not life.reminded:
        out.append(Step.REMIND)
    return out
