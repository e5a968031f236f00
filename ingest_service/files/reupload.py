"""Re-upload of a fixed export: rows matched by LeadID, the mapped columns replace the lead's fields,
the lead is judged again under its source's current criteria (and posted out when accepted, by the
validation service, in the transaction that accepts it).

- Columns A-K of the export (LeadID, SourceID, ..., PostOutStatus) are not data; every other header
  must match a column of the sources of the file's leads (header_match rules), else the file is
  refused before anything changes -- as is a structural error (upload_file.scan).
- Per-row errors, the rest of the file still applied: a LeadID that is empty, malformed, unknown,
  another account's, or that appears on more than one row (every occurrence is an error: which
  row is right cannot be known, so the lead is left as it is).
- A lead already ACCEPTED is skipped (a refused row, with its reason): never changed, never posted
  twice.
- Spreadsheet damage (files.damage): a row whose changed cells look like what a spreadsheet does to
  data is held -- reported with row, column, stored and file value, not applied -- unless the spec
  accepts damage. Rows without damage apply as before.
- Each updated lead gets a `reuploaded` event naming the columns that changed (never their values,
  which may be PII), is set back to PROCESSING with its fields replaced, then ValidateLeads judges it;
  if validation is unreachable it stays PROCESSING and the sweeper judges it later. The stream names
  each changed row's columns as its batch is applied.
- A dry run reads the same rows and reports the same changes (with old and new values), refusals and
  damage, and changes nothing: no lead is locked or written, no import is recorded, nothing judged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from ingest_service.capture import validation_client
from ingest_service.files import damage, import_claim, import_plan, imports_store, upload_file
from ingest_service.files.csv_reader import Record
from ingest_service.files.file_budget import Budget
from ingest_service.files.file_report import (
    CellChange,
    FailedRow,
    FailureLog,
    Progress,
    RowChange,
    change_messages,
    closing_messages,
)
from ingest_service.files.header_match import HeaderError, Override, match_headers, normalise
from ingest_service.resources import IngestResources
from leadrelay.auth import current_actor
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


@dataclass(frozen=True)
class RowDecision:
    """What a re-upload does with a row whose lead was looked up. Plain data."""

    # Why the row is not taken (unknown lead, another account's, ACCEPTED); empty when it is.
    refused: str = ""
    # Refused because the lead is ACCEPTED (counted as skipped, not as an error).
    skipped: bool = False
    new_fields: Mapping[str, str] | None = None
    changed: tuple[str, ...] = ()
    damage: tuple[damage.Damage, ...] = ()
    # Damage the spec did not accept: the row is not applied.
    held: bool = False


def decide(
    lead_id: UUID,
    stored: Mapping | None,
    account_id: UUID,
    plan: Sequence[str | None] | None,
    values: Sequence[str],
    accept_damage: bool,
) -> RowDecision:
    """Pure: the decision for one row, given the stored lead (lead_id, account_id, status, fields)."""
    if stored is None:
        return RowDecision(refused=f"lead {lead_id} not found")
    if stored["account_id"] != account_id:
        return RowDecision(refused=f"lead {lead_id} belongs to another account")
    if stored["status"] == ACCEPTED:
        return RowDecision(
            refused=f"lead {lead_id} is ACCEPTED: a re-upload never changes an accepted lead", skipped=True
        )
    old = stored["fields"] or {}
    new, changed = replaced_fields(old, plan or [None] * len(values), values)
    found = damage.find(old, new, changed)
    return RowDecision(
        new_fields=new, changed=tuple(changed), damage=tuple(found), held=bool(found) and not accept_damage
    )


def row_change(
    row: int, lead_id: UUID, old: Mapping[str, str], decision: RowDecision, with_values: bool
) -> RowChange | None:
    """Pure: what the stream says about a taken row: its changed columns (with the old and new values
    when `with_values`, and always for a damaged cell); None when nothing changes."""
    if not decision.changed or decision.new_fields is None:
        return None
    damaged = {d.column: d for d in decision.damage}
    cells = []
    for column in decision.changed:
        d = damaged.get(column)
        shown = with_values or d is not None
        cells.append(
            CellChange(
                column,
                old.get(column, "") if shown else "",
                decision.new_fields.get(column, "") if shown else "",
                d.kind if d else "",
                d.description if d else "",
            )
        )
    return RowChange(row, str(lead_id), tuple(cells), decision.held)


def event_detail(import_id: UUID, decision: RowDecision) -> str:
    """The `reuploaded` event: the columns that changed, never their values."""
    detail = f"re-upload {import_id}: " + (
        f"changed {', '.join(decision.changed)}" if decision.changed else "no field changed"
    )
    if decision.damage:
        detail += "; spreadsheet damage accepted in " + ", ".join(dict.fromkeys(d.column for d in decision.damage))
    return detail


def held_reason(found: damage.Damage) -> str:
    return f"held: {found.description}; fix the cell, or re-upload with accept_damage to apply it as it is"


async def run_reupload(
    deps: IngestResources,
    account_id: UUID,
    overrides: Sequence[Override],
    fmt: str,
    file_name: str,
    file: BinaryIO,
    budget: Budget,
    *,
    dry_run: bool = False,
    accept_damage: bool = False,
    actor: str = "",
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
    if dry_run:
        import_id = None
        claim: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
    else:
        only = next(iter(plans)) if len(plans) == 1 else None  # a file of one source's leads is that source's
        import_id = await import_claim.start_reupload(deps.pool, account_id, file_name, lease, only, actor)
        claim = import_claim.held(deps.pool, import_id, lease)
    progress = Progress(import_id=str(import_id or ""), dry_run=dry_run, rows_total=table.data_rows)
    failures = FailureLog()
    async with claim:
        try:
            yield progress.snapshot(
                message=f"{table.data_rows} rows to {'check' if dry_run else 're-upload'}", rows_total=table.data_rows
            )
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
                updated, changes = await _apply(
                    deps, account_id, wanted, plans, progress, failures, column, import_id, accept_damage
                )
                for message in change_messages(progress, changes):
                    yield message
                if import_id is None:
                    continue  # a dry run judges nothing
                judged = asyncio.create_task(_judge(deps, account_id, updated))
                pending.append((wanted, updated, judged))
                if len(pending) >= IN_FLIGHT:
                    done_wanted, done_updated, task = pending.popleft()
                    count(done_wanted, done_updated, await task)
                    async with deps.pool.acquire() as con:  # the history shows the counts while it runs
                        await imports_store.record_progress(con, import_id, progress)
                    yield progress.snapshot(message=progress.summary())
            while pending:
                done_wanted, done_updated, task = pending.popleft()
                count(done_wanted, done_updated, await task)
                yield progress.snapshot(message=progress.summary())
            if import_id is not None:
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
    import_id: UUID | None,
    accept_damage: bool,
) -> tuple[list[UUID], list[RowChange]]:
    """Replaces the fields of the batch's leads (one transaction, leads locked); returns the ids to
    judge and the rows' changes. A dry run (no import_id) reads the leads unlocked, writes nothing."""
    if not wanted:
        return [], []
    dry_run = import_id is None
    changes: list[RowChange] = []
    async with deps.pool.acquire() as con, con.transaction():
        read = leads_store.read_for_reupload if dry_run else leads_store.lock_for_reupload
        rows = {r["lead_id"]: r for r in await read(con, list(wanted))}
        ids: list[UUID] = []
        fields: list[str] = []
        details: list[str] = []
        for lead_id, record in wanted.items():
            stored = rows.get(lead_id)
            plan = plans.get(stored["source_id"]) if stored is not None else None
            decision = decide(
                lead_id, None if stored is None else dict(stored), account_id, plan, record.fields, accept_damage
            )
            if decision.refused:
                if decision.skipped:
                    progress.rows_skipped += 1
                else:
                    progress.rows_errored += 1
                failures.add(FailedRow(record.row, str(lead_id), column, "", decision.refused))
                continue
            assert stored is not None and decision.new_fields is not None
            change = row_change(record.row, lead_id, stored["fields"] or {}, decision, with_values=dry_run)
            if change is not None:
                changes.append(change)
            if decision.held:
                progress.rows_held += 1
                for found in decision.damage:
                    failures.add(FailedRow(record.row, str(lead_id), found.column, "", held_reason(found)))
                continue
            ids.append(lead_id)
            if not dry_run:
                assert import_id is not None
                fields.append(json.dumps(decision.new_fields, ensure_ascii=False))
                details.append(event_detail(import_id, decision))
        if fields:
            assert import_id is not None
            await leads_store.replace_fields(con, ids, fields)
            await events_store.add_events(con, account_id, ids, "reuploaded", details, actor=current_actor())
            await imports_store.add_reupload_leads(con, import_id, ids, [wanted[i].row for i in ids])
    progress.rows_updated += len(ids)
    return ids, changes


async def _judge(deps: IngestResources, account_id: UUID, lead_ids: Sequence[UUID]) -> dict[UUID, Outcome]:
    """The updated leads judged again (validation_client.judge, chunks of JUDGE_CHUNK ids per ValidateLeads
    call, each with the bulk deadline; an unreachable service leaves them PROCESSING for the
    sweeper). Only statuses and reasons are counted, so the outcomes' fields are left unread."""
    deadline = validation_client.bulk_deadline(deps)
    return await validation_client.judge(
        deps, account_id, lead_ids, chunk=JUDGE_CHUNK, deadline_seconds=deadline, with_fields=False
    )
