"""`leadrelay up` (what `make run` calls): every process healthy, then Ctrl-C stops them all."""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

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


def test_up_brings_every_process_up_and_ctrl_c_leaves_no_orphans(own_database, tmp_path):
    ports = free_ports(7)
    env = {
        **os.environ,
        "DATABASE_URL": own_database,
        "LEADRELAY_HOME": str(tmp_path),
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
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "up"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            lines.append(line)
            if "all processes healthy" in line or time.monotonic() > deadline:
                break
        output = "".join(lines)
        assert "all processes healthy" in output, output
        assert "demo set-up" not in output, output
        assert "job-function picklist" in output  # the demo sources got acceptance criteria
        for name in ("sandbox", "validation", "ingest", "feedback", "reports", "scheduler"):
            assert f"{name}" in output
        assert "demo API key  lr_" in output
        children = _descendants(proc.pid)
        assert len(children) >= 6
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        time.sleep(0.5)
        assert [pid for pid in children if _alive(pid)] == []
        # The key file lets a second run print the same demo key.
        assert (tmp_path / "demo-api-key").read_text().startswith("lr_")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        proc.stdout.close()
