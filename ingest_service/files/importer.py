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
                return batch, await store_batch(deps, account_id, via, batch, resumed=resumed)

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


async def store_batch(
    deps: IngestResources, account_id: UUID, via: str, batch: import_plan.Batch, *, resumed: bool = False
) -> list[tuple[int, Outcome]]:
    """Stores a batch's staged leads already judged (ValidateNewLeads, chunks of JUDGE_CHUNK at once,
    which write them straight into the tables) and returns each row's outcome.

    A row whose (source, platform lead id) is already stored is that lead, with its current outcome,
    as intake gives a repeat: rows carrying a platform's lead id (a platform's download imported
    after the API delivered its leads, or the same file again), and a resumed import's own rows, are
    looked up first and only the others are sent; the same platform id twice in a batch is sent
    once. Whatever is stored meanwhile (a chunk an earlier call left in flight that commits now, a
    webhook delivering the lead) is caught by the same (source, platform lead id) being one lead.
    Rows with platform identity carry it to the lead: its form, context, test flag (judged as a test
    lead, never posted) and submit time."""
    staged = batch.staged
    if not staged:
        return []
    identified = bool(batch.identities) and any(i is not NO_IDENTITY for i in batch.identities)
    found: dict[int, Outcome] = {}
    repeats: set[int] = set()
    if resumed or identified:
        async with deps.pool.acquire() as con:
            stored = await leads_store.known_leads(con, [(s.source_id, s.platform_lead_id) for s in staged])
        first: dict[tuple[UUID, str], int] = {}
        for i, s in enumerate(staged):
            r = stored.get((s.source_id, s.platform_lead_id))
            if r is not None:
                found[i] = _stored_outcome(r, s.platform_lead_id)
            elif first.setdefault((s.source_id, s.platform_lead_id), i) != i:
                repeats.add(i)
    if identified:
        staged = await _with_identity(deps, staged, batch.identities)
    send = [s for i, s in enumerate(staged) if i not in found and i not in repeats]
    chunks = [send[i : i + JUDGE_CHUNK] for i in range(0, len(send), JUDGE_CHUNK)]
    results = iter(
        [o for chunk in await asyncio.gather(*(_judge_new(deps, account_id, via, c) for c in chunks)) for o in chunk]
    )
    outcomes = [found[i] if i in found else None if i in repeats else next(results) for i in range(len(staged))]
    late = [i for i, o in enumerate(outcomes) if o is None or (o.duplicate and i not in found)]
    if late:
        async with deps.pool.acquire() as con:
            known = await leads_store.known_leads(
                con, [(staged[i].source_id, staged[i].platform_lead_id) for i in late]
            )
        for i in late:
            s = staged[i]
            outcomes[i] = _stored_outcome(known[(s.source_id, s.platform_lead_id)], s.platform_lead_id)
    return list(zip(batch.row_numbers, outcomes, strict=True))  # type: ignore[arg-type]  # every None was filled


async def _with_identity(
    deps: IngestResources, staged: Sequence[NewLead], identities: Sequence[lead_identity.Identity]
) -> list[NewLead]:
    """The staged leads with the platform identity their rows carried: the source's form named by
    the platform's form id (or ours), the platform context, the test flag and the submit time."""
    refs = sorted({i.form_ref for i in identities if i.form_ref})
    forms: dict[tuple[UUID, str], UUID] = {}
    if refs:
        async with deps.pool.acquire() as con:
            rows = await sources_store.forms_for_intake(con, list({s.source_id for s in staged}), refs)
        forms = {
            (r["source_id"], ref): r["form_id"] for r in rows for ref in (r["platform_form_id"], str(r["form_id"]))
        }
    out = []
    for s, ident in zip(staged, identities, strict=True):
        if ident is NO_IDENTITY:
            out.append(s)
            continue
        context = {k: v for k, v in (("form_id", ident.form_ref), ("form_name", ident.form_name)) if v}
        out.append(
            s._replace(
                form_id=forms.get((s.source_id, ident.form_ref)) if ident.form_ref else None,
                platform_context=json.dumps(context) if context else "{}",
                is_test=ident.is_test,
                captured_at=ident.captured_at,
            )
        )
    return out


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
    unjudged = leads_store.NewLeads(
        [s.lead_id for s in leads],
        [s.source_id for s in leads],
        [s.form_id for s in leads],
        [s.platform_lead_id for s in leads],
        [s.answers for s in leads],
        [s.fields for s in leads],
        [s.platform_context for s in leads],
        [s.is_test for s in leads],
        [s.captured_at for s in leads],
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
    test lead as a test lead. A row whose platform lead id the source already holds is that lead,
    reported as the real import reports it: already known, with its current outcome."""
    outcomes: dict[int, Outcome] = {}
    pairs = {
        i: (plan.source_id, ident.platform_lead_id)
        for i, ((_record, plan), ident) in enumerate(zip(rows, identities, strict=True))
        if ident.platform_lead_id
    }
    if pairs:
        async with deps.pool.acquire() as con:
            known = await leads_store.known_leads(con, list(pairs.values()))
        for i, pair in pairs.items():
            if pair in known:
                outcomes[i] = _stored_outcome(known[pair], pair[1])
    by_source: dict[UUID, list[int]] = {}
    for i, (_record, plan) in enumerate(rows):
        if i not in outcomes:
            by_source.setdefault(plan.source_id, []).append(i)
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
