"""Structured logging: one JSON object per line in production, key=value lines in a terminal.

Context (RPC method, request id, account) is carried in a contextvar and added to every record.
Never log raw email or phone: log the lead id instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

# Never mutated in place: log_context always sets a new dict.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    token = push_context(values)
    try:
        yield
    finally:
        _context.reset(token)


def push_context(values: dict[str, Any]) -> contextvars.Token[dict[str, Any]]:
    """`log_context` without the context manager, for the per-call hot path; undo with `pop_context`."""
    return _context.set({**_context.get(), **values})


def pop_context(token: contextvars.Token[dict[str, Any]]) -> None:
    _context.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
    return {**_context.get(), **extra}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        kv = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = (
            f"{time.strftime('%H:%M:%S', time.localtime(record.created))} "
            f"{record.levelname[:4]:4} {record.name}: {record.getMessage()}"
        )
        if kv:
            line += f"  {kv}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("asyncio", "grpc._cython", "aiohttp.access", "pgserver", "filelock", "fasteners", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
