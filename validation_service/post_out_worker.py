"""Post-out workers: claim due deliveries in batches, post them with one shared aiohttp session, record
every attempt, and keep each destination's circuit breaker.

Exactly once: a delivery is claimed under a lease, posted with its pair's Idempotency-Key, and its
result written after the answer. A worker that dies between the CRM's answer and that write leaves
the row to come back after the lease; the repeat carries the same key, so the CRM answers as before
without a second record. Once POSTED is written, the row is never claimed again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from leadrelay.capture import leads_store
from leadrelay.crypto import SecretBox
from leadrelay.db import CONNECTION_LOST
from leadrelay.errors import InvalidArgument
from leadrelay.settings import Settings
from validation_service import backoff, delivery, outbox, post_out_store
from validation_service.destinations import (
    AllowedHosts,
    DestinationSpec,
    check_url,
    host_allowed,
    is_never_allowed,
    is_public_address,
    parse_allow_hosts,
)
from validation_service.post_out_store import FAILED, POSTED, REJECTED_BY_DESTINATION, RETRYING, Recorded

log = logging.getLogger(__name__)

BATCH_SIZE = 64
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "LeadRelay-PostOut/1"
OUTAGE_MAX_PAUSE_SECONDS = 5.0
_STATUS_FOR = {delivery.POSTED: POSTED, delivery.REJECTED: REJECTED_BY_DESTINATION, delivery.FAILED: FAILED}
_BREAKER = {delivery.POSTED: "success", delivery.RETRY: "failure", delivery.FAILED: "failure"}


class GuardedResolver(AbstractResolver):
    """Resolves host names, refusing link-local and cloud-metadata answers always, and private or
    loopback ones unless allowed: a public-looking name cannot lead a destination to an internal
    service (aiohttp connects to literal addresses without asking; check_url covers those)."""

    def __init__(self, allow_private: bool, allow_hosts: AllowedHosts = ()) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private
        self._allow_hosts = allow_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        private_ok = self._allow_private or host_allowed(host, port, self._allow_hosts)
        usable = [
            r
            for r in results
            if not is_never_allowed(address := ipaddress.ip_address(r["host"]))
            and (private_ok or is_public_address(address))
        ]
        if not usable:
            raise OSError(f"{host} resolves only to addresses a destination may not use (private or link-local)")
        return usable

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class _Prepared:
    spec: DestinationSpec
    headers: dict[str, str]
    refusal: str  # non-empty: the URL is not allowed (any more), fail without posting
    updated_at: datetime
    timeout: aiohttp.ClientTimeout


class PostOutWorkers:
    """N workers sharing one session (one connection pool) and one cache of decrypted destinations."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.pool = pool
        self.session = session
        self.policy = backoff.Policy(
            settings.postout_backoff_base_seconds,
            settings.postout_backoff_max_seconds,
            settings.postout_retry_horizon_seconds,
        )
        self._box = SecretBox(settings.secret_key) if settings.secret_key else None
        self._destinations: dict[UUID, _Prepared] = {}
        self._allow_hosts = parse_allow_hosts(settings.postout_allow_hosts)

    async def work(self, batch_size: int = BATCH_SIZE) -> None:
        """One worker: until cancelled. A cancelled batch's rows come back after their lease.

        A database outage is logged once when it starts and once when it ends (not per poll), and
        polled with a growing pause; a batch it interrupted comes back after its lease."""
        outage_polls = 0
        while True:
            try:
                done = await self.run_once(batch_size)
            except asyncio.CancelledError:
                raise
            except CONNECTION_LOST as exc:
                if not outage_polls:
                    log.warning(
                        "post-out paused: the database is unreachable; retrying until it answers",
                        extra={"error": f"{type(exc).__name__}: {exc}"},
                    )
                outage_polls += 1
                await asyncio.sleep(
                    min(self.settings.postout_poll_seconds * 2 ** min(outage_polls, 16), OUTAGE_MAX_PAUSE_SECONDS)
                )
                continue
            except Exception:
                log.exception("post-out batch failed")
                done = 0
            if outage_polls:
                log.warning("post-out resumed: the database answers again", extra={"polls_missed": outage_polls})
                outage_polls = 0
            if not done:
                await asyncio.sleep(self.settings.postout_poll_seconds)

    async def run_once(self, batch_size: int = BATCH_SIZE) -> int:
        """Claims, delivers and records one batch; returns how many deliveries it attempted."""
        async with self.pool.acquire() as con:
            claimed = await outbox.claim(con, batch_size, self.settings.postout_lease_seconds)
            if not claimed:
                return 0
            stored = await post_out_store.get_destinations(con, {c.destination_id for c in claimed})
        prepared = {d.destination_id: self._prepare(d) for d in stored}
        results = await asyncio.gather(
            *(self._deliver(c, prepared[c.destination_id]) for c in claimed if c.destination_id in prepared)
        )
        await self._record(results)
        return len(results)

    def _prepare(self, d: post_out_store.StoredDestination) -> _Prepared:
        cached = self._destinations.get(d.destination_id)
        if cached and cached.updated_at == d.updated_at:
            return cached
        headers: dict[str, str] = {}
        if d.headers_encrypted is not None and self._box is not None:
            headers = json.loads(self._box.decrypt(d.headers_encrypted))
        try:
            check_url(d.spec.url, allow_private=self.settings.postout_allow_private_urls, allow_hosts=self._allow_hosts)
            refusal = ""
        except InvalidArgument as exc:
            refusal = str(exc)
        prepared = _Prepared(
            d.spec, headers, refusal, d.updated_at, aiohttp.ClientTimeout(total=d.spec.timeout_ms / 1000)
        )
        self._destinations[d.destination_id] = prepared
        return prepared

    async def _deliver(self, item: outbox.Claimed, dest: _Prepared) -> Recorded:
        at = datetime.now(UTC)
        started = time.perf_counter()
        status: int | None = None
        text = error = ""
        if dest.refusal:
            error = dest.refusal
        else:
            payload, content_type = delivery.build_body(dest.spec.body_format, dest.spec.body, item.lead)
            headers = {
                **dest.headers,
                "Content-Type": content_type,
                "Idempotency-Key": item.idempotency_key,
                "User-Agent": USER_AGENT,
            }
            try:
                async with self.session.request(
                    dest.spec.method,
                    dest.spec.url,
                    data=payload,
                    headers=headers,
                    allow_redirects=False,
                    timeout=dest.timeout,
                ) as resp:
                    raw = await _read_capped(resp)
                    status = resp.status
                    text = _decode(raw, resp.charset)
            except TimeoutError:
                error = f"timed out after {dest.spec.timeout_ms} ms"
            except (aiohttp.ClientError, OSError) as exc:
                error = f"connection error: {exc}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        verdict = (
            delivery.Verdict(delivery.FAILED, error)
            if dest.refusal
            else delivery.classify(dest.spec.success, status, text, error)
        )
        attempt = item.attempts + 1
        next_at = None
        reason = verdict.reason
        if verdict.outcome == delivery.RETRY:
            next_at = backoff.next_attempt(at, item.enqueued_at, attempt, self.policy, random.random())
            new_status = RETRYING if next_at is not None else FAILED
            if next_at is None:
                reason = f"{reason} (gave up: past the retry horizon)"
        else:
            new_status = _STATUS_FOR[verdict.outcome]
        return Recorded(
            lead_id=item.lead_id,
            destination_id=item.destination_id,
            account_id=item.account_id,
            lease_token=item.lease_token,
            attempt=attempt,
            at=at,
            status=new_status,
            status_code=status or 0,
            duration_ms=duration_ms,
            outcome=verdict.outcome,
            reason=delivery.excerpt(reason),
            excerpt=delivery.excerpt(text),
            record_id=delivery.storable(verdict.record_id),
            next_attempt_at=next_at,
        )

    async def _record(self, results: list[Recorded]) -> None:
        breakers: dict[UUID, list[str]] = {}
        for r in sorted(results, key=lambda r: r.at.timestamp() + r.duration_ms / 1000):
            breakers.setdefault(r.destination_id, []).append(_BREAKER.get(r.outcome, "neutral"))
        changes = []
        for destination_id, outcomes in breakers.items():
            b = backoff.breaker_after(outcomes, 0, self.settings.postout_breaker_threshold)
            if b.reset or b.consecutive_failures:
                changes.append((destination_id, b.reset, b.consecutive_failures))
        async with self.pool.acquire() as con:
            try:
                await self._write(con, results, changes)
            except _REFUSED_RECORD:
                # One result the database refuses (say, its destination was deleted meanwhile) must not
                # undo the others: unrecorded, they would all be posted again after the lease.
                log.warning("post-out batch refused by the database; recording each delivery alone", exc_info=True)
                for r in results:
                    try:
                        await self._write(con, [r], [])
                    except _REFUSED_RECORD as exc:
                        log.warning(
                            "post-out result not recorded",
                            extra={
                                "lead_id": str(r.lead_id),
                                "destination_id": str(r.destination_id),
                                "error": repr(exc),
                            },
                        )
                await self._write(con, [], changes)
        failures = sum(1 for r in results if r.outcome != delivery.POSTED)
        if failures:
            log.info("post-out batch", extra={"attempted": len(results), "not_posted": failures})

    async def _write(
        self, con: asyncpg.Connection, results: list[Recorded], changes: list[tuple[UUID, bool, int]]
    ) -> None:
        async with con.transaction():
            await leads_store.lock_leads(con, [r.lead_id for r in results])
            changed = await post_out_store.record_attempts(con, results)
            await post_out_store.refresh_lead_status(con, [lead for lead, _ in changed])
            await post_out_store.update_breakers(
                con, changes, self.settings.postout_breaker_threshold, self.settings.postout_breaker_cooldown_seconds
            )


# What the database (or the driver) refuses in one result's data, as opposed to the database being down.
_REFUSED_RECORD = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, UnicodeError)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_RESPONSE_BYTES:
        chunk = await resp.content.read(MAX_RESPONSE_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def new_session(settings: Settings, *, limit: int = 256) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit,
        ttl_dns_cache=60,
        resolver=GuardedResolver(settings.postout_allow_private_urls, parse_allow_hosts(settings.postout_allow_hosts)),
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True)


async def run(settings: Settings, pool: asyncpg.Pool, *, workers: int | None = None, **kw: Any) -> None:
    """The validation process's post-out loop: `workers` (POSTOUT_WORKERS) workers, one session."""
    count = settings.postout_workers if workers is None else workers
    if count <= 0:
        return
    # A connection for every request in flight: a request queued for a pooled connection would spend
    # its destination's timeout waiting, and count as a timeout it never had.
    async with new_session(settings, limit=count * kw.get("batch_size", BATCH_SIZE)) as session:
        workers_ = PostOutWorkers(settings, pool, session)
        await asyncio.gather(*(workers_.work(**kw) for _ in range(count)))
