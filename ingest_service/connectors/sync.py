"""Historical sync (SyncLeads) and the platform's own count of a window (GetSourceCounts).

A sync walks its window in seven-day slices, oldest first; after each slice the run's checkpoint moves
to the slice's end, so an interrupted sync for the same window resumes there (slices, not platform
cursors, because Graph cursors are not stable to store). Every lead goes through intake like a webhook
or poll would, so a sync beside them only finds leads already known. Throttling pauses the sync and
retries the slice; a refused token marks the source NEEDS_RECONNECT and ends the sync."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from ingest_service.capture import intake
from ingest_service.connectors import (
    connections_store,
    facebook_leads,
    linkedin_answers,
    linkedin_owners,
    platform_clients,
)
from ingest_service.resources import IngestResources
from leadrelay.capture import sources_store
from leadrelay.capture.leads import IncomingLead
from leadrelay.db import Connection
from leadrelay.errors import FailedPrecondition, InvalidArgument
from leadrelay.ids import as_id

log = logging.getLogger(__name__)

SLICE = timedelta(days=7)
PAGE_SIZE = 500
# A `since` computed by the caller just before the call is a little older on arrival.
SINCE_SLACK = timedelta(minutes=5)
RATE_LIMIT_RETRIES = 6
RATE_LIMIT_FIRST_WAIT = 1.0


@dataclass
class Progress:
    sync_id: str
    form_id: str = ""
    pages_read: int = 0
    leads_seen: int = 0
    leads_new: int = 0
    leads_known: int = 0
    done: bool = False
    message: str = ""
    resumed: bool = False
    synced_until: datetime | None = None


@dataclass(frozen=True)
class Window:
    source: asyncpg.Record
    connection: asyncpg.Record
    form_scope: str
    since: datetime
    until: datetime


async def window(
    deps: IngestResources,
    account_id: UUID,
    source_id: UUID,
    form_ref: str,
    since: datetime | None,
    until: datetime | None,
) -> Window:
    """Checks a SyncLeads request: the source, its connection, the form, and the ≤ max-days window."""
    now = datetime.now(UTC)
    max_days = deps.settings.sync_max_days
    if since is None:
        raise InvalidArgument("since", f"the start of the window is required (at most {max_days} days back)")
    if since < now - timedelta(days=max_days) - SINCE_SLACK:
        raise InvalidArgument(
            "since",
            f"{since.isoformat()} is more than {max_days} days back "
            f"(LEADRELAY_SYNC_MAX_DAYS); sync at most {max_days} days",
        )
    until = min(until or now, now)
    if until <= since:
        raise InvalidArgument("until", "must be after since (and not in the future)")
    async with deps.pool.acquire() as con:
        source = await sources_store.get_source(con, account_id, source_id)
        if source["platform"] not in ("FACEBOOK", "LINKEDIN"):
            raise FailedPrecondition(
                f"source {source_id} is a {source['platform']} source: only Facebook and LinkedIn sources can be synced"
            )
        connection = await connections_store.connection(con, source_id)
        if connection is None:
            raise FailedPrecondition(f"source {source_id} is not connected: ConnectSource first")
        if source["state"] != "ACTIVE":
            raise FailedPrecondition(f"source {source_id} is {source['state']}: reconnect it first")
        scope = ""
        if form_ref:
            scope = form_ref
            form_id = as_id(form_ref)
            form = await sources_store.get_form(con, account_id, form_id) if form_id else None
            if form is not None:
                if form["source_id"] != source_id:
                    raise InvalidArgument("form_id", f"form {form_ref} belongs to another source")
                scope = form["platform_form_id"]
    return Window(source, connection, scope, since, until)


async def run(deps: IngestResources, account_id: UUID, w: Window) -> AsyncIterator[Progress]:
    source_id = w.source["source_id"]
    async with deps.pool.acquire() as con:
        previous = await connections_store.resumable_sync(con, source_id, w.form_scope, w.since, w.until)
        if previous is not None:
            await connections_store.resume_sync(con, previous["sync_id"])
            run_row = previous
        else:
            run_row = await connections_store.start_sync(con, account_id, source_id, w.form_scope, w.since, w.until)
    p = Progress(
        str(run_row["sync_id"]),
        w.form_scope,
        run_row["pages_read"],
        run_row["leads_seen"],
        run_row["leads_new"],
        run_row["leads_known"],
        resumed=previous is not None,
    )
    checkpoint: datetime = run_row["checkpoint"]
    p.synced_until = checkpoint
    state = "INTERRUPTED"
    try:
        if p.resumed:
            p.message = f"resuming from {checkpoint.isoformat()}"
            yield _copy(p)
        token = platform_clients.token(deps, w.connection)
        forms: list[str] = []
        if w.source["platform"] == "FACEBOOK":
            forms = (
                [w.form_scope]
                if w.form_scope
                else [
                    str(f["id"])
                    for f in await _retrying(
                        lambda: platform_clients.graph(deps).page_forms(token, w.source["external_account_id"])
                    )
                ]
            )
        while checkpoint < w.until:
            end = min(checkpoint + SLICE, w.until)
            async with deps.pool.acquire() as con:
                if await connections_store.connection(con, source_id) is None:
                    p.message = "the source was disconnected; sync stopped"
                    state = "FAILED"
                    yield _copy(p)
                    return
            async for _ in _slice(deps, account_id, w, token, forms, checkpoint, end, p):
                yield _copy(p)
            checkpoint = p.synced_until = end
            async with deps.pool.acquire() as con:
                await _save(con, run_row["sync_id"], checkpoint, "RUNNING", p)
        state = "DONE"
        p.done, p.message = True, f"synced {w.since.isoformat()} .. {w.until.isoformat()}"
        yield _copy(p)
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        state = "FAILED"
        p.message = await platform_clients.refused(deps, w.connection, exc, doing="historical sync")
        raise FailedPrecondition(p.message) from exc
    finally:
        # INTERRUPTED when the caller went away: the next sync of this window resumes at the checkpoint.
        async with deps.pool.acquire() as con:
            await _save(con, run_row["sync_id"], checkpoint, state, p)


async def _slice(
    deps: IngestResources,
    account_id: UUID,
    w: Window,
    token: str,
    forms: list[str],
    start: datetime,
    end: datetime,
    p: Progress,
) -> AsyncIterator[None]:
    source_id = w.source["source_id"]
    if w.source["platform"] == "FACEBOOK":
        page_id = w.source["external_account_id"]
        for form_id in forms:

            async def pages(form_id: str = form_id) -> AsyncIterator[list[IncomingLead]]:
                async for page in platform_clients.graph(deps).form_leads(
                    token, form_id, since=int(start.timestamp()), until=int(end.timestamp()), limit=PAGE_SIZE
                ):
                    yield [facebook_leads.to_incoming(source_id, page_id, lead) for lead in page.leads]

            async for _ in _take(deps, account_id, pages, p):
                yield None
    else:

        async def pages() -> AsyncIterator[list[IncomingLead]]:  # type: ignore[misc]  # each branch defines its own pages()
            async for page in platform_clients.linkedin(deps).responses(
                token,
                linkedin_owners.of_source(w.source["external_account_id"]),
                start_ms=int(start.timestamp() * 1000),
                end_ms=int(end.timestamp() * 1000),
                count=PAGE_SIZE,
            ):
                leads = []
                for element in page.elements:
                    form = element.get("form")
                    version = linkedin_answers.form_version(str(element.get("versionedLeadGenFormUrn", "")))
                    if w.form_scope and (version is None or version[0] != w.form_scope):
                        continue
                    if isinstance(form, dict):
                        leads.append(linkedin_answers.to_incoming(source_id, element, form))
                    else:
                        log.warning("linkedin response without its form version", extra={"id": element.get("id")})
                yield leads

        async for _ in _take(deps, account_id, pages, p, resubmissions=True):
            yield None


async def _take(
    deps: IngestResources, account_id: UUID, pages, p: Progress, resubmissions: bool = False
) -> AsyncIterator[None]:
    """Reads every page of one slice into intake; a throttled read waits and re-reads the slice.
    `resubmissions`: LinkedIn, whose response ids can come again with new answers (an update)."""
    wait = RATE_LIMIT_FIRST_WAIT
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            async for leads in pages():
                p.pages_read += 1
                if leads:
                    outcomes = await intake.submit(deps, account_id, leads, via="sync", resubmissions=resubmissions)
                    p.leads_seen += len(outcomes)
                    known = sum(1 for o in outcomes if o.duplicate)
                    p.leads_known += known
                    p.leads_new += len(outcomes) - known
                p.message = ""
                yield None
            return
        except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
            if not exc.rate_limited or attempt == RATE_LIMIT_RETRIES:
                raise
            p.message = f"rate limited ({exc}); retrying in {wait:.0f} s"
            yield None
            await asyncio.sleep(wait)
            wait = min(60.0, wait * 2)


async def _retrying(call):
    wait = RATE_LIMIT_FIRST_WAIT
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return await call()
        except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
            if not exc.rate_limited or attempt == RATE_LIMIT_RETRIES:
                raise
            await asyncio.sleep(wait)
            wait = min(60.0, wait * 2)
    raise AssertionError("unreachable")


async def _save(con: Connection, sync_id: UUID, checkpoint: datetime, state: str, p: Progress) -> None:
    await connections_store.save_sync(
        con,
        sync_id,
        checkpoint=checkpoint,
        state=state,
        pages_read=p.pages_read,
        leads_seen=p.leads_seen,
        leads_new=p.leads_new,
        leads_known=p.leads_known,
        message=p.message,
    )


def _copy(p: Progress) -> Progress:
    return Progress(**vars(p))


async def platform_count(
    deps: IngestResources, source: asyncpg.Record, since: datetime | None, until: datetime | None
) -> int:
    """The platform's count of leads created in [since, until), or -1 when it cannot be asked.

    LinkedIn: `paging.total` of leadFormResponses for the window (one call, count=1, per lead type).
    Facebook: the Graph leads edge has no documented total, so every form's leads edge is paged with
    fields=id and the same `filtering` window, and the ids are counted (a few calls per 500 leads)."""
    async with deps.pool.acquire() as con:
        connection = await connections_store.connection(con, source["source_id"])
    if connection is None or source["state"] != "ACTIVE":
        return -1
    token = platform_clients.token(deps, connection)
    try:
        if source["platform"] == "LINKEDIN":
            return await platform_clients.linkedin(deps).total(
                token,
                linkedin_owners.of_source(source["external_account_id"]),
                start_ms=int(since.timestamp() * 1000) if since else 0,
                end_ms=int((until or datetime.now(UTC)).timestamp() * 1000),
            )
        if source["platform"] == "FACEBOOK":
            client = platform_clients.graph(deps)
            total = 0
            for form in await client.page_forms(token, source["external_account_id"]):
                async for leads_page in client.form_leads(
                    token,
                    str(form["id"]),
                    since=int(since.timestamp()) if since else None,
                    until=int(until.timestamp()) if until else None,
                    limit=PAGE_SIZE,
                    fields="id",
                ):
                    total += len(leads_page.leads)
            return total
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        await platform_clients.refused(deps, connection, exc, doing="counting leads")
    return -1
