"""A server stream followed from a page: the stream runs on the database thread's event loop, and
each message is handed to the page's own thread as it arrives (Streamlit elements are updated only
from the thread running the page), so a progress bar moves while the work goes on."""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from reports_app.database import Database

T = TypeVar("T")


def follow(db: Database, stream: Callable[[], AsyncIterator[T]], show: Callable[[T], None]) -> T | None:
    """Calls show(message) for each message; returns the last one (None if there was none). An
    error of the stream is raised here, after the messages before it were shown."""
    messages: queue.Queue[tuple[str, Any]] = queue.Queue()

    async def pump() -> None:
        async for message in stream():
            messages.put(("message", message))

    def run() -> None:
        try:
            db.run(pump)
            messages.put(("end", None))
        except BaseException as exc:  # handed to the page's thread, which raises it
            messages.put(("error", exc))

    threading.Thread(target=run, name="progress-stream", daemon=True).start()
    last: T | None = None
    while True:
        kind, value = messages.get()
        if kind == "message":
            last = value
            show(value)
        elif kind == "end":
            return last
        else:
            raise value
