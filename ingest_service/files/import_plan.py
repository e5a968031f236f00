"""Import planning, pure: how a file's columns feed each source's leads, which sources a file may
name, and the batches of rows on their way to ValidationService. No I/O (the importer does it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from ingest_service.files import upload_file
from ingest_service.files.csv_reader import CsvError, Record
from ingest_service.files.header_match import HeaderError, Override, match_headers, normalise, positional
from leadrelay.capture import mapping
from leadrelay.capture.leads import Answer, IncomingLead
from leadrelay.errors import InvalidArgument, NotFound, PermissionDenied
from leadrelay.ownership import check_owner

if TYPE_CHECKING:  # the type only: importing the gRPC client at run time would make planning do I/O
    from ingest_service.capture.validation_client import NewLead

SOURCE_HEADERS = frozenset({"sourceid", "flowid"})

T = TypeVar("T")


@dataclass(frozen=True)
class ImportRequest:
    source_id: UUID | None
    multi_source: bool = False
    has_header: bool = True
    overrides: tuple[Override, ...] = ()
    format: str = ""
    dry_run: bool = False
    file_name: str = ""
    # The import to resume or start (the client's id); None: found by fingerprint, or a new one.
    import_id: UUID | None = None
    # SHA-256 of the file's bytes, hex.
    content_sha256: str = ""


def fingerprint(request: ImportRequest) -> str:
    """What makes two calls the same import: the file's bytes and everything in the spec that decides
    which leads its rows become (not the file name, nor dry_run)."""
    spec = [
        request.content_sha256,
        str(request.source_id or ""),
        request.multi_source,
        request.has_header,
        request.format,
        [[o.column, o.header, o.position] for o in request.overrides],
    ]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


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


def usable_sources(
    account_id: UUID, source_ids: Sequence[UUID], found: Mapping[UUID, tuple[UUID, tuple[mapping.MappingRow, ...]]]
) -> tuple[dict[UUID, tuple[mapping.MappingRow, ...]], dict[UUID, str]]:
    """`found`: source -> (its account, its default mapping). The mapping of each of the account's
    sources; and why each other id cannot be used."""
    usable: dict[UUID, tuple[mapping.MappingRow, ...]] = {}
    refused: dict[UUID, str] = {}
    for sid in source_ids:
        owner, rows = found.get(sid, (None, ()))
        try:
            check_owner("source", sid, owner, account_id)
        except (NotFound, PermissionDenied) as refusal:
            refused[sid] = str(refusal)
        else:
            usable[sid] = rows
    return usable, refused


def check_union(table: upload_file.Table, plans: dict[UUID, SourcePlan], source_index: int) -> None:
    """With several sources, a header must feed a column of at least one of them."""
    for i, header in enumerate(table.headers):
        if i == source_index or not header.strip():
            continue
        if plans and not any(p.answer_names[i] for p in plans.values()):
            raise InvalidArgument(
                "file",
                str(HeaderError(i + 1, header, "matches no column of the file's sources", table.header_row)),
            )


def file_error(fn: Callable[[], T]) -> T:
    """Structural problems of the file are INVALID_ARGUMENT naming row and column."""
    try:
        return fn()
    except (CsvError, HeaderError) as exc:
        raise InvalidArgument("file", str(exc)) from None


@dataclass
class Batch:
    """One batch of file rows on its way through: counted, refused, staged (or kept for a dry run)."""

    read: int = 0
    errored: list[tuple[int, str]] = field(default_factory=list)
    staged: list[NewLead] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    rows: list[tuple[Record, SourcePlan]] = field(default_factory=list)
