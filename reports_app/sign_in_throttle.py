"""Sign-in throttling: per email and per client address, a few free failures, then each failure
locks the key for twice as long as the one before (up to a cap). A locked key is refused before any
password check, so guessing costs the attacker time and us nothing.

Keys are keyed hashes (HMAC with the secret key) of the lower-cased email or of the address: the
table and the logs never hold a raw email. The policy is plain functions; the SQL of
report_sign_in_failures follows."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from leadrelay.db import Connection

# Failures allowed before any lockout, per kind of key.
FREE_BY_EMAIL: Final = 5
FREE_BY_ADDRESS: Final = 20
FIRST_LOCK: Final = timedelta(seconds=2)
MAX_LOCK: Final = timedelta(minutes=15)
# A key's failures are forgotten after this long without one.
FORGET_AFTER: Final = timedelta(hours=24)


@dataclass(frozen=True)
class Key:
    digest: bytes
    free: int

    @property
    def label(self) -> str:
        """Short and not reversible: what the logs show instead of the email."""
        return self.digest.hex()[:12]


def email_key(secret: str, email: str) -> Key:
    return Key(
        hmac.new(secret.encode(), b"email:" + email.strip().lower().encode(), hashlib.sha256).digest(), FREE_BY_EMAIL
    )


def address_key(secret: str, address: str) -> Key:
    return Key(hmac.new(secret.encode(), b"address:" + address.encode(), hashlib.sha256).digest(), FREE_BY_ADDRESS)


def lockout(failures: int, free: int) -> timedelta:
    """How long a key is locked after its `failures`-th failure in a row."""
    if failures <= free:
        return timedelta(0)
    return min(MAX_LOCK, FIRST_LOCK * 2 ** min(failures - free - 1, 20))


async def locked_until(con: Connection, keys: list[Key], now: datetime) -> datetime | None:
    """The latest lock among `keys` still in force at `now`, if any."""
    return await con.fetchval(
        "SELECT max(locked_until) FROM report_sign_in_failures WHERE key_hash = ANY($1) AND locked_until > $2",
        [k.digest for k in keys],
        now,
    )


async def record_failure(con: Connection, keys: list[Key], now: datetime) -> int:
    """Counts a failure against every key and locks them per the policy; returns the email key's count."""
    counts = []
    for key in keys:
        failures = await con.fetchval(
            """INSERT INTO report_sign_in_failures AS f (key_hash, failures, last_failure_at)
               VALUES ($1, 1, $2)
               ON CONFLICT (key_hash) DO UPDATE
                   SET failures = CASE WHEN f.last_failure_at < $2 - $3::interval THEN 1 ELSE f.failures + 1 END,
                       last_failure_at = $2
               RETURNING failures""",
            key.digest,
            now,
            FORGET_AFTER,
        )
        wait = lockout(failures, key.free)
        if wait:
            await con.execute(
                "UPDATE report_sign_in_failures SET locked_until = $2 WHERE key_hash = $1", key.digest, now + wait
            )
        counts.append(failures)
    return counts[0]


async def clear(con: Connection, key: Key) -> None:
    await con.execute("DELETE FROM report_sign_in_failures WHERE key_hash = $1", key.digest)
