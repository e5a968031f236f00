"""SQL of `platform_counts`: the platforms' own lead counts per source and window, stored by the
connectors (after each successful poll, per UTC day; by GetSourceCounts, for the window asked) beside
LeadRelay's count of the same window at the same moment, for the reports. Connection first, `$1`
parameters; the caller owns the transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import asyncpg

from leadrelay.db import Connection


def utc_day(start: datetime, end: datetime) -> date | None:
    """The UTC day when [start, end) is exactly one UTC day, else None."""
    day = start.astimezone(UTC).date()
    if start == datetime.combine(day, time(), UTC) and end - start == timedelta(days=1):
        return day
    return None


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


async def record(
    con: Connection,
    account_id: UUID,
    source_id: UUID,
    start: datetime,
    end: datetime,
    platform_reported: int,
    leadrelay_count: int,
) -> None:
    """The newest check of a window replaces the one before."""
    await con.execute(
        """INSERT INTO platform_counts (source_id, account_id, window_start, window_end, day, platform_reported,
                                        leadrelay_count)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (source_id, window_start, window_end) DO UPDATE
              SET platform_reported = EXCLUDED.platform_reported, leadrelay_count = EXCLUDED.leadrelay_count,
                  checked_at = now()""",
        source_id,
        account_id,
        start,
        end,
        utc_day(start, end),
        platform_reported,
        leadrelay_count,
    )


async def checks(con: Connection, source_id: UUID, days: list[date]) -> dict[date, asyncpg.Record]:
    """The stored day checks of a source: day → (platform_reported, leadrelay_count, checked_at)."""
    rows = await con.fetch(
        """SELECT day, platform_reported, leadrelay_count, checked_at FROM platform_counts
           WHERE source_id = $1 AND day = ANY($2::date[])""",
        source_id,
        days,
    )
    return {r["day"]: r for r in rows}
