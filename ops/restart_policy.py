"""When the supervisor restarts a child that exited, and when it gives up: plain arithmetic over the
times of the child's crashes, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    # A child that crashes this many times within the window is broken, not unlucky: stop everything.
    max_crashes: int = 5
    window_seconds: float = 60.0
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def recent(self, crashes: Sequence[float], now: float) -> int:
        """How many of the crash times (monotonic seconds) fall within the window before `now`."""
        return sum(1 for t in crashes if now - t < self.window_seconds)

    def delay(self, crashes: Sequence[float], now: float) -> float | None:
        """Seconds to wait before restarting after the latest crash (doubling with each recent one),
        or None: too many crashes within the window, give up."""
        count = self.recent(crashes, now)
        if count >= self.max_crashes:
            return None
        return min(self.first_delay_seconds * 2.0 ** max(count - 1, 0), self.max_delay_seconds)
