"""What the benchmarks share to run our services as real processes: a throwaway stack (database,
validation and ingest processes, one account), free ports, health waits, peak RSS."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from leadrelay import clients
from leadrelay.crypto import generate_key
from leadrelay.db import create_pool
from leadrelay.v1 import ingest_pb2_grpc, validation_pb2_grpc
from tests.harness import TestDatabase, new_account
from tests.waiting import wait_serving

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_line() -> str:
    """Which machine a run's figures came from, and how busy it was. Absolute figures move with the
    machine (between two sessions here the same commit measured 2-3 times slower, the raw COPY too);
    the ratios to the baselines measured in the same run move far less."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} cores, load average (1/5/15 min) {load}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used: on a shared (or oversubscribed, high-steal) machine the
    CPU each process spends per lead is a steadier figure than wall-clock throughput."""
    return _stat(Path(f"/proc/{pid}/stat").read_text())[1]


def _stat(text: str) -> tuple[int, float]:
    """A /proc/<pid>/stat line's parent pid and user + system CPU seconds."""
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds(postmaster: int) -> float:
    """The PostgreSQL server's processes together: the postmaster and its children (the backends
    serving the services do the work). Processes that end between two readings are not counted, so
    this is a lower bound; on a shared server (DATABASE_URL) other databases' backends count too."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, seconds = _stat(stat.read_text())
        except OSError:
            continue
        if int(stat.parent.name) == postmaster or parent == postmaster:
            total += seconds
    return total


async def postmaster_pid(pool: asyncpg.Pool) -> int:
    """The PostgreSQL server's main process: the parent of any backend."""
    backend = await pool.fetchval("SELECT pg_backend_pid()")
    for line in Path(f"/proc/{backend}/status").read_text().splitlines():  # noqa: ASYNC240 (/proc is memory)
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise RuntimeError("cannot find the PostgreSQL server's process (is it on another machine?)")


class CpuMeter:
    """CPU seconds per process (ours, PostgreSQL's, the bench client's) between two readings: on a
    shared or oversubscribed machine, CPU per lead is a steadier figure than wall-clock throughput."""

    def __init__(self, procs: dict[str, subprocess.Popen], postmaster: int) -> None:
        self._procs = procs
        self.postmaster = postmaster

    def read(self) -> dict[str, float]:
        out = {name: cpu_seconds(p.pid) for name, p in self._procs.items()}
        out["postgres"] = _postgres_cpu_seconds(self.postmaster)
        out["client"] = time.process_time()
        return out

    def per_lead(self, before: dict[str, float], n: int) -> dict[str, float]:
        """CPU microseconds per lead by process since `before`."""
        after = self.read()
        return {k: (after[k] - before[k]) / n * 1e6 for k in after}

    def report(self, before: dict[str, float], n: int) -> str:
        return describe_cpu(self.per_lead(before, n))


def describe_cpu(each: dict[str, float]) -> str:
    """CPU per lead by process, and the rate that much CPU allows this machine's cores at most,
    however well the work were spread over them."""
    total = sum(each.values())
    cap = (os.cpu_count() or 1) / total * 1e6 if total else float("inf")
    return (
        ", ".join(f"{k} {v:.0f}" for k, v in each.items())
        + f" us CPU per lead; {total:.0f} in all: at most {cap:.0f} leads/s on {os.cpu_count()} cores"
    )


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Stack:
    dsn: str
    pool: asyncpg.Pool
    ingest_proc: subprocess.Popen
    validation_proc: subprocess.Popen
    ingest: ingest_pb2_grpc.IngestServiceStub
    validation: validation_pb2_grpc.ValidationServiceStub
    postout: validation_pb2_grpc.PostOutServiceStub
    account_id: uuid.UUID
    ingest_target: str
    api_key: str
    validation_target: str = ""


@asynccontextmanager
async def stack(
    extra_env: dict[str, str] | None = None, *, code: Path = ROOT, dsn: str | None = None
) -> AsyncIterator[Stack]:
    """A throwaway database, the validation and ingest services as processes, one account. `code`:
    the checkout the services run from (another commit's, to compare in the same run); `dsn`: a
    database another stack made (shared, not dropped here)."""
    db = TestDatabase()
    own = dsn is None
    dsn = await db.create() if dsn is None else dsn
    procs: list[subprocess.Popen] = []
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        vport, iport = free_port(), free_port()
        env = {
            "DATABASE_URL": dsn,
            "LEADRELAY_HOME": tempfile.mkdtemp(prefix="lr-bench-"),
            "LEADRELAY_SECRET_KEY": generate_key(),
            "LEADRELAY_INTERNAL_TOKEN": secrets.token_urlsafe(24),
            "LEADRELAY_LOG_LEVEL": "WARNING",
            "VALIDATION_GRPC_PORT": str(vport),
            "INGEST_GRPC_PORT": str(iport),
            "INGEST_HTTP_PORT": str(free_port()),
            "VALIDATION_TARGET": f"127.0.0.1:{vport}",
            "LEADRELAY_POLL_INTERVAL_SECONDS": "3600",
            "FACEBOOK_APP_SECRET": "bench",
            "FACEBOOK_VERIFY_TOKEN": "b",
            "LINKEDIN_CLIENT_SECRET": "bench",
            "LEADRELAY_DEMO": "false",
            "LEADRELAY_SWEEPER_MIN_AGE_SECONDS": "600",
            "POSTOUT_ALLOW_PRIVATE_URLS": "true",
            **(extra_env or {}),
        }
        for module, port in (("validation_service", vport), ("ingest_service", iport)):
            proc = subprocess.Popen([sys.executable, "-m", module], cwd=code, env={**os.environ, **env})  # noqa: ASYNC220
            procs.append(proc)
            await wait_serving(f"127.0.0.1:{port}", proc, within=30.0)
        account = await new_account(pool, "bench")
        async with (
            clients.api_key_channel(f"127.0.0.1:{iport}", account.api_key) as ich,
            clients.api_key_channel(f"127.0.0.1:{vport}", account.api_key) as vch,
        ):
            yield Stack(
                dsn,
                pool,
                procs[1],
                procs[0],
                ingest_pb2_grpc.IngestServiceStub(ich),
                validation_pb2_grpc.ValidationServiceStub(vch),
                validation_pb2_grpc.PostOutServiceStub(vch),
                account.account_id,
                f"127.0.0.1:{iport}",
                account.api_key,
                f"127.0.0.1:{vport}",
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        await pool.close()
        if own:
            await db.drop()


async def start_sandbox() -> tuple[asyncio.subprocess.Process, str]:
    """The sandbox in its own process on a free loopback port: (the process, its URL)."""
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PORT": str(port),
        "LEADRELAY_HOST": "127.0.0.1",
        "SMTP_PORT": "0",
        "LEADRELAY_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "sandbox", cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.terminate()
    raise SystemExit("the sandbox did not start")
