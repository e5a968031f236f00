"""The audit log of set-up changes (SQL for audit_log): who changed what, when. The set-up RPCs add
a row in the transaction of their change, naming the caller with `auth.current_actor()`; the console
adds its own for users (`actor` given). A row's detail holds names and shapes only, never a secret
value: callers pass what a person may read back, and `record` drops keys that name a secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from leadrelay.auth import current_actor
from leadrelay.db import Connection

# The areas the audit log page filters by.
AREAS: Final = ("mapping", "criteria", "destination", "feedback", "users", "keys", "sources")
# Detail keys never stored, whatever a caller passes (belt and braces: callers pass no secrets).
_SECRET_WORDS: Final = ("token", "secret", "password", "header_values", "credential", "api_key", "key_hash")


def url_shape(url: str) -> str:
    """A URL as the log may show it: scheme, host and path; no credentials, query or fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")) if parts.scheme else "(not a URL)"


def destination_detail(name: str, url: str, method: str, enabled: bool, header_names: Iterable[str]) -> dict[str, Any]:
    """What a destination change records: never header values, credentials or query strings."""
    return {"name": name, "url": url_shape(url), "method": method, "enabled": enabled, "headers": sorted(header_names)}


def _safe(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


async def record(
    con: Connection,
    account_id: UUID,
    area: str,
    action: str,
    subject_id: UUID | str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """One change, by the current call's actor unless `actor` is given."""
    if area not in AREAS:
        raise ValueError(f"audit area {area!r} is not one of {', '.join(AREAS)}")
    await con.execute(
        """INSERT INTO audit_log (account_id, actor, area, action, subject_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        account_id,
        current_actor() if actor is None else actor,
        area,
        action,
        str(subject_id),
        _safe(detail or {}),
    )


async def entries(
    con: Connection,
    account_id: UUID,
    *,
    area: str = "",
    actor: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The account's changes, newest first, filtered by area, actor and time (`until` exclusive)."""
    rows = await con.fetch(
        """SELECT audit_id, at, actor, area, action, subject_id, detail FROM audit_log
           WHERE account_id = $1 AND ($2 = '' OR area = $2) AND ($3 = '' OR actor = $3)
             AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)
           ORDER BY at DESC, audit_id DESC LIMIT $6""",
        account_id,
        area,
        actor,
        since,
        until,
        limit,
    )
    return [dict(r) for r in rows]


async def actors(con: Connection, account_id: UUID) -> list[str]:
    """Everyone who changed something in the account (for the page's filter)."""
    rows = await con.fetch("SELECT DISTINCT actor FROM audit_log WHERE account_id = $1 ORDER BY actor", account_id)
    return [r["actor"] for r in rows]
