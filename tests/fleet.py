"""Replicas of the services as real processes on one database, for the fault suite and `bench.faults`:
start, kill -9, restart; a client that retries SubmitLeads the way a gRPC client retries
(UNAVAILABLE and friends: again, on the next replica); and the mixed-load scenario whose outcome
is counted as lost and doubled leads, in the database and in the sandbox CRM.

Ingest replicas reach validation through one target naming every validation replica
(`ipv4:a,b`): gRPC's pick_first moves to the next address when one dies, as a client behind a
load balancer would. Only loopback addresses; every wait has a bound."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc

from leadrelay import accounts, clients
from leadrelay.crypto import generate_key
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, validation_pb2, validation_pb2_grpc
from tests.ports import free_port
from tests.waiting import wait_serving

ROOT = Path(__file__).parents[1]
RETRIED = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
)
MAPPING = [
    common_pb2.FieldMapping(column="email", form_field="email"),
    common_pb2.FieldMapping(column="first_name", form_field="first_name"),
    common_pb2.FieldMapping(column="notes", unmapped_fields=True),
]


@dataclass
class Replica:
    module: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=ROOT, env=self.env)  # noqa: ASYNC220
        await wait_serving(self.target, self.proc)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Fleet:
    """`replicas` ingest and `replicas` validation processes on the database at `dsn`."""

    dsn: str
    sandbox_url: str
    replicas: int = 1
    lease_seconds: float = 3.0
    validation: list[Replica] = field(default_factory=list)
    ingest: list[Replica] = field(default_factory=list)

    async def start(self) -> None:
        sandbox_host = self.sandbox_url.split("/")[2]
        common = {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "LEADRELAY_HOME": tempfile.mkdtemp(prefix="lr-fleet-"),
            "LEADRELAY_SECRET_KEY": generate_key(),
            "LEADRELAY_INTERNAL_TOKEN": secrets.token_urlsafe(24),
            "LEADRELAY_LOG_LEVEL": "ERROR",
            "LEADRELAY_DEMO": "false",
            "LEADRELAY_POLL_INTERVAL_SECONDS": "3600",
            "LEADRELAY_SWEEPER_INTERVAL_SECONDS": "0.5",
            "LEADRELAY_SWEEPER_MIN_AGE_SECONDS": "2",
            "LEADRELAY_VALIDATION_TIMEOUT_SECONDS": "3",
            "LEADRELAY_API_KEY_CACHE_SECONDS": "0",
            "FACEBOOK_APP_SECRET": "fleet",
            "FACEBOOK_VERIFY_TOKEN": "fleet",
            "LINKEDIN_CLIENT_SECRET": "fleet",
            "POSTOUT_ALLOW_HOSTS": sandbox_host,
            "POSTOUT_LEASE_SECONDS": str(self.lease_seconds),
            "POSTOUT_POLL_SECONDS": "0.05",
            "POSTOUT_BACKOFF_BASE_SECONDS": "0.2",
            "POSTOUT_BACKOFF_MAX_SECONDS": "1",
            "LEADRELAY_DB_POOL_MAX": "8",
        }
        vports = [free_port() for _ in range(self.replicas)]
        every_validation = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in vports)
        self.validation = [Replica("validation_service", p, {**common, "VALIDATION_GRPC_PORT": str(p)}) for p in vports]
        for r in self.validation:
            await r.start()
        for _ in range(self.replicas):
            port = free_port()
            env = {
                **common,
                "INGEST_GRPC_PORT": str(port),
                "INGEST_HTTP_PORT": str(free_port()),
                "VALIDATION_TARGET": every_validation,
            }
            self.ingest.append(Replica("ingest_service", port, env))
        for r in self.ingest:
            await r.start()

    def stop(self) -> None:
        for r in self.ingest + self.validation:
            r.stop()


@dataclass
class Tally:
    """What a run left behind, counted in the database and at the CRM."""

    leads: int
    stored: int  # leads rows of the run's source
    judged: int  # of them, not PROCESSING any more
    posted: int  # deliveries POSTED
    crm_received: int
    crm_created: int
    crm_replayed: int  # repeats of a key the CRM had answered: re-sent deliveries, no new record
    lost: int  # leads the CRM never created a record for
    doubled: int  # people the CRM holds more than one record of
    client_retries: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.leads} leads: lost {self.lost}, doubled {self.doubled} (stored {self.stored}, posted "
            f"{self.posted}; CRM received {self.crm_received}, created {self.crm_created}, replayed "
            f"{self.crm_replayed}; "
            f"client retries {self.client_retries}; {self.seconds:.1f} s)"
        )


async def new_account(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as con:
        account_id = await accounts.ensure_account(con, f"fleet-{secrets.token_hex(5)}")
        return await accounts.create_key(con, account_id, "fleet")


async def crm_control(sandbox_url: str, tenant: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        if body is None:
            async with s.get(f"{sandbox_url}/crm/_control/{tenant}?records=0") as r:
                return dict(await r.json())
        async with s.post(f"{sandbox_url}/crm/_control/{tenant}", json=body) as r:
            return dict(await r.json())


@dataclass
class Run:
    """One account, source and CRM destination; leads submitted in batches with retries."""

    fleet: Fleet
    pool: asyncpg.Pool
    leads: int
    batch: int = 50
    clients_in_flight: int = 4
    tenant: str = field(default_factory=lambda: f"f{secrets.token_hex(5)}")
    source_id: str = ""
    api_key: str = ""
    retries: int = 0
    submitted: int = 0
    # Without platform lead ids only an idempotency key makes a retried batch find what it stored.
    platform_ids: bool = True
    idempotency_keys: bool = False

    async def prepare(self, crm: dict[str, Any] | None = None) -> None:
        self.api_key = await new_account(self.pool)
        await crm_control(self.fleet.sandbox_url, self.tenant, {"lead_field": "email", **(crm or {})})
        async with (
            clients.api_key_channel(self.fleet.ingest[0].target, self.api_key) as ich,
            clients.api_key_channel(self.fleet.validation[0].target, self.api_key) as vch,
        ):
            ingest = ingest_pb2_grpc.IngestServiceStub(ich)
            source = await ingest.CreateSource(
                ingest_pb2.CreateSourceRequest(name="Fleet", platform=common_pb2.PLATFORM_API)
            )
            self.source_id = source.source_id
            await ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=self.source_id, mappings=MAPPING))
            await validation_pb2_grpc.PostOutServiceStub(vch).CreateDestination(
                validation_pb2.CreateDestinationRequest(
                    source_id=self.source_id,
                    name="Fleet CRM",
                    url=f"{self.fleet.sandbox_url}/crm/{self.tenant}/leads",
                    body=[
                        common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
                        common_pb2.FieldMapping(column="email", lead_column="email"),
                    ],
                    timeout_ms=2000,
                )
            )

    def _batches(self) -> list[tuple[ingest_pb2.SubmitLeadsRequest, tuple[tuple[str, str], ...]]]:
        """Each batch with the call metadata its every attempt carries (one key per batch)."""
        return [
            (
                self._batch(start),
                (("idempotency-key", f"{self.tenant}-batch-{start}"),) if self.idempotency_keys else (),
            )
            for start in range(0, self.leads, self.batch)
        ]

    def _batch(self, start: int) -> ingest_pb2.SubmitLeadsRequest:
        return ingest_pb2.SubmitLeadsRequest(
            leads=[
                ingest_pb2.SubmitLeadRequest(
                    source_id=self.source_id,
                    platform_lead_id=f"{self.tenant}-{i}" if self.platform_ids else "",
                    answers=[
                        common_pb2.Answer(name="email", values=[f"p{i}@{self.tenant}.example"]),
                        common_pb2.Answer(name="first_name", values=[f"Ann {i}"]),
                    ],
                )
                for i in range(start, min(start + self.batch, self.leads))
            ]
        )

    async def submit(self, *, kill_after: int = 0, victims: Sequence[Replica] = (), max_attempts: int = 200) -> None:
        """Every batch until one replica answers it; each failure retried on the next replica. Once
        `kill_after` leads are answered, the victims get kill -9 (while the other clients' calls are
        in flight)."""
        queue = list(reversed(self._batches()))
        channels = [clients.api_key_channel(r.target, self.api_key) for r in self.fleet.ingest]
        stubs = [ingest_pb2_grpc.IngestServiceStub(ch) for ch in channels]

        async def client(k: int) -> None:
            turn = k
            while queue:
                request, metadata = queue.pop()
                for attempt in range(max_attempts):
                    try:
                        await stubs[turn % len(stubs)].SubmitLeads(request, timeout=10, metadata=metadata)
                        break
                    except grpc.aio.AioRpcError as exc:
                        if exc.code() not in RETRIED:
                            raise
                        self.retries += 1
                        turn += 1
                        await asyncio.sleep(min(0.05 * 2**attempt, 0.5))
                else:
                    raise AssertionError(f"a batch failed {max_attempts} times")
                self.submitted += len(request.leads)
                if victims and self.submitted >= kill_after and not any(v.kills for v in victims):
                    for victim in victims:
                        victim.kill9()
                turn += 1

        try:
            await asyncio.gather(*(client(k) for k in range(self.clients_in_flight)))
        finally:
            for ch in channels:
                await ch.close()

    async def counts(self) -> tuple[int, int, int]:
        row = await self.pool.fetchrow(
            """
            SELECT count(*) AS stored, count(*) FILTER (WHERE status <> 'PROCESSING') AS judged,
                   (SELECT count(*) FROM post_outs p WHERE p.source_id = $1::uuid AND p.status = 'POSTED') AS posted
            FROM leads WHERE source_id = $1::uuid
            """,
            self.source_id,
        )
        return row["stored"], row["judged"], row["posted"]

    async def settled(self) -> bool:
        stored, judged, posted = await self.counts()
        return stored >= self.leads and judged == stored and posted >= stored

    async def wait_settled(self, within: float) -> None:
        deadline = time.monotonic() + within
        while not await self.settled():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not settled within {within:.0f} s: stored, judged, posted = {await self.counts()}"
                )
            await asyncio.sleep(0.1)

    async def tally(self, seconds: float) -> Tally:
        stored, judged, posted = await self.counts()
        stats = await crm_control(self.fleet.sandbox_url, self.tenant)
        per_person = stats["per_lead"]
        created = sum(1 for i in range(self.leads) if per_person.get(f"p{i}@{self.tenant}.example", {}).get("created"))
        return Tally(
            leads=self.leads,
            stored=stored,
            judged=judged,
            posted=posted,
            crm_received=stats["received"],
            crm_created=stats["created"],
            crm_replayed=stats["replayed"],
            lost=self.leads - created,
            doubled=len(stats["doubled"]),
            client_retries=self.retries,
            seconds=seconds,
        )
