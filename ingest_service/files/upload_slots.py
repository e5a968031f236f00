"""How many uploads (ImportLeads, ReuploadLeads) each account runs at once in this process, capped:
each holds a spooled file and a share of the file workers until its call ends."""

from __future__ import annotations

import collections
from uuid import UUID


class TooManyUploads(Exception):
    pass


class UploadSlots:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._running: collections.Counter[UUID] = collections.Counter()

    def acquire(self, account_id: UUID) -> None:
        """One slot, held until `release`; TooManyUploads when the account holds them all."""
        if self._running[account_id] >= self.cap:
            raise TooManyUploads(
                f"this account already runs {self.cap} uploads at once (LEADRELAY_UPLOADS_PER_ACCOUNT); "
                "retry when one has finished"
            )
        self._running[account_id] += 1

    def release(self, account_id: UUID) -> None:
        self._running[account_id] -= 1
        if self._running[account_id] <= 0:
            del self._running[account_id]
