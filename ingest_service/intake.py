"""Lead intake: store each lead (raw answers, mapped fields, PROCESSING, `received` event) in one
transaction, then have it judged by ValidationService.ValidateLeads. The one path every channel
uses: SubmitLead(s), platform webhooks, polls and syncs, and file import."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from ingest_service.deps import IngestDeps
from leadrelay.leads import IncomingLead, Outcome


async def submit(deps: IngestDeps, account_id: UUID, leads: Sequence[IncomingLead]) -> list[Outcome]:
    """Stores and judges `leads` (one outcome each, in order). A repeat of a known platform lead id
    returns the first outcome with duplicate=True and changes nothing. If validation cannot be
    reached the leads stay PROCESSING (the sweeper re-drives them) and their outcome says so."""
    raise NotImplementedError("lead intake (capture core) is not built yet")
