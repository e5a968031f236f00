"""Console sign-in sessions (SQL for report_sessions). The browser holds a random token in an
HttpOnly cookie; the table holds only its SHA-256, so a copy of it signs no one in.

A session lives while it is used: each page run moves `last_seen_at`, and a session idle longer than
the idle lifetime, or revoked by sign-out, is over for good."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Final
from uuid import UUID

from leadrelay.db import Connection
from reports_app import users

COOKIE: Final = "leadrelay_session"
# The sign-in form (reports_app/server.py serves it).
SIGN_IN_PATH: Final = "/api/sign-in"


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create(con: Connection, user_id: UUID) -> str:
    """A new session of `user_id`; returns the token (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    await con.execute("INSERT INTO report_sessions (token_hash, user_id) VALUES ($1, $2)", _hash(token), user_id)
    return token


async def touch(con: Connection, token: str, idle: timedelta) -> UUID | None:
    """The user of a live session (not revoked, used within `idle`), marking it used now."""
    if not token:
        return None
    return await con.fetchval(
        """UPDATE report_sessions SET last_seen_at = now()
           WHERE token_hash = $1 AND revoked_at IS NULL AND last_seen_at > now() - $2::interval
           RETURNING user_id""",
        _hash(token),
        idle,
    )


async def revoke(con: Connection, token: str) -> None:
    await con.execute(
        "UPDATE report_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", _hash(token)
    )


async def signed_in_user(con: Connection, token: str, idle: timedelta) -> users.User | None:
    """The user of a live session, as now stored: None once the session ended or the user is disabled."""
    user_id = await touch(con, token, idle)
    return None if user_id is None else await users.active_user(con, user_id)
