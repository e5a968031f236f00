"""Field mapping: a lead's answers become CRM columns. A pure function of (answers, mapping).

A mapping is an ordered list of rows; each row fills one column from a form field, a typed constant,
or the `not_mapped_fields` catch-all (every answer no other row took, as "question: answer" lines),
so no answer is ever lost. A source's default mapping applies to all its forms; a form's own mapping
replaces it entirely. With no mapping set at all, every answer becomes a column of its own name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from leadrelay.capture.leads import Answer
from leadrelay.errors import InvalidArgument

CONSTANT_KINDS = ("string", "decimal", "boolean", "date", "datetime", "lookup")
# What a column holds, as set-up screens show it ("" is text). Descriptive: mapping never converts.
COLUMN_TYPES = ("text", "email", "phone", "decimal", "boolean", "date", "datetime", "lookup")
# How several values of one answer (checkboxes, multiple choice) share one column.
MULTI_VALUE_SEPARATOR = ";"


@dataclass(frozen=True)
class Constant:
    kind: str  # one of CONSTANT_KINDS
    # str for string/date/datetime (ISO 8601)/lookup, float for decimal, bool for boolean.
    value: Any

    def render(self) -> str:
        if self.kind == "boolean":
            return "true" if self.value else "false"
        if self.kind == "decimal":
            number = float(self.value)
            return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
        return str(self.value)


@dataclass(frozen=True)
class MappingRow:
    column: str
    form_field: str | None = None
    constant: Constant | None = None
    unmapped_fields: bool = False
    # One of COLUMN_TYPES, or "" (text).
    column_type: str = ""

    def as_json(self) -> dict[str, Any]:
        typed = {"type": self.column_type} if self.column_type else {}
        if self.unmapped_fields:
            return {"column": self.column, "unmapped_fields": True, **typed}
        if self.constant is not None:
            return {
                "column": self.column,
                "constant": {"kind": self.constant.kind, "value": self.constant.value},
                **typed,
            }
        return {"column": self.column, "form_field": self.form_field, **typed}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> MappingRow:
        typed = str(raw.get("type") or "")
        if raw.get("unmapped_fields"):
            return cls(raw["column"], unmapped_fields=True, column_type=typed)
        if "constant" in raw:
            constant = Constant(raw["constant"]["kind"], raw["constant"]["value"])
            return cls(raw["column"], constant=constant, column_type=typed)
        return cls(raw["column"], form_field=raw.get("form_field", ""), column_type=typed)


def to_json(rows: Sequence[MappingRow]) -> list[dict[str, Any]]:
    return [r.as_json() for r in rows]


def from_json(raw: Iterable[Mapping[str, Any]] | None) -> tuple[MappingRow, ...]:
    return tuple(MappingRow.from_json(r) for r in raw or ())


def columns(rows: Sequence[MappingRow]) -> list[str]:
    return [r.column for r in rows]


def mapped_fields(rows: Sequence[MappingRow]) -> set[str]:
    """The form fields the rows take, compared as `apply` matches them (case and spaces aside)."""
    return {_loose(r.form_field) for r in rows if r.form_field}


def maps_field(rows: Sequence[MappingRow], name: str) -> bool:
    return _loose(name) in mapped_fields(rows)


def source_columns(default: Sequence[MappingRow], forms: Sequence[Sequence[MappingRow]]) -> list[str]:
    """The columns of a source, in its order: its default mapping's, then those only a form's own
    mapping fills (forms oldest first), each once."""
    found = dict.fromkeys(columns(default))
    for rows in forms:
        found.update(dict.fromkeys(columns(rows)))
    return list(found)


def check(rows: Sequence[MappingRow], field: str = "mappings") -> None:
    """Refuses a mapping that could lose an answer or is ambiguous; the error names the row."""
    seen: dict[str, int] = {}
    catch_all = None
    for i, row in enumerate(rows):
        where = f"{field}[{i}]"
        if not row.column.strip():
            raise InvalidArgument(f"{where}.column", "a column name is required")
        if row.column != row.column.strip():
            raise InvalidArgument(f"{where}.column", f"{row.column!r} has leading or trailing spaces")
        if row.column in seen:
            raise InvalidArgument(f"{where}.column", f"{row.column!r} is already mapped by {field}[{seen[row.column]}]")
        seen[row.column] = i
        kinds = sum((row.form_field is not None, row.constant is not None, row.unmapped_fields))
        if kinds != 1:
            raise InvalidArgument(where, "set exactly one of form_field, constant or unmapped_fields")
        if row.form_field is not None and not row.form_field.strip():
            raise InvalidArgument(f"{where}.form_field", "the form field name is empty")
        if row.constant is not None:
            _check_constant(row.constant, f"{where}.constant")
        if row.column_type and row.column_type not in COLUMN_TYPES:
            raise InvalidArgument(
                f"{where}.column_type",
                f"{row.column_type!r} is not a column type: use one of {', '.join(COLUMN_TYPES)}",
            )
        if row.unmapped_fields:
            if catch_all is not None:
                raise InvalidArgument(
                    f"{where}.unmapped_fields", f"only one catch-all column; {field}[{catch_all}] is already one"
                )
            catch_all = i
    if catch_all is None:
        raise InvalidArgument(
            field,
            "the mapping has no not_mapped_fields catch-all column: add one (unmapped_fields: true) "
            "so that no answer is ever lost",
        )


def _check_constant(constant: Constant, where: str) -> None:
    if constant.kind not in CONSTANT_KINDS:
        raise InvalidArgument(where, f"unknown constant kind {constant.kind!r}")
    if constant.kind == "decimal" and not math.isfinite(float(constant.value)):
        raise InvalidArgument(f"{where}.decimal_value", "must be a finite number")
    if constant.kind == "date":
        try:
            date.fromisoformat(str(constant.value))
        except ValueError:
            raise InvalidArgument(f"{where}.date_value", f"{constant.value!r} is not a YYYY-MM-DD date") from None


def datetime_constant(value: datetime) -> Constant:
    """A date-time constant, kept and rendered as ISO 8601 in UTC ("2026-01-31T09:30:00Z")."""
    utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return Constant("datetime", utc.isoformat().replace("+00:00", "Z"))


def join_values(values: Sequence[str]) -> str:
    return MULTI_VALUE_SEPARATOR.join(values)


def apply(answers: Sequence[Answer], rows: Sequence[MappingRow]) -> dict[str, str]:
    """The mapped columns, in mapping order. A form field matches an answer by exact name, else
    case- and space-insensitively; a field with no answer maps to ""."""
    if not rows:
        return _identity(answers)
    exact: dict[str, list[int]] = {}
    for i, answer in enumerate(answers):
        exact.setdefault(answer.name, []).append(i)
    loose: dict[str, list[int]] | None = None  # built on the first inexact match only
    used: set[int] = set()
    out: dict[str, str] = {}
    catch_all = None
    for row in rows:
        if row.form_field is not None:
            hits = exact.get(row.form_field)
            if not hits:
                if loose is None:
                    loose = {}
                    for i, answer in enumerate(answers):
                        loose.setdefault(_loose(answer.name), []).append(i)
                hits = loose.get(_loose(row.form_field)) or []
            used.update(hits)
            if len(hits) == 1:
                out[row.column] = join_values(answers[hits[0]].values)
            else:
                out[row.column] = join_values([v for i in hits for v in answers[i].values])
        elif row.constant is not None:
            out[row.column] = row.constant.render()
        else:
            catch_all = row.column
            out[row.column] = ""
    if catch_all is not None:
        out[catch_all] = "\n".join(f"{a.name}: {join_values(a.values)}" for i, a in enumerate(answers) if i not in used)
    return out


def _identity(answers: Sequence[Answer]) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in answers:
        value = join_values(a.values)
        out[a.name] = f"{out[a.name]}{MULTI_VALUE_SEPARATOR}{value}" if a.name in out else value
    return out


def _loose(name: str) -> str:
    return " ".join(name.split()).casefold()
