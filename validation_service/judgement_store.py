"""SQL of a judgement: the leads to judge (locked), the duplicate rule's keys, and the recorded
result with its `validated` event. Connection first; the caller owns the one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg


async def leads_for_judgement(con: asyncpg.Connection, lead_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The leads with what judging needs, locked (in id order, so concurrent batches cannot deadlock)
    until the transaction ends: a lead is never judged by two calls at once."""
    return await con.fetch(
        """SELECT l.lead_id, l.account_id, l.source_id, l.platform_lead_id, l.status, l.disposition_code,
                  l.custom_reason, l.fields, l.is_test, l.received_at,
                  s.name AS source_name, s.enabled AS source_enabled, s.criteria_version,
                  f.enabled AS form_enabled, f.platform_form_id
           FROM leads l JOIN sources s USING (source_id) LEFT JOIN forms f ON f.form_id = l.form_id
           WHERE l.lead_id = ANY($1)
           ORDER BY l.lead_id
           FOR UPDATE OF l""",
        list(lead_ids),
    )


async def lock_scope(con: asyncpg.Connection, scope_ids: Sequence[UUID]) -> None:
    """Serialises duplicate checks per source/account until the transaction ends, so two batches
    with the same email cannot both pass."""
    for scope_id in sorted(set(scope_ids)):
        await con.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))", scope_id)


async def stored_keys(
    con: asyncpg.Connection, scope: str, scope_id: UUID, keys: Sequence[str], since: datetime | None
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
    con: asyncpg.Connection,
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


async def record_with_events(
    con: asyncpg.Connection,
    lead_ids: Sequence[UUID],
    statuses: Sequence[str],
    codes: Sequence[str],
    reasons: Sequence[str],
    fields: Sequence[str],
    versions: Sequence[int],
    account_ids: Sequence[UUID],
    type_: str,
    details: Sequence[str],
) -> None:
    """Writes the judgements (fields as JSON text) and their events in ONE statement. A lead already
    ACCEPTED is never changed; the caller holds the leads locked and passes no ACCEPTED lead, so
    every lead given gets its event."""
    await con.execute(
        """WITH u AS (
             UPDATE leads l SET status = u.st, disposition_code = u.c, custom_reason = u.r, fields = u.f::jsonb,
                                criteria_version = u.v, updated_at = now()
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
                  AS u(id, st, c, r, f, v)
             WHERE l.lead_id = u.id AND l.status <> 'ACCEPTED')
           INSERT INTO lead_events (lead_id, account_id, type, detail)
           SELECT e.l, e.a, $8, e.d FROM unnest($1::uuid[], $7::uuid[], $9::text[]) AS e(l, a, d)""",
        list(lead_ids),
        list(statuses),
        list(codes),
        list(reasons),
        list(fields),
        list(versions),
        list(account_ids),
        type_,
        list(details),
    )


# (lead_id, source_id, platform_lead_id, answers JSON, fields JSON, status, disposition code, custom reason,
#  criteria version, `validated` event detail)
JudgedLead = tuple[UUID, UUID, str, str, str, str, str, str, int, str]

_JUDGED_COLUMNS = (
    "lead_id",
    "source_id",
    "platform_lead_id",
    "answers",
    "fields",
    "status",
    "disposition_code",
    "custom_reason",
    "criteria_version",
    "detail",
)


async def insert_judged(
    con: asyncpg.Connection, account_id: UUID, via: str, received_at: datetime, leads: Sequence[JudgedLead]
) -> set[UUID]:
    """Stores leads judged before they were stored (ValidateNewLeads), each with its `received` and
    `validated` events, in one statement after one binary COPY into a staging table; returns the ids
    inserted (a known (source_id, platform_lead_id) is left as it was). The caller owns the
    transaction. The same rows intake would have written, minus the UPDATE that rewrites each one."""
    if not leads:
        return set()
    # Dropped at commit: nothing is left on the pooled connection. ON COMMIT DROP tables are not logged.
    await con.execute(
        """CREATE TEMP TABLE judged_staging (lead_id uuid, source_id uuid, platform_lead_id text, answers text,
               fields text, status text, disposition_code text, custom_reason text, criteria_version int,
               detail text) ON COMMIT DROP"""
    )
    await con.copy_records_to_table("judged_staging", records=leads, columns=_JUDGED_COLUMNS)
    rows = await con.fetch(
        """WITH stored AS (
               INSERT INTO leads (lead_id, account_id, source_id, platform_lead_id, answers, fields, status,
                                  disposition_code, custom_reason, criteria_version, captured_at, received_at,
                                  updated_at)
               SELECT lead_id, $1, source_id, platform_lead_id, answers::jsonb, fields::jsonb, status,
                      disposition_code, custom_reason, criteria_version, $3, $3, $3
               FROM judged_staging ORDER BY lead_id
               ON CONFLICT (source_id, platform_lead_id) DO NOTHING
               RETURNING lead_id),
           events AS (
               INSERT INTO lead_events (lead_id, account_id, type, detail, at)
               SELECT s.lead_id, $1, e.type, CASE e.type WHEN 'received' THEN $2 ELSE j.detail END, $3
               FROM stored s JOIN judged_staging j USING (lead_id)
                    CROSS JOIN (VALUES (1, 'received'), (2, 'validated')) AS e(ord, type)
               ORDER BY s.lead_id, e.ord)
           SELECT lead_id FROM stored""",
        account_id,
        via,
        received_at,
    )
    return {r[0] for r in rows}
