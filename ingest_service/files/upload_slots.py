"""How many uploads (ImportLeads, ReuploadLeads) run at once in this process, capped per account and
in all: each holds a spooled file, the stream's receive buffers (a few MiB each, whatever the
spool) and a share of the file workers until its call ends."""

from __future__ import annotations

import collections
from uuid import UUID


class TooManyUploads(Exception):
    pass


class UploadSlots:
    def __init__(self, per_account: int, total: int) -> None:
        self.per_account = per_account
        self.total = total
        self._running: collections.Counter[UUID] = collections.Counter()
        self._all = 0

    def acquire(self, account_id: UUID) -> None:
        """One slot, held until `release`; TooManyUploads when the account, or everyone, holds them all."""
        if self._running[account_id] >= self.per_account:
            raise TooManyUploads(
                f"this account already runs {self.per_account} uploads at once (LEADRELAY_UPLOADS_PER_ACCOUNT); "
                "retry when one has finished"
            )
        if self._all >= self.total:
            raise TooManyUploads(
                f"the service already runs {self.total} uploads at once (LEADRELAY_UPLOADS_MAX); retry in a moment"
            )
        self._running[account_id] += 1
        self._all += 1

    def release(self, account_id: UUID) -> None:
        self._all -= 1
        self._running[account_id] -= 1
        if self._running[account_id] <= 0:
            del self._running[account_id]
