"""Streamlit runs pages synchronously; the asyncpg pool lives on its own event-loop thread and page
code calls `Database.fetch` like a plain function."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from leadrelay.db import create_pool, resolve_dsn
from leadrelay.settings import Settings

T = TypeVar("T")


class Database:
    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reports-db", daemon=True)
        self._thread.start()
        dsn = resolve_dsn(settings)
        self.pool: asyncpg.Pool = self.run(lambda: create_pool(dsn, settings=settings, min_size=1, max_size=4))

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            async with self.pool.acquire() as con:
                return [dict(r) for r in await con.fetch(sql, *args)]

        return self.run(go)

    def close(self) -> None:
        self.run(self.pool.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
