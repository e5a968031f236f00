"""Read-only SQL of the source set-up pages (the caller runs it as the read-only role): every source
of the account with its connection's state, counts of today and the last 7 days (the account's days) from the report
aggregates, its last lead, and the platform's latest count check; one source's counts by status."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from leadrelay.db import Connection

# Counts by source, status and day of the account's zone from the aggregates plus the deltas not
# folded yet, whose UTC quarter hours are read as the account's days (as queries._COUNTS).
_COUNTS = """
    WITH z AS (SELECT time_zone AS tz FROM accounts WHERE account_id = $1), c AS (
        SELECT day, source_id, status, n FROM report_lead_counts
        WHERE account_id = $1 AND day >= $2 AND ($3::uuid IS NULL OR source_id = $3)
        UNION ALL
        SELECT (d.slot AT TIME ZONE z.tz)::date, d.source_id, d.status, d.n FROM report_lead_deltas d, z
        WHERE d.account_id = $1 AND d.slot >= $2::date::timestamp AT TIME ZONE z.tz
          AND ($3::uuid IS NULL OR d.source_id = $3)
    )
"""


async def sources(con: Connection, account_id: UUID, today: date) -> list[dict[str, Any]]:
    """One dict per source (oldest first): the source, its connection (connected, last_error,
    paused_until while the platform's rate limit pauses it), counts received/accepted/rejected for
    `today` and the 7 days ending today, last_lead_at, and the latest platform check of a whole day."""
    rows = await con.fetch(
        """SELECT s.source_id, s.name, s.platform, s.external_account_id, s.enabled, s.state, s.created_at,
                  c.source_id IS NOT NULL AS connected, coalesce(c.last_error, '') AS last_error,
                  CASE WHEN c.backoff_until > now() THEN c.backoff_until END AS paused_until,
                  (SELECT max(l.received_at) FROM leads l WHERE l.source_id = s.source_id) AS last_lead_at,
                  p.day AS checked_day, p.platform_reported, p.leadrelay_count, p.checked_at
           FROM sources s
           LEFT JOIN source_connections c USING (source_id)
           LEFT JOIN LATERAL (
               SELECT day, platform_reported, leadrelay_count, checked_at FROM platform_counts pc
               WHERE pc.source_id = s.source_id AND pc.day IS NOT NULL
               ORDER BY pc.day DESC, pc.checked_at DESC LIMIT 1) p ON true
           WHERE s.account_id = $1 ORDER BY s.created_at, s.source_id""",
        account_id,
    )
    counts = await con.fetch(
        _COUNTS
        + """SELECT source_id, status, day = $4 AS today, sum(n)::bigint AS n FROM c
             GROUP BY 1, 2, 3 HAVING sum(n) <> 0""",
        account_id,
        today - timedelta(days=6),
        None,
        today,
    )
    out = []
    for r in rows:
        row = dict(r)
        for window in ("today", "week"):
            for what in ("received", "accepted", "rejected"):
                row[f"{what}_{window}"] = 0
        out.append(row)
    by_id = {r["source_id"]: r for r in out}
    for c in counts:
        found = by_id.get(c["source_id"])
        if found is None:
            continue
        row = found
        windows = ("today", "week") if c["today"] else ("week",)
        for window in windows:
            row[f"received_{window}"] += c["n"]
            if c["status"] in ("ACCEPTED", "REJECTED"):
                row[f"{c['status'].lower()}_{window}"] += c["n"]
    return out


async def status_counts(con: Connection, account_id: UUID, source_id: UUID) -> dict[str, int]:
    """The source's leads by status, all time: PROCESSING, ACCEPTED, REJECTED."""
    rows = await con.fetch(
        _COUNTS + "SELECT status, sum(n)::bigint AS n FROM c GROUP BY 1",
        account_id,
        date(1970, 1, 1),
        source_id,
    )
    found = {r["status"]: int(r["n"]) for r in rows}
    return {s: found.get(s, 0) for s in ("ACCEPTED", "REJECTED", "PROCESSING")}
