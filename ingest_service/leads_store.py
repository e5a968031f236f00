"""SQL for leads and their audit trail (lead_events). Connection first, the caller owns the
transaction; bulk paths take columns (arrays) and use one statement with unnest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from leadrelay.errors import NotFound, PermissionDenied
from leadrelay.leads import REJECTED


@dataclass
class NewLeads:
    """A batch of leads to store, column by column (one list per column, same length)."""

    lead_ids: list[UUID]
    source_ids: list[UUID]
    form_ids: list[UUID | None]
    platform_lead_ids: list[str]
    answers: list[str]  # JSON text
    fields: list[str]  # JSON text
    contexts: list[str]  # JSON text
    is_test: list[bool]
    captured_at: list[datetime | None]


async def insert_received(con: asyncpg.Connection, account_id: UUID, new: NewLeads, via: str) -> set[UUID]:
    """Stores the leads as PROCESSING, with each inserted lead's `received` event (detail `via`), in ONE statement:
    a round trip fewer per intake batch. The events' foreign keys are checked at the end of the
    statement, when the leads are in."""
    rows = await con.fetch(
        """WITH ins AS (
             INSERT INTO leads (lead_id, account_id, source_id, form_id, platform_lead_id, answers, fields,
                                platform_context, is_test, captured_at)
             SELECT u.id, $1, u.s, u.f, u.p, u.a::jsonb, u.fl::jsonb, u.c::jsonb, u.t, coalesce(u.ca, now())
             FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bool[], $10::timestamptz[]) AS u(id, s, f, p, a, fl, c, t, ca)
             ON CONFLICT (source_id, platform_lead_id) DO NOTHING
             RETURNING lead_id),
           ev AS (
             INSERT INTO lead_events (lead_id, account_id, type, detail)
             SELECT lead_id, $1, 'received', $11 FROM ins)
           SELECT lead_id FROM ins""",
        account_id,
        new.lead_ids,
        new.source_ids,
        new.form_ids,
        new.platform_lead_ids,
        new.answers,
        new.fields,
        new.contexts,
        new.is_test,
        new.captured_at,
        via,
    )
    return {r[0] for r in rows}


async def known_leads(
    con: asyncpg.Connection, pairs: Sequence[tuple[UUID, str]]
) -> dict[tuple[UUID, str], asyncpg.Record]:
    """Stored leads by (source_id, platform_lead_id), with their current outcome."""
    rows = await con.fetch(
        """SELECT l.lead_id, l.source_id, l.platform_lead_id, l.status, l.disposition_code, l.custom_reason,
                  l.fields
           FROM leads l JOIN unnest($1::uuid[], $2::text[]) AS u(s, p)
             ON l.source_id = u.s AND l.platform_lead_id = u.p""",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return {(r["source_id"], r["platform_lead_id"]): r for r in rows}


async def add_events(
    con: asyncpg.Connection, account_id: UUID, lead_ids: Sequence[UUID], type_: str, details: Sequence[str]
) -> None:
    await con.execute(
        """INSERT INTO lead_events (lead_id, account_id, type, detail)
           SELECT u.l, $2, $3, u.d FROM unnest($1::uuid[], $4::text[]) AS u(l, d)""",
        list(lead_ids),
        account_id,
        type_,
        list(details),
    )


_LEAD = """SELECT l.*, s.platform, coalesce(f.platform_form_id, '') AS platform_form_id
           FROM leads l JOIN sources s USING (source_id) LEFT JOIN forms f ON f.form_id = l.form_id"""


async def get_lead(con: asyncpg.Connection, account_id: UUID, lead_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(f"{_LEAD} WHERE l.lead_id = $1", lead_id)
    if row is None:
        raise NotFound("lead", str(lead_id))
    if row["account_id"] != account_id:
        raise PermissionDenied("lead", str(lead_id))
    return row


async def lead_events(con: asyncpg.Connection, lead_id: UUID) -> list[asyncpg.Record]:
    return await con.fetch("SELECT type, at, detail FROM lead_events WHERE lead_id = $1 ORDER BY event_id", lead_id)


@dataclass(frozen=True)
class LeadFilter:
    source_id: UUID | None = None
    form_id: UUID | None = None
    status: str | None = None
    disposition_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# A LeadFilter as SQL: $1 the account, $2..$7 the filter's fields in order (`_filter_args`).
_FILTERED = """l.account_id = $1
             AND ($2::uuid IS NULL OR l.source_id = $2)
             AND ($3::uuid IS NULL OR l.form_id = $3)
             AND ($4::text IS NULL OR l.status = $4)
             AND ($5::text IS NULL OR l.disposition_code = $5)
             AND ($6::timestamptz IS NULL OR l.received_at >= $6)
             AND ($7::timestamptz IS NULL OR l.received_at < $7)"""


def _filter_args(account_id: UUID, f: LeadFilter) -> tuple:
    return account_id, f.source_id, f.form_id, f.status, f.disposition_code, f.since, f.until


async def list_leads(
    con: asyncpg.Connection, account_id: UUID, f: LeadFilter, *, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first; `after` is the last row's (received_at, lead_id)."""
    return await con.fetch(
        f"""{_LEAD}
           WHERE {_FILTERED}
             AND ($8::timestamptz IS NULL OR (l.received_at, l.lead_id) < ($8, $9::uuid))
           ORDER BY l.received_at DESC, l.lead_id DESC LIMIT $10""",
        *_filter_args(account_id, f),
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def export_cursor(con: asyncpg.Connection, account_id: UUID, f: LeadFilter) -> asyncpg.cursor.Cursor:
    """The filtered leads, oldest first, with what an export row needs, as a server-side cursor
    (the caller holds the transaction it lives in)."""
    return await con.cursor(
        f"""SELECT l.lead_id, l.source_id, l.form_id, s.platform, l.platform_lead_id, l.captured_at, l.received_at,
                  l.status, l.disposition_code, l.custom_reason, l.post_out_status, l.fields
           FROM leads l JOIN sources s USING (source_id)
           WHERE {_FILTERED}
           ORDER BY l.received_at, l.lead_id""",
        *_filter_args(account_id, f),
    )


# Re-driving ----------------------------------------------------------------------------------------


async def stale_processing(con: asyncpg.Connection, min_age_seconds: float, limit: int) -> list[asyncpg.Record]:
    """PROCESSING leads older than the age, oldest first (the sweeper re-drives them)."""
    return await con.fetch(
        """SELECT account_id, lead_id FROM leads
           WHERE status = 'PROCESSING' AND received_at < now() - make_interval(secs => $1)
           ORDER BY received_at LIMIT $2""",
        min_age_seconds,
        limit,
    )


async def switched_on_again(con: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Leads rejected because their source or form was off, whose source and form are on now."""
    return await con.fetch(
        """SELECT l.account_id, l.lead_id FROM leads l
           JOIN sources s USING (source_id) LEFT JOIN forms f ON f.form_id = l.form_id
           WHERE l.disposition_code = 'REJECT_LEAD_SOURCE_DISABLED' AND l.status = $1
             AND s.enabled AND coalesce(f.enabled, true)
           LIMIT $2""",
        REJECTED,
        limit,
    )


async def disabled_leads(con: asyncpg.Connection, source_id: UUID, form_id: UUID | None = None) -> list[UUID]:
    rows = await con.fetch(
        """SELECT lead_id FROM leads
           WHERE source_id = $1 AND disposition_code = 'REJECT_LEAD_SOURCE_DISABLED' AND status = $2
             AND ($3::uuid IS NULL OR form_id = $3)""",
        source_id,
        REJECTED,
        form_id,
    )
    return [r[0] for r in rows]
