"""Background loops owned by a process (sweepers, pollers, workers), started and cancelled together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def background(*loops: Coroutine[Any, Any, None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def every(seconds: float, tick: Callable[[], Awaitable[object]], *, name: str) -> None:
    """Runs tick() every `seconds` until cancelled; a failing tick is logged, never fatal."""
    while True:
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background tick failed", extra={"loop": name})
        await asyncio.sleep(seconds)
