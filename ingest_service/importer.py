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

The file is checked whole before anything is stored (upload_file.scan): a structural error refuses
the import with the row and column named, and nothing is stored. Per-row problems found while
storing (a row naming a source that does not exist or is another account's) are reported as errored
rows; the other rows are imported.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO
from uuid import UUID

import asyncpg
import grpc

from ingest_service import intake, upload_file
from ingest_service.csv_reader import CsvError, Record
from ingest_service.deps import IngestDeps
from ingest_service.file_report import FailedRow, FailureLog, Progress, closing_messages
from ingest_service.header_match import HeaderError, Override, match_headers, normalise, positional
from ingest_service.import_rows import RowMapper
from leadrelay import clients
from leadrelay.capture import leads_store, mapping, sources_store
from leadrelay.capture.leads import ACCEPTED, PROCESSING, REJECTED, Answer, IncomingLead, Outcome
from leadrelay.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from leadrelay.ownership import check_owner
from leadrelay.protoconv import LEAD_STATUS_NAME
from leadrelay.v1 import validation_pb2

log = logging.getLogger(__name__)

SOURCE_HEADERS = frozenset({"sourceid", "flowid"})
# Rows per batch: parsed and mapped together in a worker thread; one progress message each.
BATCH_ROWS = 10_000
# Leads per ValidateNewLeads call, a batch's calls all at once: the validation service's Python work
# on one call overlaps the database work of the others.
JUDGE_CHUNK = 2500
# Batches being stored/judged at once: parsing, storing and judging overlap.
IN_FLIGHT = 3


@dataclass(frozen=True)
class ImportRequest:
    source_id: UUID | None
    multi_source: bool = False
    has_header: bool = True
    overrides: tuple[Override, ...] = ()
    format: str = ""
    dry_run: bool = False
    file_name: str = ""


@dataclass(frozen=True)
class SourcePlan:
    """How one source's rows are read: per file column, the answer name it becomes (or None)."""

    source_id: UUID
    answer_names: list[str | None]
    rows: tuple[mapping.MappingRow, ...]


def answer_targets(rows: Sequence[mapping.MappingRow]) -> dict[str, str]:
    """Source column -> the form field whose answer fills it, for the columns a file can feed."""
    return {r.column: r.form_field for r in rows if r.form_field is not None}


def plan_source(
    source_id: UUID,
    rows: Sequence[mapping.MappingRow],
    table: upload_file.Table,
    overrides: Sequence[Override],
    *,
    skip: Sequence[int] = (),
    strict: bool = True,
) -> SourcePlan:
    """Pure: the file columns -> answer names for one source (errors name row 1 and the column)."""
    if not rows:
        # No mapping: every answer is a column of its own name; overrides rename.
        names: list[str | None] = [h or None for h in table.headers]
        for i in skip:
            names[i] = None
        for o in overrides:
            index = (
                o.position - 1
                if o.position
                else next((i for i, h in enumerate(table.headers) if normalise(h) == normalise(o.header)), -1)
            )
            if 0 <= index < len(names):
                names[index] = o.column or None
        if not table.header_row and not overrides:
            raise HeaderError(1, "", "the source has no mapping, so a file without a header row needs a column mapping")
        return SourcePlan(source_id, names, tuple(rows))
    targets = answer_targets(rows)
    columns = list(targets)
    if table.header_row:
        matched = match_headers(table.headers, columns, overrides, skip=skip, row=table.header_row, strict=strict)
    else:
        matched = positional(table.width, columns, overrides)
    return SourcePlan(source_id, [targets[c] if c else None for c in matched], tuple(rows))


def lead_for_row(plan: SourcePlan, record: Record, platform_lead_id: str) -> IncomingLead:
    answers = tuple(
        Answer(name, (value,)) for name, value in zip(plan.answer_names, record.fields, strict=True) if name and value
    )
    return IncomingLead(source_id=plan.source_id, answers=answers, platform_lead_id=platform_lead_id)


def source_column_index(table: upload_file.Table) -> int:
    for i, header in enumerate(table.headers):
        if normalise(header) in SOURCE_HEADERS:
            return i
    raise HeaderError(0, "", "a file for several sources needs a source_id (or flow_id) column", table.header_row or 1)


async def load_sources(
    con: asyncpg.Connection, account_id: UUID, source_ids: Sequence[UUID]
) -> tuple[dict[UUID, tuple[mapping.MappingRow, ...]], dict[UUID, str]]:
    """The mapping of each of the account's sources; and why each other id cannot be used."""
    found = {r["source_id"]: r for r in await sources_store.sources_for_intake(con, source_ids)}
    usable: dict[UUID, tuple[mapping.MappingRow, ...]] = {}
    refused: dict[UUID, str] = {}
    for sid in source_ids:
        row = found.get(sid)
        try:
            check_owner("source", sid, row["account_id"] if row else None, account_id)
        except (NotFound, PermissionDenied) as refusal:
            refused[sid] = str(refusal)
        else:
            usable[sid] = mapping.from_json(row["default_mapping"])
    return usable, refused


async def run_import(
    deps: IngestDeps, account_id: UUID, request: ImportRequest, file: BinaryIO
) -> AsyncIterator[Progress]:
    settings = deps.settings
    if not request.multi_source:
        if request.source_id is None:
            raise InvalidArgument("spec.source_id", "name the source, or set multi_source")
        async with deps.pool.acquire() as con:
            usable, refused = await load_sources(con, account_id, [request.source_id])
        if request.source_id in refused:
            found = await _owner(deps, request.source_id)
            raise (NotFound if found is None else PermissionDenied)("source", str(request.source_id))

    source_values: set[str] = set()
    source_index: list[int] = []

    def visit(record: Record) -> None:
        if source_index:
            source_values.add(record.fields[source_index[0]].strip())

    def scan() -> upload_file.Table:
        return upload_file.scan(
            file, fmt=request.format, has_header=request.has_header, max_rows=settings.import_max_rows, visit=visit
        )

    if request.multi_source:
        if not request.has_header:
            raise InvalidArgument("spec.has_header", "a file for several sources needs a header row")
        header = await asyncio.to_thread(_header_only, file, request.format)
        source_index.append(_file_error(lambda: source_column_index(header)))
    table = await asyncio.to_thread(lambda: _file_error(scan))

    plans: dict[UUID, SourcePlan] = {}
    row_errors: dict[str, str] = {}
    if request.multi_source:
        ids: dict[str, UUID] = {}
        for value in source_values:
            try:
                ids[value] = UUID(value)
            except ValueError:
                row_errors[value] = f"{value!r} is not a source id" if value else "the source id is empty"
        async with deps.pool.acquire() as con:
            usable, refused = await load_sources(con, account_id, list(set(ids.values())))
        for value, sid in ids.items():
            if sid in refused:
                row_errors[value] = refused[sid]
        for sid, rows in usable.items():
            plans[sid] = _file_error(
                lambda sid=sid, rows=rows: plan_source(
                    sid, rows, table, request.overrides, skip=source_index, strict=False
                )
            )
        _check_union(table, plans, source_index[0])
        by_value = {value: plans[sid] for value, sid in ids.items() if sid in plans}
    else:
        assert request.source_id is not None
        sid = request.source_id
        plans[sid] = _file_error(lambda: plan_source(sid, usable[sid], table, request.overrides))
        by_value = {}

    import_id = uuid.uuid4()
    progress = Progress(import_id=str(import_id), dry_run=request.dry_run)
    failures = FailureLog()
    try:
        if not request.dry_run:
            async with deps.pool.acquire() as con:
                await record_start(con, import_id, account_id, request, "import")
        yield progress.snapshot(message=f"{table.data_rows} rows to {'check' if request.dry_run else 'import'}")

        rows_iter = upload_file.rows(file, table)
        single = plans[request.source_id] if request.source_id in plans else None
        mappers = {sid: RowMapper(plan.answer_names, plan.rows) for sid, plan in plans.items()}
        via = f"import {import_id}"

        def read_batch() -> Batch:
            """The next BATCH_ROWS rows: those that cannot be stored, and the rest -- mapped and
            staged for ValidateNewLeads on a real run (in a worker thread: this is the CPU-heavy part)."""
            batch = Batch()
            ids = intake.new_lead_ids(BATCH_ROWS) if not request.dry_run else []
            for record in rows_iter:
                batch.read += 1
                plan = single
                if plan is None:
                    value = record.fields[source_index[0]].strip()
                    plan = by_value.get(value)
                    if plan is None:
                        batch.errored.append((record.row, row_errors.get(value, f"source {value!r} cannot be used")))
                if plan is not None:
                    if request.dry_run:
                        batch.rows.append((record, plan))
                    else:
                        answers, fields = mappers[plan.source_id](record.fields)
                        lead_id = ids[len(batch.staged)]
                        platform_lead_id = f"import:{import_id}:{record.row}"
                        batch.staged.append((lead_id, plan.source_id, platform_lead_id, answers, fields))
                        batch.row_numbers.append(record.row)
                if batch.read >= BATCH_ROWS:
                    break
            return batch

        async def work(batch: Batch) -> tuple[Batch, list[tuple[int, Outcome]]]:
            if request.dry_run:
                outcomes = await evaluate(deps, account_id, batch.rows)
                return batch, [(r.row, o) for (r, _p), o in zip(batch.rows, outcomes, strict=True)]
            return batch, await store_and_judge(deps, account_id, via, batch)

        pending: collections.deque[asyncio.Task[tuple[Batch, list[tuple[int, Outcome]]]]] = collections.deque()
        exhausted = False
        while True:
            while not exhausted and len(pending) < IN_FLIGHT:
                batch = await asyncio.to_thread(read_batch)
                if not batch.read:
                    exhausted = True
                    break
                pending.append(asyncio.create_task(work(batch)))
            if not pending:
                break
            batch, judged = await pending.popleft()
            progress.rows_read += batch.read
            for row, reason in batch.errored:
                progress.rows_errored += 1
                column = table.headers[source_index[0]] if source_index else ""
                failures.add(FailedRow(row, "", column, "", reason))
            for row, outcome in judged:
                _count(progress, failures, row, outcome)
            yield progress.snapshot(message=progress.summary())
        if not request.dry_run:
            async with deps.pool.acquire() as con:
                await record_end(con, import_id, progress)
        for message in closing_messages(progress, failures):
            yield message
    finally:
        for task in locals().get("pending", ()):
            task.cancel()
        failures.close()


# A file row on its way to ValidateNewLeads: (lead_id, source_id, platform_lead_id, answers JSON, fields JSON).
StagedLead = tuple[UUID, UUID, str, str, str]


@dataclass
class Batch:
    """One batch of file rows on its way through: counted, refused, staged (or kept for a dry run)."""

    read: int = 0
    errored: list[tuple[int, str]] = field(default_factory=list)
    staged: list[StagedLead] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    rows: list[tuple[Record, SourcePlan]] = field(default_factory=list)


async def store_and_judge(deps: IngestDeps, account_id: UUID, via: str, batch: Batch) -> list[tuple[int, Outcome]]:
    """Stores a batch's staged leads already judged (ValidateNewLeads, chunks of JUDGE_CHUNK at once)
    and returns each row's outcome. A row whose platform lead id is already stored (the same import
    id again) gets that lead's current outcome, as intake gives a repeat."""
    if not batch.staged:
        return []
    chunks = [batch.staged[i : i + JUDGE_CHUNK] for i in range(0, len(batch.staged), JUDGE_CHUNK)]
    results = await asyncio.gather(*(_store_judged(deps, account_id, via, c) for c in chunks))
    outcomes = [o for chunk in results for o in chunk]
    repeats = [(s[1], s[2]) for s, o in zip(batch.staged, outcomes, strict=True) if o.duplicate]
    if repeats:
        async with deps.pool.acquire() as con:
            known = await leads_store.known_leads(con, repeats)
        for i, (staged, o) in enumerate(zip(batch.staged, outcomes, strict=True)):
            if o.duplicate:
                r = known[(staged[1], staged[2])]
                outcomes[i] = Outcome(
                    r["lead_id"], staged[2], r["status"], r["disposition_code"], r["custom_reason"], True
                )
    return list(zip(batch.row_numbers, outcomes, strict=True))


async def _store_judged(deps: IngestDeps, account_id: UUID, via: str, staged: Sequence[StagedLead]) -> list[Outcome]:
    """One ValidateNewLeads call. If the validation service cannot take it (down, overloaded, an
    error), the leads are stored PROCESSING instead, as intake stores them, so nothing is lost and the sweeper
    has them judged later; a chunk the service did store before failing to answer is not stored
    twice (the same (source, platform lead id) is one lead)."""
    source_text = {sid: str(sid) for sid in {s[1] for s in staged}}
    request = validation_pb2.ValidateNewLeadsRequest(
        via=via,
        leads=[
            validation_pb2.NewLead(
                lead_id=str(s[0]),
                source_id=source_text[s[1]],
                platform_lead_id=s[2],
                answers_json=s[3],
                fields_json=s[4],
            )
            for s in staged
        ],
    )
    try:
        response = await deps.validation.ValidateNewLeads(
            request, metadata=clients.as_account(deps.settings.internal_token, account_id), timeout=bulk_deadline(deps)
        )
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "validation could not judge an import chunk; its leads are stored PROCESSING",
            extra={"leads": len(staged), "code": exc.code().name, "detail": exc.details()},
        )
        reason = intake.unjudged_reason(exc.code())
        n = len(staged)
        unjudged = leads_store.NewLeads(
            [s[0] for s in staged],
            [s[1] for s in staged],
            [None] * n,
            [s[2] for s in staged],
            [s[3] for s in staged],
            [s[4] for s in staged],
            ["{}"] * n,
            [False] * n,
            [None] * n,
        )
        async with deps.pool.acquire() as con:
            inserted = await leads_store.insert_received(con, account_id, unjudged, via)
        return [
            Outcome(s[0], s[2], PROCESSING, "", reason) if s[0] in inserted else Outcome(s[0], s[2], "", "", "", True)
            for s in staged
        ]
    return [
        Outcome(s[0], s[2], LEAD_STATUS_NAME[o.status], o.disposition_code, o.custom_reason, o.duplicate)
        for s, o in zip(staged, response.outcomes, strict=True)
    ]


def bulk_deadline(deps: IngestDeps) -> float:
    """A bulk chunk is one transaction of real work: it gets at least a minute. An unreachable
    service still fails at once."""
    return max(deps.settings.validation_timeout_seconds, 60.0)


def _count(progress: Progress, failures: FailureLog, row: int, outcome: Outcome) -> None:
    lead_id = str(outcome.lead_id) if outcome.lead_id else ""
    if outcome.status == ACCEPTED:
        progress.rows_accepted += 1
    elif outcome.status == REJECTED:
        progress.rows_rejected += 1
        failures.add(FailedRow(row, lead_id, "", outcome.disposition_code, outcome.custom_reason))
    else:
        progress.rows_waiting += 1


async def evaluate(deps: IngestDeps, account_id: UUID, rows: Sequence[tuple[Record, SourcePlan]]) -> list[Outcome]:
    """Dry run: map the rows as intake would and judge them with EvaluateLeads (nothing stored)."""
    by_source: dict[UUID, list[int]] = {}
    for i, (_record, plan) in enumerate(rows):
        by_source.setdefault(plan.source_id, []).append(i)
    outcomes: list[Outcome | None] = [None] * len(rows)
    for sid, indexes in by_source.items():
        field_rows = []
        for i in indexes:
            record, plan = rows[i]
            lead = lead_for_row(plan, record, "")
            field_rows.append(validation_pb2.FieldRow(fields=mapping.apply(lead.answers, plan.rows)))
        try:
            response = await deps.validation.EvaluateLeads(
                validation_pb2.EvaluateLeadsRequest(source_id=str(sid), rows=field_rows),
                metadata=clients.as_account(deps.settings.internal_token, account_id),
                timeout=deps.settings.validation_timeout_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"the validation service could not judge the rows: {exc.details()}") from None
        for i, o in zip(indexes, response.outcomes, strict=True):
            outcomes[i] = intake.outcome_from_proto(o)
    return outcomes  # type: ignore[return-value]


def _check_union(table: upload_file.Table, plans: dict[UUID, SourcePlan], source_index: int) -> None:
    """With several sources, a header must feed a column of at least one of them."""
    for i, header in enumerate(table.headers):
        if i == source_index or not header.strip():
            continue
        if plans and not any(p.answer_names[i] for p in plans.values()):
            raise InvalidArgument(
                "file",
                str(HeaderError(i + 1, header, "matches no column of the file's sources", table.header_row)),
            )


def _header_only(file: BinaryIO, fmt: str) -> upload_file.Table:
    """The header of a file (the first non-blank row), read without scanning the rest."""
    fmt = upload_file.detect_format(file, fmt)
    from ingest_service import csv_reader, xlsx_reader

    dialect = csv_reader.sniff(file) if fmt == upload_file.CSV else None
    records = xlsx_reader.read_records(file) if fmt == upload_file.XLSX else csv_reader.read_records(file, dialect)
    try:
        for record in records:
            if not record.blank:
                return upload_file.Table(fmt, dialect, record.row, [h.strip() for h in record.fields], 0)
    except CsvError as exc:
        raise InvalidArgument("file", str(exc)) from None
    finally:
        close = getattr(records, "close", None)
        if close:
            close()
    raise InvalidArgument("file", "row 1: the file is empty")


def _file_error(fn):  # type: ignore[no-untyped-def]
    """Structural problems of the file are INVALID_ARGUMENT naming row and column."""
    try:
        return fn()
    except (CsvError, HeaderError) as exc:
        raise InvalidArgument("file", str(exc)) from None


async def _owner(deps: IngestDeps, source_id: UUID) -> UUID | None:
    async with deps.pool.acquire() as con:
        return await sources_store.source_account(con, source_id)


# imports table ------------------------------------------------------------------------------------


async def record_start(
    con: asyncpg.Connection, import_id: UUID, account_id: UUID, request: ImportRequest, kind: str
) -> None:
    await con.execute(
        """INSERT INTO imports (import_id, account_id, kind, source_id, file_name)
           VALUES ($1, $2, $3, $4, $5)""",
        import_id,
        account_id,
        kind,
        request.source_id,
        request.file_name,
    )


async def record_end(con: asyncpg.Connection, import_id: UUID, progress: Progress) -> None:
    await con.execute(
        """UPDATE imports SET finished_at = now(), rows_read = $2, rows_accepted = $3, rows_rejected = $4,
                  rows_updated = $5, rows_skipped = $6, rows_errored = $7, rows_waiting = $8, summary = $9
           WHERE import_id = $1""",
        import_id,
        progress.rows_read,
        progress.rows_accepted,
        progress.rows_rejected,
        progress.rows_updated,
        progress.rows_skipped,
        progress.rows_errored,
        progress.rows_waiting,
        progress.summary(),
    )
