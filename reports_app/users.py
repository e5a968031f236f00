"""People who sign in to the reports app (SQL for report_users and report_password_links): an email,
an argon2 hash of the password, a role (viewer reads and downloads; admin also changes the set-up),
exactly one account, and whether they are in the notification role. `leadrelay users create`
(ops.cli) adds one; admins invite more from the Users page.

An invited user has no password: the invitation e-mail carries a one-time link (its token's SHA-256
is all that is stored) that expires; following it sets the password. A reset does the same for an
existing user. An account always keeps at least one admin who can sign in: a change that would leave
none is refused, saying why. Every change by the console is in the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from leadrelay import audit_store
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
        # An invited user without a password yet is checked against the dummy too, and refused.
        stored = row["password_hash"] if row and row["password_hash"] else _DUMMY_HASH
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row["password_hash"]:
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


async def emails_by_id(con: Connection, account_id: UUID) -> dict[str, str]:
    """user id (text) -> the email the account's user signs in with (disabled users too): how the
    console names who changed a setting. Run as the app's own role (the reader may not see users)."""
    rows = await con.fetch("SELECT user_id, email FROM report_users WHERE account_id = $1", account_id)
    return {str(r["user_id"]): r["email"] for r in rows}


# ---- managing people (the Users page) ------------------------------------------------------------

INVITE_LIFETIME: Final = timedelta(days=3)
RESET_LIFETIME: Final = timedelta(hours=2)
# The console's route that serves a link (reports_app/server.py).
SET_PASSWORD_PATH: Final = "/api/set-password"


class Refused(ValueError):
    """A change to people that is not allowed; the message says why, for the person who tried."""


def check_email(email: str) -> str:
    email = email.strip()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email) or email.count("@") != 1:
        raise Refused(f"email: {email!r} is not an email address")
    local, domain = email.split("@")
    if not local or "." not in domain:
        raise Refused(f"email: {email!r} is not an email address")
    return email


def last_admin_refusal(admins: set[UUID], user_id: UUID, stays_admin: bool) -> str | None:
    """Why a change to `user_id` is refused when it would leave the account without an admin who can
    sign in (`admins`: those enabled with a password); None when it may go ahead."""
    if stays_admin or user_id not in admins or len(admins) > 1:
        return None
    return (
        "This is the account's only admin: someone must always be able to manage users and keys. "
        "Make another user an admin first (they need to have set their password)."
    )


def _hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def link_url(console_url: str, token: str) -> str:
    return f"{console_url.rstrip('/')}{SET_PASSWORD_PATH}?token={token}"


async def list_users(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    """Everyone of the account: state is 'active', 'invited' (no password yet) or 'disabled'."""
    rows = await con.fetch(
        """SELECT user_id, email, role, notify, created_at, invited_at, disabled_at,
                  CASE WHEN disabled_at IS NOT NULL THEN 'disabled'
                       WHEN password_hash IS NULL THEN 'invited' ELSE 'active' END AS state,
                  (SELECT max(last_seen_at) FROM report_sessions s WHERE s.user_id = u.user_id) AS last_seen_at
           FROM report_users u WHERE account_id = $1 ORDER BY lower(email)""",
        account_id,
    )
    return [dict(r) for r in rows]


async def _admins(con: Connection, account_id: UUID) -> set[UUID]:
    # Locked, so two admins demoting each other at once cannot both succeed.
    rows = await con.fetch(
        """SELECT user_id FROM report_users
           WHERE account_id = $1 AND role = 'admin' AND disabled_at IS NULL AND password_hash IS NOT NULL
           FOR UPDATE""",
        account_id,
    )
    return {r["user_id"] for r in rows}


async def _target(con: Connection, account_id: UUID, user_id: UUID) -> Any:
    row = await con.fetchrow(
        "SELECT user_id, email, role, disabled_at FROM report_users WHERE user_id = $1 AND account_id = $2 FOR UPDATE",
        user_id,
        account_id,
    )
    if row is None:
        raise Refused("That user is not in this account.")
    return row


def _by_admin(by: User) -> str:
    if not by.is_admin:
        raise Refused("Only an admin can change users.")
    return f"user:{by.user_id}"


async def _new_link(con: Connection, user_id: UUID, purpose: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    # A new link replaces the user's earlier ones: only the latest e-mail works.
    await con.execute(
        "UPDATE report_password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL", user_id, now
    )
    await con.execute(
        "INSERT INTO report_password_links (token_hash, user_id, purpose, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        _hash_token(token),
        user_id,
        purpose,
        now,
        now + (INVITE_LIFETIME if purpose == "invite" else RESET_LIFETIME),
    )
    return token


async def invite(con: Connection, by: User, email: str, role: str, now: datetime) -> tuple[UUID, str]:
    """A new user of `by`'s account without a password; returns (user id, the link's token)."""
    actor = _by_admin(by)
    email = check_email(email)
    if role not in ROLES:
        raise Refused(f"role: {role!r} is not one of {', '.join(ROLES)}")
    existing = await con.fetchrow("SELECT account_id FROM report_users WHERE lower(email) = lower($1)", email)
    if existing is not None:
        raise Refused(
            f"{email} already has a user here: use Send password link on it."
            if existing["account_id"] == by.account_id
            else f"{email} already signs in to another account."
        )
    user_id: UUID = await con.fetchval(
        """INSERT INTO report_users (account_id, email, password_hash, role, invited_at)
           VALUES ($1, $2, NULL, $3, $4) RETURNING user_id""",
        by.account_id,
        email,
        role,
        now,
    )
    token = await _new_link(con, user_id, "invite", now)
    await audit_store.record(
        con, by.account_id, "users", "user invited", user_id, {"email": email, "role": role}, actor=actor
    )
    return user_id, token


async def password_link(con: Connection, by: User, user_id: UUID, now: datetime) -> tuple[str, str, str]:
    """A fresh link for the user (an invitation again while they have no password, else a reset);
    returns (email, purpose, token). The old password keeps working until the link is used."""
    actor = _by_admin(by)
    row = await con.fetchrow(
        """SELECT email, password_hash IS NULL AS invited, disabled_at FROM report_users
           WHERE user_id = $1 AND account_id = $2""",
        user_id,
        by.account_id,
    )
    if row is None:
        raise Refused("That user is not in this account.")
    if row["disabled_at"] is not None:
        raise Refused(f"{row['email']} is disabled: enable the user first.")
    purpose = "invite" if row["invited"] else "reset"
    token = await _new_link(con, user_id, purpose, now)
    action = "invitation sent again" if purpose == "invite" else "password reset link sent"
    await audit_store.record(con, by.account_id, "users", action, user_id, {"email": row["email"]}, actor=actor)
    return row["email"], purpose, token


async def set_role(con: Connection, by: User, user_id: UUID, role: str) -> None:
    actor = _by_admin(by)
    if role not in ROLES:
        raise Refused(f"role: {role!r} is not one of {', '.join(ROLES)}")
    admins = await _admins(con, by.account_id)
    target = await _target(con, by.account_id, user_id)
    if target["role"] == role:
        return
    why = last_admin_refusal(admins, user_id, stays_admin=role == ADMIN)
    if why:
        raise Refused(why)
    await con.execute("UPDATE report_users SET role = $2 WHERE user_id = $1", user_id, role)
    await audit_store.record(
        con,
        by.account_id,
        "users",
        "role changed",
        user_id,
        {"email": target["email"], "from": target["role"], "to": role},
        actor=actor,
    )


async def set_disabled(con: Connection, by: User, user_id: UUID, disabled: bool) -> None:
    """Disables a user (their sessions end at once: every page run re-checks) or enables them again."""
    actor = _by_admin(by)
    admins = await _admins(con, by.account_id)
    target = await _target(con, by.account_id, user_id)
    if (target["disabled_at"] is not None) == disabled:
        return
    if disabled:
        why = last_admin_refusal(admins, user_id, stays_admin=False)
        if why:
            raise Refused(why)
    await con.execute(
        "UPDATE report_users SET disabled_at = CASE WHEN $2 THEN now() END WHERE user_id = $1", user_id, disabled
    )
    if disabled:
        await con.execute(
            "UPDATE report_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        await con.execute(
            "UPDATE report_password_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id
        )
    await audit_store.record(
        con,
        by.account_id,
        "users",
        "user disabled" if disabled else "user enabled",
        user_id,
        {"email": target["email"]},
        actor=actor,
    )


async def set_notified(con: Connection, by: User, user_ids: set[UUID]) -> None:
    """Exactly these users of the account receive the system messages (the notification role)."""
    actor = _by_admin(by)
    rows = await con.fetch(
        """UPDATE report_users SET notify = (user_id = ANY($2::uuid[]))
           WHERE account_id = $1 AND notify <> (user_id = ANY($2::uuid[]))
           RETURNING email, notify""",
        by.account_id,
        list(user_ids),
    )
    if rows:
        added = sorted(r["email"] for r in rows if r["notify"])
        removed = sorted(r["email"] for r in rows if not r["notify"])
        await audit_store.record(
            con,
            by.account_id,
            "users",
            "notification role changed",
            "",
            {"added": added, "removed": removed},
            actor=actor,
        )


async def notification_emails(con: Connection, account_id: UUID) -> list[str]:
    """Who receives the account's system messages: the enabled users in the notification role, or,
    while nobody is, the enabled admins (so messages never go nowhere)."""
    rows = await con.fetch(
        """SELECT email, notify FROM report_users
           WHERE account_id = $1 AND disabled_at IS NULL AND (notify OR role = 'admin') ORDER BY lower(email)""",
        account_id,
    )
    chosen = [r["email"] for r in rows if r["notify"]]
    return chosen or [r["email"] for r in rows]


async def link_holder(con: Connection, token: str, now: datetime) -> dict[str, Any] | None:
    """Whose link this is (email, purpose) while it is unused and unexpired; None otherwise."""
    row = await con.fetchrow(
        """SELECT u.email, l.purpose FROM report_password_links l JOIN report_users u USING (user_id)
           WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2 AND u.disabled_at IS NULL""",
        _hash_token(token),
        now,
    )
    return None if row is None else dict(row)


async def use_link(con: Connection, token: str, password: str, now: datetime) -> str | None:
    """Sets the password of the link's user and uses the link up; returns the email, or None when
    the link is unknown, used, expired or its user disabled. Other sessions of the user end."""
    if len(password) < 8:
        raise Refused("The password needs at least 8 characters.")
    if len(password) > 1024:
        raise Refused("The password is too long (at most 1,024 characters).")
    row = await con.fetchrow(
        """UPDATE report_password_links l SET used_at = $2
           FROM report_users u
           WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2
             AND u.user_id = l.user_id AND u.disabled_at IS NULL
           RETURNING u.user_id, u.account_id, u.email, l.purpose""",
        _hash_token(token),
        now,
    )
    if row is None:
        return None
    digest = await asyncio.to_thread(_hasher.hash, password)
    await con.execute("UPDATE report_users SET password_hash = $2 WHERE user_id = $1", row["user_id"], digest)
    await con.execute(
        "UPDATE report_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", row["user_id"], now
    )
    await audit_store.record(
        con,
        row["account_id"],
        "users",
        "password set (invitation accepted)" if row["purpose"] == "invite" else "password reset",
        row["user_id"],
        {"email": row["email"]},
        actor=f"user:{row['user_id']}",
    )
    email: str = row["email"]
    return email
