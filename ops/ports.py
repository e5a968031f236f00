"""The fixed ports `leadrelay up` binds, checked before anything starts: a second `make run` must
refuse to start, not find the first one's servers on those ports and call itself healthy."""

from __future__ import annotations

import errno
import socket

from leadrelay.settings import Settings


def fixed_ports(settings: Settings) -> list[tuple[int, str, str]]:
    """(port, setting, what listens there) for every port the children bind."""
    return [
        (settings.ingest_grpc_port, "INGEST_GRPC_PORT", "ingest gRPC"),
        (settings.ingest_http_port, "INGEST_HTTP_PORT", "ingest HTTP (webhooks)"),
        (settings.validation_grpc_port, "VALIDATION_GRPC_PORT", "validation gRPC"),
        (settings.feedback_grpc_port, "FEEDBACK_GRPC_PORT", "feedback gRPC"),
        (settings.reports_port, "REPORTS_PORT", "reports app"),
        (settings.sandbox_port, "SANDBOX_PORT", "sandbox"),
        (settings.smtp_port, "SMTP_PORT", "sandbox SMTP"),
    ]


def busy_ports(settings: Settings) -> list[tuple[int, str, str]]:
    """The fixed ports something else already listens on (port 0 means any free one: never busy)."""
    return [entry for entry in fixed_ports(settings) if entry[0] and _in_use(settings.host, entry[0])]


def _in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port left in TIME_WAIT by a stopped run is free; a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise RuntimeError(f"cannot bind {host}:{port} to check that it is free: {exc}") from exc
    return False
