"""Header matching: normalisation, synonyms, manual mappings, positions, and the errors."""

from __future__ import annotations

import pytest

from ingest_service.files.header_match import (
    HeaderError,
    Override,
    match_headers,
    normalise,
    positional,
    unique_headers,
)

COLUMNS = ["email", "phone", "first_name", "last_name", "company", "country", "zip"]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("email", "email"),
        ("E-mail", "email"),
        ("  EMAIL  ", "email"),
        ("e_mail", "email"),
        ("Email Address", "email"),
        ("Work email", "email"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("First Name", "first_name"),
        ("first-name", "first_name"),
        ("Given name", "first_name"),
        ("Surname", "last_name"),
        ("Organisation", "company"),
        ("Country/Region", "country"),
        ("Zip Code", "zip"),
        ("Postal code", "zip"),
        ("Pays", None),
    ],
)
def test_matches_case_spacing_punctuation_and_synonyms(header: str, column: str | None) -> None:
    if column is None:
        with pytest.raises(HeaderError):
            match_headers([header], COLUMNS)
    else:
        assert match_headers([header], COLUMNS) == [column]


def test_normalise_strips_accents_case_and_punctuation() -> None:
    assert normalise(" Téléphone (Mobile) ") == "telephonemobile"
    assert normalise("E-Mail") == "email"


def test_a_synonym_with_two_candidate_columns_matches_neither() -> None:
    with pytest.raises(HeaderError) as err:
        match_headers(["Mobile"], ["work_phone", "mobile_phone", "phone_number"])
    assert err.value.column == 1


def test_unmatched_header_error_names_row_and_column() -> None:
    with pytest.raises(HeaderError) as err:
        match_headers(["email", "Shoe size"], ["email", "phone"])
    assert str(err.value) == (
        'row 1, column B ("Shoe size"): matches no column of the source (columns: email, phone); '
        "map it in the import's column mapping, or map it to nothing to ignore it"
    )


def test_overrides_win_and_an_empty_column_ignores() -> None:
    headers = ["Mail", "Badge", "Telefon"]
    overrides = [Override("phone", header="telefon"), Override("", header="Badge"), Override("email", position=1)]
    assert match_headers(headers, COLUMNS, overrides) == ["email", None, "phone"]


def test_override_to_an_unknown_column_or_header_is_an_error() -> None:
    with pytest.raises(HeaderError, match="the source does not have"):
        match_headers(["a"], COLUMNS, [Override("nope", header="a")])
    with pytest.raises(HeaderError, match="a header the file does not have"):
        match_headers(["email"], COLUMNS, [Override("phone", header="Phone")])
    with pytest.raises(HeaderError, match="position 3"):
        match_headers(["email"], COLUMNS, [Override("phone", position=3)])


def test_two_headers_for_one_column() -> None:
    with pytest.raises(HeaderError) as err:
        match_headers(["Email", "E-mail"], COLUMNS)
    assert (
        str(err.value) == 'row 1, column B ("E-mail"): feeds column \'email\', which column A ("Email") already feeds'
    )


def test_blank_headers_and_skipped_indexes_are_ignored() -> None:
    assert match_headers(["LeadID", "", "email"], COLUMNS, skip=[0]) == [None, None, "email"]


def test_a_header_of_only_ignored_columns_maps_to_nothing() -> None:
    with pytest.raises(HeaderError, match="maps to none of the source's columns"):
        match_headers(["", "x"], COLUMNS, [Override("", header="x")])


def test_non_strict_leaves_unmatched_as_none() -> None:
    assert match_headers(["email", "Shoe"], COLUMNS, strict=False) == ["email", None]
    assert match_headers(["a"], ["email"], [Override("phone", header="a")], strict=False) == [None]


def test_positional() -> None:
    assert positional(3, COLUMNS) == ["email", "phone", "first_name"]
    assert positional(2, COLUMNS, [Override("country", position=2)]) == [None, "country"]
    with pytest.raises(HeaderError) as err:
        positional(3, ["email", "phone"])
    assert err.value.column == 3
    with pytest.raises(HeaderError, match="must name a position"):
        positional(2, COLUMNS, [Override("email", header="x")])


def test_unique_headers_papaparse_rule() -> None:
    assert unique_headers(["A", "A", "A", "A"]) == ["A", "A_1", "A_2", "A_3"]
    assert unique_headers(["c", "c", "c", "c_1"]) == ["c", "c_2", "c_3", "c_1"]
    assert unique_headers(["a", "b"]) == ["a", "b"]
