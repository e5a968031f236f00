"""What an import or re-upload reports: progress counters and the failed rows. Plain data.

Failed rows go to a temporary file as they happen (a 2,000,000-row import with every row rejected
must not hold them all in memory) and are read back at the end, in row order per batch.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class FailedRow:
    # 1-based row number in the file, the header being row 1.
    row: int
    lead_id: str = ""
    column: str = ""
    disposition_code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class CellChange:
    """A re-upload's changed cell. Values only where the caller may see them (dry run, damage)."""

    column: str
    old_value: str = ""
    new_value: str = ""
    # damage.kind and its description; empty for a real change.
    damage: str = ""
    damage_reason: str = ""


@dataclass(frozen=True)
class RowChange:
    row: int
    lead_id: str
    changes: tuple[CellChange, ...]
    # Not applied: a change looks like spreadsheet damage that the spec did not accept.
    held: bool = False


@dataclass
class Progress:
    import_id: str = ""
    dry_run: bool = False
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_updated: int = 0
    rows_skipped: int = 0
    rows_errored: int = 0
    # Stored but not judged yet (validation unreachable): the sweeper judges them later.
    rows_waiting: int = 0
    # A resumed import: rows an earlier call had stored (counted above with their stored outcome).
    resumed: bool = False
    rows_already_stored: int = 0
    # Re-upload: rows held for spreadsheet damage.
    rows_held: int = 0
    done: bool = False
    failed_rows: list[FailedRow] = field(default_factory=list)
    # Re-upload: the changed (or held) rows of the batch just read.
    changed_rows: list[RowChange] = field(default_factory=list)
    message: str = ""
    # Import, first message: (column letter, header, use) of each file column outside the source's.
    columns_outside: list[tuple[str, str, str]] = field(default_factory=list)
    # Trailing footer lines of a report export, skipped.
    footer_rows: list[int] = field(default_factory=list)
    # Rows whose platform lead id the source already held (counted with the lead's current outcome).
    rows_known: int = 0
    # First message: the rows the file holds.
    rows_total: int = 0
    # Import, first message: (column letter, header, source column) of each file column feeding one.
    columns_matched: list[tuple[str, str, str]] = field(default_factory=list)

    def snapshot(self, **changes: object) -> Progress:
        changes.setdefault("failed_rows", [])
        changes.setdefault("columns_outside", [])
        changes.setdefault("changed_rows", [])
        changes.setdefault("columns_matched", [])
        return replace(self, **changes)  # type: ignore[arg-type]  # **changes: field values of several types

    def summary(self) -> str:
        parts = [f"{self.rows_read} rows read"]
        if self.rows_updated:
            parts.append(f"{self.rows_updated} {'to update' if self.dry_run else 'updated'}")
        if not (self.dry_run and self.rows_updated):  # a re-upload's dry run judges nothing
            parts.append(f"{self.rows_accepted} accepted")
            parts.append(f"{self.rows_rejected} rejected")
        if self.rows_held:
            parts.append(f"{self.rows_held} held (spreadsheet damage)")
        if self.rows_skipped:
            parts.append(f"{self.rows_skipped} skipped (already accepted)")
        if self.rows_errored:
            parts.append(f"{self.rows_errored} errors")
        if self.rows_waiting:
            parts.append(f"{self.rows_waiting} stored and waiting for validation")
        if self.rows_already_stored:
            parts.append(f"{self.rows_already_stored} of them stored by an earlier call")
        if self.rows_known:
            parts.append(f"{self.rows_known} of them leads the source already had")
        if self.footer_rows:
            rows = ", ".join(map(str, self.footer_rows))
            parts.append(f"footer lines skipped (row{'s' if len(self.footer_rows) > 1 else ''} {rows})")
        return ", ".join(parts)


class FailureLog:
    """An append-only list of FailedRow kept in a temporary file (memory up to 1 MiB)."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")
        self.count = 0

    def add(self, row: FailedRow) -> None:
        self._file.write(json.dumps([row.row, row.lead_id, row.column, row.disposition_code, row.reason]))
        self._file.write("\n")
        self.count += 1

    def __iter__(self) -> Iterator[FailedRow]:
        self._file.seek(0)
        for line in self._file:
            yield FailedRow(*json.loads(line))

    def close(self) -> None:
        self._file.close()


def closing_messages(progress: Progress, failures: FailureLog, per_message: int = 5000) -> Iterator[Progress]:
    """The end of the stream: the failed rows in messages of `per_message` (so no message gets
    near gRPC's size limit), every one carrying the final counts; the last one has done=True."""
    batch: list[FailedRow] = []
    for failed in failures:
        batch.append(failed)
        if len(batch) >= per_message:
            yield progress.snapshot(failed_rows=batch, message=progress.summary())
            batch = []
    yield progress.snapshot(failed_rows=batch, done=True, message=progress.summary())


def change_messages(progress: Progress, changes: list[RowChange], max_bytes: int = 1 << 20) -> Iterator[Progress]:
    """Progress messages carrying the changed rows, each message's values within about `max_bytes`
    (a row of long values must not push a message near gRPC's size limit)."""
    batch: list[RowChange] = []
    size = 0
    for change in changes:
        cost = 64 + sum(64 + len(c.old_value) + len(c.new_value) for c in change.changes)
        if batch and size + cost > max_bytes:
            yield progress.snapshot(changed_rows=batch, message=progress.summary())
            batch, size = [], 0
        batch.append(change)
        size += cost
    if batch:
        yield progress.snapshot(changed_rows=batch, message=progress.summary())
