"""The embedded PostgreSQL default: a server from the pgserver wheel, so a fresh machine needs no
database install. Several processes pointing at the same data directory share one server; a crashed
run's server is reused if it still runs, and restarted if it left only a stale postmaster.pid."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def start(data_dir: Path, *, stop_on_exit: bool = True) -> str:
    """Starts (or reuses) the server for data_dir and returns its DSN (a Unix socket, no TCP port).

    With stop_on_exit, the server stops when the last process that asked for it exits.
    """
    import pgserver  # imported here: only the embedded path needs it

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(data_dir, cleanup_mode="stop" if stop_on_exit else None)
    except Exception as exc:  # pgserver raises bare CalledProcessError/AssertionError
        log_file = data_dir / "log"
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise RuntimeError(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}\n{tail}\n"
            "Set DATABASE_URL to use another server, or remove the directory to start afresh."
        ) from exc
    dsn = server.get_uri()
    log.info("embedded postgres ready", extra={"data_dir": str(data_dir)})
    return dsn
