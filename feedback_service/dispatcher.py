"""Sends recorded stage changes to the Conversions APIs — Meta's for Facebook leads, LinkedIn's for
LinkedIn leads — by one mechanism: the loop (IMMEDIATE within seconds, DAILY at the configured hour;
LinkedIn always immediate) and Flush both go through `Dispatcher.dispatch`.

Per account and channel, one dispatch at a time (a PostgreSQL advisory lock, so replicas do not
double-send). A run: expire what fell out of the API's window (Meta 7 days, LinkedIn 90), then read
PENDING events in recorded order, a full request at a time (Meta 1,000, LinkedIn 5,000). The API's
answer decides: sent; refused (client error) → split in halves until the bad events are alone
(FAILED with the API's message); 5xx/timeouts/throttling → stay PENDING, retried with backoff; token
refused → that channel of the account is paused until a new token is set. A `Channel` is what differs
between the two APIs: their configuration, window, payloads and HTTP call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from feedback_service import capi_client, capi_payload, linkedin_client, linkedin_payload
from feedback_service import feedback_store as store
from feedback_service.capi_client import CapiAnswer
from feedback_service.capi_payload import EventOptions, StageEvent, build_event, meta_lead_id_problem, request_body
from feedback_service.dispatch_plan import Bisection
from feedback_service.hashing import identifier_columns
from feedback_service.recording import LINKEDIN, META
from feedback_service.schedule import DAILY, backoff_seconds, is_due
from leadrelay.appsecret_proof import appsecret_proof
from leadrelay.background import every
from leadrelay.crypto import SecretBox
from leadrelay.db import Connection
from leadrelay.log import log_context
from leadrelay.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CHANNELS = (META, LINKEDIN)


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
    # Why the run stopped early or did nothing (no config, paused, API unavailable); "" otherwise.
    note: str = ""

    def add(self, other: DispatchResult) -> None:
        """Sums another channel's run into this one (Flush and Backfill report both)."""
        for name in ("sent", "failed", "expired", "deferred", "not_sendable", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused = self.paused or other.paused
        self.note = "; ".join(n for n in (self.note, other.note) if n)


@dataclass(frozen=True)
class Channel:
    """One API as a dispatch run of one account uses it, built from that account's configuration."""

    name: str
    api: str  # for people: "the Conversions API", "LinkedIn"
    window: str  # for people: "7-day", "90-day"
    batch_size: int
    cutoff: Callable[[datetime], datetime]
    expired_reason: Callable[[datetime], str]
    # Why an event can never be sent as it is (NOT_SENDABLE), or None.
    problem: Callable[[StageEvent], str | None]
    payload: Callable[[StageEvent], dict[str, Any]]
    post: Callable[[list[dict[str, Any]]], Awaitable[CapiAnswer]]
    # The pause reason for a refused token (or app secret).
    refused: Callable[[CapiAnswer], str]
    pause: Callable[[Connection, UUID, str], Awaitable[None]]
    touch_last_sent: Callable[[Connection, UUID], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        session: aiohttp.ClientSession,
        *,
        clock: Clock = utcnow,
        batch_size: int | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.session = session
        self.clock = clock
        # Events per request; None: each API's maximum.
        self.batch_size = batch_size
        self._box = SecretBox(settings.secret_key)
        # Per (account, channel): consecutive transient failures and when the loop may try again (monotonic).
        self._failures: dict[tuple[UUID, str], int] = {}
        self._resume_at: dict[tuple[UUID, str], float] = {}

    async def tick(self) -> None:
        """One pass of the loop over every account with something pending, per channel."""
        async with self.pool.acquire() as con:
            configs = await store.configs_with_pending(con)
            linkedin_accounts = await store.linkedin_accounts_with_pending(con)
        now = self.clock()
        due: list[tuple[UUID, str, bool]] = [
            (c.account_id, META, is_due(c.mode, now, c.daily_hour, c.time_zone, c.daily_last_run_at)) for c in configs
        ]
        due += [(account_id, LINKEDIN, True) for account_id in linkedin_accounts]
        for account_id, channel, is_time in due:
            if self._resume_at.get((account_id, channel), 0.0) > time.monotonic():
                continue
            with log_context(account=str(account_id)):
                await self.dispatch(account_id, flush=False, retries_only=not is_time, channel=channel)

    async def dispatch(
        self, account_id: UUID, *, flush: bool, retries_only: bool = False, channel: str = META
    ) -> DispatchResult:
        """Sends the account's pending events of one channel. flush: everything pending now, waiting
        for a running pass to finish first and ignoring backoff; otherwise a pass that skips a busy
        account."""
        async with self.pool.acquire() as lock_con:
            key = f"feedback-dispatch:{channel}:{account_id}"
            if flush:
                await lock_con.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            elif not await lock_con.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key):
                return DispatchResult(note="another dispatch of this account is running")
            try:
                async with self.pool.acquire() as con, self.pool.acquire() as write_con:
                    writer = _Writer(write_con)
                    try:
                        return await self._dispatch(
                            con, writer, account_id, channel, flush=flush, retries_only=retries_only and not flush
                        )
                    finally:
                        await writer.drain()
            finally:
                await lock_con.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)

    async def _open(
        self, con: Connection, account_id: UUID, channel: str, *, flush: bool, retries_only: bool
    ) -> Channel | DispatchResult:
        """The channel ready to send, or the result saying why nothing can be sent."""
        if channel == LINKEDIN:
            return await self._open_linkedin(con, account_id)
        return await self._open_meta(con, account_id, flush=flush, retries_only=retries_only)

    async def _open_meta(
        self, con: Connection, account_id: UUID, *, flush: bool, retries_only: bool
    ) -> Channel | DispatchResult:
        config = await store.get_config(con, account_id)
        if config is None or config.access_token is None:
            return DispatchResult(note="no Conversions API configuration (SetFeedbackConfig)")
        if config.paused_reason:
            return DispatchResult(paused=True, note=config.paused_reason)
        token = self._box.decrypt(config.access_token)
        if config.mode == DAILY and not retries_only and not flush:
            await store.mark_daily_run(con, account_id, self.clock())
        url = capi_client.events_url(self.settings.capi_base_url, self.settings.capi_api_version, config.dataset_id)
        secret = self.settings.facebook_app_secret
        proof = appsecret_proof(token, secret) if secret else ""
        options = EventOptions(
            phone_region=config.phone_region,
            columns=identifier_columns(config.identifier_columns),
            ldu_all_events=config.ldu_all_events,
            ldu_opt_out_columns=tuple(config.ldu_opt_out_columns),
        )

        async def post(payloads: list[dict[str, Any]]) -> CapiAnswer:
            body = request_body(
                payloads, access_token=token, test_event_code=config.test_event_code, appsecret_proof=proof
            )
            return await capi_client.post_events(self.session, url, body)

        def refused(answer: CapiAnswer) -> str:
            if "appsecret_proof" in answer.message:
                return f"Meta refused the appsecret_proof: {answer.message} — check FACEBOOK_APP_SECRET"
            return f"Meta refused the access token: {answer.message} — set a new token with SetFeedbackConfig"

        return Channel(
            name=META,
            api="the Conversions API",
            window="7-day",
            batch_size=min(self.batch_size or capi_payload.MAX_EVENTS_PER_REQUEST, capi_payload.MAX_EVENTS_PER_REQUEST),
            cutoff=capi_payload.expiry_cutoff,
            expired_reason=capi_payload.expired_reason,
            problem=lambda event: meta_lead_id_problem(event.platform_lead_id),
            payload=lambda event: build_event(event, config.lead_event_source, options),
            post=post,
            refused=refused,
            pause=store.pause,
            touch_last_sent=store.touch_last_sent,
        )

    async def _open_linkedin(self, con: Connection, account_id: UUID) -> Channel | DispatchResult:
        config = await store.get_linkedin_config(con, account_id)
        if config is None or config.access_token is None:
            return DispatchResult(note="no LinkedIn Conversions API configuration (SetLinkedInConversionsConfig)")
        if config.paused_reason:
            return DispatchResult(paused=True, note=config.paused_reason)
        token = self._box.decrypt(config.access_token)
        url = linkedin_client.conversion_events_url(self.settings.linkedin_api_base_url)
        rules = config.conversion_rules
        # The email columns are the account's, configured once for both APIs (SetFeedbackConfig).
        meta = await store.get_config(con, account_id)
        columns = identifier_columns(meta.identifier_columns) if meta else ()

        def problem(event: StageEvent) -> str | None:
            if linkedin_payload.rule_for(rules, event.crm_stage) is None:
                return f"stage {event.crm_stage!r} has no LinkedIn conversion rule (SetLinkedInConversionsConfig)"
            return linkedin_payload.lead_id_problem(event.platform_lead_id)

        def payload(event: StageEvent) -> dict[str, Any]:
            rule = linkedin_payload.rule_for(rules, event.crm_stage)
            assert rule is not None  # problem() kept the unmapped stages out
            return linkedin_payload.build_event(event, rule, columns)

        async def post(payloads: list[dict[str, Any]]) -> CapiAnswer:
            body = linkedin_payload.request_body(payloads)
            return await linkedin_client.post_events(
                self.session, url, body, access_token=token, version=self.settings.linkedin_version
            )

        maximum = linkedin_payload.MAX_EVENTS_PER_REQUEST
        return Channel(
            name=LINKEDIN,
            api="LinkedIn",
            window="90-day",
            batch_size=min(self.batch_size or maximum, maximum),
            cutoff=linkedin_payload.expiry_cutoff,
            expired_reason=linkedin_payload.expired_reason,
            problem=problem,
            payload=payload,
            post=post,
            refused=lambda answer: (
                f"LinkedIn refused the access token: {answer.message} — set a new token with "
                "SetLinkedInConversionsConfig"
            ),
            pause=store.pause_linkedin,
            touch_last_sent=store.touch_linkedin_last_sent,
        )

    async def _dispatch(
        self,
        con: Connection,
        writer: _Writer,
        account_id: UUID,
        channel_name: str,
        *,
        flush: bool,
        retries_only: bool,
    ) -> DispatchResult:
        opened = await self._open(con, account_id, channel_name, flush=flush, retries_only=retries_only)
        if isinstance(opened, DispatchResult):
            return opened
        channel = opened
        result = DispatchResult()
        now = self.clock()
        result.expired = await store.expire_pending(
            con,
            account_id,
            channel.name,
            channel.cutoff(now),
            f"older than {channel.api}'s {channel.window} window when it was due",
        )

        def fetch(after: tuple[datetime, int] | None) -> asyncio.Task[list[StageEvent]]:
            return asyncio.ensure_future(
                store.pending_events(
                    con,
                    account_id,
                    channel=channel.name,
                    after=after,
                    limit=channel.batch_size,
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
            # Anything the API would refuse outright is kept out of the batch (one bad event fails all).
            now = self.clock()
            problems: list[tuple[int, str]] = []
            stale: list[tuple[int, str]] = []
            sendable: list[StageEvent] = []
            for event in events:
                problem = channel.problem(event)
                if problem:
                    problems.append((event.event_id, problem))
                elif event.changed_at < channel.cutoff(now):
                    stale.append((event.event_id, channel.expired_reason(event.changed_at)))
                else:
                    sendable.append(event)
            if problems:
                writer.submit(store.mark_not_sendable, problems)
                result.not_sendable += len(problems)
            if stale:
                writer.submit(store.mark_expired, stale)
                result.expired += len(stale)
            if sendable and not await self._send(writer, account_id, channel, sendable, result):
                await next_page  # let the read finish before the connection goes back
                break
        if result.sent:
            writer.submit(channel.touch_last_sent, account_id)
        await writer.drain()
        if result.sent or result.failed or result.expired or result.paused or result.deferred:
            log.info(
                "conversions dispatch",
                extra={
                    "channel": channel.name,
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
        self, writer: _Writer, account_id: UUID, channel: Channel, events: list[StageEvent], result: DispatchResult
    ) -> bool:
        """One batch, bisected on client errors. False when the run must stop (paused, API down)."""
        payloads = {e.event_id: channel.payload(e) for e in events}
        key = (account_id, channel.name)
        plan = Bisection.of(events)
        while (batch := plan.next_batch()) is not None:
            answer = await channel.post([payloads[e.event_id] for e in batch])
            result.requests += 1
            ids = [e.event_id for e in batch]
            if answer.kind == capi_client.OK:
                plan.accepted(batch)
                writer.submit(store.mark_sent, ids, answer.fbtrace_id)
                result.sent += len(batch)
                self._failures.pop(key, None)
                self._resume_at.pop(key, None)
            elif answer.kind == capi_client.REJECTED:
                plan.rejected(batch, answer.message)
                if len(batch) == 1:
                    writer.submit(store.mark_failed, [(ids[0], answer.message, answer.fbtrace_id)])
                    result.failed += 1
            elif answer.kind == capi_client.TOKEN:
                reason = channel.refused(answer)
                writer.submit(channel.pause, account_id, reason)
                log.warning(
                    "conversions dispatch refused; paused",
                    extra={"channel": channel.name, "code": answer.code, "http_status": answer.http_status},
                )
                result.paused, result.note = True, reason
                return False
            else:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = backoff_seconds(
                    failures, self.settings.feedback_backoff_base_seconds, self.settings.feedback_backoff_max_seconds
                )
                self._resume_at[key] = time.monotonic() + delay
                undecided = [e.event_id for e in plan.undecided()]
                writer.submit(store.defer, undecided, f"will retry: {answer.message}", delay)
                log.warning(
                    "conversions api unavailable; retrying later",
                    extra={
                        "channel": channel.name,
                        "code": answer.code,
                        "http_status": answer.http_status,
                        "delay_s": round(delay, 2),
                    },
                )
                result.deferred += len(undecided)
                result.note = f"{channel.api} unavailable, retrying in {delay:.0f} s: {answer.message}"
                return False
        return True


class _Writer:
    """Status writes of one run, applied in order on their own connection without holding up the
    next request; `drain` waits for all of them (and raises the first failure)."""

    def __init__(self, con: Connection) -> None:
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
