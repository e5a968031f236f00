"""SQL of the duplicate rule's keys (lead_keys): the scope locks, the stored keys, the keys remembered.
The leads themselves (locked, judged, recorded) are leadrelay.capture's. Connection first; the caller
owns the one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from leadrelay.db import Connection


async def lock_scope(con: Connection, scope_ids: Sequence[UUID]) -> None:
    """Serialises duplicate checks per source/account until the transaction ends, so two batches
    with the same email cannot both pass."""
    for scope_id in sorted(set(scope_ids)):
        await con.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))", scope_id)


async def stored_keys(
    con: Connection, scope: str, scope_id: UUID, keys: Sequence[str], since: datetime | None
) -> dict[str, list[tuple[datetime, UUID]]]:
    """Stored leads holding these keys in the source (scope "source") or account, received since."""
    column = "source_id" if scope == "source" else "account_id"
    rows = await con.fetch(
        f"""SELECT key, received_at, lead_id FROM lead_keys
            WHERE {column} = $1 AND key = ANY($2) AND ($3::timestamptz IS NULL OR received_at >= $3)
            ORDER BY received_at, lead_id""",
        scope_id,
        list(set(keys)),
        since,
    )
    out: dict[str, list[tuple[datetime, UUID]]] = {}
    for r in rows:
        out.setdefault(r["key"], []).append((r["received_at"], r["lead_id"]))
    return out


async def remember_keys(
    con: Connection,
    judged: Sequence[UUID],
    rows: Sequence[tuple[UUID, UUID, UUID, str, datetime]],
) -> None:
    """Replaces the keys of the judged leads (a re-judged lead's fields may have changed) with
    `rows` of (lead_id, account_id, source_id, key, received_at)."""
    await con.execute("DELETE FROM lead_keys WHERE lead_id = ANY($1)", list(judged))
    if rows:
        await con.execute(
            """INSERT INTO lead_keys (lead_id, account_id, source_id, key, received_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[])
               ON CONFLICT DO NOTHING""",
            *(list(col) for col in zip(*rows, strict=True)),
        )


async def forget(con: Connection, lead_ids: Sequence[UUID]) -> None:
    """An erased lead's keys (its normalised email/phone): gone, so nothing of it is matched again."""
    await con.execute("DELETE FROM lead_keys WHERE lead_id = ANY($1::uuid[])", list(lead_ids))
