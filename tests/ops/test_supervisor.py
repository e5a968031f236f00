"""`leadrelay up` (what `make run` calls): every process healthy, a child killed with -9 restarted and
healthy again, busy ports refused before anything starts, and Ctrl-C stops them all."""

import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ops.restart_policy import RestartPolicy
from tests.harness import with_database
from tests.ports import free_ports

ROOT = Path(__file__).parents[2]


def _descendants(pid):
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *_descendants(kid)]
    return out


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
async def own_database(database_dsn):
    """`up` is a whole deployment with its own generated secrets: it gets a database of its own, so
    the session's servers never meet rows sealed with another key."""
    name = f"lr_up_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(database_dsn, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


class Up:
    """`python -m ops up` as a child, its output read on a thread so waits are bounded."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops", "up"],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._new.put(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, *, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        while text not in self.output:
            try:
                self.lines.append(self._new.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {within:.0f} s; output:\n{self.output}") from None

    def stop(self) -> str:
        """Ctrl-C; the rest of the output once it has exited."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)  # the pipe ends when the last process holding it has exited
        while not self._new.empty():
            self.lines.append(self._new.get())
        return self.output

    def kill(self) -> None:
        """Afterwards, whatever happened: the process gone and its pipe closed."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _env(database_url: str, home: Path, ports: list[int], **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEADRELAY_HOME": str(home),
        "INGEST_GRPC_PORT": str(ports[0]),
        "INGEST_HTTP_PORT": str(ports[1]),
        "VALIDATION_GRPC_PORT": str(ports[2]),
        "FEEDBACK_GRPC_PORT": str(ports[3]),
        "REPORTS_PORT": str(ports[4]),
        "SANDBOX_PORT": str(ports[5]),
        "SMTP_PORT": str(ports[6]),
        "VALIDATION_TARGET": f"127.0.0.1:{ports[2]}",
        "INGEST_TARGET": f"127.0.0.1:{ports[0]}",
        "LEADRELAY_PUBLIC_URL": f"http://127.0.0.1:{ports[1]}",
        "LEADRELAY_LOG_LEVEL": "WARNING",
        **extra,
    }


def _child_pid(up_pid: int, module: str) -> int:
    for pid in _descendants(up_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in argv and _alive(pid):
            return pid
    raise AssertionError(f"no running {module} child of {up_pid}")


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_up_brings_every_process_up_and_ctrl_c_leaves_no_orphans(own_database, tmp_path):
    up = Up(_env(own_database, tmp_path, free_ports(7)))
    try:
        up.wait_for("all processes healthy")
        output = up.output
        assert "demo set-up" not in output, output
        assert "job-function picklist" in output  # the demo sources got acceptance criteria
        for name in ("sandbox", "validation", "ingest", "feedback", "reports", "scheduler"):
            assert f"{name}" in output
        assert "demo API key  lr_" in output
        children = _descendants(up.proc.pid)
        assert len(children) >= 6
        rest = up.stop()
        assert up.proc.returncode == 0, rest
        time.sleep(0.5)
        assert [pid for pid in children if _alive(pid)] == []
        # The key file lets a second run print the same demo key.
        assert (tmp_path / "demo-api-key").read_text().startswith("lr_")
    finally:
        up.kill()


def test_a_child_killed_with_sigkill_is_restarted_and_healthy_again(own_database, tmp_path):
    ports = free_ports(7)
    up = Up(_env(own_database, tmp_path, ports, LEADRELAY_DEMO="false"))
    try:
        up.wait_for("all processes healthy")
        first = _child_pid(up.proc.pid, "validation_service")
        os.kill(first, signal.SIGKILL)
        up.wait_for("leadrelay: validation exited with code -9; restarting it in 1 s", within=30)
        up.wait_for("validation healthy again", within=60)
        again = _child_pid(up.proc.pid, "validation_service")
        assert again != first
        assert _serving(f"127.0.0.1:{ports[2]}")
        # The others ran on: nothing else was restarted.
        assert up.output.count("restarted (pid") == 1
        up.stop()
        assert up.proc.returncode == 0, up.output
    finally:
        up.kill()


def test_a_busy_port_refuses_the_start_naming_the_port(tmp_path):
    ports = free_ports(7)
    with socket.socket() as other:  # another `make run`'s validation server, say
        other.bind(("127.0.0.1", ports[2]))
        other.listen()
        env = _env("postgresql://127.0.0.1:1/never-used", tmp_path, ports)
        done = subprocess.run(
            [sys.executable, "-m", "ops", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"port {ports[2]} (VALIDATION_GRPC_PORT, validation gRPC) on 127.0.0.1 is already in use" in done.stderr
    assert "set VALIDATION_GRPC_PORT to a free port" in done.stderr
    assert "nothing was started" in done.stderr
    assert "starting" not in done.stdout


def test_restarts_pause_longer_each_time_and_give_up_after_five_crashes_in_a_minute():
    policy = RestartPolicy()
    assert policy.delay([100.0], 100.0) == 1.0
    assert policy.delay([100.0, 101.0], 101.0) == 2.0
    assert policy.delay([100.0, 101.0, 103.0, 107.0], 107.0) == 8.0
    assert policy.delay([100.0, 101.0, 103.0, 107.0, 115.0], 115.0) is None
    # Crashes older than the window are forgiven.
    assert policy.delay([0.0, 1.0, 3.0, 7.0, 100.0], 100.0) == 1.0
