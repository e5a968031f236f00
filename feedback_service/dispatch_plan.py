"""Isolating the events Meta refuses. Pure (no I/O).

Meta rejects a whole request for one bad event and does not say reliably which one. A batch answered
with a client error is split in halves, each half sent on its own, until every refused event is alone
in its request (and FAILED with Meta's message) while the rest are sent. Halves are tried left first,
so events still leave in the order they were recorded (Meta wants a lead's earlier stages first).
With k bad events in n, this costs at most about 2·k·log2(n) extra requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


def halves(batch: Sequence[T]) -> tuple[list[T], list[T]]:
    if len(batch) < 2:
        raise ValueError("a batch of fewer than two events cannot be split")
    middle = len(batch) // 2
    return list(batch[:middle]), list(batch[middle:])


@dataclass
class Bisection(Generic[T]):
    """The requests still to make for one batch, and what became of its events."""

    todo: list[list[T]] = field(default_factory=list)
    sent: list[T] = field(default_factory=list)
    failed: list[tuple[T, str]] = field(default_factory=list)
    requests: int = 0

    @classmethod
    def of(cls, batch: Sequence[T]) -> Bisection[T]:
        return cls(todo=[list(batch)] if batch else [])

    def next_batch(self) -> list[T] | None:
        """The next request's events (None when every event is decided)."""
        if not self.todo:
            return None
        self.requests += 1
        return self.todo[-1]

    def accepted(self, batch: list[T]) -> None:
        self._pop(batch)
        self.sent.extend(batch)

    def rejected(self, batch: list[T], message: str) -> None:
        """A client error: a single event is FAILED with the message, a larger batch is split."""
        self._pop(batch)
        if len(batch) == 1:
            self.failed.append((batch[0], message))
            return
        left, right = halves(batch)
        self.todo.append(right)
        self.todo.append(left)

    def undecided(self) -> list[T]:
        """Events not yet sent nor failed (to retry later when the attempt stops early), in order."""
        return [item for batch in reversed(self.todo) for item in batch]

    def _pop(self, batch: list[T]) -> None:
        if not self.todo or self.todo[-1] is not batch:
            raise ValueError("answer for a batch that is not the one being sent")
        self.todo.pop()
