"""The sweeper: re-drives leads that are waiting for a judgement.

- PROCESSING leads older than LEADRELAY_SWEEPER_MIN_AGE_SECONDS (validation was unreachable, or the
  process stopped between storing and judging) are sent to ValidateLeads again;
- leads rejected with REJECT_LEAD_SOURCE_DISABLED whose source and form are on again (the re-drive
  at switch-on failed or was interrupted) are judged again.

ValidateLeads locks each lead and never re-judges an ACCEPTED one, so replicas sweeping at once
cannot judge a lead twice into two deliveries.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from uuid import UUID

from ingest_service.capture import validation_client
from ingest_service.resources import IngestResources
from leadrelay.background import every
from leadrelay.capture import leads_store
from leadrelay.capture.leads import PROCESSING

log = logging.getLogger(__name__)

BATCH = 2000  # leads per sweep; the next sweep takes the rest


async def sweep(deps: IngestResources) -> int:
    """One pass; returns how many leads were judged."""
    async with deps.pool.acquire() as con:
        rows = await leads_store.stale_processing(con, deps.settings.sweeper_min_age_seconds, BATCH)
        rows += await leads_store.switched_on_again(con, BATCH)
    by_account: dict[UUID, list[UUID]] = defaultdict(list)
    for r in rows:
        by_account[r["account_id"]].append(r["lead_id"])
    judged = 0
    for account_id, lead_ids in by_account.items():
        outcomes = await validation_client.judge(deps, account_id, list(dict.fromkeys(lead_ids)))
        judged += sum(1 for o in outcomes.values() if o.status != PROCESSING)
    if rows:
        log.info("sweeper re-drove leads", extra={"found": len(rows), "judged": judged})
    return judged


def loop(deps: IngestResources):
    return every(deps.settings.sweeper_interval_seconds, lambda: sweep(deps), name="sweeper")
