"""SQL for leads: stored at intake (with their `received` events), listed, judged (with their
`validated` events), re-uploaded, locked for post-out, re-driven. Connection first, the caller owns
the transaction; bulk paths take columns (arrays) and use one statement with unnest. Events on their
own: events_store."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from leadrelay.capture import lead_search, text
from leadrelay.capture.lead_search import LeadSearch
from leadrelay.capture.leads import REJECTED
from leadrelay.db import Connection
from leadrelay.ownership import check_owner


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


async def insert_received(con: Connection, account_id: UUID, new: NewLeads, via: str) -> set[UUID]:
    """Stores the leads as PROCESSING, with each inserted lead's `received` event (detail `via`), in ONE statement:
    a round trip fewer per intake batch. The events' foreign keys are checked at the end of the
    statement, when the leads are in. Texts pass the capture sanitiser (`text`): one lead's NUL
    must not fail the statement the whole batch shares."""
    platform_ids = [text.clean(p) for p in new.platform_lead_ids]
    fields = [text.clean_json(f) for f in new.fields]
    rows = await con.fetch(
        """WITH ins AS (
             INSERT INTO leads (lead_id, account_id, source_id, form_id, platform_lead_id, answers, fields,
                                platform_context, is_test, captured_at, search_keys, search_words)
             SELECT u.id, $1, u.s, u.f, u.p, u.a::jsonb, u.fl::jsonb, u.c::jsonb, u.t, coalesce(u.ca, now()),
                    string_to_array(u.k, $12), string_to_array(u.w, $12)
             FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bool[], $10::timestamptz[], $13::text[], $14::text[])
                  AS u(id, s, f, p, a, fl, c, t, ca, k, w)
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
        platform_ids,
        [text.clean_json(a) for a in new.answers],
        fields,
        [text.clean_json(c) for c in new.contexts],
        new.is_test,
        new.captured_at,
        via,
        lead_search.SEPARATOR,
        *_searchable(fields, platform_ids),
    )
    return {r[0] for r in rows}


def _searchable(fields: Sequence[str], platform_ids: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The leads' search keys and words (lead_search), each lead's joined for string_to_array: with
    `platform_ids`, the whole keys; without, the keys of the fields only (a write that changes the
    fields keeps the stored first key, the platform lead id's: `_KEPT_KEYS`)."""
    keys, words = [], []
    for i, f in enumerate(fields):
        parsed = lead_search.fields_of(f)
        found = lead_search.search_keys(parsed, platform_ids[i]) if platform_ids else lead_search.field_keys(parsed)
        keys.append(lead_search.joined(found))
        words.append(lead_search.joined(lead_search.search_words(parsed)))
    return keys, words


def _kept_keys(k: str, sep: str) -> str:
    """SQL for the search keys of a lead whose fields change, `k` holding the new fields' keys joined:
    the stored first key (the platform lead id's, which never changes) and those (migration 0034)."""
    return f"l.search_keys[1:1] || string_to_array({k}, {sep})"


async def apply_resubmissions(con: Connection, account_id: UUID, changed: NewLeads, via: str) -> set[UUID]:
    """Known leads the member submitted again with other answers (a LinkedIn test form resent the same
    day keeps its response id): new answers, fields, context and dates, back to PROCESSING to be judged
    again, with an `updated` event. `changed.lead_ids` are the stored leads' ids. An erased lead is
    never filled again. ONE statement; returns the ids updated."""
    rows = await con.fetch(
        f"""WITH up AS (
             UPDATE leads l SET answers = u.a::jsonb, fields = u.fl::jsonb, platform_context = u.c::jsonb,
                                is_test = u.t, captured_at = coalesce(u.ca, l.captured_at), status = 'PROCESSING',
                                disposition_code = '', custom_reason = '', updated_at = now(),
                                search_keys = {_kept_keys("u.k", "$9")}, search_words = string_to_array(u.w, $9)
             FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[],
                         $10::text[], $11::text[])
                  AS u(id, a, fl, c, t, ca, k, w)
             WHERE l.lead_id = u.id AND l.account_id = $1 AND l.erased_at IS NULL
             RETURNING l.lead_id),
           ev AS (
             INSERT INTO lead_events (lead_id, account_id, type, detail)
             SELECT lead_id, $1, 'updated', $8 FROM up)
           SELECT lead_id FROM up""",
        account_id,
        changed.lead_ids,
        changed.answers,
        changed.fields,
        changed.contexts,
        changed.is_test,
        changed.captured_at,
        f"{via}: resubmitted with changed answers; mapped and judged again" if via else "resubmitted",
        lead_search.SEPARATOR,
        *_searchable(changed.fields, None),
    )
    return {r[0] for r in rows}


async def known_leads(con: Connection, pairs: Sequence[tuple[UUID, str]]) -> dict[tuple[UUID, str], asyncpg.Record]:
    """Stored leads by (source_id, platform_lead_id), with their current outcome."""
    rows = await con.fetch(
        """SELECT l.lead_id, l.source_id, l.platform_lead_id, l.status, l.disposition_code, l.custom_reason,
                  l.fields, l.answers, l.erased_at IS NOT NULL AS erased
           FROM leads l JOIN unnest($1::uuid[], $2::text[]) AS u(s, p)
             ON l.source_id = u.s AND l.platform_lead_id = u.p""",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return {(r["source_id"], r["platform_lead_id"]): r for r in rows}


def _leads_with_source(leads: str) -> str:
    """A lead's row with its source's platform and its form's platform id, from `leads` (the table
    or a subquery of its rows) as `l`."""
    return f"""SELECT l.*, s.platform, coalesce(f.platform_form_id, '') AS platform_form_id
           FROM {leads} l JOIN sources s USING (source_id) LEFT JOIN forms f ON f.form_id = l.form_id"""


_LEAD = _leads_with_source("leads")


async def get_lead(con: Connection, account_id: UUID, lead_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(f"{_LEAD} WHERE l.lead_id = $1", lead_id)
    check_owner("lead", lead_id, row["account_id"] if row else None, account_id)
    return row  # type: ignore[return-value]  # check_owner raised if there is no row


@dataclass(frozen=True)
class LeadFilter:
    source_id: UUID | None = None
    form_id: UUID | None = None
    status: str | None = None
    disposition_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # leads.post_out_status ('' for leads never enqueued: rejected, being checked).
    post_out_status: str | None = None
    # What a person typed in a search box (lead_search.parse); None lists without one.
    search: LeadSearch | None = None


# A LeadFilter as SQL: $1 the account, $2..$8 the filter's fields in order (`_filter_args`).
_FILTERED = """l.account_id = $1
             AND ($2::uuid IS NULL OR l.source_id = $2)
             AND ($3::uuid IS NULL OR l.form_id = $3)
             AND ($4::text IS NULL OR l.status = $4)
             AND ($5::text IS NULL OR l.disposition_code = $5)
             AND ($6::timestamptz IS NULL OR l.received_at >= $6)
             AND ($7::timestamptz IS NULL OR l.received_at < $7)
             AND ($8::text IS NULL OR l.post_out_status = $8)"""


_FILTER_ARGS = 8  # how many parameters _FILTERED takes; a query's own parameters follow them


def _filter_args(account_id: UUID, f: LeadFilter) -> list[object]:
    return [account_id, f.source_id, f.form_id, f.status, f.disposition_code, f.since, f.until, f.post_out_status]


def _searched(f: LeadFilter, args: list[object]) -> str | None:
    """The search's condition on `l` (appending its parameters to `args`), None without a search.
    Only the lookups the text calls for are in it, each on an indexed column or expression
    (migration 0034): LeadID by the primary key, exact keys and contained words by their GIN indexes."""
    s = f.search
    if s is None:
        return None
    if s.empty:
        return "false"
    ors = []
    if s.lead_id is not None:
        args.append(s.lead_id)
        ors.append(f"l.lead_id = ${len(args)}")
    if s.keys:
        args.append(list(s.keys))
        ors.append(f"l.search_keys && ${len(args)}::text[]")
    if s.words:
        args.append(s.words)
        ors.append(f"array_to_tsvector(l.search_words) @@ ${len(args)}::tsquery")
    return "(" + " OR ".join(ors) + ")"


def _found(searched: str | None) -> str:
    """The leads to list or export: all (`leads`), or those the search finds, looked up by its
    indexes in a subquery kept apart (OFFSET 0). Kept apart, the planner cannot walk the account's
    leads newest first testing each against the search to fill a LIMIT sooner: its guess of how many
    leads a key or a word matches is poor (a phone search walked 1M leads so), and for narrow searches
    that walk reads the whole account."""
    if searched is None:
        return "leads"
    return f"(SELECT * FROM leads l WHERE l.account_id = $1 AND {searched} OFFSET 0)"


# How many of the newest leads (after the page's cursor) a contains-search tests one by one before
# asking its index. A broad search (a few letters common to many names) fills its page among them,
# in their order, at a bounded cost; its index would hand over every match (100,000s at 10M leads), to
# be fetched and sorted for the newest. A narrower one is looked up by the index after the walk.
# bench.lead_search at 10M leads: 20,000 left a company search matching 1 in 1,000 leads (a common
# word's posting list of 1M leads intersected in the index) at 545 ms; 60,000 brings every contains
# case under 200 ms and costs a narrow search ~100 ms. Searches of digits only skip the walk.
WALKED = 60_000


# A search's statements run without JIT and parallel workers, with room for an exact bitmap: the
# planner guesses a key matches 0.5% of the leads (it has nothing better for unique keys), which makes
# a one-row lookup look dear enough to compile and start workers for (60-90 ms around a 0.1 ms lookup
# at 10M leads), and a common word's posting list (1M leads) made the bitmap lossy at 4MB.
_SEARCH_SETTINGS = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL work_mem = '64MB'"


async def list_leads(
    con: Connection, account_id: UUID, f: LeadFilter, *, after: tuple[Any, ...] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first; `after` is the last row's (received_at, lead_id)."""
    if f.search is None:
        return await _list_leads(con, account_id, f, after, limit)
    async with con.transaction():  # the settings' scope (a savepoint in the caller's)
        await con.execute(_SEARCH_SETTINGS)
        return await _list_leads(con, account_id, f, after, limit)


async def _list_leads(
    con: Connection, account_id: UUID, f: LeadFilter, after: tuple[Any, ...] | None, limit: int
) -> list[asyncpg.Record]:
    args = _filter_args(account_id, f)
    searched = _searched(f, args)
    args += [after[0] if after else None, after[1] if after else None, limit]
    n = len(args)
    after_cursor = f"(${n - 2}::timestamptz IS NULL OR (l.received_at, l.lead_id) < (${n - 2}, ${n - 1}::uuid))"
    if f.search is not None and f.search.lettered:
        # The newest WALKED leads after the cursor, in order, tested until the page is full; sources
        # and forms are joined to the page only, so the walk stops there.
        walked = f"""(SELECT * FROM (SELECT * FROM leads l WHERE l.account_id = $1 AND {after_cursor}
                                     ORDER BY l.received_at DESC, l.lead_id DESC LIMIT {WALKED}) l
                      WHERE {_FILTERED} AND {searched}
                      ORDER BY l.received_at DESC, l.lead_id DESC LIMIT ${n})"""
        rows = await con.fetch(
            f"{_leads_with_source(walked)} ORDER BY l.received_at DESC, l.lead_id DESC",
            *args,
        )
        if len(rows) == limit:
            return rows
    return await con.fetch(
        f"""{_leads_with_source(_found(searched))}
           WHERE {_FILTERED} AND {after_cursor}
           ORDER BY l.received_at DESC, l.lead_id DESC LIMIT ${n}""",
        *args,
    )


async def export_cursor(con: Connection, account_id: UUID, f: LeadFilter) -> asyncpg.cursor.Cursor:
    """The filtered leads, oldest first, with what an export row needs, as a server-side cursor
    (the caller holds the transaction it lives in)."""
    args = _filter_args(account_id, f)
    searched = _searched(f, args)
    if searched is not None:
        await con.execute(_SEARCH_SETTINGS)  # for the caller's transaction, the cursor's
    found = _found(searched)
    return await con.cursor(
        f"""SELECT l.lead_id, l.source_id, l.form_id, s.platform, l.platform_lead_id, l.captured_at, l.received_at,
                  l.status, l.disposition_code, l.custom_reason, l.post_out_status, l.fields
           FROM {found} l JOIN sources s USING (source_id)
           WHERE {_FILTERED}
           ORDER BY l.received_at, l.lead_id""",
        *args,
    )


# The export's cells rendered by PostgreSQL (leadrelay.lead_export's rules, which its tests hold the
# SQL to): text as stored, times in UTC ISO 8601 with a Z, an empty value as NULL. `csv` puts the
# neutralising apostrophe before a formula start; both formats escape a value's own leading apostrophe.
_FORMULA_STARTS = r"('=', '+', '-', '@', E'\t', E'\r')"
_ESCAPED_STARTS = r"('=', '+', '-', '@', E'\t', E'\r', '''')"
_EXPORT_TIME = """'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""


def _export_cell(value: str, csv: bool) -> str:
    escaped = f"(left({value}, 1) = '''' AND substr({value}, 2, 1) IN {_ESCAPED_STARTS})"
    quoted = f"left({value}, 1) IN {_FORMULA_STARTS} OR {escaped}" if csv else escaped
    return f"NULLIF(CASE WHEN {quoted} THEN '''' || {value} ELSE {value} END, '')"


def _export_query(columns: Sequence[str], csv: bool) -> str:
    """The export's rows as text cells, A-K then `columns` (bound after the filter's parameters): each value is read
    from `fields` once, in a subquery kept apart (OFFSET 0) so the cell expression does not read it again."""
    times = [f"to_char(l.{c} AT TIME ZONE 'UTC', {_EXPORT_TIME})" for c in ("captured_at", "received_at")]
    fixed = [
        "l.lead_id::text",
        "l.source_id::text",
        "l.form_id::text",
        _export_cell("s.platform", csv),
        _export_cell("l.platform_lead_id", csv),
        *times,
        _export_cell("l.status", csv),
        _export_cell("l.disposition_code", csv),
        _export_cell("l.custom_reason", csv),
        _export_cell("l.post_out_status", csv),
    ]
    values = (
        ", ".join(f"l.fields ->> ${_FILTER_ARGS + 1 + i}::text AS c{i}" for i in range(len(columns))) or "NULL AS none"
    )
    mapped = [_export_cell(f"v.c{i}", csv) for i in range(len(columns))]
    return f"""SELECT {", ".join([*fixed, *mapped])}
           FROM leads l JOIN sources s USING (source_id), LATERAL (SELECT {values} OFFSET 0) v
           WHERE {_FILTERED}
           ORDER BY l.received_at, l.lead_id"""


async def copy_export_csv(
    con: Connection,
    account_id: UUID,
    f: LeadFilter,
    columns: Sequence[str],
    output: Callable[[bytes], Coroutine[Any, Any, None]],
    status: list[str] | None = None,
) -> None:
    """The filtered leads' export rows as CSV (no header, LF line ends), oldest first, handed to
    `output` piece by piece as PostgreSQL's COPY writes them: the rows never pass through Python.
    `status` gets COPY's "COPY <rows>"."""
    done = await con.copy_from_query(
        _export_query(columns, csv=True), *_filter_args(account_id, f), *columns, output=output, format="csv"
    )
    if status is not None:
        status.append(done)


async def export_text_cursor(
    con: Connection, account_id: UUID, f: LeadFilter, columns: Sequence[str]
) -> asyncpg.cursor.Cursor:
    """The filtered leads' export rows as text cells for XLSX (None for an empty one), oldest first,
    as a server-side cursor (the caller holds the transaction it lives in)."""
    return await con.cursor(_export_query(columns, csv=False), *_filter_args(account_id, f), *columns)


# Re-driving ----------------------------------------------------------------------------------------


async def stale_processing(con: Connection, min_age_seconds: float, limit: int) -> list[asyncpg.Record]:
    """PROCESSING leads older than the age, oldest first (the sweeper re-drives them)."""
    return await con.fetch(
        """SELECT account_id, lead_id FROM leads
           WHERE status = 'PROCESSING' AND received_at < now() - make_interval(secs => $1)
           ORDER BY received_at LIMIT $2""",
        min_age_seconds,
        limit,
    )


async def switched_on_again(con: Connection, limit: int) -> list[asyncpg.Record]:
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


async def disabled_leads(con: Connection, source_id: UUID, form_id: UUID | None = None) -> list[UUID]:
    rows = await con.fetch(
        """SELECT lead_id FROM leads
           WHERE source_id = $1 AND disposition_code = 'REJECT_LEAD_SOURCE_DISABLED' AND status = $2
             AND ($3::uuid IS NULL OR form_id = $3)""",
        source_id,
        REJECTED,
        form_id,
    )
    return [r[0] for r in rows]


async def lead_counts(
    con: Connection, source_id: UUID, since: datetime | None, until: datetime | None
) -> asyncpg.Record:
    """LeadRelay's own counts for leads the platform created in [since, until) (captured_at), the same
    window the platform is asked about. Leads are received after the platform created them (give or
    take clock skew, a day at most), so only leads received since a day before the window can count:
    that bound lets the (source_id, received_at) index do the work instead of reading every lead of
    the source."""
    return await con.fetchrow(  # type: ignore[return-value]  # an aggregate without GROUP BY always yields one row
        """SELECT count(*) AS received,
                  count(*) FILTER (WHERE status = 'ACCEPTED') AS accepted,
                  count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
                  count(*) FILTER (WHERE status = 'PROCESSING') AS processing,
                  count(*) FILTER (WHERE post_out_status = 'POSTED') AS posted,
                  count(*) FILTER (WHERE post_out_status = 'FAILED') AS post_failed
             FROM leads
            WHERE source_id = $1
              AND ($2::timestamptz IS NULL OR (captured_at >= $2 AND received_at >= $2 - interval '1 day'))
              AND ($3::timestamptz IS NULL OR captured_at < $3)""",
        source_id,
        since,
        until,
    )


# Post-out -----------------------------------------------------------------------------------------


async def lock_leads(con: Connection, lead_ids: Sequence[UUID]) -> list[UUID]:
    """Locks the leads (in id order) until the transaction ends, before their deliveries change;
    returns the ids locked (those that exist).

    Two workers recording two deliveries of one lead at once would otherwise each compute the lead's
    summary from a snapshot without the other's delivery, and the later one would keep a stale
    PENDING over a lead posted everywhere. Locked first, the second waits, and its summary (a new
    statement, so a new snapshot) sees the first's. NO KEY UPDATE: audit events' foreign-key checks
    are not held up."""
    rows = await con.fetch(
        "SELECT lead_id FROM leads WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id FOR NO KEY UPDATE",
        sorted(set(lead_ids)),
    )
    return [r[0] for r in rows]


async def set_post_out_status(con: Connection, lead_ids: Sequence[UUID], summaries: Sequence[str]) -> None:
    """Writes each lead's delivery summary (leads.post_out_status) where it changed."""
    await con.execute(
        """UPDATE leads l SET post_out_status = u.s, updated_at = now()
           FROM unnest($1::uuid[], $2::text[]) AS u(id, s)
           WHERE l.lead_id = u.id AND l.post_out_status IS DISTINCT FROM u.s""",
        list(lead_ids),
        list(summaries),
    )


async def lead_accounts(con: Connection, lead_ids: Sequence[UUID]) -> dict[UUID, tuple[UUID, str]]:
    """Each existing lead's (account_id, status)."""
    rows = await con.fetch(
        "SELECT lead_id, account_id, status FROM leads WHERE lead_id = ANY($1::uuid[])", list(lead_ids)
    )
    return {r["lead_id"]: (r["account_id"], r["status"]) for r in rows}


# Judging ------------------------------------------------------------------------------------------


async def lock_for_judgement(con: Connection, lead_ids: Sequence[UUID]) -> list[asyncpg.Record]:
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


async def record_judgements(
    con: Connection,
    lead_ids: Sequence[UUID],
    statuses: Sequence[str],
    codes: Sequence[str],
    reasons: Sequence[str],
    fields: Sequence[str],
    versions: Sequence[int],
    account_ids: Sequence[UUID],
    type_: str,
    details: Sequence[str],
    actor: str = "",
) -> None:
    """Writes the judgements (fields as JSON text) and their events in ONE statement. A lead already
    ACCEPTED is never changed; the caller holds the leads locked and passes no ACCEPTED lead, so
    every lead given gets its event. `actor`: who asked for the judgement (events_store.add_events)."""
    await con.execute(
        f"""WITH u AS (
             UPDATE leads l SET status = u.st, disposition_code = u.c, custom_reason = u.r, fields = u.f::jsonb,
                                criteria_version = u.v, updated_at = now(),
                                search_keys = {_kept_keys("u.k", "$11")}, search_words = string_to_array(u.w, $11)
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $12::text[],
                         $13::text[])
                  AS u(id, st, c, r, f, v, k, w)
             WHERE l.lead_id = u.id AND l.status <> 'ACCEPTED')
           INSERT INTO lead_events (lead_id, account_id, type, detail, actor)
           SELECT e.l, e.a, $8, e.d, $10 FROM unnest($1::uuid[], $7::uuid[], $9::text[]) AS e(l, a, d)""",
        list(lead_ids),
        list(statuses),
        list(codes),
        list(reasons),
        list(fields),
        list(versions),
        list(account_ids),
        type_,
        list(details),
        actor,
        lead_search.SEPARATOR,
        *_searchable(fields, None),
    )


class JudgedLead(NamedTuple):
    """A lead judged before it was stored: a row of `leads` as insert_judged writes it (the COPY's
    columns, in order, after the account and before the times)."""

    lead_id: UUID
    source_id: UUID
    platform_lead_id: str
    answers: str  # JSON text
    fields: str  # JSON text
    status: str
    disposition_code: str
    custom_reason: str
    criteria_version: int
    form_id: UUID | None = None
    platform_context: str = "{}"  # JSON text
    is_test: bool = False
    captured_at: datetime | None = None  # None: when it was received
    # The value `fields` holds, when the caller has it (the judge does): the search columns are
    # computed from it instead of parsing the JSON again (~30 us a lead of 12 columns).
    fields_value: Any = None


# The `imported` event: a lead stored already judged has one event saying how it came and the
# verdict, instead of a `received` and a `validated` event a moment apart.
IMPORTED = "imported"
_JUDGED_COLUMNS = (
    "lead_id",
    "account_id",
    "source_id",
    "platform_lead_id",
    "answers",
    "fields",
    "status",
    "disposition_code",
    "custom_reason",
    "criteria_version",
    "form_id",
    "platform_context",
    "is_test",
    "captured_at",
    "received_at",
    "updated_at",
    "search_keys",
    "search_words",
)
_EVENT_COLUMNS = ("lead_id", "account_id", "type", "detail", "at")


async def insert_judged(
    con: Connection,
    account_id: UUID,
    received_at: datetime,
    leads: Sequence[JudgedLead],
    details: Sequence[str],
) -> set[UUID]:
    """Stores leads judged before they were stored (ValidateNewLeads), each with one `imported` event
    (`details`, one per lead); returns the ids inserted. The caller owns the transaction.

    Their ids are new and their (source_id, platform_lead_id) almost always are (an import's own ids
    are new by construction; a platform's ids were looked up just before), so the leads and the
    events go straight into their tables by binary COPY: no staging table, no ON CONFLICT, each row
    written once. Should a (source, platform lead id) be taken after all (a resumed import's chunk
    committed meanwhile by the call that died, the same platform id twice in a file, a webhook
    delivering the lead just now), the COPY rolls back to its savepoint and the same rows go through
    a staging table and INSERT ... ON CONFLICT DO NOTHING: a known lead is left as it was."""
    if not leads:
        return set()
    rows = [_judged_row(account_id, received_at, lead) for lead in leads]
    try:
        async with con.transaction():  # a savepoint
            await con.copy_records_to_table("leads", records=rows, columns=_JUDGED_COLUMNS)
            await con.copy_records_to_table(
                "lead_events",
                records=[(r[0], account_id, IMPORTED, d, received_at) for r, d in zip(rows, details, strict=True)],
                columns=_EVENT_COLUMNS,
            )
        return {r[0] for r in rows}
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "leads_source_id_platform_lead_id_key":
            raise
    return await _insert_judged_known(con, account_id, received_at, rows, details)


def _judged_row(account_id: UUID, received_at: datetime, lead: JudgedLead) -> tuple[Any, ...]:
    """The lead's row of `leads` (_JUDGED_COLUMNS), its texts through the capture sanitiser."""
    platform_id = text.clean(lead.platform_lead_id)
    fields = text.clean_json(lead.fields)
    # The text as given (nearly always: nothing to clean) is the caller's value's JSON.
    parsed = (
        lead.fields_value if lead.fields_value is not None and fields is lead.fields else lead_search.fields_of(fields)
    )
    return (
        lead.lead_id,
        account_id,
        lead.source_id,
        platform_id,
        text.clean_json(lead.answers).encode(),  # bytes: JSON text for the jsonb codec (leadrelay.db)
        fields.encode(),
        lead.status,
        lead.disposition_code,
        lead.custom_reason,
        lead.criteria_version,
        lead.form_id,
        text.clean_json(lead.platform_context).encode(),
        lead.is_test,
        lead.captured_at or received_at,
        received_at,
        received_at,
        lead_search.search_keys(parsed, platform_id),
        lead_search.search_words(parsed),
    )


async def _insert_judged_known(
    con: Connection, account_id: UUID, received_at: datetime, rows: Sequence[tuple[Any, ...]], details: Sequence[str]
) -> set[UUID]:
    """insert_judged for rows some of whose (source, platform lead id) are stored: one COPY into a
    staging table, one INSERT ... ON CONFLICT DO NOTHING with the events of the leads inserted."""
    # Dropped at commit: nothing is left on the pooled connection. ON COMMIT DROP tables are not logged.
    await con.execute(
        """CREATE TEMP TABLE judged_staging (lead_id uuid, source_id uuid, platform_lead_id text, answers text,
               fields text, status text, disposition_code text, custom_reason text, criteria_version int,
               form_id uuid, platform_context text, is_test bool, captured_at timestamptz, search_keys text[],
               search_words text[], detail text)
           ON COMMIT DROP"""
    )
    await con.copy_records_to_table(
        "judged_staging",
        records=[
            (r[0], r[2], r[3], r[4].decode(), r[5].decode(), *r[6:11], r[11].decode(), r[12], r[13], r[16], r[17], d)
            for r, d in zip(rows, details, strict=True)
        ],
        columns=[c for c in _JUDGED_COLUMNS if c not in ("account_id", "received_at", "updated_at")] + ["detail"],
    )
    stored = await con.fetch(
        """WITH stored AS (
               INSERT INTO leads (lead_id, account_id, source_id, platform_lead_id, answers, fields, status,
                                  disposition_code, custom_reason, criteria_version, form_id, platform_context,
                                  is_test, captured_at, received_at, updated_at, search_keys, search_words)
               SELECT lead_id, $1, source_id, platform_lead_id, answers::jsonb, fields::jsonb, status,
                      disposition_code, custom_reason, criteria_version, form_id, platform_context::jsonb,
                      is_test, captured_at, $2, $2, search_keys, search_words
               FROM judged_staging ORDER BY lead_id
               ON CONFLICT (source_id, platform_lead_id) DO NOTHING
               RETURNING lead_id),
           events AS (
               INSERT INTO lead_events (lead_id, account_id, type, detail, at)
               SELECT s.lead_id, $1, $3, j.detail, $2
               FROM stored s JOIN judged_staging j USING (lead_id)
               ORDER BY s.lead_id)
           SELECT lead_id FROM stored""",
        account_id,
        received_at,
        IMPORTED,
    )
    return {r[0] for r in stored}


# Re-upload ----------------------------------------------------------------------------------------


async def sources_of(con: Connection, account_id: UUID, lead_ids: Sequence[UUID]) -> list[UUID]:
    """The distinct sources of the account's leads among these."""
    rows = await con.fetch(
        "SELECT DISTINCT source_id FROM leads WHERE lead_id = ANY($1) AND account_id = $2", list(lead_ids), account_id
    )
    return [r[0] for r in rows]


_FOR_REUPLOAD = "SELECT lead_id, account_id, source_id, status, fields FROM leads WHERE lead_id = ANY($1)"


async def lock_for_reupload(con: Connection, lead_ids: list[UUID]) -> list[asyncpg.Record]:
    """The leads with what a re-upload needs, locked (in id order) until the transaction ends."""
    return await con.fetch(_FOR_REUPLOAD + " ORDER BY lead_id FOR UPDATE", lead_ids)


async def read_for_reupload(con: Connection, lead_ids: list[UUID]) -> list[asyncpg.Record]:
    """The same leads unlocked: a re-upload's dry run changes nothing, so it blocks no one."""
    return await con.fetch(_FOR_REUPLOAD, lead_ids)


async def replace_fields(con: Connection, lead_ids: list[UUID], fields: list[str]) -> None:
    """New fields for leads about to be judged again (re-upload)."""
    # Back to PROCESSING: if judging fails now, the sweeper picks the lead up; never an ACCEPTED lead.
    fields = [text.clean_json(f) for f in fields]
    await con.execute(
        f"""UPDATE leads l SET fields = u.f::jsonb, status = 'PROCESSING', disposition_code = '',
                              custom_reason = '', updated_at = now(),
                              search_keys = {_kept_keys("u.k", "$3")}, search_words = string_to_array(u.w, $3)
           FROM unnest($1::uuid[], $2::text[], $4::text[], $5::text[]) AS u(id, f, k, w)
           WHERE l.lead_id = u.id AND l.status <> 'ACCEPTED'""",
        lead_ids,
        fields,
        lead_search.SEPARATOR,
        *_searchable(fields, None),
    )


async def revalidation_page(
    con: Connection,
    account_id: UUID,
    *,
    source_id: UUID | None,
    disposition_code: str,
    column: str,
    value: str,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    lead_ids: Sequence[UUID] = (),
) -> list[asyncpg.Record]:
    """The account's REJECTED and PROCESSING leads a re-judging selects, oldest first (received_at,
    lead_id), after the key `after`: never an ACCEPTED lead. `column` (when set) must hold exactly
    `value`, a missing field reading as blank; `lead_ids` (when given) names the leads."""
    return await con.fetch(
        """SELECT lead_id, source_id, received_at, status, disposition_code, custom_reason FROM leads
           WHERE account_id = $1 AND status IN ('REJECTED', 'PROCESSING')
             AND ($2::uuid IS NULL OR source_id = $2)
             AND ($3 = '' OR disposition_code = $3)
             AND ($4 = '' OR coalesce(fields ->> $4, '') = $5)
             AND ($6::timestamptz IS NULL OR received_at >= $6)
             AND ($7::timestamptz IS NULL OR received_at < $7)
             AND ($8::timestamptz IS NULL OR (received_at, lead_id) > ($8, $9::uuid))
             AND (cardinality($11::uuid[]) = 0 OR lead_id = ANY($11::uuid[]))
           ORDER BY received_at, lead_id
           LIMIT $10""",
        account_id,
        source_id,
        disposition_code,
        column,
        value,
        since,
        until,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        list(lead_ids),
    )


async def latest_of_source(con: Connection, source_id: UUID, limit: int) -> list[asyncpg.Record]:
    """The source's last `limit` leads (newest first) with what judging reads and their stored
    judgement: the dry run of a draft of the criteria (EvaluateLeads' last_leads)."""
    return await con.fetch(
        """SELECT lead_id, source_id, account_id, fields, is_test, received_at, status, disposition_code,
                  custom_reason
           FROM leads WHERE source_id = $1 ORDER BY received_at DESC, lead_id DESC LIMIT $2""",
        source_id,
        limit,
    )


# Set-up screens read a form's newest leads among this many of the source's (bounded cost without a
# form index: a rare form shows fewer samples rather than scanning the whole source).
RECENT_SCAN = 5000


async def recent_leads(con: Connection, source_id: UUID, form_id: UUID | None, limit: int) -> list[asyncpg.Record]:
    """The newest leads of a source (or one of its forms), newest first: lead_id, platform_lead_id,
    received_at, answers (JSON text)."""
    return await con.fetch(
        """SELECT lead_id, platform_lead_id, received_at, answers::text AS answers
           FROM (SELECT lead_id, platform_lead_id, received_at, answers, form_id FROM leads
                 WHERE source_id = $1 AND erased_at IS NULL ORDER BY received_at DESC LIMIT $4) l
           WHERE $2::uuid IS NULL OR form_id = $2 ORDER BY received_at DESC, lead_id LIMIT $3""",
        source_id,
        form_id,
        limit,
        RECENT_SCAN,
    )
