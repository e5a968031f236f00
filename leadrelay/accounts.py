"""Accounts and their API keys (SQL for the accounts and api_keys tables).

A key looks like `lr_<prefix>_<secret>`; only its SHA-256 is stored (keys are long random strings, so
a fast hash is enough: there is nothing to brute-force). The prefix lets a person tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadrelay import report_counts
from leadrelay.db import Connection


def new_key() -> tuple[str, str]:
    """(key, prefix): the key is shown once and never stored."""
    prefix = secrets.token_hex(4)
    return f"lr_{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def ensure_account(con: Connection, name: str) -> UUID:
    account_id: UUID = await con.fetchval(
        """INSERT INTO accounts (name) VALUES ($1)
           ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
           RETURNING account_id""",
        name,
    )
    return account_id


async def create_key(con: Connection, account_id: UUID, name: str = "") -> str:
    key, prefix = new_key()
    await con.execute(
        "INSERT INTO api_keys (account_id, prefix, key_hash, name) VALUES ($1, $2, $3, $4)",
        account_id,
        prefix,
        hash_key(key),
        name,
    )
    return key


# "Last used" moves at most this often per key: a coarse mark, not a write on every call.
LAST_USED_GRAIN = timedelta(minutes=5)


async def account_for_key(con: Connection, key: str) -> UUID | None:
    row = await con.fetchrow(
        """SELECT key_id, account_id, last_used_at IS NULL OR last_used_at < now() - $2::interval AS stale
           FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL""",
        hash_key(key),
        LAST_USED_GRAIN,
    )
    if row is None:
        return None
    if row["stale"]:
        await con.execute("UPDATE api_keys SET last_used_at = now() WHERE key_id = $1", row["key_id"])
    account_id: UUID = row["account_id"]
    return account_id


async def revoke_key(con: Connection, prefix: str) -> int:
    result = await con.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    return int(result.split()[-1])


_KEY_COLUMNS = "key_id, prefix, name, created_at, last_used_at, revoked_at"


async def create_named_key(con: Connection, account_id: UUID, name: str) -> tuple[str, dict[str, Any]]:
    """(the key, shown once; its stored row). The name tells people what the key is for."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("name: give the key a name of 1 to 100 characters (what uses it)")
    key, prefix = new_key()
    row = await con.fetchrow(
        f"""INSERT INTO api_keys (account_id, prefix, key_hash, name) VALUES ($1, $2, $3, $4)
            RETURNING {_KEY_COLUMNS}""",
        account_id,
        prefix,
        hash_key(key),
        name,
    )
    assert row is not None  # INSERT … RETURNING always returns the row
    return key, dict(row)


async def list_keys(con: Connection, account_id: UUID, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    rows = await con.fetch(
        f"""SELECT {_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 AND ($2 OR revoked_at IS NULL)
            ORDER BY revoked_at IS NOT NULL, created_at DESC, key_id""",
        account_id,
        include_revoked,
    )
    return [dict(r) for r in rows]


async def revoke_account_key(con: Connection, account_id: UUID, key_id: UUID) -> dict[str, Any] | None:
    """Revokes one of the account's keys (again: no change); None when the account has no such key."""
    row = await con.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE key_id = $1 AND account_id = $2 RETURNING {_KEY_COLUMNS}""",
        key_id,
        account_id,
    )
    return None if row is None else dict(row)


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name


async def set_console_settings(
    con: Connection,
    account_id: UUID,
    *,
    time_zone: str | None = None,
    viewers_see_personal_data: bool | None = None,
) -> None:
    """The account's console settings: the zone its times are shown in and its report days are
    counted in (a change rebuilds its report aggregates, in a transaction of its own); whether
    viewers see personal data (otherwise masked for them). None leaves a setting as it is."""
    if time_zone is not None:
        await report_counts.set_zone(con, account_id, check_time_zone(time_zone))
    if viewers_see_personal_data is not None:
        await con.execute(
            "UPDATE accounts SET viewers_see_personal_data = $2 WHERE account_id = $1",
            account_id,
            viewers_see_personal_data,
        )
