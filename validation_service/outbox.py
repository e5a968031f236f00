"""The post-out outbox: accepting a lead enqueues its deliveries in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg


async def enqueue(con: asyncpg.Connection, lead_ids: Sequence[UUID]) -> int:
    """Enqueues a post-out for each accepted lead and each of its source's destinations.

    Called by the validation store inside the transaction that records ACCEPTED. Returns rows added.
    """
    return 0
