"""The reads behind the conditions: one account's sources, platform authorisations (when they end,
never their tokens), destinations, recent daily counts, platform counts, unmapped CRM stages and the
jobs that ended since the last look, as conditions.Facts. Run as the read-only reports role."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from leadrelay.db import Connection
from reports_app import queries
from reports_app.notifications.conditions import (
    COUNT_DAYS,
    DayCounts,
    Destination,
    Facts,
    Grant,
    Job,
    PlatformDay,
    Source,
)


async def gather(con: Connection, account_id: UUID, now: datetime, jobs_since: datetime) -> Facts:
    today = now.date()  # platform counts are per UTC day
    # Lead counts are per day of the account's zone (the report aggregates count by them): "today"
    # of a rejection-rate jump is the account's today, so the facts carry the account's local now.
    zone = (await queries.account_settings(con, account_id))["time_zone"]
    local_now = now.astimezone(ZoneInfo(zone))
    local_today = local_now.date()
    sources = [
        Source(str(r["source_id"]), r["name"], r["platform"], r["state"], r["last_error"] or "")
        for r in await con.fetch(
            """SELECT s.source_id, s.name, s.platform, s.state, c.last_error
               FROM sources s LEFT JOIN source_connections c USING (source_id)
               WHERE s.account_id = $1 ORDER BY lower(s.name)""",
            account_id,
        )
    ]
    grants = [
        Grant(str(r["grant_id"]), r["platform"], r["reconnect_by"], tuple(r["sources"]))
        for r in await con.fetch(
            """SELECT g.grant_id, g.platform, g.reconnect_by, array_agg(s.name ORDER BY lower(s.name)) AS sources
               FROM platform_grants g JOIN source_connections c ON c.grant_id = g.grant_id
               JOIN sources s ON s.source_id = c.source_id
               WHERE g.account_id = $1 AND g.failed_at IS NULL
               GROUP BY g.grant_id, g.platform, g.reconnect_by""",
            account_id,
        )
    ]
    destinations = [
        Destination(
            str(r["destination_id"]),
            r["name"],
            r["paused_until"],
            r["paused_reason"],
            r["consecutive_failures"],
            r["enabled"],
        )
        for r in await con.fetch(
            """SELECT destination_id, name, paused_until, paused_reason, consecutive_failures, enabled
               FROM destinations WHERE account_id = $1""",
            account_id,
        )
    ]
    days = [
        DayCounts(str(r["source_id"]), r["day"], r["received"], r["rejected"] or 0)
        for r in await con.fetch(
            """WITH z AS (SELECT $4::text AS tz), c AS (
                   SELECT source_id, day, status, n FROM report_lead_counts
                   WHERE account_id = $1 AND day BETWEEN $2 AND $3
                   UNION ALL
                   SELECT d.source_id, (d.slot AT TIME ZONE z.tz)::date, d.status, d.n
                   FROM report_lead_deltas d, z
                   WHERE d.account_id = $1 AND d.slot >= $2::date::timestamp AT TIME ZONE z.tz
                     AND d.slot < ($3::date + 1)::timestamp AT TIME ZONE z.tz)
               SELECT source_id, day, sum(n)::bigint AS received,
                      (sum(n) FILTER (WHERE status = 'REJECTED'))::bigint AS rejected
               FROM c GROUP BY 1, 2""",
            account_id,
            local_today - timedelta(days=7),
            local_today,
            zone,
        )
    ]
    platform_days = [
        PlatformDay(str(r["source_id"]), r["day"], r["platform_reported"], r["leadrelay_count"], r["complete"])
        for r in await con.fetch(
            """SELECT source_id, day, platform_reported, leadrelay_count,
                      checked_at >= (day + 1)::timestamp AT TIME ZONE 'UTC' AS complete
               FROM platform_counts WHERE account_id = $1 AND day >= $2""",
            account_id,
            today - timedelta(days=COUNT_DAYS),
        )
    ]
    stages = {r["crm_stage"]: r["events"] for r in await queries.unmapped_stages(con, account_id)}
    return Facts(
        local_now,
        sources,
        grants,
        destinations,
        days,
        platform_days,
        stages,
        await _jobs(con, account_id, jobs_since),
    )


async def _jobs(con: Connection, account_id: UUID, since: datetime) -> list[Job]:
    """Imports, uploads, syncs and lifecycle backfills that ended after `since` (interrupted imports
    count as failed)."""
    rows = await con.fetch(
        """SELECT kind, import_id::text AS job_id, file_name AS name, status = 'finished' AS ok,
                  coalesce(finished_at, lease_until, started_at) AS at, summary
           FROM imports
           WHERE account_id = $1 AND status IN ('finished', 'interrupted')
             AND coalesce(finished_at, lease_until, started_at) > $2
           UNION ALL
           SELECT 'sync', r.sync_id::text, s.name, r.state = 'DONE', r.updated_at,
                  CASE WHEN r.state = 'DONE'
                       THEN r.leads_new || ' new leads, ' || r.leads_known || ' already known'
                       ELSE r.message END
           FROM sync_runs r JOIN sources s USING (source_id)
           WHERE r.account_id = $1 AND r.state IN ('DONE', 'FAILED') AND r.updated_at > $2
           UNION ALL
           SELECT 'backfill', b.backfill_id::text, 'leads captured since ' || to_char(b.since, 'YYYY-MM-DD'),
                  b.ok, b.finished_at, b.summary
           FROM feedback_backfills b
           WHERE b.account_id = $1 AND b.finished_at > $2
           ORDER BY at LIMIT 100""",
        account_id,
        since,
    )
    return [Job(r["kind"], r["job_id"], r["name"] or "a file", r["ok"], r["at"], r["summary"] or "") for r in rows]
