"""Issue 2 figures: `make run` → all processes healthy (cold data dir and warm reuse), resident
memory of each process at idle, and optionally the wall time of `make test`.

    .venv/bin/python -m bench.startup [--with-tests] [--base-port 52000]

Baseline in the same run: the import floor — one interpreter importing the heavy packages every
process needs (grpc, asyncpg, aiohttp, streamlit) — so the startup figure reads as a multiple of it.
Ports are shifted (--base-port) so the run does not collide with a `make run` already up.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _ports(base: int) -> dict[str, str]:
    names = [
        "INGEST_GRPC_PORT",
        "INGEST_HTTP_PORT",
        "VALIDATION_GRPC_PORT",
        "FEEDBACK_GRPC_PORT",
        "REPORTS_PORT",
        "SANDBOX_PORT",
        "SMTP_PORT",
    ]
    env = {name: str(base + i) for i, name in enumerate(names)}
    env["VALIDATION_TARGET"] = f"127.0.0.1:{base + 2}"
    env["INGEST_TARGET"] = f"127.0.0.1:{base}"
    env["LEADRELAY_PUBLIC_URL"] = f"http://127.0.0.1:{base + 1}"
    return env


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split()
        out.extend(int(c) for c in children)
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _postgres_rss(home: Path) -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(home) in _cmdline(int(proc.name)) or (
                    "postgres:" in _cmdline(int(proc.name)) and _is_ours(int(proc.name), home)
                ):
                    total += _rss_mb(int(proc.name))
            except OSError:
                continue
    return total


def _is_ours(pid: int, home: Path) -> bool:
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().split()[3])
        return str(home) in _cmdline(parent)
    except (OSError, ValueError):
        return False


def start_until_healthy(env: dict[str, str]) -> tuple[subprocess.Popen[str], float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "all processes healthy" in line:
            return proc, time.perf_counter() - started
        if proc.poll() is not None:
            break
    raise SystemExit(f"make run did not become healthy (exit {proc.poll()})")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    for child in _children(proc.pid):
        try:
            os.kill(child, signal.SIGINT)
        except ProcessLookupError:
            pass
    proc.communicate(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--with-tests", action="store_true", help="also time `make test`")
    parser.add_argument("--base-port", type=int, default=52000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import grpc, asyncpg, aiohttp, streamlit"], check=True)
    import_floor = time.perf_counter() - t0

    home = Path(tempfile.mkdtemp(prefix="lr-bench-home-"))
    env = {**os.environ, **_ports(args.base_port), "LEADRELAY_HOME": str(home), "LEADRELAY_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)

    proc, cold = start_until_healthy(env)
    time.sleep(5)  # idle
    rss: dict[str, float] = {}
    for make_child in _children(proc.pid):
        for supervisor_child in [make_child, *_children(make_child)]:
            cmd = _cmdline(supervisor_child)
            for name in (
                "sandbox",
                "validation_service",
                "ingest_service",
                "feedback_service",
                "streamlit",
                "reports_app.scheduler",
            ):
                if f"-m {name}" in cmd or (name == "streamlit" and "streamlit run" in cmd):
                    rss[name] = _rss_mb(supervisor_child)
            if "leadrelay up" in cmd:
                rss["supervisor (leadrelay up)"] = _rss_mb(supervisor_child)
    rss["postgres (embedded, all backends)"] = _postgres_rss(home)
    stop(proc)

    proc, warm = start_until_healthy(env)
    stop(proc)

    print(f"import floor (grpc, asyncpg, aiohttp, streamlit): {import_floor:.2f} s")
    print(f"make run → all healthy, fresh data dir:  {cold:.2f} s  ({cold / import_floor:.1f}× the import floor)")
    print(f"make run → all healthy, reused data dir: {warm:.2f} s  ({warm / import_floor:.1f}× the import floor)")
    print("resident memory at idle (MB):")
    for name, mb in sorted(rss.items()):
        print(f"  {name:<36}{mb:8.1f}")
    if args.with_tests:
        t0 = time.perf_counter()
        result = subprocess.run(["make", "--no-print-directory", "test"], cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - t0
        tail = (result.stdout.strip().splitlines() or ["?"])[-1]
        print(f"make test wall time: {took:.1f} s (exit {result.returncode}; {tail})")


if __name__ == "__main__":
    main()
