"""The mapping grid a person edits, and the FieldMapping rows it stands for: one grid row per source
column (in order, typed) taking a form field, a typed constant or the catch-all. Converting checks
each row and names it ("Row 3 (Campaign): ..."), so the page can say what to fix before any call."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from leadrelay.v1 import common_pb2

FIELD, CONSTANT, CATCH_ALL = "field", "constant", "catch_all"
COLUMN_TYPES = {
    "": "Text",
    "email": "Email",
    "phone": "Phone",
    "decimal": "Decimal",
    "boolean": "Yes / no",
    "date": "Date",
    "datetime": "Date and time",
    "lookup": "Lookup",
}
CONSTANT_KINDS = {
    "string": "Text",
    "decimal": "Decimal",
    "boolean": "Yes / no",
    "date": "Date (YYYY-MM-DD)",
    "datetime": "Date and time (YYYY-MM-DD HH:MM, UTC)",
    "lookup": "Lookup key",
}
_PROTO_KIND = {
    "string": "string_value",
    "decimal": "decimal_value",
    "boolean": "bool_value",
    "date": "date_value",
    "datetime": "datetime_value",
    "lookup": "lookup_value",
}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class GridError(ValueError):
    """A row the services would refuse, named by its number and column."""


@dataclass(frozen=True)
class GridRow:
    column: str
    column_type: str = ""
    takes: str = FIELD
    field: str = ""
    constant_kind: str = "string"
    constant_value: str = ""


def from_mapping(rows: Sequence[common_pb2.FieldMapping]) -> list[GridRow]:
    out = []
    for r in rows:
        which = r.WhichOneof("value")
        typed = r.column_type if r.column_type in COLUMN_TYPES else ""
        if which == "unmapped_fields":
            out.append(GridRow(r.column, typed, CATCH_ALL))
        elif which == "constant":
            kind = {v: k for k, v in _PROTO_KIND.items()}.get(r.constant.WhichOneof("v") or "", "string")
            out.append(GridRow(r.column, typed, CONSTANT, "", kind, _constant_text(r.constant, kind)))
        else:
            out.append(GridRow(r.column, typed, FIELD, r.form_field))
    return out


def _constant_text(c: common_pb2.Constant, kind: str) -> str:
    if kind == "boolean":
        return "true" if c.bool_value else "false"
    if kind == "decimal":
        number = c.decimal_value
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    if kind == "datetime":
        return c.datetime_value.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
    return str(getattr(c, _PROTO_KIND[kind]))


def to_mapping(grid: Sequence[GridRow]) -> list[common_pb2.FieldMapping]:
    """The rows as FieldMapping messages; GridError names the first row that cannot be one."""
    out = []
    seen: dict[str, int] = {}
    for n, row in enumerate(grid, start=1):
        column = row.column.strip()
        where = f"Row {n} ({column or 'no name'})"
        if not column:
            raise GridError(f"Row {n}: give the column a name")
        if column in seen:
            raise GridError(f"{where}: row {seen[column]} has the same column")
        seen[column] = n
        m = common_pb2.FieldMapping(column=column, column_type=row.column_type)
        if row.takes == CATCH_ALL:
            m.unmapped_fields = True
        elif row.takes == CONSTANT:
            _set_constant(m.constant, row.constant_kind, row.constant_value.strip(), where)
        else:
            if not row.field.strip():
                raise GridError(f"{where}: choose the form field it takes, a constant, or the catch-all")
            m.form_field = row.field.strip()
        out.append(m)
    if not any(r.takes == CATCH_ALL for r in grid):
        raise GridError(
            "One column must take everything not mapped (the catch-all, not_mapped_fields), so no answer is lost"
        )
    if sum(r.takes == CATCH_ALL for r in grid) > 1:
        raise GridError("Only one column can be the catch-all")
    return out


def _set_constant(c: common_pb2.Constant, kind: str, text: str, where: str) -> None:
    if kind == "decimal":
        try:
            number = float(text)
        except ValueError:
            raise GridError(f"{where}: {text!r} is not a number") from None
        if not math.isfinite(number):
            raise GridError(f"{where}: {text!r} is not a number")
        c.decimal_value = number
    elif kind == "boolean":
        if text.lower() not in (*_TRUE, *_FALSE):
            raise GridError(f"{where}: write true or false")
        c.bool_value = text.lower() in _TRUE
    elif kind == "date":
        try:
            c.date_value = date.fromisoformat(text).isoformat()
        except ValueError:
            raise GridError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None
    elif kind == "datetime":
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise GridError(f"{where}: {text!r} is not a date and time (YYYY-MM-DD HH:MM)") from None
        c.datetime_value.FromDatetime(at if at.tzinfo else at.replace(tzinfo=UTC))
    elif kind in ("string", "lookup"):
        if not text:
            raise GridError(f"{where}: the constant is empty")
        setattr(c, _PROTO_KIND[kind], text)
    else:
        raise GridError(f"{where}: choose the constant's type")


_INDEX = re.compile(r"mappings\[(\d+)\]")


def explain(details: str) -> str:
    """A service's refusal with `mappings[i]` as the grid's row number."""
    return _INDEX.sub(lambda m: f"row {int(m.group(1)) + 1}", details)


def moved(grid: Sequence[GridRow], index: int, step: int) -> list[GridRow]:
    """The grid with row `index` moved up (-1) or down (+1); unchanged at either end."""
    out = list(grid)
    target = index + step
    if 0 <= index < len(out) and 0 <= target < len(out):
        out[index], out[target] = out[target], out[index]
    return out


def starter(fields: Sequence[str]) -> list[GridRow]:
    """A first mapping for a source without one: each known form field as its own column, then the catch-all."""
    return [GridRow(f, "", FIELD, f) for f in fields] + [GridRow("not_mapped_fields", "", CATCH_ALL)]


def with_row(grid: Sequence[GridRow], index: int, **changes: str) -> list[GridRow]:
    out = list(grid)
    out[index] = replace(out[index], **changes)
    return out
