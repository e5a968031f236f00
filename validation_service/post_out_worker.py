"""Post-out workers: claim due deliveries in batches, post them with one shared aiohttp session, record
every attempt, and keep each destination's circuit breaker.

Exactly once: a delivery is claimed under a lease, posted with its pair's Idempotency-Key, and its
result written after the answer. A worker that dies between the CRM's answer and that write leaves
the row to come back after the lease; the repeat carries the same key, so the CRM answers as before
without a second record. Once POSTED is written, the row is never claimed again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from leadrelay.capture import leads_store
from leadrelay.crypto import SecretBox
from leadrelay.db import CONNECTION_LOST, Connection
from leadrelay.errors import InvalidArgument
from leadrelay.settings import Settings
from validation_service import backoff, crm_presets, delivery, oauth_tokens, outbox, post_out_store, vendor_steps
from validation_service.body_template import compile_template
from validation_service.compact_json import json_bytes, json_text
from validation_service.destinations import (
    AllowedHosts,
    DestinationSpec,
    check_url,
    host_allowed,
    is_never_allowed,
    is_public_address,
    mask_secrets,
    parse_allow_hosts,
)
from validation_service.post_out_store import FAILED, POSTED, REJECTED_BY_DESTINATION, RETRYING, Recorded

log = logging.getLogger(__name__)

BATCH_SIZE = 64
MAX_RESPONSE_BYTES = 64 * 1024
# A batch answer holds one result per record (HubSpot's with the record's properties).
BATCH_RESPONSE_BYTES_PER_RECORD = 4 * 1024
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
    destination_id: UUID
    spec: DestinationSpec
    headers: dict[str, str]
    refusal: str  # non-empty: the URL is not allowed (any more), fail without posting
    updated_at: datetime
    timeout: aiohttp.ClientTimeout
    credentials: dict[str, str]  # OAuth client id, secret, refresh token (decrypted)
    batch: crm_presets.Batch | None  # set when leads go several per call
    batch_url: str


@dataclass(frozen=True)
class TestSend:
    """A test send: the request as it went out (secrets masked) and the answer with its verdict."""

    method: str
    url: str
    headers: dict[str, str]
    body: str
    status: int | None
    text: str
    error: str
    verdict: delivery.Verdict
    duration_ms: int


# Headers the console may show as they are; every other one came from the destination's write-only
# headers (or is the OAuth token) and is masked.
_PLAIN_HEADERS = frozenset({"content-type", "idempotency-key", "user-agent"})


def _masked_headers(sent: dict[str, str], preset: crm_presets.Preset | None) -> dict[str, str]:
    """The headers of a test send for a person to read: a preset's own headers and ours as sent,
    the credentials (the destination's headers, the OAuth token) masked but for their scheme."""
    shown = {}
    public = dict(preset.headers) if preset else {}
    for name, value in sent.items():
        if name.lower() in _PLAIN_HEADERS or public.get(name) == value:
            shown[name] = value
        else:
            scheme, _, rest = value.partition(" ")
            shown[name] = f"{scheme} ••••••" if rest and scheme.isalpha() and len(scheme) < 20 else "••••••"
    return shown


@dataclass(frozen=True)
class _Sent:
    """One call's answer and the verdict for each record in it; `pause` names why the destination
    must wait for a person (its token cannot be had), and then the verdicts are empty."""

    status: int | None
    text: str
    error: str
    verdicts: list[delivery.Verdict]
    pause: str = ""
    # What was sent (the body; never the headers, which carry credentials), for the attempt's log.
    request: bytes = b""
    # A batch: each lead's record as rendered for the call (its log shows its own, not the others').
    records: tuple[Any, ...] = ()


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
        self.tokens = oauth_tokens.TokenCache(session)
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
            # Only the destinations this process has not prepared as they now are (the claim read each
            # one's updated_at): most batches go to destinations already in the cache.
            prepared: dict[UUID, _Prepared] = {}
            for c in claimed:
                cached = self._destinations.get(c.destination_id)
                if cached is not None and cached.updated_at == c.destination_updated_at:
                    prepared[c.destination_id] = cached
            missing = {c.destination_id for c in claimed} - prepared.keys()
            stored = await post_out_store.get_destinations(con, missing) if missing else []
        prepared.update((d.destination_id, self._prepare(d)) for d in stored)
        groups: list[tuple[list[outbox.Claimed], _Prepared]] = []
        by_destination: dict[UUID, list[outbox.Claimed]] = {}
        for c in claimed:
            if c.destination_id in prepared:
                by_destination.setdefault(c.destination_id, []).append(c)
        for destination_id, items in by_destination.items():
            dest = prepared[destination_id]
            size = dest.spec.batch_size if dest.batch else 1
            groups.extend((items[i : i + size], dest) for i in range(0, len(items), size))
        outcomes = await asyncio.gather(*(self._deliver(items, dest) for items, dest in groups))
        results = [r for recorded, _ in outcomes for r in recorded]
        pauses = {
            items[0].destination_id: reason for (items, _), (_, reason) in zip(groups, outcomes, strict=True) if reason
        }
        await self._record(results, pauses, [recorded for recorded, _ in outcomes if recorded])
        return len(results)

    def _prepare(self, d: post_out_store.StoredDestination) -> _Prepared:
        cached = self._destinations.get(d.destination_id)
        if cached and cached.updated_at == d.updated_at:
            return cached
        headers: dict[str, str] = {}
        credentials: dict[str, str] = {}
        if self._box is not None:
            if d.headers_encrypted is not None:
                headers = json.loads(self._box.decrypt(d.headers_encrypted))
            if d.oauth_encrypted is not None:
                credentials = json.loads(self._box.decrypt(d.oauth_encrypted))
        try:
            check_url(d.spec.url, allow_private=self.settings.postout_allow_private_urls, allow_hosts=self._allow_hosts)
            if d.spec.oauth is not None:
                check_url(
                    d.spec.oauth.token_url,
                    allow_private=self.settings.postout_allow_private_urls,
                    allow_hosts=self._allow_hosts,
                )
            refusal = ""
        except InvalidArgument as exc:
            refusal = mask_secrets(str(exc), d.spec.url)
        preset = crm_presets.PRESETS.get(d.spec.preset)
        batch = crm_presets.batch_for(preset, d.spec.url) if d.spec.batch_size > 1 else None
        prepared = _Prepared(
            d.destination_id,
            d.spec,
            headers,
            refusal,
            d.updated_at,
            aiohttp.ClientTimeout(total=d.spec.timeout_ms / 1000),
            credentials,
            batch[0] if batch else None,
            batch[1] if batch else "",
        )
        self._destinations[d.destination_id] = prepared
        return prepared

    async def _deliver(self, items: list[outbox.Claimed], dest: _Prepared) -> tuple[list[Recorded], str]:
        """One call for the items (one lead, or a batch), and what to record for each."""
        at = datetime.now(UTC)
        started = time.perf_counter()
        requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        if dest.refusal:
            sent = _Sent(None, "", dest.refusal, [delivery.Verdict(delivery.FAILED, dest.refusal)] * len(items))
        else:
            sent = await self._send(items, dest, requests)
        duration_ms = round((time.perf_counter() - started) * 1000)
        sent_requests = _request_excerpts(items, dest, requests[-1] if requests else None, sent.records)
        if sent.pause:
            # Nothing was judged: the deliveries wait, due again as soon as a person lifts the pause.
            verdicts = [delivery.Verdict(delivery.RETRY, f"destination paused: {sent.pause}")] * len(items)
        else:
            verdicts = sent.verdicts
        recorded: list[Recorded] = []
        whole_excerpt = delivery.excerpt(sent.text)
        reasons: dict[str, str] = {}

        def masked(reason: str) -> str:
            """A reason as logged; a batch's records mostly share one, masked once."""
            if reason not in reasons:
                reasons[reason] = delivery.excerpt(mask_secrets(reason, dest.spec.url))
            return reasons[reason]

        for item, verdict in zip(items, verdicts, strict=True):
            attempt = item.attempts + 1
            next_at = None
            reason = verdict.reason
            if sent.pause:
                next_at, new_status = at, RETRYING
            elif verdict.outcome == delivery.RETRY:
                next_at = backoff.next_attempt(at, item.enqueued_at, attempt, self.policy, random.random())
                new_status = RETRYING if next_at is not None else FAILED
                if next_at is None:
                    reason = f"{reason} (gave up: past the retry horizon)"
            else:
                new_status = _STATUS_FOR[verdict.outcome]
            recorded.append(
                Recorded(
                    lead_id=item.lead_id,
                    destination_id=item.destination_id,
                    account_id=item.account_id,
                    lease_token=item.lease_token,
                    attempt=attempt,
                    at=at,
                    status=new_status,
                    status_code=sent.status or 0,
                    duration_ms=duration_ms,
                    outcome=verdict.outcome,
                    reason=masked(reason),
                    excerpt=delivery.excerpt(verdict.answer) if verdict.answer else whole_excerpt,
                    record_id=delivery.storable(verdict.record_id),
                    next_attempt_at=next_at,
                    request=sent_requests[len(recorded)],
                )
            )
        return recorded, sent.pause

    async def send_test(self, stored: post_out_store.StoredDestination, lead: dict[str, Any]) -> TestSend:
        """One lead sent now, as a delivery would be (one per call, a key of its own so the CRM never
        takes it for a real delivery's repeat), and what was sent and answered. Nothing is recorded."""
        dest = dataclasses.replace(self._prepare(stored), batch=None, batch_url="")
        started = time.perf_counter()
        requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        if dest.refusal:
            sent = _Sent(None, "", dest.refusal, [delivery.Verdict(delivery.FAILED, dest.refusal)])
        else:
            item = outbox.Claimed(
                lead_id=uuid.uuid4(),
                destination_id=stored.destination_id,
                account_id=stored.account_id,
                idempotency_key=f"lr-test-{secrets.token_hex(12)}",
                attempts=0,
                enqueued_at=datetime.now(UTC),
                lease_token=uuid.uuid4(),
                lead=lead,
            )
            sent = await self._send([item], dest, requests)
        verdict = (
            delivery.Verdict(delivery.FAILED, f"the destination cannot send: {sent.pause}")
            if sent.pause
            else sent.verdicts[0]
        )
        method, url, payload, headers = requests[-1] if requests else (dest.spec.method, dest.spec.url, b"", {})
        return TestSend(
            method=method,
            url=mask_secrets(url, url),
            headers=_masked_headers(headers, crm_presets.PRESETS.get(dest.spec.preset)),
            body=payload.decode("utf-8", errors="replace"),
            status=sent.status,
            text=delivery.excerpt(sent.text),
            error=mask_secrets(sent.error, url),
            verdict=dataclasses.replace(verdict, reason=mask_secrets(verdict.reason, url)),
            duration_ms=round((time.perf_counter() - started) * 1000),
        )

    async def _send(
        self,
        items: list[outbox.Claimed],
        dest: _Prepared,
        requests: list[tuple[str, str, bytes, dict[str, str]]] | None = None,
    ) -> _Sent:
        """`requests` (a test send) collects each request made: method, URL, body, headers."""
        spec = dest.spec
        if dest.batch is not None:
            template = compile_template(spec.body_template)
            traces = [i.idempotency_key for i in items]
            keys = [i.lead["lead_id"] for i in items]
            records = tuple(template.render(i.lead) for i in items)
            payload = json_bytes(crm_presets.batch_body(dest.batch, records, traces, keys))
            content_type, url, success = "application/json", dest.batch_url, dest.batch.success
            # Stable for the same leads in the same order; vendors de-duplicate batches by their own keys.
            key = "lr-b-" + hashlib.sha256("/".join(i.idempotency_key for i in items).encode()).hexdigest()[:40]
        else:
            payload, content_type = delivery.build_body(spec.body_format, spec.body, items[0].lead, spec.body_template)
            url, success, key, traces, records = spec.url, spec.success, items[0].idempotency_key, [], ()
            url = delivery.lead_url(url, items[0].lead)
        headers = {**dest.headers, "Content-Type": content_type, "Idempotency-Key": key, "User-Agent": USER_AGENT}
        preset = crm_presets.PRESETS.get(spec.preset)
        # Calls before the send, where the vendor has no upsert or idempotency key (vendor_steps).
        steps = preset if preset and vendor_steps.needed(preset, dest.batch is not None) else None
        retrying = bool(items[0].attempts or items[0].lapsed)

        async def call(method: str, target: str, body: bytes, records: int = 1) -> tuple[int | None, str, str]:
            """One HTTP call, remembered for the attempt's log."""
            if requests is not None:
                requests.append((method, target, body, dict(headers)))
            return await self._post(method, target, body, headers, dest, records)

        async def attempt(refused: str, refused_at: float = 0.0) -> tuple[_Sent, str]:
            """One call; also the token it carried when the CRM refused that token, else ""."""
            token = ""
            if spec.oauth is not None:
                try:
                    token = await self.tokens.token(
                        dest.destination_id,
                        dest.updated_at,
                        spec.oauth,
                        dest.credentials,
                        refused=refused,
                        refused_at=refused_at,
                        client_timeout=dest.timeout,
                    )
                except oauth_tokens.TokenUnavailable as exc:
                    if exc.permanent:
                        return _Sent(None, "", str(exc), [], pause=str(exc)), ""
                    return _Sent(None, "", str(exc), [delivery.Verdict(delivery.RETRY, str(exc))] * len(items)), ""
                headers["Authorization"] = f"{spec.oauth.auth_scheme} {token}"
            sending = payload
            if steps is not None:
                before = await vendor_steps.before_send(steps, spec.url, payload, retrying, call)
                if token and before.status == 401:
                    return _Sent(401, before.text, "", [delivery.Verdict(delivery.RETRY, "HTTP 401")]), token
                if before.verdict is not None:
                    return _Sent(before.status, before.text, before.error, [before.verdict]), ""
                sending = before.payload or payload
            status, text, error = await call(spec.method, url, sending, len(items))
            if dest.batch is not None and dest.batch.trace_key:
                # An existing record counts as posted when the destination reads the vendor's 409 so.
                posted = ("CONFLICT",) if any(low <= 409 <= high for low, high in spec.success.status_ranges) else ()
                verdicts = delivery.classify_traced(
                    success, status, text, traces, dest.batch.trace_key, error, posted_categories=posted
                )
            else:
                verdicts = delivery.classify_records(success, status, text, len(items), error)
            if token and (status == 401 or any(v.outcome == delivery.REAUTH for v in verdicts)):
                return _Sent(status, text, error, verdicts), token
            # Without OAuth there is nothing to renew: a token code fails like any refusal.
            verdicts = [
                delivery.Verdict(delivery.FAILED, v.reason) if v.outcome == delivery.REAUTH else v for v in verdicts
            ]
            return _Sent(status, text, error, verdicts), ""

        sent, refused = await attempt("")
        if refused:  # renew the token once and send again
            sent, refused = await attempt(refused, self.tokens.clock())
            if refused:
                said = next((v.reason for v in sent.verdicts if v.reason), f"HTTP {sent.status}")
                reason = f"the CRM refused a newly issued access token ({said})"
                return _Sent(sent.status, sent.text, sent.error, [], pause=reason, request=payload, records=records)
        return replace(sent, request=payload, records=records)

    async def _post(
        self, method: str, url: str, payload: bytes, headers: dict[str, str], dest: _Prepared, records: int
    ) -> tuple[int | None, str, str]:
        try:
            async with self.session.request(
                method, url, data=payload, headers=headers, allow_redirects=False, timeout=dest.timeout
            ) as resp:
                raw = await _read_capped(resp, MAX_RESPONSE_BYTES + (records - 1) * BATCH_RESPONSE_BYTES_PER_RECORD)
                return resp.status, _decode(raw, resp.charset), ""
        except TimeoutError:
            return None, "", f"timed out after {dest.spec.timeout_ms} ms"
        except (aiohttp.ClientError, OSError) as exc:
            return None, "", mask_secrets(f"connection error: {exc}", url)

    async def _record(
        self, results: list[Recorded], pauses: dict[UUID, str] | None = None, calls: list[list[Recorded]] | None = None
    ) -> None:
        """Writes the results. The breaker counts calls (each result its own unless `calls` groups
        them): a batch the CRM refused whole is one failure, not one per lead."""
        pauses = pauses or {}
        breakers: dict[UUID, list[str]] = {}
        for call in sorted(
            calls or [[r] for r in results], key=lambda c: c[0].at.timestamp() + c[0].duration_ms / 1000
        ):
            destination_id = call[0].destination_id
            # A destination paused for its token is not failing: its breaker is left alone.
            breakers.setdefault(destination_id, []).append(
                "neutral" if destination_id in pauses else _call_outcome([r.outcome for r in call])
            )
        changes = []
        for destination_id, outcomes in breakers.items():
            b = backoff.breaker_after(outcomes, 0, self.settings.postout_breaker_threshold)
            if b.reset or b.consecutive_failures:
                changes.append((destination_id, b.reset, b.consecutive_failures))
        async with self.pool.acquire() as con:
            try:
                await self._write(con, results, changes, pauses)
            except _REFUSED_RECORD:
                # One result the database refuses (say, its destination was deleted meanwhile) must not
                # undo the others: unrecorded, they would all be posted again after the lease.
                log.warning("post-out batch refused by the database; recording each delivery alone", exc_info=True)
                for r in results:
                    try:
                        await self._write(con, [r], [], {})
                    except _REFUSED_RECORD as exc:
                        log.warning(
                            "post-out result not recorded",
                            extra={
                                "lead_id": str(r.lead_id),
                                "destination_id": str(r.destination_id),
                                "error": repr(exc),
                            },
                        )
                await self._write(con, [], changes, pauses)
        for destination_id, reason in pauses.items():
            log.warning("destination paused", extra={"destination_id": str(destination_id), "reason": reason})
        failures = sum(1 for r in results if r.outcome != delivery.POSTED)
        if failures:
            log.info("post-out batch", extra={"attempted": len(results), "not_posted": failures})

    async def _write(
        self,
        con: Connection,
        results: list[Recorded],
        changes: list[tuple[UUID, bool, int]],
        pauses: dict[UUID, str],
    ) -> None:
        async with con.transaction():
            await leads_store.lock_leads(con, [r.lead_id for r in results])
            await post_out_store.record_attempts(con, results)
            await post_out_store.update_breakers(
                con, changes, self.settings.postout_breaker_threshold, self.settings.postout_breaker_cooldown_seconds
            )
            for destination_id, reason in sorted(pauses.items()):
                await post_out_store.pause_destination(con, destination_id, reason)


def _request_excerpts(
    items: list[outbox.Claimed],
    dest: _Prepared,
    request: tuple[str, str, bytes, dict[str, str]] | None,
    records: tuple[Any, ...] = (),
) -> list[str]:
    """Per item, what the call sent for it (its log's request): method, URL with its secrets masked,
    and its own record's body (a batch's other records are other leads' data). `records`: a batch's
    records as rendered for the call, one per item (rendered again when not given)."""
    if request is None:
        return [""] * len(items)
    method, url, payload, _ = request
    line = f"{method} {mask_secrets(url, url)}"
    if dest.batch is None:
        return [delivery.excerpt(f"{line}\n\n{payload.decode('utf-8', errors='replace')}")] * len(items)
    if len(records) != len(items):
        template = compile_template(dest.spec.body_template)
        records = tuple(template.render(i.lead) for i in items)
    head = f"{line}\n\n" + (f"(this lead's record of the {len(items)} sent)\n" if len(items) > 1 else "")
    return [delivery.excerpt(head + json_text(r)) for r in records]


# What the database (or the driver) refuses in one result's data, as opposed to the database being down.
_REFUSED_RECORD = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, UnicodeError)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int = MAX_RESPONSE_BYTES) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await resp.content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _call_outcome(outcomes: list[str]) -> str:
    """One call's effect on the breaker: it worked if the CRM took any record; it failed if no
    record got an answer the CRM meant (every one retried or failed)."""
    if delivery.POSTED in outcomes:
        return "success"
    if all(_BREAKER.get(o) == "failure" for o in outcomes):
        return "failure"
    return "neutral"


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
