"""RevalidateLeads: re-judging the leads a selection picks (source, disposition, a column's value,
received window) under their source's current criteria, without any file.

The selection is the account's REJECTED and PROCESSING leads, oldest first; a call takes at most
MAX_LEADS of them (the page token continues after the last one taken) and judges them in chunks of
CHUNK with judging.judge_stored_leads: each chunk is one judging transaction, the accepted leads are
enqueued for post-out in it, each judged lead gets a `validated` event naming the criteria version.
ACCEPTED leads are never re-judged (one accepted meanwhile is left alone and counted as such).

A preview judges the same leads the same way and writes nothing. Each chunk is judged against the
leads as stored, so the preview and the applied call agree lead for lead -- except when the current
criteria add a duplicate rule that the selection's older judgements never recorded keys for: then a
lead duplicating one in an earlier chunk of the same call counts as accepted in the preview.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

import asyncpg

from leadrelay import paging
from leadrelay.capture import leads_store
from leadrelay.capture.leads import ACCEPTED, Outcome
from validation_service import judging

MAX_LEADS = 10_000
CHUNK = 500
EXAMPLES = 5


@dataclass(frozen=True)
class Selection:
    source_id: UUID | None = None
    disposition_code: str = ""
    column: str = ""
    value: str = ""
    since: datetime | None = None
    until: datetime | None = None
    # The sort key (received_at, lead_id) of the last lead an earlier call took.
    after: tuple[datetime, UUID] | None = None
    max_leads: int = MAX_LEADS
    # These leads only (the console's re-judging of a selection), the other filters still applying.
    lead_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class Example:
    lead_id: UUID
    old_disposition_code: str
    old_custom_reason: str
    status: str
    disposition_code: str
    custom_reason: str


@dataclass
class Tally:
    """What a re-judging reports as it goes. Plain data."""

    preview: bool
    selected: int = 0
    judged: int = 0
    accepted: int = 0
    rejected: int = 0
    left_alone: int = 0
    versions: dict[UUID, int] = field(default_factory=dict)
    accepted_examples: list[Example] = field(default_factory=list)
    rejected_examples: list[Example] = field(default_factory=list)
    done: bool = False
    next_page_token: str = ""

    def add(self, selected: Sequence[asyncpg.Record], judged: judging.StoredJudgement) -> None:
        """Counts a chunk: `selected` are the chunk's rows as selected (their old rejection)."""
        self.versions.update(judged.versions)
        for row, outcome in zip(selected, judged.outcomes, strict=True):
            self.judged += 1
            if row["lead_id"] in judged.left_alone:
                self.left_alone += 1
            elif outcome.status == ACCEPTED:
                self.accepted += 1
                _keep(self.accepted_examples, row, outcome)
            else:
                self.rejected += 1
                _keep(self.rejected_examples, row, outcome)

    def summary(self) -> str:
        verb = "would be accepted" if self.preview else "accepted"
        parts = [
            f"{self.judged} of {self.selected} leads judged",
            f"{self.accepted} {verb}",
            f"{self.rejected} rejected",
        ]
        if self.left_alone:
            parts.append(f"{self.left_alone} left alone (accepted meanwhile)")
        if self.versions:
            parts.append("criteria " + ", ".join(f"v{v}" for v in sorted(set(self.versions.values()))))
        if self.next_page_token:
            parts.append("more leads match: continue with next_page_token")
        return ", ".join(parts)

    def snapshot(self) -> Tally:
        return replace(
            self,
            versions=dict(self.versions),
            accepted_examples=list(self.accepted_examples),
            rejected_examples=list(self.rejected_examples),
        )


def _keep(examples: list[Example], row: asyncpg.Record, outcome: Outcome) -> None:
    if len(examples) < EXAMPLES:
        examples.append(
            Example(
                row["lead_id"],
                row["disposition_code"],
                row["custom_reason"],
                outcome.status,
                outcome.disposition_code,
                outcome.custom_reason,
            )
        )


async def revalidate(
    pool: asyncpg.Pool,
    cache: judging.CriteriaCache,
    account_id: UUID,
    selection: Selection,
    *,
    preview: bool,
    actor: str = "",
) -> AsyncIterator[Tally]:
    """Progress after the selection and after each chunk; the last snapshot has done=True. `actor`:
    who asked (each `validated` event names them)."""
    async with pool.acquire() as con:
        rows = await leads_store.revalidation_page(
            con,
            account_id,
            source_id=selection.source_id,
            disposition_code=selection.disposition_code,
            column=selection.column,
            value=selection.value,
            since=selection.since,
            until=selection.until,
            after=selection.after,
            limit=selection.max_leads + 1,
            lead_ids=selection.lead_ids,
        )
    tally = Tally(preview=preview)
    if len(rows) > selection.max_leads:
        rows = rows[: selection.max_leads]
        tally.next_page_token = paging.encode(rows[-1]["received_at"], rows[-1]["lead_id"])
    tally.selected = len(rows)
    yield tally.snapshot()
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        judged = await judging.judge_stored_leads(
            pool, cache, account_id, [r["lead_id"] for r in chunk], record=not preview, actor=actor
        )
        tally.add(chunk, judged)
        if i + CHUNK < len(rows):
            yield tally.snapshot()
    tally.done = True
    yield tally.snapshot()
