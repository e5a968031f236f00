"""A file row -> the `answers` and `fields` JSON text intake would store for it. Pure.

The mapping is intake's own (mapping.apply), not a copy of it: mapping.apply never looks inside an
answer's values (it matches names, joins values, writes "name: value" lines), so its result for a
row is a template of the row's values that depends only on *which* columns are non-empty. RowMapper
calls mapping.apply once per such pattern with placeholder values, remembers where each value lands,
and fills the template for every row -- about 20x cheaper per row than calling it with real answers,
and equal to it by construction (tests/ingest_service/test_import_rows.py checks that over mappings
with constants, a catch-all, repeated and loose-matched names). Should an answer name or constant
contain the placeholder characters, it simply calls mapping.apply for every row.

As in importer.lead_for_row, an empty cell is not an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from json.encoder import encode_basestring  # json.dumps(s, ensure_ascii=False) for one string
from typing import Any

from leadrelay.capture import mapping
from leadrelay.capture.leads import Answer

_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_MAX_PATTERNS = 4096
# A template item's kinds: its JSON is fixed / one cell's value / literal text and values mixed.
_FIXED, _CELL, _MIXED = 0, 1, 2
# (answers format, fields format or None, fields items)
Template = tuple[str, str | None, list[tuple[str, int, Any]]]  # the payload's type follows the kind


class RowMapper:
    """For one source's plan: file columns -> answer names (None: not read), the mapping rows."""

    def __init__(self, answer_names: Sequence[str | None], rows: Sequence[mapping.MappingRow]) -> None:
        self._names = list(answer_names)
        self._rows = tuple(rows)
        self._read = [i for i, name in enumerate(self._names) if name]
        self._answer_open = {i: '{"name":' + encode_basestring(self._names[i]) + ',"values":[' for i in self._read}  # type: ignore[arg-type]  # _read: named columns only
        self._templates: dict[tuple[int, ...], Template] = {}
        # Literal text in mapping.apply's result comes from answer names and constants only.
        texts = [n for n in self._names if n] + [str(r.constant.value) for r in self._rows if r.constant]
        self._plain = any(_OPEN in t or _CLOSE in t for t in texts)

    def answers(self, values: Sequence[str]) -> tuple[Answer, ...]:
        return tuple(Answer(self._names[i], (values[i],)) for i in self._read if values[i])  # type: ignore[arg-type]  # _read: named columns only

    def __call__(self, values: Sequence[str]) -> tuple[str, str]:
        """(answers JSON, fields JSON) for one row's values (one per file column)."""
        present = tuple([i for i in self._read if values[i]])
        encoded = list(map(encode_basestring, values))
        template = None if self._plain else self._templates.get(present)
        if template is None:
            if self._plain:
                answers = "[" + ",".join([self._answer_open[i] + encoded[i] + "]}" for i in present]) + "]"
                return answers, _dumps(mapping.apply(self.answers(values), self._rows))
            template = self._compile(present)
        answers_format, fields_format, items = template
        if fields_format is not None:
            return answers_format.format(*encoded), fields_format.format(*encoded)
        out = []
        for key, kind, payload in items:
            if kind == _CELL:
                out.append(key + encoded[payload])
            elif kind == _FIXED:
                out.append(payload)
            else:
                out.append(key + encode_basestring("".join([values[p] if type(p) is int else p for p in payload])))
        return answers_format.format(*encoded), "{" + ",".join(out) + "}"

    def _compile(self, present: tuple[int, ...]) -> Template:
        """The template for rows whose non-empty cells are `present`: format strings over the
        row's JSON-encoded cells (one C-level call per row) when every column is a constant or one
        cell; else items filled in Python."""
        if len(self._templates) >= _MAX_PATTERNS:
            self._templates.clear()
        answers_format = "[" + ",".join(_braces(self._answer_open[i]) + f"{{{i}}}]}}}}" for i in present) + "]"
        placeholders = tuple(Answer(self._names[i], (f"{_OPEN}{i}{_CLOSE}",)) for i in present)  # type: ignore[arg-type]  # present: named columns only
        items: list[tuple[str, int, Any]] = []
        for column, text in mapping.apply(placeholders, self._rows).items():
            key = encode_basestring(column) + ":"
            parts: list[object] = []
            last = 0
            for m in _SLOT.finditer(text):
                if m.start() > last:
                    parts.append(text[last : m.start()])
                parts.append(int(m.group(1)))
                last = m.end()
            if last < len(text):
                parts.append(text[last:])
            if not any(type(p) is int for p in parts):
                items.append((key, _FIXED, key + encode_basestring(text)))
            elif len(parts) == 1:
                items.append((key, _CELL, parts[0]))
            else:
                items.append((key, _MIXED, parts))
        fields_format = None
        if all(kind != _MIXED for _, kind, _ in items):
            fields_format = (
                "{{" + ",".join(_braces(p) if kind == _FIXED else f"{_braces(k)}{{{p}}}" for k, kind, p in items) + "}}"
            )
        template = (answers_format, fields_format, items)
        self._templates[present] = template
        return template


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
