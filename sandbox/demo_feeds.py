"""The `make run` demo's lead feeds: per form, a task that makes a lead every few seconds (jittered),
started, replaced or stopped by a control call, and all cancelled when the sandbox stops."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable


class DemoFeeds:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def form_ids(self) -> list[str]:
        """The forms being fed now."""
        return list(self._tasks)

    def set(self, form_id: str, every_seconds: float, make_lead: Callable[[], None]) -> None:
        """Feeds `form_id` with make_lead() every ~every_seconds; 0 or less stops its feed."""
        old = self._tasks.pop(form_id, None)
        if old:
            old.cancel()
        if every_seconds <= 0:
            return

        async def feed() -> None:
            while True:
                await asyncio.sleep(every_seconds * (0.5 + self._rng.random()))
                make_lead()

        self._tasks[form_id] = asyncio.get_running_loop().create_task(feed())

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
