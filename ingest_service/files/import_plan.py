"""Import planning, pure: how a file's columns feed each source's leads, which sources a file may
name, and the batches of rows on their way to ValidationService. No I/O (the importer does it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from ingest_service.files import lead_identity, upload_file
from ingest_service.files.csv_reader import CsvError, Record, column_letter
from ingest_service.files.header_match import (
    SYNONYM_GROUPS,
    HeaderError,
    Override,
    match_headers,
    normalise,
    positional,
)
from ingest_service.files.value_transforms import FAMILY, GIVEN, TRANSFORMS, UNPREFIX
from leadrelay.capture import mapping
from leadrelay.capture.leads import Answer, IncomingLead
from leadrelay.errors import InvalidArgument, NotFound, PermissionDenied
from leadrelay.ownership import check_owner

if TYPE_CHECKING:  # the type only: importing the gRPC client at run time would make planning do I/O
    from ingest_service.capture.validation_client import NewLead

SOURCE_HEADERS = frozenset({"sourceid", "flowid"})
CATCH_ALL = "catch_all"
IGNORE = "ignore"
_FULL_NAME = next(g for g in SYNONYM_GROUPS if "fullname" in g)
_FIRST_NAME = next(g for g in SYNONYM_GROUPS if "firstname" in g)
_LAST_NAME = next(g for g in SYNONYM_GROUPS if "lastname" in g)
_PHONE = next(g for g in SYNONYM_GROUPS if "phone" in g)

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
    # What file columns matching no source column do: CATCH_ALL or IGNORE (overrides decide per column).
    unmatched: str = CATCH_ALL
    trim: bool = False
    # Who started it (leadrelay.auth.current_actor's label); not part of the fingerprint.
    actor: str = ""


def fingerprint(request: ImportRequest) -> str:
    """What makes two calls the same import: the file's bytes and everything in the spec that decides
    which leads its rows become (not the file name, nor dry_run)."""
    spec = [
        request.content_sha256,
        str(request.source_id or ""),
        request.multi_source,
        request.has_header,
        request.format,
        [[o.column, o.header, o.position, o.catch_all, o.transform] for o in request.overrides],
        request.unmatched,
        request.trim,
    ]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


@dataclass(frozen=True)
class ColumnUse:
    """A file column outside the source's columns and what the import does with it."""

    index: int
    header: str
    use: str


# One value a lead gets: the file columns feeding it (first non-empty wins), each with its transform.
Feed = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class SourcePlan:
    """How one source's rows are read: per value (`feeds`), the answer name it becomes (or None).
    Without `feeds` the values are the file's columns as they are (the fast, common case)."""

    source_id: UUID
    answer_names: list[str | None]
    rows: tuple[mapping.MappingRow, ...]
    feeds: tuple[Feed, ...] | None = None
    # Lead field -> the file column filling it (lead_identity).
    identity: dict[str, int] = field(default_factory=dict)
    outside: tuple[ColumnUse, ...] = ()
    trim: bool = False
    # An import with a header row: the file columns feeding a source column (use = that column).
    matched: tuple[ColumnUse, ...] = ()


def values(plan: SourcePlan, fields: Sequence[str]) -> Sequence[str]:
    """One row's values in the plan's order (what RowMapper and lead_for_row read)."""
    if plan.feeds is None:
        return [f.strip() for f in fields] if plan.trim else fields
    out = []
    for feed in plan.feeds:
        value = ""
        for index, transform in feed:
            value = fields[index].strip() if plan.trim else fields[index]
            if value.strip():
                if transform:
                    value = TRANSFORMS[transform](value)
                break
        out.append(value)
    return out


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
    unmatched: str = "",
    trim: bool = False,
) -> SourcePlan:
    """Pure: the file columns -> answer names for one source (errors name row 1 and the column).
    With `unmatched` (an import: CATCH_ALL or IGNORE), a header matching no source column is not an
    error: it goes to the catch-all as "header: value" or is ignored, the platform identity columns
    fill the lead (lead_identity), several file columns may feed one column, a full name feeds
    first and last name, and overrides may transform values."""
    for o in overrides:
        if o.transform and o.transform not in TRANSFORMS:
            raise HeaderError(
                o.position, o.header, f"unknown transform {o.transform!r} (one of: {', '.join(TRANSFORMS)})"
            )
    if unmatched and table.header_row:
        return _plan_import(source_id, rows, table, overrides, skip, strict, unmatched, trim)
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


def _plan_import(
    source_id: UUID,
    rows: Sequence[mapping.MappingRow],
    table: upload_file.Table,
    overrides: Sequence[Override],
    skip: Sequence[int],
    strict: bool,
    unmatched: str,
    trim: bool,
) -> SourcePlan:
    headers = table.headers
    by_override = {_override_index(o, headers, skip, table.header_row): o for o in overrides}
    identity = {use: i for use, i in lead_identity.find_columns(headers, taken=[*skip, *by_override]).items()}
    for i, o in by_override.items():
        if o.column in lead_identity.USES:
            identity[o.column] = i
    read_elsewhere = [*skip, *identity.values()]
    source_overrides = [o for i, o in by_override.items() if o.column not in lead_identity.USES]
    targets = answer_targets(rows) if rows else {h: h for h in headers if h}
    columns = list(targets)
    matched = match_headers(
        headers,
        columns,
        source_overrides,
        skip=read_elsewhere,
        row=table.header_row,
        strict=strict,
        unmatched_ok=True,
        shared=True,
    )
    has_catch_all = not rows or any(r.unmapped_fields for r in rows)
    order = {i: n for n, i in enumerate(by_override)}
    feeds: dict[str, list[tuple[int, int, str]]] = {}  # column -> (priority, file column, transform)
    names: list[str | None] = [None] * len(headers)
    outside: list[ColumnUse] = [
        ColumnUse(i, headers[i], use) for use, i in sorted(identity.items(), key=lambda u: u[1])
    ]
    catch_all: list[int] = []
    fed: list[ColumnUse] = []
    first = _group_column(columns, _FIRST_NAME)
    last = _group_column(columns, _LAST_NAME)
    for i, header in enumerate(headers):
        if i in read_elsewhere or not header.strip():
            continue
        chosen = by_override.get(i)
        transform = chosen.transform if chosen else ""
        column = matched[i]
        if not transform and column and lead_identity.PLATFORM_LEAD_ID in identity and normalise(column) in _PHONE:
            transform = UNPREFIX  # a platform's download: Facebook writes phones as p:+1...
        if column is not None:
            feeds.setdefault(column, []).append((order.get(i, len(order) + i), i, transform))
            fed.append(ColumnUse(i, header, column))
            continue
        if chosen is not None and not chosen.catch_all:
            outside.append(ColumnUse(i, header, IGNORE))
        elif chosen is None and normalise(header) in _FULL_NAME and first and last:
            late = len(order) + len(headers) + i  # after any file column named for first/last name
            feeds.setdefault(first, []).append((late, i, GIVEN))
            feeds.setdefault(last, []).append((late, i, FAMILY))
            outside.append(ColumnUse(i, header, f"split into {first} and {last}"))
        elif has_catch_all and (unmatched == CATCH_ALL or (chosen is not None and chosen.catch_all)):
            catch_all.append(i)
            outside.append(ColumnUse(i, header, CATCH_ALL))
        else:
            outside.append(ColumnUse(i, header, IGNORE))
    outside.sort(key=lambda u: u.index)
    simple = all(len(f) == 1 and not f[0][2] for f in feeds.values())
    if simple:
        for column, [(_, i, _)] in feeds.items():
            names[i] = targets[column]
        for i in catch_all:
            names[i] = headers[i]
        return SourcePlan(source_id, names, tuple(rows), None, identity, tuple(outside), trim, tuple(fed))
    slots = [(targets[c], tuple((i, t) for _, i, t in sorted(f))) for c, f in feeds.items()]
    slots += [(headers[i], ((i, ""),)) for i in catch_all]
    return SourcePlan(
        source_id,
        [n for n, _ in slots],
        tuple(rows),
        tuple(f for _, f in slots),
        identity,
        tuple(outside),
        trim,
        tuple(fed),
    )


def _override_index(o: Override, headers: Sequence[str], skip: Sequence[int], row: int) -> int:
    if o.position:
        if not 0 < o.position <= len(headers):
            raise HeaderError(
                o.position, "", f"the mapping names position {o.position}, but the file has {len(headers)} columns", row
            )
        return o.position - 1
    key = normalise(o.header)
    for i, h in enumerate(headers):
        if normalise(h) == key and i not in skip:
            return i
    raise HeaderError(0, o.header, "the mapping names a header the file does not have", row)


def _group_column(columns: Sequence[str], group: frozenset[str]) -> str | None:
    found = [c for c in columns if normalise(c) in group]
    return found[0] if len(found) == 1 else None


def outside_summary(plan: SourcePlan) -> str:
    """ "columns outside the source: D (Lead Status) -> catch_all, ..." for the first message."""
    return "; ".join(f"{column_letter(u.index + 1)} ({u.header}) -> {u.use}" for u in plan.outside)


def lead_for_row(plan: SourcePlan, record: Record, platform_lead_id: str) -> IncomingLead:
    answers = tuple(
        Answer(name, (value,))
        for name, value in zip(plan.answer_names, values(plan, record.fields), strict=True)
        if name and value
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
    """With several sources, a header must be read by at least one of them (a column of one, the
    catch-all, a lead field, or ignored on purpose)."""
    for i, header in enumerate(table.headers):
        if i == source_index or not header.strip():
            continue
        if plans and not any(reads(p, i) for p in plans.values()):
            raise InvalidArgument(
                "file",
                str(HeaderError(i + 1, header, "matches no column of the file's sources", table.header_row)),
            )


def reads(plan: SourcePlan, index: int) -> bool:
    """Whether the plan does something with file column `index`."""
    if any(u.index == index for u in plan.outside):
        return True
    if plan.feeds is None:
        return plan.answer_names[index] is not None
    return any(i == index for feed in plan.feeds for i, _ in feed)


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
    # (row, column header, reason)
    errored: list[tuple[int, str, str]] = field(default_factory=list)
    staged: list[NewLead] = field(default_factory=list)
    # Parallel to `staged` when the plan reads platform identity columns.
    identities: list[lead_identity.Identity] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    rows: list[tuple[Record, SourcePlan]] = field(default_factory=list)
