"""`leadrelay up` (what `make run` calls): the embedded database, migrations, a demo account and key,
every process as a child, health waits, the endpoint list, and a clean stop on Ctrl-C.

A child that exits is restarted after a pause that doubles with each recent crash (the log says so,
and says when it is healthy again); only Ctrl-C, or one child crashing again and again, stops them
all. Busy fixed ports (another `make run`) refuse the start before anything runs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from leadrelay import accounts, local_secrets, migrations
from leadrelay.db import connect, redact_dsn, resolve_dsn
from leadrelay.settings import Settings
from ops.demo import connectors, criteria, feedback, post_out, reports
from ops.ports import busy_ports
from ops.restart_policy import RestartPolicy

DEMO_ACCOUNT = "demo"
HEALTH_TIMEOUT_SECONDS = 90.0


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    endpoint: str
    process: subprocess.Popen[bytes] | None = None
    crashes: list[float] = field(default_factory=list)  # monotonic times the child exited
    restart_at: float | None = None  # set while waiting to restart it
    recovering: bool = False  # restarted, not yet healthy


def _grpc_healthy(target: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with grpc.insecure_channel(target) as ch:
                reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                return reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    return check


def _http_healthy(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    return check


def children(settings: Settings) -> list[Child]:
    py = sys.executable
    host = settings.host
    return [
        Child(
            "sandbox",
            [py, "-m", "sandbox"],
            _http_healthy(f"http://{host}:{settings.sandbox_port}/healthz"),
            f"http://{host}:{settings.sandbox_port}",
        ),
        Child(
            "validation",
            [py, "-m", "validation_service"],
            _grpc_healthy(f"{host}:{settings.validation_grpc_port}"),
            f"grpc://{host}:{settings.validation_grpc_port}",
        ),
        Child(
            "ingest",
            [py, "-m", "ingest_service"],
            lambda: (
                _grpc_healthy(f"{host}:{settings.ingest_grpc_port}")()
                and _http_healthy(f"http://{host}:{settings.ingest_http_port}/healthz")()
            ),
            f"grpc://{host}:{settings.ingest_grpc_port}  http://{host}:{settings.ingest_http_port}",
        ),
        Child(
            "feedback",
            [py, "-m", "feedback_service"],
            _grpc_healthy(f"{host}:{settings.feedback_grpc_port}"),
            f"grpc://{host}:{settings.feedback_grpc_port}",
        ),
        Child(
            "reports",
            [
                py,
                "-m",
                "streamlit",
                "run",
                "reports_app/server.py",
                "--server.port",
                str(settings.reports_port),
                "--server.address",
                host,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            _http_healthy(f"http://{host}:{settings.reports_port}/_stcore/health"),
            f"http://{host}:{settings.reports_port}",
        ),
        Child("scheduler", [py, "-m", "reports_app.scheduler"], lambda: True, "(no port)"),
    ]


def _demo_hooks() -> list[Callable[[Settings, str], Any]]:
    """Demo set-up: connect sandbox sources, criteria, a reports user, feedback, destinations."""
    # post_out stays last: it gives every demo source the hooks before it created a destination.
    return [
        connectors.demo_connectors,
        criteria.demo_criteria,
        reports.demo_reports,
        feedback.demo_feedback,
        post_out.demo_post_out,
    ]


async def _prepare(settings: Settings, dsn: str) -> str:
    con = await connect(dsn, settings=settings)
    try:
        await migrations.migrate(con)
        key_file = settings.home_path / "demo-api-key"
        account_id = await accounts.ensure_account(con, DEMO_ACCOUNT)
        if key_file.exists() and await accounts.account_for_key(con, key_file.read_text().strip()):
            return key_file.read_text().strip()
        key = await accounts.create_key(con, account_id, "demo")
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key
    finally:
        await con.close()


def up(settings: Settings) -> int:
    started = time.monotonic()
    home = settings.home_path
    home.mkdir(parents=True, exist_ok=True)
    generated = local_secrets.load_or_create(home)
    env = {**generated, **os.environ}  # the environment wins over generated secrets
    settings = Settings.from_env(env)
    busy = busy_ports(settings)
    if busy:
        for port, variable, what in busy:
            print(
                f"leadrelay: port {port} ({variable}, {what}) on {settings.host} is already in use: is another "
                f"`make run` (leadrelay up) running? Stop it (Ctrl-C there), or set {variable} to a free port.",
                file=sys.stderr,
                flush=True,
            )
        print("leadrelay: nothing was started.", file=sys.stderr, flush=True)
        return 1
    print(f"LeadRelay: starting (data in {home})", flush=True)
    dsn = resolve_dsn(settings)
    print(f"  database   {redact_dsn(dsn)}", flush=True)
    api_key = asyncio.run(_prepare(settings, dsn))
    child_env = {
        **env,
        **settings.as_env(),
        "DATABASE_URL": dsn,
        "GRAPH_API_BASE_URL": env.get("GRAPH_API_BASE_URL", f"http://{settings.host}:{settings.sandbox_port}/graph"),
        "LINKEDIN_API_BASE_URL": env.get(
            "LINKEDIN_API_BASE_URL", f"http://{settings.host}:{settings.sandbox_port}/linkedin"
        ),
        "CAPI_BASE_URL": env.get("CAPI_BASE_URL", f"http://{settings.host}:{settings.sandbox_port}/graph"),
        # The demo posts to the sandbox CRM: that one loopback address, not every private one.
        "POSTOUT_ALLOW_HOSTS": env.get("POSTOUT_ALLOW_HOSTS", f"{settings.host}:{settings.sandbox_port}"),
        # OAuth connect against the sandbox's consent pages, as a sandbox app.
        "FACEBOOK_LOGIN_BASE_URL": env.get(
            "FACEBOOK_LOGIN_BASE_URL", f"http://{settings.host}:{settings.sandbox_port}/facebook"
        ),
        "LINKEDIN_OAUTH_BASE_URL": env.get(
            "LINKEDIN_OAUTH_BASE_URL", f"http://{settings.host}:{settings.sandbox_port}/linkedin"
        ),
        "FACEBOOK_APP_ID": env.get("FACEBOOK_APP_ID") or "1010101010",
        "LINKEDIN_CLIENT_ID": env.get("LINKEDIN_CLIENT_ID") or "sandbox-client",
        "LEADRELAY_CONSOLE_URL": env.get("LEADRELAY_CONSOLE_URL", f"http://{settings.host}:{settings.reports_port}"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    settings = Settings.from_env(child_env)
    procs = children(settings)
    stopping = False

    def request_stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for child in procs:
            child.process = subprocess.Popen(child.argv, env=child_env)
        if not _wait_healthy(procs, lambda: stopping):
            return 1
        if settings.demo:
            for hook in _demo_hooks():
                try:
                    hook(settings, api_key)
                except Exception as exc:  # the demo is a convenience: report it, keep the system up
                    print(
                        f"leadrelay: demo set-up {hook.__name__} failed: {type(exc).__name__}: {exc}",
                        file=sys.stderr,
                        flush=True,
                    )
        took = time.monotonic() - started
        print(f"\nLeadRelay is up ({took:.1f} s). Endpoints:", flush=True)
        for child in procs:
            print(f"  {child.name:<11}{child.endpoint}", flush=True)
        print(
            f"\n  demo API key  {api_key}\n  (grpcurl -H 'authorization: Bearer {api_key}' "
            f"-plaintext {settings.host}:{settings.ingest_grpc_port} list)\n\nCtrl-C stops everything.",
            flush=True,
        )
        print("all processes healthy", flush=True)
        policy = RestartPolicy()
        while not stopping:
            for child in procs:
                if stopping:  # Ctrl-C reaches the children too: their exits are no crashes
                    break
                if not _supervise(child, child_env, policy, time.monotonic()):
                    return 1
            time.sleep(0.2)
        return 0
    finally:
        _stop_all(procs)


def _supervise(child: Child, env: dict[str, str], policy: RestartPolicy, now: float) -> bool:
    """One look at a child: restart it when its pause is over, note its exit, report it healthy
    again. False: it crashed too often, stop everything."""
    if child.restart_at is not None:
        if now >= child.restart_at:
            child.restart_at = None
            child.recovering = True
            child.process = subprocess.Popen(child.argv, env=env)
            print(f"leadrelay: {child.name} restarted (pid {child.process.pid})", file=sys.stderr, flush=True)
        return True
    assert child.process is not None
    code = child.process.poll()
    if code is not None:
        child.crashes.append(now)
        delay = policy.delay(child.crashes, now)
        if delay is None:
            print(
                f"leadrelay: {child.name} exited with code {code}, its {policy.max_crashes}th exit within "
                f"{policy.window_seconds:.0f} s; it keeps crashing (see its messages above), stopping everything",
                file=sys.stderr,
                flush=True,
            )
            return False
        recent = policy.recent(child.crashes, now)
        print(
            f"leadrelay: {child.name} exited with code {code}; restarting it in {delay:.0f} s "
            f"(exit {recent} of {policy.max_crashes} tolerated within {policy.window_seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        child.restart_at = now + delay
        child.recovering = False
        return True
    if child.recovering and child.ready():
        child.recovering = False
        print(f"  {child.name:<11}healthy again", flush=True)
    return True


def _wait_healthy(procs: list[Child], stopping: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    waiting = list(procs)
    while waiting and not stopping():
        for child in list(waiting):
            assert child.process is not None
            if child.process.poll() is not None:
                print(
                    f"leadrelay: {child.name} exited with code {child.process.returncode} while starting "
                    f"(see its message above)",
                    file=sys.stderr,
                )
                return False
            if child.ready():
                print(f"  {child.name:<11}healthy", flush=True)
                waiting.remove(child)
        if time.monotonic() > deadline:
            print(
                f"leadrelay: not healthy after {HEALTH_TIMEOUT_SECONDS:.0f} s: {', '.join(c.name for c in waiting)}",
                file=sys.stderr,
            )
            return False
        time.sleep(0.2)
    return not waiting


def _stop_all(procs: list[Child]) -> None:
    running = [c.process for c in procs if c.process and c.process.poll() is None]
    for p in running:
        p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in running:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print("LeadRelay stopped.", flush=True)
