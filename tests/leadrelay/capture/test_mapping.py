"""Field mapping is a pure function of (answers, mapping)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadrelay.capture.leads import Answer
from leadrelay.capture.mapping import Constant, MappingRow, apply, check, columns, datetime_constant, from_json, to_json
from leadrelay.errors import InvalidArgument

ANSWERS = (
    Answer("email", ("ann@example.com",)),
    Answer("Job Title", ("CTO",)),
    Answer("interests", ("CRM", "Email", "Ads")),
    Answer("How did you hear about us?", ("A friend",)),
)


def row(column: str, **kw) -> MappingRow:
    return MappingRow(column, **kw)


CATCH_ALL = row("notes", unmapped_fields=True)


def test_maps_fields_constants_and_collects_the_rest_in_the_catch_all() -> None:
    rows = [
        row("Email", form_field="email"),
        row("Title", form_field="job title"),  # case- and space-insensitive fallback
        row("Interests", form_field="interests"),
        row("Source", constant=Constant("string", "LinkedIn")),
        CATCH_ALL,
    ]
    assert apply(ANSWERS, rows) == {
        "Email": "ann@example.com",
        "Title": "CTO",
        "Interests": "CRM;Email;Ads",
        "Source": "LinkedIn",
        "notes": "How did you hear about us?: A friend",
    }


def test_column_order_is_mapping_order() -> None:
    rows = [CATCH_ALL, row("b", form_field="email"), row("a", constant=Constant("boolean", True))]
    assert list(apply(ANSWERS, rows)) == ["notes", "b", "a"] == columns(rows)


def test_a_field_with_no_answer_maps_to_empty_and_nothing_is_lost() -> None:
    rows = [row("phone", form_field="phone_number"), CATCH_ALL]
    out = apply(ANSWERS, rows)
    assert out["phone"] == ""
    assert out["notes"].splitlines() == [
        "email: ann@example.com",
        "Job Title: CTO",
        "interests: CRM;Email;Ads",
        "How did you hear about us?: A friend",
    ]


def test_an_answer_mapped_twice_fills_both_columns_and_not_the_catch_all() -> None:
    rows = [row("a", form_field="email"), row("b", form_field="email"), CATCH_ALL]
    out = apply(ANSWERS[:1], rows)
    assert out == {"a": "ann@example.com", "b": "ann@example.com", "notes": ""}


def test_exact_name_wins_over_the_loose_match() -> None:
    answers = (Answer("Email", ("upper@example.com",)), Answer("email", ("lower@example.com",)))
    assert apply(answers, [row("x", form_field="Email"), CATCH_ALL])["x"] == "upper@example.com"


def test_repeated_answers_of_one_name_are_joined() -> None:
    answers = (Answer("tag", ("a",)), Answer("tag", ("b", "c")))
    assert apply(answers, [row("t", form_field="tag"), CATCH_ALL])["t"] == "a;b;c"
    assert apply(answers, []) == {"tag": "a;b;c"}


def test_without_a_mapping_every_answer_is_its_own_column() -> None:
    assert apply(ANSWERS[:3], []) == {"email": "ann@example.com", "Job Title": "CTO", "interests": "CRM;Email;Ads"}


@pytest.mark.parametrize(
    ("constant", "text"),
    [
        (Constant("string", "x"), "x"),
        (Constant("decimal", 12.5), "12.5"),
        (Constant("decimal", 3.0), "3"),
        (Constant("decimal", -0.1), "-0.1"),
        (Constant("boolean", True), "true"),
        (Constant("boolean", False), "false"),
        (Constant("date", "2026-01-31"), "2026-01-31"),
        (datetime_constant(datetime(2026, 1, 31, 9, 30, tzinfo=UTC)), "2026-01-31T09:30:00Z"),
        (Constant("lookup", "CAMPAIGN-7"), "CAMPAIGN-7"),
    ],
)
def test_typed_constants_render_as_text(constant: Constant, text: str) -> None:
    assert apply((), [row("c", constant=constant), CATCH_ALL])["c"] == text


def test_json_round_trip() -> None:
    rows = (row("a", form_field="email"), row("b", constant=Constant("decimal", 1.5)), CATCH_ALL)
    assert from_json(to_json(rows)) == rows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([row("a", form_field="email")], "mappings: the mapping has no not_mapped_fields catch-all column"),
        ([], "mappings: the mapping has no not_mapped_fields catch-all column"),
        ([row("", form_field="email"), CATCH_ALL], "mappings[0].column: a column name is required"),
        ([row(" a", form_field="email"), CATCH_ALL], "mappings[0].column: ' a' has leading or trailing spaces"),
        ([CATCH_ALL, row("notes", form_field="x")], "mappings[1].column: 'notes' is already mapped by mappings[0]"),
        ([row("a", form_field=" "), CATCH_ALL], "mappings[0].form_field: the form field name is empty"),
        ([row("a"), CATCH_ALL], "mappings[0]: set exactly one of form_field, constant or unmapped_fields"),
        ([row("a", form_field="x", constant=Constant("string", "y")), CATCH_ALL], "mappings[0]: set exactly one"),
        ([CATCH_ALL, row("n2", unmapped_fields=True)], "mappings[1].unmapped_fields: only one catch-all column"),
        ([row("d", constant=Constant("date", "31/01/2026")), CATCH_ALL], "mappings[0].constant.date_value:"),
        ([row("d", constant=Constant("decimal", float("nan"))), CATCH_ALL], "mappings[0].constant.decimal_value:"),
    ],
)
def test_refuses_bad_mappings_naming_the_row(rows: list[MappingRow], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check(rows)
    assert str(err.value).startswith(message)
