"""The asyncpg pool: where the database is, how to reach it, and the codecs every connection gets."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from leadrelay import embedded_pg
from leadrelay.settings import Settings

# What SQL functions take: a connection of their own or one lent by the pool (`pool.acquire()`), which
# behaves the same but is another class to a type checker.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class DatabaseUnavailable(RuntimeError):
    """The database named by a setting cannot be reached; the message names the setting."""


# What a lost or refused database connection raises, as opposed to an error in a statement: a
# polling loop waits these out (saying so once) instead of logging a traceback per poll.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def resolve_dsn(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server under LEADRELAY_HOME (started if needed)."""
    if settings.database_url:
        return settings.database_url
    return embedded_pg.start(settings.home_path / "pgdata")


async def init_connection(con: asyncpg.Connection) -> None:
    # json/jsonb columns come and go as Python values. jsonb in binary (a version byte, then the
    # text) so that bulk writers can COPY it in binary; `bytes` are JSON text already (see _jsonb_out).
    await con.set_type_codec("json", encoder=_dumps, decoder=json.loads, schema="pg_catalog", format="text")
    await con.set_type_codec("jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


_JSONB_VERSION = b"\x01"


def _jsonb_out(value: Any) -> bytes:
    """A Python value as jsonb; bytes are taken as UTF-8 JSON text as it is (a bulk writer's
    answers and fields, encoded once by their producer and checked by the server)."""
    if type(value) is bytes:
        return _JSONB_VERSION + value
    return _JSONB_VERSION + _dumps(value).encode()


def _jsonb_in(data: bytes) -> Any:
    # orjson: a claimed batch decodes each lead's fields (a few times faster than json). jsonb holds
    # numbers of any size; orjson refuses integers beyond 64 bits, which json reads.
    try:
        return orjson.loads(data[1:])
    except orjson.JSONDecodeError:
        return json.loads(data[1:])


async def connect(dsn: str, *, settings: Settings | None = None, connect_timeout: float = 10.0) -> asyncpg.Connection:
    try:
        con = await asyncpg.connect(dsn, timeout=connect_timeout)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(_unreachable(dsn, settings, exc)) from exc
    await init_connection(con)
    return con


async def create_pool(
    dsn: str, *, settings: Settings | None = None, min_size: int | None = None, max_size: int | None = None
) -> asyncpg.Pool:
    s = settings or Settings()
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=s.db_pool_min if min_size is None else min_size,
            max_size=s.db_pool_max if max_size is None else max_size,
            init=init_connection,
            timeout=10.0,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(_unreachable(dsn, settings, exc)) from exc
    assert pool is not None
    return pool


def _unreachable(dsn: str, settings: Settings | None, exc: BaseException) -> str:
    where = "DATABASE_URL" if settings is None or settings.database_url else "the embedded PostgreSQL"
    return f"cannot reach the database at {redact_dsn(dsn)} ({where}): {type(exc).__name__}: {exc}"


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    if "://" not in dsn or "@" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else dsn
