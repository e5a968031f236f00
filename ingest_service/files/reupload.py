"""Re-upload of a fixed export: rows matched by LeadID, the mapped columns replace the lead's fields,
the lead is judged again under its source's current criteria (and posted out when accepted, by the
validation service, in the transaction that accepts it).

- Columns A-K of the export (LeadID, SourceID, ..., PostOutStatus) are not data; every other header
  must match a column of the sources of the file's leads (header_match rules), else the file is
  refused before anything changes -- as is a structural error (upload_file.scan).
- Per-row errors, the rest of the file still applied: a LeadID that is empty, malformed, unknown,
  another account's, or that appears on more than one row (every occurrence is an error: which
  row is right cannot be known, so the lead is left as it is).
- A lead already ACCEPTED is skipped: never changed, never posted twice.
- Each updated lead gets a `reuploaded` event naming the columns that changed (never their values,
  which may be PII), is set back to PROCESSING with its fields replaced, then ValidateLeads judges it;
  if validation is unreachable it stays PROCESSING and the sweeper judges it later.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Sequence
from typing import BinaryIO
from uuid import UUID

from ingest_service.capture import validation_client
from ingest_service.files import import_claim, import_plan, imports_store, upload_file
from ingest_service.files.csv_reader import Record
from ingest_service.files.file_budget import Budget
from ingest_service.files.file_report import FailedRow, FailureLog, Progress, closing_messages
from ingest_service.files.header_match import HeaderError, Override, match_headers, normalise
from ingest_service.resources import IngestResources
from leadrelay.capture import events_store, leads_store, sources_store
from leadrelay.capture.leads import ACCEPTED, REJECTED, Outcome
from leadrelay.errors import InvalidArgument
from leadrelay.ids import as_id
from leadrelay.lead_export import FIXED_COLUMNS

FIXED = frozenset(normalise(c) for c in FIXED_COLUMNS)
LEAD_ID = normalise("LeadID")
# Rows per batch: one transaction updates them; their judging overlaps the next batch.
BATCH_ROWS = 5000
IN_FLIGHT = 2
# Smaller ValidateLeads calls than an import's, all at once: the validation service's Python work on
# one overlaps the database work of the others.
JUDGE_CHUNK = 1000


def lead_id_index(headers: Sequence[str]) -> int:
    for i, header in enumerate(headers):
        if normalise(header) == LEAD_ID:
            return i
    raise HeaderError(0, "", "the file has no LeadID column: re-upload a file exported by LeadRelay")


def fixed_indexes(headers: Sequence[str]) -> list[int]:
    return [i for i, h in enumerate(headers) if normalise(h) in FIXED]


def parse_lead_id(value: str) -> UUID | None:
    return as_id(value.strip())


def replaced_fields(
    old: dict[str, str], columns: Sequence[str | None], values: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Pure: the lead's fields with the file's columns replacing them; and the columns that changed."""
    new = dict(old)
    changed = []
    for column, value in zip(columns, values, strict=True):
        if column is None:
            continue
        if new.get(column, "") != value:
            changed.append(column)
        new[column] = value
    return new, changed


async def run_reupload(
    deps: IngestResources,
    account_id: UUID,
    overrides: Sequence[Override],
    fmt: str,
    file_name: str,
    file: BinaryIO,
    budget: Budget,
) -> AsyncIterator[Progress]:
    seen: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    id_index: list[int] = []

    def visit(record: Record) -> None:
        if not id_index:
            return
        key = record.fields[id_index[0]].strip().lower()
        if key in seen:
            repeats.setdefault(key, [seen[key]]).append(record.row)
        else:
            seen[key] = record.row

    header = await deps.in_file_worker(lambda: upload_file.read_header(file, fmt, budget))
    id_index.append(import_plan.file_error(lambda: lead_id_index(header.headers)))
    table = await deps.in_file_worker(
        lambda: import_plan.file_error(
            lambda: upload_file.scan(file, fmt=fmt, max_rows=deps.settings.import_max_rows, visit=visit, budget=budget)
        )
    )
    skip = fixed_indexes(table.headers)
    ids = [u for u in (parse_lead_id(k) for k in seen) if u is not None]
    seen.clear()
    plans = await _plans(deps, account_id, ids, table, overrides, skip)

    lease = deps.settings.import_lease_seconds
    import_id = await import_claim.start_reupload(deps.pool, account_id, file_name, lease)
    progress = Progress(import_id=str(import_id))
    failures = FailureLog()
    async with import_claim.held(deps.pool, import_id, lease):
        try:
            yield progress.snapshot(message=f"{table.data_rows} rows to re-upload")
            rows_iter = upload_file.rows(file, table, budget)
            column = table.headers[id_index[0]]
            # A batch's leads are judged while the next batch is read and applied.
            pending: collections.deque[tuple[dict[UUID, Record], list[UUID], asyncio.Task]] = collections.deque()

            def count(wanted: dict[UUID, Record], updated: list[UUID], judged: dict) -> None:
                for lead_id in updated:
                    outcome = judged.get(lead_id)
                    row = wanted[lead_id].row
                    if outcome is None or outcome.status not in (ACCEPTED, REJECTED):
                        progress.rows_waiting += 1
                    elif outcome.status == ACCEPTED:
                        progress.rows_accepted += 1
                    else:
                        progress.rows_rejected += 1
                        failures.add(FailedRow(row, str(lead_id), "", outcome.disposition_code, outcome.custom_reason))

            while True:
                batch = await deps.in_file_worker(lambda: _take(rows_iter, BATCH_ROWS))
                if not batch:
                    break
                progress.rows_read += len(batch)
                wanted: dict[UUID, Record] = {}
                for record in batch:
                    raw = record.fields[id_index[0]].strip()
                    lead_id = parse_lead_id(raw)
                    if not raw:
                        reason = "the LeadID is empty"
                    elif lead_id is None:
                        reason = f"{raw!r} is not a LeadID"
                    elif raw.lower() in repeats:
                        others = ", ".join(str(r) for r in repeats[raw.lower()] if r != record.row)
                        reason = (
                            f"LeadID {raw} appears more than once in the file (also row {others}); "
                            "the lead is left unchanged"
                        )
                    else:
                        wanted[lead_id] = record
                        continue
                    progress.rows_errored += 1
                    failures.add(FailedRow(record.row, raw, column, "", reason))
                updated = await _apply(deps, account_id, wanted, plans, progress, failures, column, import_id)
                judged = asyncio.create_task(_judge(deps, account_id, updated))
                pending.append((wanted, updated, judged))
                if len(pending) >= IN_FLIGHT:
                    done_wanted, done_updated, task = pending.popleft()
                    count(done_wanted, done_updated, await task)
                    yield progress.snapshot(message=progress.summary())
            while pending:
                done_wanted, done_updated, task = pending.popleft()
                count(done_wanted, done_updated, await task)
                yield progress.snapshot(message=progress.summary())
            async with deps.pool.acquire() as con:
                await imports_store.record_end(con, import_id, progress)
            for message in closing_messages(progress, failures):
                yield message
        finally:
            for _wanted, _updated, task in locals().get("pending", ()):
                task.cancel()
            failures.close()


def _take(rows_iter, n: int) -> list[Record]:
    batch = []
    for record in rows_iter:
        batch.append(record)
        if len(batch) >= n:
            break
    return batch


async def _plans(
    deps: IngestResources,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    table: upload_file.Table,
    overrides: Sequence[Override],
    skip: Sequence[int],
) -> dict[UUID, list[str | None]]:
    """Per source of the file's leads: file column -> field it replaces. A data header that
    matches no column of any of those sources refuses the file."""
    async with deps.pool.acquire() as con:
        source_ids: list[UUID] = []
        for i in range(0, len(lead_ids), 50_000):
            source_ids += await leads_store.sources_of(con, account_id, lead_ids[i : i + 50_000])
        columns = {sid: await sources_store.source_columns(con, sid) for sid in dict.fromkeys(source_ids)}
    plans = {
        sid: import_plan.file_error(
            lambda cols=cols: match_headers(table.headers, cols, overrides, skip=skip, strict=False)  # type: ignore[misc]  # the default binds the loop variable
        )
        for sid, cols in columns.items()
    }
    for i, header in enumerate(table.headers):
        if i in skip or not header.strip() or not plans:
            continue
        if not any(p[i] for p in plans.values()):
            raise InvalidArgument(
                "file", str(HeaderError(i + 1, header, "matches no column of the sources of the file's leads"))
            )
    return plans


async def _apply(
    deps: IngestResources,
    account_id: UUID,
    wanted: dict[UUID, Record],
    plans: dict[UUID, list[str | None]],
    progress: Progress,
    failures: FailureLog,
    column: str,
    import_id: UUID,
) -> list[UUID]:
    """Replaces the fields of the batch's leads (one transaction, leads locked); returns the ids
    to judge."""
    if not wanted:
        return []
    async with deps.pool.acquire() as con, con.transaction():
        rows = {r["lead_id"]: r for r in await leads_store.lock_for_reupload(con, list(wanted))}
        ids: list[UUID] = []
        fields: list[str] = []
        details: list[str] = []
        for lead_id, record in wanted.items():
            row = rows.get(lead_id)
            if row is None or row["account_id"] != account_id:
                reason = f"lead {lead_id} not found" if row is None else f"lead {lead_id} belongs to another account"
                progress.rows_errored += 1
                failures.add(FailedRow(record.row, str(lead_id), column, "", reason))
                continue
            if row["status"] == ACCEPTED:
                progress.rows_skipped += 1
                continue
            plan = plans.get(row["source_id"])
            new, changed = replaced_fields(row["fields"] or {}, plan or [None] * len(record.fields), record.fields)
            ids.append(lead_id)
            fields.append(json.dumps(new, ensure_ascii=False))
            details.append(
                f"re-upload {import_id}: " + (f"changed {', '.join(changed)}" if changed else "no field changed")
            )
        if ids:
            await leads_store.replace_fields(con, ids, fields)
            await events_store.add_events(con, account_id, ids, "reuploaded", details)
    progress.rows_updated += len(ids)
    return ids


async def _judge(deps: IngestResources, account_id: UUID, lead_ids: Sequence[UUID]) -> dict[UUID, Outcome]:
    """The updated leads judged again (validation_client.judge, chunks of JUDGE_CHUNK ids per ValidateLeads
    call, each with the bulk deadline; an unreachable service leaves them PROCESSING for the
    sweeper). Only statuses and reasons are counted, so the outcomes' fields are left unread."""
    deadline = validation_client.bulk_deadline(deps)
    return await validation_client.judge(
        deps, account_id, lead_ids, chunk=JUDGE_CHUNK, deadline_seconds=deadline, with_fields=False
    )
