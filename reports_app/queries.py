"""The reports' SQL. Every function takes a connection (the caller runs it as the read-only role)
and the signed-in user's account id first: no query reads another account's rows.

Counts come from the aggregates (report_lead_counts / report_rejection_reasons) plus the deltas not
yet folded into them, so they are exact at any moment and never scan `leads`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from leadrelay.capture import leads_store
from leadrelay.capture.lead_search import LeadSearch
from leadrelay.db import Connection
from reports_app.filters import ReportFilter

# Platform-count disagreements of the last this many complete UTC days raise an Overview alert.
MISMATCH_DAYS = 7


def _today() -> date:
    return datetime.now(UTC).date()


# Aggregated counts in a window of the account's days, plus whatever the last rollup has not folded
# yet: those deltas keep the quarter hour (UTC) their leads arrived in, read here as the account's
# day the way the rollup will fold them (migration 0031). The zone is read in the same statement, so
# a zone change (which rebuilds the aggregates in one transaction) is seen whole or not at all.
_ZONE = "z AS (SELECT time_zone AS tz FROM accounts WHERE account_id = $1)"
_DELTAS_IN_WINDOW = """FROM report_lead_deltas d, z
        WHERE d.account_id = $1 AND ($4::uuid IS NULL OR d.source_id = $4)
          AND d.slot >= $2::date::timestamp AT TIME ZONE z.tz
          AND d.slot < ($3::date + 1)::timestamp AT TIME ZONE z.tz"""
_COUNTS = f"""
    WITH {_ZONE}, c AS (
        SELECT day, source_id, status, disposition_code, post_out_status, n
        FROM report_lead_counts
        WHERE account_id = $1 AND day BETWEEN $2 AND $3 AND ($4::uuid IS NULL OR source_id = $4)
        UNION ALL
        SELECT (d.slot AT TIME ZONE z.tz)::date, d.source_id, d.status, d.disposition_code, d.post_out_status, d.n
        {_DELTAS_IN_WINDOW}
    )
"""


async def table_exists(con: Connection, name: str) -> bool:
    return bool(await con.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def account_settings(con: Connection, account_id: UUID) -> dict[str, Any]:
    """The account's console settings: time_zone, viewers_see_personal_data."""
    row = await con.fetchrow(
        "SELECT time_zone, viewers_see_personal_data FROM accounts WHERE account_id = $1", account_id
    )
    return dict(row) if row else {"time_zone": "UTC", "viewers_see_personal_data": False}


async def sources(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    rows = await con.fetch(
        """SELECT source_id, name, platform, state, enabled FROM sources
           WHERE account_id = $1 ORDER BY lower(name), source_id""",
        account_id,
    )
    return [dict(r) for r in rows]


async def forms(con: Connection, account_id: UUID, source_id: UUID | None) -> list[dict[str, Any]]:
    rows = await con.fetch(
        """SELECT form_id, source_id, name, platform_form_id FROM forms
           WHERE account_id = $1 AND ($2::uuid IS NULL OR source_id = $2) ORDER BY lower(name), form_id""",
        account_id,
        source_id,
    )
    return [dict(r) for r in rows]


async def daily_counts(con: Connection, account_id: UUID, since: date, until: date) -> list[dict[str, Any]]:
    """day, status, post_out_status, n — the Overview's windows and trend."""
    rows = await con.fetch(
        _COUNTS
        + """SELECT day, status, post_out_status, sum(n)::bigint AS n FROM c
                     GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1""",
        account_id,
        since,
        until,
        None,
    )
    return [dict(r) for r in rows]


async def source_counts(con: Connection, account_id: UUID, f: ReportFilter) -> list[dict[str, Any]]:
    """source_id, status, disposition_code, post_out_status, n — the Source Report."""
    rows = await con.fetch(
        _COUNTS
        + """SELECT source_id, status, disposition_code, post_out_status, sum(n)::bigint AS n FROM c
                     GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0""",
        account_id,
        f.since,
        f.until,
        f.source_id,
    )
    return [dict(r) for r in rows]


async def rejection_counts(con: Connection, account_id: UUID, f: ReportFilter) -> list[dict[str, Any]]:
    """day, source_id, disposition_code, n of REJECTED leads — the rejection breakdown."""
    rows = await con.fetch(
        _COUNTS
        + """SELECT day, source_id, disposition_code, sum(n)::bigint AS n FROM c
                     WHERE status = 'REJECTED' AND ($5 = '' OR disposition_code = $5)
                     GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1""",
        account_id,
        f.since,
        f.until,
        f.source_id,
        f.disposition_code,
    )
    return [dict(r) for r in rows]


async def matching_count(con: Connection, account_id: UUID, f: ReportFilter) -> int:
    """How many leads the filter matches (the form filter aside: counts are per source)."""
    return int(
        await con.fetchval(
            _COUNTS
            + """SELECT coalesce(sum(n), 0) FROM c
                     WHERE ($5 = '' OR status = $5) AND ($6 = '' OR disposition_code = $6)
                       AND ($7::text IS NULL OR post_out_status = $7)""",
            account_id,
            f.since,
            f.until,
            f.source_id,
            f.status,
            f.disposition_code,
            f.stored_post_out,
        )
    )


async def rejection_reasons(
    con: Connection, account_id: UUID, f: ReportFilter, limit: int = 50
) -> list[dict[str, Any]]:
    """source_id, disposition_code, custom_reason, n: the most frequent reasons (offending values)."""
    rows = await con.fetch(
        f"""WITH {_ZONE}, r AS (
               SELECT source_id, disposition_code, custom_reason, n FROM report_rejection_reasons
               WHERE account_id = $1 AND day BETWEEN $2 AND $3 AND ($4::uuid IS NULL OR source_id = $4)
               UNION ALL
               SELECT d.source_id, d.disposition_code, d.custom_reason, d.n {_DELTAS_IN_WINDOW}
                 AND d.status = 'REJECTED')
           SELECT source_id, disposition_code, custom_reason, sum(n)::bigint AS n FROM r
           WHERE ($5 = '' OR disposition_code = $5)
           GROUP BY 1, 2, 3 HAVING sum(n) > 0 ORDER BY 4 DESC, 3 LIMIT $6""",
        account_id,
        f.since,
        f.until,
        f.source_id,
        f.disposition_code,
        limit,
    )
    return [dict(r) for r in rows]


async def platform_counts(con: Connection, account_id: UUID, f: ReportFilter) -> dict[UUID, tuple[int, int]]:
    """source_id → (platform_reported, leadrelay_count) summed over the window's UTC days the
    connectors checked (platform_counts rows of one whole day); sources never checked are absent.
    Both counts are by the platform's creation day and from the same moment, so they compare fairly."""
    rows = await con.fetch(
        """SELECT source_id, sum(platform_reported)::bigint AS platform, sum(leadrelay_count)::bigint AS ours
           FROM platform_counts
           WHERE account_id = $1 AND day BETWEEN $2 AND $3 AND ($4::uuid IS NULL OR source_id = $4)
           GROUP BY 1""",
        account_id,
        f.since,
        f.until,
        f.source_id,
    )
    return {r["source_id"]: (r["platform"], r["ours"]) for r in rows}


async def platform_checked_at(con: Connection, account_id: UUID, f: ReportFilter) -> dict[UUID, datetime]:
    """source_id → when the platform's count of a day of the window was last taken."""
    rows = await con.fetch(
        """SELECT source_id, max(checked_at) AS at FROM platform_counts
           WHERE account_id = $1 AND day BETWEEN $2 AND $3 AND ($4::uuid IS NULL OR source_id = $4)
           GROUP BY 1""",
        account_id,
        f.since,
        f.until,
        f.source_id,
    )
    return {r["source_id"]: r["at"] for r in rows}


async def count_mismatches(con: Connection, account_id: UUID, since: date) -> list[dict[str, Any]]:
    """Complete UTC days since `since` (checked after the day ended) whose platform count differs
    from LeadRelay's: name, platform, day, platform_reported, leadrelay_count."""
    rows = await con.fetch(
        """SELECT s.name, s.platform, p.day, p.platform_reported, p.leadrelay_count
           FROM platform_counts p JOIN sources s USING (source_id)
           WHERE p.account_id = $1 AND p.day >= $2
             AND p.checked_at >= (p.day + 1)::timestamp AT TIME ZONE 'UTC'
             AND p.platform_reported <> p.leadrelay_count
           ORDER BY p.day DESC, lower(s.name)""",
        account_id,
        since,
    )
    return [dict(r) for r in rows]


# ---- leads ---------------------------------------------------------------------------------------

_LEAD_FILTER = """account_id = $1 AND received_at >= $2 AND received_at < $3
    AND ($4::uuid IS NULL OR source_id = $4) AND ($5::uuid IS NULL OR form_id = $5)
    AND ($6 = '' OR status = $6) AND ($7 = '' OR disposition_code = $7)
    AND ($8::text IS NULL OR post_out_status = $8)"""


def _lead_args(account_id: UUID, f: ReportFilter) -> list[Any]:
    return [account_id, f.start, f.end, f.source_id, f.form_id, f.status, f.disposition_code, f.stored_post_out]


async def leads_page(
    con: Connection,
    account_id: UUID,
    f: ReportFilter,
    after: tuple[datetime, UUID] | None = None,
    page_size: int = 50,
) -> list[dict[str, Any]]:
    """One page, newest first; `after` is the last row's (received_at, lead_id) of the page before
    (keyset paging: page 10,000 costs what page 1 costs)."""
    rows = await con.fetch(
        f"""SELECT lead_id, received_at, source_id, form_id, platform_lead_id, status, disposition_code,
                   custom_reason, post_out_status, fields
            FROM leads WHERE {_LEAD_FILTER}
              AND ($9::timestamptz IS NULL OR (received_at, lead_id) < ($9, $10::uuid))
            ORDER BY received_at DESC, lead_id DESC LIMIT $11""",
        *_lead_args(account_id, f),
        after[0] if after else None,
        after[1] if after else None,
        page_size,
    )
    return [dict(r) for r in rows]


async def search_page(
    con: Connection,
    account_id: UUID,
    f: ReportFilter,
    search: LeadSearch,
    after: tuple[datetime, UUID] | None = None,
    page_size: int = 50,
) -> list[dict[str, Any]]:
    """One page of the leads a search finds, newest first, over all days (the received window is
    left out: a person searched for is found whenever they came), the other filters applying. The
    search's SQL is the leads table owner's (leads_store, on migration 0034's indexes)."""
    lf = leads_store.LeadFilter(
        source_id=f.source_id,
        form_id=f.form_id,
        status=f.status or None,
        disposition_code=f.disposition_code or None,
        post_out_status=f.stored_post_out,
        search=search,
    )
    return [dict(r) for r in await leads_store.list_leads(con, account_id, lf, after=after, limit=page_size)]


async def leads_now(con: Connection, account_id: UUID, lead_ids: list[UUID]) -> list[dict[str, Any]]:
    """Where these leads stand now (after an action on them), in the order given."""
    rows = await con.fetch(
        """SELECT lead_id, fields, status, disposition_code, post_out_status FROM leads
           WHERE account_id = $1 AND lead_id = ANY($2::uuid[])""",
        account_id,
        lead_ids,
    )
    by_id = {r["lead_id"]: dict(r) for r in rows}
    return [by_id[i] for i in lead_ids if i in by_id]


async def lead_detail(con: Connection, account_id: UUID, lead_id: UUID) -> dict[str, Any] | None:
    row = await con.fetchrow(
        """SELECT l.*, s.name AS source_name, s.platform, f.name AS form_name
           FROM leads l JOIN sources s USING (source_id) LEFT JOIN forms f USING (form_id)
           WHERE l.lead_id = $1 AND l.account_id = $2""",
        lead_id,
        account_id,
    )
    if row is None:
        return None
    lead = dict(row)
    lead["events"] = [
        dict(r)
        for r in await con.fetch(
            """SELECT type, at, detail, actor FROM lead_events WHERE lead_id = $1 AND account_id = $2
               ORDER BY event_id""",
            lead_id,
            account_id,
        )
    ]
    # What the events' details name by id: the account's sources and destinations.
    lead["names"] = {r["source_id"]: r["name"] for r in await sources(con, account_id)}
    lead["post_outs"] = []
    lead["attempts"] = []
    if await table_exists(con, "post_outs"):
        lead["names"].update(await destination_names(con, account_id))
        lead["post_outs"] = [
            dict(r)
            for r in await con.fetch(
                """SELECT d.name AS destination, p.status, p.attempts, p.last_status_code, p.last_error, p.posted_at
               FROM post_outs p JOIN destinations d USING (destination_id)
               WHERE p.lead_id = $1 AND p.account_id = $2 ORDER BY d.name""",
                lead_id,
                account_id,
            )
        ]
        # Each attempt: what was sent (method, address without its query, body excerpt) and answered.
        lead["attempts"] = [
            dict(r)
            for r in await con.fetch(
                """SELECT a.at, d.name AS destination, a.attempt, a.status_code, a.outcome, a.reason,
                          a.response_excerpt, a.request_excerpt, d.method, d.url
                   FROM post_out_attempts a JOIN destinations d USING (destination_id)
                   WHERE a.lead_id = $1 AND a.account_id = $2 ORDER BY a.attempt_id DESC LIMIT 50""",
                lead_id,
                account_id,
            )
        ]
    return lead


# ---- post-outs -----------------------------------------------------------------------------------


async def destination_names(con: Connection, account_id: UUID) -> dict[UUID, str]:
    rows = await con.fetch("SELECT destination_id, name FROM destinations WHERE account_id = $1", account_id)
    return {r["destination_id"]: r["name"] for r in rows}


async def destination_status(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    """Each destination with its deliveries by status: the kept counts plus the deltas not folded yet
    (migration 0035), never the deliveries themselves."""
    rows = await con.fetch(
        """WITH c AS (
               SELECT destination_id, status, n FROM post_out_status_counts WHERE account_id = $1
               UNION ALL
               SELECT destination_id, status, n FROM post_out_status_deltas WHERE account_id = $1),
           t AS (
               SELECT destination_id,
                      sum(n) FILTER (WHERE status = 'PENDING') AS pending,
                      sum(n) FILTER (WHERE status = 'RETRYING') AS retrying,
                      sum(n) FILTER (WHERE status = 'POSTED') AS posted,
                      sum(n) FILTER (WHERE status = 'REJECTED_BY_DESTINATION') AS rejected_by_destination,
                      sum(n) FILTER (WHERE status = 'FAILED') AS failed
               FROM c GROUP BY 1)
           SELECT d.destination_id, d.name, s.name AS source, d.enabled,
                  d.paused_until IS NOT NULL AND d.paused_until > now() AS paused,
                  coalesce(t.pending, 0)::bigint AS pending, coalesce(t.retrying, 0)::bigint AS retrying,
                  coalesce(t.posted, 0)::bigint AS posted,
                  coalesce(t.rejected_by_destination, 0)::bigint AS rejected_by_destination,
                  coalesce(t.failed, 0)::bigint AS failed
           FROM destinations d JOIN sources s USING (source_id) LEFT JOIN t USING (destination_id)
           WHERE d.account_id = $1
           ORDER BY lower(d.name)""",
        account_id,
    )
    return [dict(r) for r in rows]


async def recent_attempts(con: Connection, account_id: UUID, limit: int = 100) -> list[dict[str, Any]]:
    rows = await con.fetch(
        """SELECT a.at, d.name AS destination, a.lead_id, l.fields->>'email' AS email, a.attempt, a.status_code,
                  a.outcome, a.reason, a.response_excerpt
           FROM post_out_attempts a JOIN destinations d USING (destination_id) JOIN leads l USING (lead_id)
           WHERE a.account_id = $1 ORDER BY a.attempt_id DESC LIMIT $2""",
        account_id,
        limit,
    )
    return [dict(r) for r in rows]


async def failed_post_outs(con: Connection, account_id: UUID, limit: int = 500) -> list[dict[str, Any]]:
    rows = await con.fetch(
        """SELECT p.lead_id, l.fields->>'email' AS email, p.source_id, d.name AS destination, p.status, p.attempts,
                  p.last_status_code, p.last_error, p.updated_at
           FROM post_outs p JOIN destinations d USING (destination_id) JOIN leads l USING (lead_id)
           WHERE p.account_id = $1 AND p.status IN ('FAILED', 'REJECTED_BY_DESTINATION')
           ORDER BY p.updated_at DESC LIMIT $2""",
        account_id,
        limit,
    )
    return [dict(r) for r in rows]


# ---- alerts --------------------------------------------------------------------------------------


async def alerts(con: Connection, account_id: UUID) -> list[str]:
    """What a manager should fix: sources needing reconnect, paused destinations, counts that disagree
    with the platform's for a recent complete day, lifecycle stages without a Meta stage."""
    out = [
        f"Source “{r['name']}” needs to be reconnected ({r['platform'].title()})."
        for r in await con.fetch(
            """SELECT name, platform FROM sources WHERE account_id = $1 AND state = 'NEEDS_RECONNECT'
                  ORDER BY lower(name)""",
            account_id,
        )
    ]
    if await table_exists(con, "destinations"):
        out += [
            f"Destination “{r['name']}” is paused after repeated failures "
            f"(until {r['paused_until']:%Y-%m-%d %H:%M} UTC)."
            for r in await con.fetch(
                """SELECT name, paused_until FROM destinations
                       WHERE account_id = $1 AND paused_until > now() ORDER BY lower(name)""",
                account_id,
            )
        ]
    out += [
        f"Source “{r['name']}” ({r['platform'].title()}): the platform reports {r['platform_reported']:,} "
        f"leads created on {r['day']:%Y-%m-%d}, LeadRelay has {r['leadrelay_count']:,}."
        for r in await count_mismatches(con, account_id, _today() - timedelta(days=MISMATCH_DAYS))
    ]
    if await table_exists(con, "feedback_events"):
        out += [
            f"CRM stage “{r['crm_stage']}” has no Meta stage mapped ({r['events']} events)."
            for r in await unmapped_stages(con, account_id)
        ]
    return out


# ---- lifecycle -----------------------------------------------------------------------------------


# The lifecycle counts are kept (migration 0036): the folded counts plus the deltas not folded yet,
# as `e` (the Lifecycle pages and the feedback set-up read it).
EVENT_COUNTS = """WITH e AS (
    SELECT crm_stage, meta_stage, status, n FROM lifecycle_event_counts WHERE account_id = $1
    UNION ALL
    SELECT crm_stage, meta_stage, status, n FROM lifecycle_event_deltas WHERE account_id = $1)
"""


async def stage_funnel(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    """meta_stage, leads (distinct leads that reached it), events; stages without events left out."""
    rows = await con.fetch(
        EVENT_COUNTS
        + """, l AS (
               SELECT meta_stage, n FROM lifecycle_stage_leads WHERE account_id = $1
               UNION ALL
               SELECT meta_stage, n FROM lifecycle_stage_lead_deltas WHERE account_id = $1),
           ev AS (SELECT meta_stage, sum(n)::bigint AS events FROM e GROUP BY 1 HAVING sum(n) <> 0),
           ld AS (SELECT meta_stage, sum(n)::bigint AS leads FROM l GROUP BY 1)
           SELECT ev.meta_stage, coalesce(ld.leads, 0) AS leads, ev.events
           FROM ev LEFT JOIN ld USING (meta_stage)""",
        account_id,
    )
    return [dict(r) for r in rows]


async def dispatch_status(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    rows = await con.fetch(
        EVENT_COUNTS + "SELECT status, sum(n)::bigint AS events FROM e GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1",
        account_id,
    )
    return [dict(r) for r in rows]


async def problem_events(con: Connection, account_id: UUID, limit: int = 200) -> list[dict[str, Any]]:
    """Expired, failed and unsendable lifecycle events with their reasons, newest first."""
    rows = await con.fetch(
        """SELECT changed_at, lead_id, crm_stage, meta_stage, status, reason, attempts FROM feedback_events
           WHERE account_id = $1 AND status IN ('FAILED', 'EXPIRED', 'NOT_SENDABLE')
           ORDER BY changed_at DESC LIMIT $2""",
        account_id,
        limit,
    )
    return [dict(r) for r in rows]


async def unmapped_stages(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    """CRM stages seen without a Meta stage mapped to them."""
    rows = await con.fetch(
        EVENT_COUNTS
        + """SELECT e.crm_stage, sum(e.n)::bigint AS events FROM e
           LEFT JOIN feedback_stage_mappings m ON m.account_id = $1 AND m.crm_stage = e.crm_stage
           WHERE m.crm_stage IS NULL GROUP BY 1 HAVING sum(e.n) <> 0 ORDER BY 2 DESC, 1""",
        account_id,
    )
    return [dict(r) for r in rows]
