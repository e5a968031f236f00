"""Processing the webhook inbox: rows are stored before the platform gets its 200, then processed
right after (a task per POST) and, for anything left over — a crash, a rate limit, a restart — by
the sweep loop. Rows are leased with SKIP LOCKED, so replicas and the sweep never process one twice
at the same time; intake's idempotency covers a lease that expired mid-way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from ingest_service.connectors import connections_store, linkedin_owners
from ingest_service.resources import IngestResources
from leadrelay.capture import text

log = logging.getLogger(__name__)

CONCURRENCY = 16
# Rows that keep failing transiently are given up (FAILED, with the reason) after this many attempts.
MAX_ATTEMPTS = 8
# On connect, notifications ignored this recently are re-driven (older ones: the pull backup).
REDRIVE_DAYS = 7


@dataclass(frozen=True)
class Done:
    status: str  # DONE, FAILED or IGNORED
    reason: str = ""


@dataclass(frozen=True)
class Retry:
    delay_seconds: float
    reason: str


Processor = Callable[[IngestResources, asyncpg.Record], Awaitable[Done | Retry]]
_PROCESSORS: dict[str, Processor] = {}


def register(platform: str, processor: Processor) -> None:
    _PROCESSORS[platform] = processor


async def store(
    deps: IngestResources, platform: str, rows: Sequence[Any], problems: Sequence[str], raw: bytes
) -> list[int]:
    """Writes a POST's usable rows, and what could not be read with the reason, before the platform
    gets its 200: nothing a platform sent is lost, even when it cannot be used. Every text passes
    the capture sanitiser: a NUL in one change must not lose the others (nor the POST)."""
    rows = [(text.clean(k), text.clean(a), text.clean(f), text.clean_value(p)) for k, a, f, p in rows]
    async with deps.pool.acquire() as con, con.transaction():
        ids = await connections_store.inbox_add(con, platform, rows)
        if problems:
            await connections_store.inbox_add_unreadable(
                con, platform, text.clean(raw.decode("utf-8", "replace")), text.clean("; ".join(problems))
            )
    if problems:
        log.warning(
            "webhook: unusable content stored", extra={"platform": platform, "reason": "; ".join(problems)[:500]}
        )
    return ids


async def redrive_ignored(deps: IngestResources, platform: str, external_account_id: str) -> int:
    """Called by every path that connects a source (its platform and external_account_id): the
    notifications that arrived for that Page / LinkedIn owner in the last REDRIVE_DAYS while nothing was
    connected (IGNORED, and Meta's retries were deduplicated into them) are processed again by the
    sweep; the pull backup closes what is older."""
    key = linkedin_owners.of_source(external_account_id).key if platform == "LINKEDIN" else external_account_id
    async with deps.pool.acquire() as con:
        reopened = await connections_store.inbox_reopen_ignored(con, platform, key, REDRIVE_DAYS)
    if reopened:
        log.info(
            "webhook: ignored notifications re-driven on connect",
            extra={"platform": platform, "account": external_account_id, "rows": reopened},
        )
    return reopened


async def process(deps: IngestResources, platform: str, ids: Sequence[int] | None, limit: int = 200) -> int:
    """Claims due rows (the given ids, or any) and processes them; returns how many were claimed."""
    async with deps.pool.acquire() as con:
        rows = await connections_store.inbox_claim(con, platform, ids, limit)
    if not rows:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(row: asyncpg.Record) -> None:
        async with gate:
            try:
                result = await _PROCESSORS[platform](deps, row)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("webhook row failed", extra={"inbox_id": row["inbox_id"], "platform": platform})
                result = Retry(min(600.0, 2.0 ** row["attempts"]), f"processing failed: {type(exc).__name__}: {exc}")
            if isinstance(result, Retry) and row["attempts"] >= MAX_ATTEMPTS:
                result = Done("FAILED", f"gave up after {row['attempts']} attempts: {result.reason}")
            async with deps.pool.acquire() as con:
                if isinstance(result, Retry):
                    await connections_store.inbox_retry(con, row["inbox_id"], result.delay_seconds, result.reason)
                else:
                    await connections_store.inbox_finish(con, row["inbox_id"], result.status, result.reason)

    await asyncio.gather(*(one(r) for r in rows))
    return len(rows)


async def sweep(deps: IngestResources) -> None:
    for platform in list(_PROCESSORS):
        while await process(deps, platform, None) >= 200:
            pass


class Spawner:
    """The tasks a webhook handler starts after answering; cancelled when the HTTP app stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook processing task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
