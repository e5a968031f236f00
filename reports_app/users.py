"""People who sign in to the reports app (SQL for report_users): an email, an argon2 hash of the
password, a role (viewer reads and downloads; admin also edits schedules, mappers and retries) and
exactly one account. `leadrelay users create` (ops.cli) adds one."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from leadrelay.db import Connection

VIEWER: Final = "viewer"
ADMIN: Final = "admin"
ROLES: Final = (VIEWER, ADMIN)

_hasher = PasswordHasher()
# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    user_id: UUID
    account_id: UUID
    account_name: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def check_new_user(email: str, password: str, role: str) -> None:
    if "@" not in email or email.strip() != email or len(email) > 320:
        raise ValueError(f"email {email!r} is not an email address")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")


async def create_user(con: Connection, account_id: UUID, email: str, password: str, role: str) -> UUID:
    """Adds a user, or resets the password and role of the account's user with that email."""
    check_new_user(email, password, role)
    existing = await con.fetchrow("SELECT account_id FROM report_users WHERE lower(email) = lower($1)", email)
    if existing is not None and existing["account_id"] != account_id:
        raise ValueError(f"{email} already signs in to another account")
    return await con.fetchval(
        """INSERT INTO report_users (account_id, email, password_hash, role) VALUES ($1, $2, $3, $4)
           ON CONFLICT (lower(email)) DO UPDATE
               SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, disabled_at = NULL
           RETURNING user_id""",
        account_id,
        email,
        _hasher.hash(password),
        role,
    )


async def authenticate(con: Connection, email: str, password: str) -> User | None:
    row = await con.fetchrow(
        """SELECT u.user_id, u.account_id, a.name AS account_name, u.email, u.role, u.password_hash
           FROM report_users u JOIN accounts a USING (account_id)
           WHERE lower(u.email) = lower($1) AND u.disabled_at IS NULL""",
        email.strip(),
    )
    try:
        # argon2 takes ~50 ms of CPU on purpose: off the event loop, so a sign-in never stalls other work.
        await asyncio.to_thread(_hasher.verify, row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        await con.execute(
            "UPDATE report_users SET password_hash = $2 WHERE user_id = $1", row["user_id"], _hasher.hash(password)
        )
    return User(row["user_id"], row["account_id"], row["account_name"], row["email"], row["role"])


async def names(con: Connection, account_id: UUID) -> dict[UUID, str]:
    """user_id -> how the console names the account's users in audit trails (their email)."""
    rows = await con.fetch("SELECT user_id, email FROM report_users WHERE account_id = $1", account_id)
    return {r["user_id"]: r["email"] for r in rows}


async def active_user(con: Connection, user_id: UUID) -> User | None:
    """The user as now stored, or None once disabled: the console re-checks it on every page run."""
    row = await con.fetchrow(
        """SELECT u.user_id, u.account_id, a.name AS account_name, u.email, u.role
           FROM report_users u JOIN accounts a USING (account_id)
           WHERE u.user_id = $1 AND u.disabled_at IS NULL""",
        user_id,
    )
    return (
        None if row is None else User(row["user_id"], row["account_id"], row["account_name"], row["email"], row["role"])
    )
