"""Accounts and their API keys (SQL for the accounts and api_keys tables).

A key looks like `lr_<prefix>_<secret>`; only its SHA-256 is stored (keys are long random strings, so
a fast hash is enough: there is nothing to brute-force). The prefix lets a person tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
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


async def account_for_key(con: Connection, key: str) -> UUID | None:
    account_id: UUID | None = await con.fetchval(
        "SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return account_id


async def revoke_key(con: Connection, prefix: str) -> int:
    result = await con.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    return int(result.split()[-1])


async def admin_emails(con: Connection, account_id: UUID) -> list[str]:
    """The account's enabled console admins, who are told about platform tokens running out (until
    the console's notification role exists). report_users is reports_app.users's table; this is
    the one read of it outside the console."""
    rows = await con.fetch(
        """SELECT email FROM report_users WHERE account_id = $1 AND role = 'admin' AND disabled_at IS NULL
            ORDER BY email""",
        account_id,
    )
    return [r["email"] for r in rows]


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
