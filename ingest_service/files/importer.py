"""Batch import of a CSV or XLSX file into one source (or several, named per row in a `source_id` /
`flow_id` column).

How rows become leads: each file column is matched to one of the source's mapped columns
(header_match), and a row becomes an IncomingLead whose answers are named after the *form field*
that column's mapping row reads (for the usual 1:1 mapping, the column's own name), so the source's
mapping turns them back into exactly those columns and the raw answers keep what the file said.
Columns whose mapping row is a constant or the catch-all cannot be fed from a file. A source with no
mapping at all takes every header as a column of its own name. Empty cells are not sent.

Every row is stored (rejected ones too, with their reasons) as a lead of platform lead id
`import:<import id>:<row>` -- so the same import is never stored twice -- by the bulk path, which
stores exactly what intake.submit would (same mapping, same columns, same `received` event) at file
speed: a worker thread parses and maps a batch of BATCH_ROWS rows (import_rows.RowMapper, intake's
mapping.apply), and ValidationService.ValidateNewLeads judges each chunk of JUDGE_CHUNK leads and
stores it already judged, with its `received` and `validated` events and its post-out enqueue, in
one transaction: each lead is written once, instead of stored PROCESSING and then rewritten (which
cost half the import's time). IN_FLIGHT batches overlap, and each finished batch is one progress
message, in file order. If the validation service cannot take a chunk, its leads are stored
PROCESSING by intake's own insert (leads_store.insert_received), and the sweeper has them judged later.
A dry run maps and judges the rows with ValidationService.EvaluateLeads and stores nothing.

A crash or a cancelled call leaves an import interrupted, never doubled: the same file sent again
(with its import id, or found by its fingerprint: import_claim) is the same import with the same
lead ids, and each batch of a resumed import first looks up which of its rows are already stored.
What is pure (the plan per source, the batches) is import_plan; the calls are validation_client's.

The file is checked whole before anything is stored (upload_file.scan): a structural error refuses
the import with the row and column named, and nothing is stored. Per-row problems found while
storing (a row naming a source that does not exist or is another account's) are reported as errored
rows; the other rows are imported.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import BinaryIO
from uuid import UUID

import asyncpg

from ingest_service.capture import intake, validation_client
from ingest_service.capture.validation_client import NewLead
from ingest_service.files import import_claim, import_plan, imports_store, lead_identity, upload_file
from ingest_service.files.csv_reader import Record, column_letter
from ingest_service.files.file_budget import Budget
from ingest_service.files.file_report import FailedRow, FailureLog, Progress, closing_messages
from ingest_service.files.import_rows import RowMapper
from ingest_service.resources import IngestResources
from leadrelay.capture import leads_store, mapping, sources_store
from leadrelay.capture.leads import ACCEPTED, PROCESSING, REJECTED, Outcome
from leadrelay.db import Connection
from leadrelay.errors import InvalidArgument
from leadrelay.ids import as_id
from leadrelay.ownership import check_owner

log = logging.getLogger(__name__)

# Rows per batch: parsed and mapped together in a worker thread; one progress message each.
BATCH_ROWS = 10_000
# Leads per ValidateNewLeads call, a batch's calls all at once: the validation service's Python work
# on one call overlaps the database work of the others.
JUDGE_CHUNK = 2500
# Batches being stored/judged at once: parsing, storing and judging overlap.
IN_FLIGHT = 3
NO_IDENTITY = lead_identity.Identity()


async def load_sources(
    con: Connection, account_id: UUID, source_ids: Sequence[UUID]
) -> tuple[dict[UUID, tuple[mapping.MappingRow, ...]], dict[UUID, str]]:
    """The mapping of each of the account's sources; and why each other id cannot be used."""
    found = {
        r["source_id"]: (r["account_id"], mapping.from_json(r["default_mapping"]))
        for r in await sources_store.sources_for_intake(con, source_ids)
    }
    return import_plan.usable_sources(account_id, source_ids, found)


async def run_import(
    deps: IngestResources, account_id: UUID, request: import_plan.ImportRequest, file: BinaryIO, budget: Budget
) -> AsyncIterator[Progress]:
    settings = deps.settings
    if not request.multi_source:
        if request.source_id is None:
            raise InvalidArgument("spec.source_id", "name the source, or set multi_source")
        async with deps.pool.acquire() as con:
            usable, refused = await load_sources(con, account_id, [request.source_id])
        if request.source_id in refused:
            async with deps.pool.acquire() as con:
                owner = await sources_store.source_account(con, request.source_id)
            check_owner("source", request.source_id, owner, account_id)

    source_values: set[str] = set()
    source_index: list[int] = []

    def visit(record: Record) -> None:
        if source_index:
            source_values.add(record.fields[source_index[0]].strip())

    def scan() -> upload_file.Table:
        return upload_file.scan(
            file,
            fmt=request.format,
            has_header=request.has_header,
            max_rows=settings.import_max_rows,
            visit=visit,
            budget=budget,
        )

    if request.multi_source:
        if not request.has_header:
            raise InvalidArgument("spec.has_header", "a file for several sources needs a header row")
        header = await deps.in_file_worker(lambda: upload_file.read_header(file, request.format, budget))
        source_index.append(import_plan.file_error(lambda: import_plan.source_column_index(header)))
    table = await deps.in_file_worker(lambda: import_plan.file_error(scan))

    plans: dict[UUID, import_plan.SourcePlan] = {}
    row_errors: dict[str, str] = {}
    if request.multi_source:
        ids: dict[str, UUID] = {}
        for value in source_values:
            sid = as_id(value)
            if sid is None:
                row_errors[value] = f"{value!r} is not a source id" if value else "the source id is empty"
            else:
                ids[value] = sid
        async with deps.pool.acquire() as con:
            usable, refused = await load_sources(con, account_id, list(set(ids.values())))
        for value, sid in ids.items():
            if sid in refused:
                row_errors[value] = refused[sid]
        for sid, rows in usable.items():
            plans[sid] = import_plan.file_error(
                lambda sid=sid, rows=rows: import_plan.plan_source(  # type: ignore[misc]  # defaults bind the loop variables
                    sid,
                    rows,
                    table,
                    request.overrides,
                    skip=source_index,
                    strict=False,
                    unmatched=request.unmatched,
                    trim=request.trim,
                )
            )
        import_plan.check_union(table, plans, source_index[0])
        by_value = {value: plans[sid] for value, sid in ids.items() if sid in plans}
    else:
        assert request.source_id is not None
        sid = request.source_id
        plans[sid] = import_plan.file_error(
            lambda: import_plan.plan_source(
                sid, usable[sid], table, request.overrides, unmatched=request.unmatched, trim=request.trim
            )
        )
        by_value = {}

    if request.dry_run:
        import_id, resumed = uuid.uuid4(), False
        claim: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
    else:
        import_id, resumed = await import_claim.claim_import(
            deps.pool,
            account_id,
            request.import_id,
            import_plan.fingerprint(request),
            request.source_id,
            request.file_name,
            settings.import_lease_seconds,
            request.actor,
        )
        claim = import_claim.held(deps.pool, import_id, settings.import_lease_seconds)
    progress = Progress(
        import_id=str(import_id),
        dry_run=request.dry_run,
        resumed=resumed,
        footer_rows=list(table.footer_rows),
        rows_total=table.data_rows,
    )
    outside = {(u.index, u.header, u.use) for plan in plans.values() for u in plan.outside}
    columns_outside = [(column_letter(i + 1), h, u) for i, h, u in sorted(outside)]
    fed = {(u.index, u.header, u.use) for plan in plans.values() for u in plan.matched}
    columns_matched = [(column_letter(i + 1), h, u) for i, h, u in sorted(fed)]
    failures = FailureLog()
    pending: collections.deque[asyncio.Task[tuple[import_plan.Batch, list[tuple[int, Outcome]]]]] = collections.deque()
    async with claim:
        try:
            opening = f"{table.data_rows} rows to {'check' if request.dry_run else 'import'}"
            if columns_outside:
                uses = "; ".join(f"{c} ({h}): {u}" for c, h, u in columns_outside)
                opening += f"; columns outside the source's: {uses}"
            yield progress.snapshot(
                message=opening,
                columns_outside=columns_outside,
                columns_matched=columns_matched,
                rows_total=table.data_rows,
            )

            rows_iter = upload_file.rows(file, table, budget)
            single = plans[request.source_id] if request.source_id in plans else None
            mappers = {sid: RowMapper(plan.answer_names, plan.rows) for sid, plan in plans.items()}
            via = f"import {import_id}"

            def read_batch() -> import_plan.Batch:
                """The next BATCH_ROWS rows: those that cannot be stored, and the rest -- mapped and
                staged for ValidateNewLeads on a real run (in a worker thread: this is the CPU-heavy part)."""
                batch = import_plan.Batch()
                ids = intake.new_lead_ids(BATCH_ROWS) if not request.dry_run else []
                for record in rows_iter:
                    batch.read += 1
                    plan = single
                    if plan is None:
                        value = record.fields[source_index[0]].strip()
                        plan = by_value.get(value)
                        if plan is None:
                            column = table.headers[source_index[0]]
                            batch.errored.append(
                                (record.row, column, row_errors.get(value, f"source {value!r} cannot be used"))
                            )
                    identity = NO_IDENTITY
                    if plan is not None and plan.identity:
                        try:
                            identity = lead_identity.read(plan.identity, record.fields)
                        except lead_identity.IdentityError as bad:
                            batch.errored.append((record.row, table.headers[plan.identity[bad.use]], str(bad)))
                            plan = None
                    if plan is not None:
                        if request.dry_run:
                            batch.rows.append((record, plan))
                            batch.identities.append(identity)
                        else:
                            row_values = import_plan.values(plan, record.fields)
                            answers, fields = mappers[plan.source_id](row_values)
                            lead_id = ids[len(batch.staged)]
                            platform_lead_id = identity.platform_lead_id or f"import:{import_id}:{record.row}"
                            batch.staged.append(NewLead(lead_id, plan.source_id, platform_lead_id, answers, fields))
                            batch.identities.append(identity)
                            batch.row_numbers.append(record.row)
                    if batch.read >= BATCH_ROWS:
                        break
                return batch

            async def work(batch: import_plan.Batch) -> tuple[import_plan.Batch, list[tuple[int, Outcome]]]:
                if request.dry_run:
                    outcomes = await judge_dry_run(deps, account_id, batch.rows, batch.identities)
                    return batch, [(r.row, o) for (r, _p), o in zip(batch.rows, outcomes, strict=True)]
                if any(plan.identity for plan in plans.values()):
                    return batch, await store_with_identity(deps, account_id, via, batch)
                return batch, await store_and_judge(deps, account_id, via, batch, resumed=resumed)

            exhausted = False
            while True:
                while not exhausted and len(pending) < IN_FLIGHT:
                    batch = await deps.in_file_worker(read_batch)
                    if not batch.read:
                        exhausted = True
                        break
                    pending.append(asyncio.create_task(work(batch)))
                if not pending:
                    break
                batch, judged = await pending.popleft()
                progress.rows_read += batch.read
                for row, column, reason in batch.errored:
                    progress.rows_errored += 1
                    failures.add(FailedRow(row, "", column, "", reason))
                for row, outcome in judged:
                    _count(progress, failures, row, outcome)
                if not request.dry_run:
                    async with deps.pool.acquire() as con:
                        await imports_store.record_progress(con, import_id, progress)
                yield progress.snapshot(message=progress.summary())
            if not request.dry_run:
                async with deps.pool.acquire() as con:
                    await imports_store.record_end(con, import_id, progress)
            for message in closing_messages(progress, failures):
                yield message
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            failures.close()


async def store_and_judge(
    deps: IngestResources, account_id: UUID, via: str, batch: import_plan.Batch, *, resumed: bool = False
) -> list[tuple[int, Outcome]]:
    """Stores a batch's staged leads already judged (ValidateNewLeads, chunks of JUDGE_CHUNK at once)
    and returns each row's outcome. A row whose platform lead id is already stored (the same import
    id again) gets that lead's current outcome, as intake gives a repeat: a resumed import looks its
    rows up first and sends only the others; a chunk an earlier call left in flight that commits
    meanwhile is caught by the same (source, platform lead id) being one lead."""
    if not batch.staged:
        return []
    found: dict[int, Outcome] = {}
    if resumed:
        async with deps.pool.acquire() as con:
            stored = await leads_store.known_leads(con, [(s.source_id, s.platform_lead_id) for s in batch.staged])
        for i, s in enumerate(batch.staged):
            r = stored.get((s.source_id, s.platform_lead_id))
            if r is not None:
                found[i] = _stored_outcome(r, s.platform_lead_id)
    send = [s for i, s in enumerate(batch.staged) if i not in found]
    chunks = [send[i : i + JUDGE_CHUNK] for i in range(0, len(send), JUDGE_CHUNK)]
    results = iter(
        [o for chunk in await asyncio.gather(*(_judge_new(deps, account_id, via, c) for c in chunks)) for o in chunk]
    )
    outcomes = [found[i] if i in found else next(results) for i in range(len(batch.staged))]
    repeats = [
        (s.source_id, s.platform_lead_id)
        for i, (s, o) in enumerate(zip(batch.staged, outcomes, strict=True))
        if o.duplicate and i not in found
    ]
    if repeats:
        async with deps.pool.acquire() as con:
            known = await leads_store.known_leads(con, repeats)
        for i, (staged, o) in enumerate(zip(batch.staged, outcomes, strict=True)):
            if o.duplicate and i not in found:
                outcomes[i] = _stored_outcome(
                    known[(staged.source_id, staged.platform_lead_id)], staged.platform_lead_id
                )
    return list(zip(batch.row_numbers, outcomes, strict=True))


async def store_with_identity(
    deps: IngestResources, account_id: UUID, via: str, batch: import_plan.Batch
) -> list[tuple[int, Outcome]]:
    """A batch whose rows carry platform identity (lead id, submit time, test flag, form): stored by
    intake's own insert, which keeps captured_at, is_test and the context, then judged by
    ValidateLeads (so a test lead is judged and never posted, as intake does). A row whose (source,
    platform lead id) the source already holds -- a platform's download imported after the API
    delivered its leads, or the same file again -- is that lead, with its current outcome."""
    if not batch.staged:
        return []
    staged = batch.staged
    refs = sorted({i.form_ref for i in batch.identities if i.form_ref})
    async with deps.pool.acquire() as con:
        known = await leads_store.known_leads(con, [(s.source_id, s.platform_lead_id) for s in staged])
        forms = {
            (r["source_id"], ref): r["form_id"]
            for r in (
                await sources_store.forms_for_intake(con, list({s.source_id for s in staged}), refs) if refs else []
            )
            for ref in (r["platform_form_id"], str(r["form_id"]))
        }
    new = [i for i, s in enumerate(staged) if (s.source_id, s.platform_lead_id) not in known]
    contexts = [
        json.dumps({k: v for k, v in (("form_id", ident.form_ref), ("form_name", ident.form_name)) if v})
        for ident in (batch.identities[i] for i in new)
    ]
    unjudged = leads_store.NewLeads(
        [staged[i].lead_id for i in new],
        [staged[i].source_id for i in new],
        [forms.get((staged[i].source_id, batch.identities[i].form_ref)) for i in new],
        [staged[i].platform_lead_id for i in new],
        [staged[i].answers for i in new],
        [staged[i].fields for i in new],
        contexts,
        [batch.identities[i].is_test for i in new],
        [batch.identities[i].captured_at for i in new],
    )
    async with deps.pool.acquire() as con:
        inserted = await leads_store.insert_received(con, account_id, unjudged, via)
    judged = await validation_client.judge(deps, account_id, sorted(inserted), with_fields=False)
    late = [(s.source_id, s.platform_lead_id) for s in staged if s.lead_id not in inserted]
    if late:
        async with deps.pool.acquire() as con:
            known.update(await leads_store.known_leads(con, late))
    outcomes = []
    for row, s in zip(batch.row_numbers, staged, strict=True):
        if s.lead_id in judged:
            outcomes.append((row, judged[s.lead_id]))
        else:
            r = known[(s.source_id, s.platform_lead_id)]
            outcomes.append((row, _stored_outcome(r, s.platform_lead_id)))
    return outcomes


def _stored_outcome(r: asyncpg.Record, platform_lead_id: str) -> Outcome:
    return Outcome(r["lead_id"], platform_lead_id, r["status"], r["disposition_code"], r["custom_reason"], True)


async def _judge_new(deps: IngestResources, account_id: UUID, via: str, leads: Sequence[NewLead]) -> list[Outcome]:
    """One ValidateNewLeads call. If the validation service cannot take it (down, overloaded, an
    error), the leads are stored PROCESSING instead, as intake stores them, so nothing is lost and the sweeper
    has them judged later; a chunk the service did store before failing to answer is not stored
    twice (the same (source, platform lead id) is one lead)."""
    try:
        return await validation_client.judge_new(deps, account_id, via, leads)
    except validation_client.NotJudged as exc:
        reason = exc.reason
    n = len(leads)
    unjudged = leads_store.NewLeads(
        [s.lead_id for s in leads],
        [s.source_id for s in leads],
        [None] * n,
        [s.platform_lead_id for s in leads],
        [s.answers for s in leads],
        [s.fields for s in leads],
        ["{}"] * n,
        [False] * n,
        [None] * n,
    )
    async with deps.pool.acquire() as con:
        inserted = await leads_store.insert_received(con, account_id, unjudged, via)
    return [
        Outcome(s.lead_id, s.platform_lead_id, PROCESSING, "", reason)
        if s.lead_id in inserted
        else Outcome(s.lead_id, s.platform_lead_id, "", "", "", True)
        for s in leads
    ]


def _count(progress: Progress, failures: FailureLog, row: int, outcome: Outcome) -> None:
    lead_id = str(outcome.lead_id) if outcome.lead_id else ""
    if outcome.duplicate:
        # An import's own lead ids are met again only when it resumes; a platform's ids are leads
        # the source already had.
        if outcome.platform_lead_id.startswith("import:"):
            progress.rows_already_stored += 1
        else:
            progress.rows_known += 1
    if outcome.status == ACCEPTED:
        progress.rows_accepted += 1
    elif outcome.status == REJECTED:
        progress.rows_rejected += 1
        failures.add(FailedRow(row, lead_id, "", outcome.disposition_code, outcome.custom_reason))
    else:
        progress.rows_waiting += 1


async def judge_dry_run(
    deps: IngestResources,
    account_id: UUID,
    rows: Sequence[tuple[Record, import_plan.SourcePlan]],
    identities: Sequence[lead_identity.Identity],
) -> list[Outcome]:
    """Dry run: map the rows as intake would and judge them with EvaluateLeads (nothing stored), a
    test lead as a test lead."""
    by_source: dict[UUID, list[int]] = {}
    for i, (_record, plan) in enumerate(rows):
        by_source.setdefault(plan.source_id, []).append(i)
    outcomes: dict[int, Outcome] = {}
    for sid, indexes in by_source.items():
        fields = []
        for i in indexes:
            record, plan = rows[i]
            lead = import_plan.lead_for_row(plan, record, "")
            fields.append(mapping.apply(lead.answers, plan.rows))
        is_test = [identities[i].is_test for i in indexes]
        judged = await validation_client.judge_fields(deps, account_id, sid, fields, is_test)
        for i, o in zip(indexes, judged, strict=True):
            outcomes[i] = o
    return [outcomes[i] for i in range(len(rows))]
