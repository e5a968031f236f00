"""Sends recorded stage changes to the Conversions API: the loop (IMMEDIATE within seconds, DAILY at
the configured hour) and Flush both go through `Dispatcher.dispatch`.

Per account, one dispatch at a time (a PostgreSQL advisory lock, so replicas do not double-send).
A run: expire what fell out of Meta's 7-day window, then read PENDING events in recorded order, 1,000
per request. Meta's answer decides: sent; refused (client error) → split in halves until the bad
events are alone (FAILED with Meta's message); 5xx/timeouts/throttling → stay PENDING, retried with
backoff; token refused (190) → the account is paused until a new token is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import aiohttp
import asyncpg

from feedback_service import capi_client
from feedback_service import feedback_store as store
from feedback_service.capi_payload import (
    MAX_EVENTS_PER_REQUEST,
    StageEvent,
    build_event,
    expired_reason,
    expiry_cutoff,
    meta_lead_id_problem,
    request_body,
)
from feedback_service.dispatch_plan import Bisection
from feedback_service.schedule import DAILY, backoff_seconds, is_due
from leadrelay.background import every
from leadrelay.crypto import SecretBox
from leadrelay.log import log_context
from leadrelay.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    expired: int = 0
    deferred: int = 0
    not_sendable: int = 0
    requests: int = 0
    paused: bool = False
    # Why the run stopped early or did nothing (no config, paused, Meta unavailable); "" otherwise.
    note: str = ""


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        session: aiohttp.ClientSession,
        *,
        clock: Clock = utcnow,
        batch_size: int = MAX_EVENTS_PER_REQUEST,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.session = session
        self.clock = clock
        self.batch_size = batch_size
        self._box = SecretBox(settings.secret_key)
        # Per account: consecutive transient failures and when the loop may try again (monotonic).
        self._failures: dict[UUID, int] = {}
        self._resume_at: dict[UUID, float] = {}

    async def tick(self) -> None:
        """One pass of the loop over every account with something pending."""
        async with self.pool.acquire() as con:
            configs = await store.configs_with_pending(con)
        now = self.clock()
        for config in configs:
            if self._resume_at.get(config.account_id, 0.0) > time.monotonic():
                continue
            due = is_due(config.mode, now, config.daily_hour, config.time_zone, config.daily_last_run_at)
            with log_context(account=str(config.account_id)):
                await self.dispatch(config.account_id, flush=False, retries_only=not due)

    async def dispatch(self, account_id: UUID, *, flush: bool, retries_only: bool = False) -> DispatchResult:
        """Sends the account's pending events. flush: everything pending now, waiting for a running
        pass to finish first and ignoring backoff; otherwise a pass that skips a busy account."""
        async with self.pool.acquire() as lock_con:
            key = f"feedback-dispatch:{account_id}"
            if flush:
                await lock_con.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            elif not await lock_con.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key):
                return DispatchResult(note="another dispatch of this account is running")
            try:
                async with self.pool.acquire() as con, self.pool.acquire() as write_con:
                    writer = _Writer(write_con)
                    try:
                        return await self._dispatch(
                            con, writer, account_id, flush=flush, retries_only=retries_only and not flush
                        )
                    finally:
                        await writer.drain()
            finally:
                await lock_con.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)

    async def _dispatch(
        self, con: asyncpg.Connection, writer: _Writer, account_id: UUID, *, flush: bool, retries_only: bool
    ) -> DispatchResult:
        result = DispatchResult()
        config = await store.get_config(con, account_id)
        if config is None or config.access_token is None:
            result.note = "no Conversions API configuration (SetFeedbackConfig)"
            return result
        if config.paused_reason:
            result.paused, result.note = True, config.paused_reason
            return result
        token = self._box.decrypt(config.access_token)
        now = self.clock()
        if config.mode == DAILY and not retries_only and not flush:
            await store.mark_daily_run(con, account_id, now)
        result.expired = await store.expire_pending(
            con, account_id, expiry_cutoff(now), "older than the Conversions API's 7-day window when it was due"
        )
        url = capi_client.events_url(self.settings.capi_base_url, self.settings.capi_api_version, config.dataset_id)

        def fetch(after: tuple[datetime, int] | None) -> asyncio.Task[list[StageEvent]]:
            return asyncio.ensure_future(
                store.pending_events(
                    con,
                    account_id,
                    after=after,
                    limit=self.batch_size,
                    include_not_due=flush,
                    retries_only=retries_only,
                )
            )

        # A pipeline: the next page is read while this one is sent, and statuses are written on a
        # second connection behind the requests (writes stay in order; the run waits for them).
        next_page = fetch(None)
        while True:
            events = await next_page
            if not events:
                break
            next_page = fetch((events[-1].changed_at, events[-1].event_id))
            # Anything Meta would refuse outright is kept out of the batch (one bad event fails all).
            now = self.clock()
            problems: list[tuple[int, str]] = []
            stale: list[tuple[int, str]] = []
            sendable: list[StageEvent] = []
            for event in events:
                problem = meta_lead_id_problem(event.platform_lead_id)
                if problem:
                    problems.append((event.event_id, problem))
                elif event.changed_at < expiry_cutoff(now):
                    stale.append((event.event_id, expired_reason(event.changed_at)))
                else:
                    sendable.append(event)
            if problems:
                writer.submit(store.mark_not_sendable, problems)
                result.not_sendable += len(problems)
            if stale:
                writer.submit(store.mark_expired, stale)
                result.expired += len(stale)
            if sendable and not await self._send(writer, config, token, url, sendable, result):
                await next_page  # let the read finish before the connection goes back
                break
        if result.sent:
            writer.submit(store.touch_last_sent, account_id)
        await writer.drain()
        if result.sent or result.failed or result.expired or result.paused or result.deferred:
            log.info(
                "conversions api dispatch",
                extra={
                    "sent": result.sent,
                    "failed": result.failed,
                    "expired": result.expired,
                    "deferred": result.deferred,
                    "requests": result.requests,
                    "paused": result.paused,
                },
            )
        return result

    async def _send(
        self,
        writer: _Writer,
        config: store.ConfigRow,
        token: str,
        url: str,
        events: list[StageEvent],
        result: DispatchResult,
    ) -> bool:
        """One batch, bisected on client errors. False when the run must stop (paused, Meta down)."""
        payloads = {e.event_id: build_event(e, config.lead_event_source, config.phone_region) for e in events}
        plan = Bisection.of(events)
        while (batch := plan.next_batch()) is not None:
            body = request_body(
                [payloads[e.event_id] for e in batch], access_token=token, test_event_code=config.test_event_code
            )
            answer = await capi_client.post_events(self.session, url, body)
            result.requests += 1
            ids = [e.event_id for e in batch]
            if answer.kind == capi_client.OK:
                plan.accepted(batch)
                writer.submit(store.mark_sent, ids, answer.fbtrace_id)
                result.sent += len(batch)
                self._failures.pop(config.account_id, None)
                self._resume_at.pop(config.account_id, None)
            elif answer.kind == capi_client.REJECTED:
                plan.rejected(batch, answer.message)
                if len(batch) == 1:
                    writer.submit(store.mark_failed, [(ids[0], answer.message, answer.fbtrace_id)])
                    result.failed += 1
            elif answer.kind == capi_client.TOKEN:
                reason = f"Meta refused the access token: {answer.message} — set a new token with SetFeedbackConfig"
                writer.submit(store.pause, config.account_id, reason)
                log.warning("conversions api token refused; dispatch paused", extra={"code": answer.code})
                result.paused, result.note = True, reason
                return False
            else:
                failures = self._failures.get(config.account_id, 0) + 1
                self._failures[config.account_id] = failures
                delay = backoff_seconds(
                    failures, self.settings.feedback_backoff_base_seconds, self.settings.feedback_backoff_max_seconds
                )
                self._resume_at[config.account_id] = time.monotonic() + delay
                undecided = [e.event_id for e in plan.undecided()]
                writer.submit(store.defer, undecided, f"will retry: {answer.message}", delay)
                log.warning(
                    "conversions api unavailable; retrying later",
                    extra={"code": answer.code, "http_status": answer.http_status, "delay_s": round(delay, 2)},
                )
                result.deferred += len(undecided)
                result.note = f"Meta unavailable, retrying in {delay:.0f} s: {answer.message}"
                return False
        return True


class _Writer:
    """Status writes of one run, applied in order on their own connection without holding up the
    next request; `drain` waits for all of them (and raises the first failure)."""

    def __init__(self, con: asyncpg.Connection) -> None:
        self._con = con
        self._last: asyncio.Future[None] | None = None

    def submit(self, write: Callable[..., Awaitable[object]], *args: object) -> None:
        previous = self._last

        async def run() -> None:
            if previous is not None:
                await previous
            await write(self._con, *args)

        self._last = asyncio.ensure_future(run())

    async def drain(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            await last


async def run(settings: Settings, pool: asyncpg.Pool) -> None:
    """The dispatcher loop of the feedback process (cancelled on shutdown)."""
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(settings, pool, session)
        await every(settings.feedback_poll_seconds, dispatcher.tick, name="capi-dispatcher")
