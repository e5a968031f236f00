"""The pull side: every LEADRELAY_POLL_INTERVAL_SECONDS each connected, ACTIVE source is read from its
watermark — Facebook per form with `filtering` on time_created and cursor paging (the backup for
webhooks that never came), LinkedIn per owner (ad account or organization) and lead type with
submittedAtTimeRange and start/count paging.

A watermark moves only after every page of a read was stored, to the newest lead seen; reads start a
little before it (OVERLAP), so a lead the platform made visible late is still picked up — repeats
are harmless, intake knows them. A refused token marks the source NEEDS_RECONNECT (it is then no
longer polled); throttling pauses the source and leaves the watermark where it was. After a successful read the
platform's counts of the recent UTC days are stored for the reports (ingest_service.platform_counts)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

import asyncpg

from ingest_service.capture import intake
from ingest_service.connectors import (
    connections_store,
    facebook_leads,
    linkedin_answers,
    linkedin_owners,
    platform_clients,
    platform_counts,
    webhook_inbox,
)
from ingest_service.resources import IngestResources
from leadrelay.background import every

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 120
PAGE_SIZE = 100
INBOX_SWEEP_SECONDS = 1.0


async def poll_all(deps: IngestResources) -> None:
    async with deps.pool.acquire() as con:
        rows = await connections_store.pollable(con)
    for row in rows:
        try:
            await poll_source(deps, row)
        except Exception:
            log.exception("poll failed", extra={"source_id": str(row["source_id"])})


async def poll_source(deps: IngestResources, connection: asyncpg.Record) -> int:
    """Reads one source from its watermarks; returns the number of leads handed to intake."""
    try:
        if connection["platform"] == "FACEBOOK":
            taken = await _poll_facebook(deps, connection)
        else:
            taken = await _poll_linkedin(deps, connection)
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        await platform_clients.refused(deps, connection, exc, doing="polling")
        return 0
    async with deps.pool.acquire() as con:
        await connections_store.mark_polled(con, connection["source_id"])
    try:
        await platform_counts.after_poll(deps, connection)
    except Exception:
        # The poll itself succeeded; a count that failed is asked again after the next poll.
        log.exception("platform count failed", extra={"source_id": str(connection["source_id"])})
    return taken


async def _poll_facebook(deps: IngestResources, connection: asyncpg.Record) -> int:
    client = platform_clients.graph(deps)
    token = platform_clients.token(deps, connection)
    page_id = connection["external_account_id"]
    source_id = connection["source_id"]
    start = int(connection["connected_at"].timestamp())
    taken = 0
    for form in await client.page_forms(token, page_id):
        form_id = str(form["id"])
        async with deps.pool.acquire() as con:
            mark = await connections_store.watermark(con, source_id, form_id)
        since = (start if mark is None else mark) - OVERLAP_SECONDS
        newest = since
        async for page in client.form_leads(token, form_id, since=since, limit=PAGE_SIZE):
            leads = [facebook_leads.to_incoming(source_id, page_id, lead) for lead in page.leads]
            if leads:
                await intake.submit(deps, connection["account_id"], leads, via="poll")
                taken += len(leads)
            for lead in leads:
                if lead.captured_at:
                    newest = max(newest, int(lead.captured_at.timestamp()))
        async with deps.pool.acquire() as con:
            await connections_store.advance_watermark(con, source_id, form_id, max(newest, since + OVERLAP_SECONDS))
    return taken


async def _poll_linkedin(deps: IngestResources, connection: asyncpg.Record) -> int:
    client = platform_clients.linkedin(deps)
    token = platform_clients.token(deps, connection)
    source_id = connection["source_id"]
    async with deps.pool.acquire() as con:
        mark = await connections_store.watermark(con, source_id, "")
    start_ms = (int(connection["connected_at"].timestamp() * 1000) if mark is None else mark) - OVERLAP_SECONDS * 1000
    newest = start_ms + OVERLAP_SECONDS * 1000
    taken = 0
    async for page in client.responses(
        token,
        linkedin_owners.of_source(connection["external_account_id"]),
        start_ms=max(0, start_ms),
        end_ms=int(time.time() * 1000) + 1,
        count=PAGE_SIZE,
    ):
        leads = []
        for element in page.elements:
            form = element.get("form")
            if not isinstance(form, dict):
                log.warning("linkedin response without its form version", extra={"response_id": element.get("id")})
                continue
            leads.append(linkedin_answers.to_incoming(source_id, element, form))
            newest = max(newest, int(element.get("submittedAt") or 0))
        if leads:
            await intake.submit(deps, connection["account_id"], leads, via="poll", resubmissions=True)
            taken += len(leads)
    async with deps.pool.acquire() as con:
        await connections_store.advance_watermark(con, source_id, "", newest)
    return taken


def loops(deps: IngestResources) -> list[Awaitable[None]]:
    """The connectors' background loops for ingest_service.app.background_loops."""
    return [
        every(deps.settings.poll_interval_seconds, lambda: poll_all(deps), name="social-poll"),
        every(INBOX_SWEEP_SECONDS, lambda: webhook_inbox.sweep(deps), name="webhook-inbox"),
    ]
