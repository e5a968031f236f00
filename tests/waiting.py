"""Waiting on a state in a test: poll until it holds, fail naming it when it never does.

The bound only stops a hang; no test asserts how long anything took."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 20.0, every: float = 0.05, what: str = "condition"
) -> T:
    """Polls check() until it returns something truthy, and returns that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(every)
