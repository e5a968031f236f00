"""import_rows.RowMapper gives exactly what intake stores: mapping.apply over the row's answers."""

from __future__ import annotations

import itertools
import json

import pytest

from ingest_service.files.import_rows import RowMapper
from leadrelay.capture import mapping
from leadrelay.capture.leads import Answer
from leadrelay.capture.mapping import Constant, MappingRow

MAPPINGS = {
    "one to one with catch-all": (
        MappingRow("email", form_field="email"),
        MappingRow("phone", form_field="phone"),
        MappingRow("notes", unmapped_fields=True),
    ),
    "constants, loose names, one field twice": (
        MappingRow("Lead Source", constant=Constant("string", "Trade show")),
        MappingRow("Email", form_field="E-mail "),
        MappingRow("Email again", form_field="e-mail"),
        MappingRow("Opt in", constant=Constant("boolean", True)),
        MappingRow("Score", constant=Constant("decimal", 2.0)),
        MappingRow("rest", unmapped_fields=True),
    ),
    "no mapping (every answer its own column)": (),
}
# File columns -> answer names; two columns feed one name, one column is not read.
NAMES = ["e-mail", "phone", None, "E-mail ", "Company", "phone"]
VALUES = ["", "a@b.c", '+1 "415"', "x;y", "Zoë\nline 2", "=1+1", "\ue0001\ue001", "\\u0000"]


def _expected(names, rows, values):
    answers = tuple(Answer(n, (v,)) for n, v in zip(names, values, strict=True) if n and v)
    answers_json = json.dumps([a.as_json() for a in answers], ensure_ascii=False)
    return json.loads(answers_json), mapping.apply(answers, rows)


@pytest.mark.parametrize("name", list(MAPPINGS))
def test_equal_to_mapping_apply_for_every_pattern_of_empty_cells(name: str) -> None:
    rows = MAPPINGS[name]
    mapper = RowMapper(NAMES, rows)
    checked = 0
    for combo in itertools.product(VALUES[:4], repeat=len(NAMES)):
        for shift in (0, 4):  # the same pattern again with other values: the template is reused
            values = [v if not v else VALUES[(VALUES.index(v) + shift) % len(VALUES)] or "z" for v in combo]
            answers, fields = mapper(values)
            want_answers, want_fields = _expected(NAMES, rows, values)
            assert json.loads(answers) == want_answers
            assert json.loads(fields) == want_fields
            assert list(json.loads(fields)) == list(want_fields)  # same column order too
            checked += 1
    assert checked == 2 * 4 ** len(NAMES)


def test_names_or_constants_with_placeholder_characters_fall_back_to_mapping_apply() -> None:
    rows = (MappingRow("c", constant=Constant("string", "\ue0001\ue001")), MappingRow("rest", unmapped_fields=True))
    names = ["a\ue000", "b"]
    mapper = RowMapper(names, rows)
    for values in (["x", "y"], ["", "\ue0000\ue001"], ["x", ""]):
        answers, fields = mapper(values)
        want_answers, want_fields = _expected(names, rows, values)
        assert (json.loads(answers), json.loads(fields)) == (want_answers, want_fields)
