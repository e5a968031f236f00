"""The platforms' own counts for the reports: after each successful poll of a source, the platform is
asked how many leads it created on each recent UTC day (today so far, and yesterday) and the answer is
stored beside LeadRelay's count of the same day (`platform_counts`), so the Source Report can show the
platform's count and the difference, and the Overview can flag a complete day that disagrees.

Counting costs platform calls (Facebook has no total: the day's ids are paged), so a day is asked at
most every COUNT_REFRESH_SECONDS, and a complete day already found equal is not asked again."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from ingest_service.connectors import platform_counts_store, sync
from ingest_service.resources import IngestResources
from leadrelay.capture import leads_store

log = logging.getLogger(__name__)

COUNT_REFRESH_SECONDS = 600.0
# Days counted after a poll: today and this many before it (never before the source was connected).
DAYS_BACK = 1


def days_due(
    now: datetime, connected_at: datetime, stored: Mapping[date, Mapping[str, Any] | asyncpg.Record]
) -> list[date]:
    """The UTC days to count now. stored: day → platform_reported, leadrelay_count, checked_at."""
    today = now.astimezone(UTC).date()
    day = max(connected_at.astimezone(UTC).date(), today - timedelta(days=DAYS_BACK))
    due = []
    while day <= today:
        row = stored.get(day)
        complete_check = row is not None and row["checked_at"] >= platform_counts_store.day_window(day)[1]
        if row is None:
            due.append(day)
        elif (now - row["checked_at"]).total_seconds() < COUNT_REFRESH_SECONDS:
            pass
        elif not (complete_check and row["platform_reported"] == row["leadrelay_count"]):
            due.append(day)
        day += timedelta(days=1)
    return due


async def after_poll(deps: IngestResources, connection: asyncpg.Record) -> int:
    """Counts the due days of a just-polled source; returns how many were stored."""
    now = datetime.now(UTC)
    source_id = connection["source_id"]
    today = now.date()
    async with deps.pool.acquire() as con:
        stored = await platform_counts_store.checks(
            con, source_id, [today - timedelta(days=i) for i in range(DAYS_BACK + 1)]
        )
    done = 0
    for day in days_due(now, connection["connected_at"], stored):
        start, end = platform_counts_store.day_window(day)
        # The platform first, then ours: leads arriving in between can only make ours larger.
        reported = await sync.platform_count(deps, connection, start, min(end, now))
        if reported < 0:
            return done  # refused or throttled: connectors.refused has recorded why
        async with deps.pool.acquire() as con:
            ours = (await leads_store.lead_counts(con, source_id, start, end))["received"]
            await platform_counts_store.record(con, connection["account_id"], source_id, start, end, reported, ours)
        done += 1
    return done
