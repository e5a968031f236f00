"""Database access for the reports app and the scheduler.

Pages read as the read-only role (REPORTS_DATABASE_ROLE): each read is a READ ONLY transaction that
starts with SET LOCAL ROLE, so the role ends with the transaction and a pooled connection goes back
unchanged. Writes (schedules, sign-in) use a plain transaction.

Streamlit runs pages synchronously; the asyncpg pool lives on its own event-loop thread and page
code calls `Database.read(fn, ...)` like a plain function."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import asyncpg

from leadrelay.db import Connection, create_pool, resolve_dsn
from leadrelay.settings import Settings

T = TypeVar("T")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.asynccontextmanager
async def reading(pool: asyncpg.Pool, role: str) -> AsyncIterator[Connection]:
    """A connection inside a read-only transaction, running as `role`."""
    async with pool.acquire() as con, con.transaction(readonly=True):
        await con.execute(f"SET LOCAL ROLE {_quote_ident(role)}")
        yield con


@contextlib.asynccontextmanager
async def writing(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    async with pool.acquire() as con, con.transaction():
        yield con


class Database:
    # Every open one, so a test session can close them all (the app itself keeps one for good).
    instances: ClassVar[set[Database]] = set()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        Database.instances.add(self)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reports-db", daemon=True)
        self._thread.start()
        dsn = resolve_dsn(settings)
        self.pool: asyncpg.Pool = self.run(lambda: create_pool(dsn, settings=settings, min_size=1, max_size=4))

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Runs a coroutine on the database thread's loop and returns its result."""

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    def read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """fn(con, *args) as the read-only role."""

        async def go() -> T:
            async with reading(self.pool, self.settings.reports_database_role) as con:
                return await fn(con, *args)

        return self.run(go)

    def write(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """fn(con, *args) in a transaction as the app's own user (schedules, sign-in)."""

        async def go() -> T:
            async with writing(self.pool) as con:
                return await fn(con, *args)

        return self.run(go)

    def close(self) -> None:
        Database.instances.discard(self)
        self.run(self.pool.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
