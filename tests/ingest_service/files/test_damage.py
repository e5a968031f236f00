"""Spreadsheet damage told apart from real fixes. Every damaged value is made with the transformation
a spreadsheet applies (a Windows-1252 save with `?` or low bytes, UTF-8 read as Windows-1252, a cell
read as a double and written back, a date written in another format), never typed by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from ingest_service.files import damage
from ingest_service.files.damage import (
    APOSTROPHE,
    DATE,
    LEADING_ZEROS,
    LONG_NUMBER,
    LOW_BYTES,
    MOJIBAKE,
    QUESTION_MARKS,
    Damage,
    find,
    kind_of,
)
from tests.ingest_service.spreadsheet_saves import (
    read_as_exact_double,
    read_as_number_excel_column,
    read_as_number_format,
    read_as_number_general,
    read_as_number_libreoffice,
    saved_as_1252_with_low_bytes,
    saved_as_1252_with_question_marks,
    utf8_read_as_1252,
    utf8_read_as_latin1,
)

NON_LATIN = ["Łódź", "東京", "Иван Петров", "Zoë Ωmega", "Dvořák", "José 😀", "Ἀθῆναι", "Nguyễn Văn A"]


@pytest.mark.parametrize("stored", NON_LATIN)
def test_non_latin_characters_replaced_by_question_marks_are_damage(stored: str) -> None:
    assert kind_of(stored, saved_as_1252_with_question_marks(stored)) == QUESTION_MARKS


@pytest.mark.parametrize("stored", [v for v in NON_LATIN if v not in ("Zoë Ωmega",)])
def test_non_latin_characters_replaced_by_their_low_byte_are_damage(stored: str) -> None:
    saved = saved_as_1252_with_low_bytes(stored)
    assert saved != stored
    assert kind_of(stored, saved) in (LOW_BYTES, QUESTION_MARKS)


def test_the_low_byte_replacements_seen_in_libreoffice() -> None:
    assert saved_as_1252_with_low_bytes("Łódź") == "Aódz"
    assert saved_as_1252_with_low_bytes("東京") == "q¬"
    assert kind_of("Łódź", "Aódz") == LOW_BYTES
    assert kind_of("東京", "q¬") == LOW_BYTES
    assert kind_of("Иван Петров", "???? ??????") == QUESTION_MARKS


@pytest.mark.parametrize(
    "stored", ["Zoë", "São Paulo", "Müller-Lüdenscheidt", "Łódź", "東京", "Straße 5", "naïve café"]
)
@pytest.mark.parametrize("transform", [utf8_read_as_1252, utf8_read_as_latin1])
def test_utf8_read_as_windows_1252_is_mojibake(stored: str, transform) -> None:  # type: ignore[no-untyped-def]
    assert kind_of(stored, transform(stored)) == MOJIBAKE


def test_mojibake_in_a_cell_the_manager_also_changed_is_still_caught() -> None:
    assert kind_of("Zoe", utf8_read_as_1252("Zoë Smith")) == MOJIBAKE


@pytest.mark.parametrize("stored", ["01234", "0044207946095", "007", "+4915112345678", "000", "0012"])
def test_leading_zeros_or_plus_lost_when_read_as_a_number(stored: str) -> None:
    assert kind_of(stored, read_as_number_general(stored)) == LEADING_ZEROS


LONG_NUMBERS = ["9765120000000123", "1234567890123456", "4111111111111111", "12345678901234567", "00441234567890123"]
NUMBER_SAVES = [
    read_as_number_general,
    read_as_number_excel_column,
    read_as_number_libreoffice,
    read_as_number_format,
    read_as_exact_double,
]


@pytest.mark.parametrize(
    ("stored", "saved"),
    # A double holds integers below 2**53 exactly: those the exact save leaves as they are.
    [(n, save(n)) for n in LONG_NUMBERS for save in NUMBER_SAVES if save(n) != n],
)
def test_long_numbers_in_e_notation_or_rounded_are_damage(stored: str, saved: str) -> None:
    assert kind_of(stored, saved) in (LONG_NUMBER, LEADING_ZEROS)


def test_the_long_number_forms_seen_in_spreadsheets() -> None:
    assert read_as_number_libreoffice("9765120000000123") == "9.76512000000012E+015"
    assert read_as_number_excel_column("9765120000000123") == "9.76512E+15"
    assert kind_of("9765120000000123", "9.76512000000012E+015") == LONG_NUMBER
    assert kind_of("9765120000000123", "9.76512E+15") == LONG_NUMBER
    assert kind_of("9765120000000123", "9,76512E+15") == LONG_NUMBER
    assert kind_of("123456789012", "1.23457E+11") == LONG_NUMBER
    assert kind_of("9765120000000123", "9765120000000120") == LONG_NUMBER
    # An XLSX cell holding the double, as the XLSX reader writes it back.
    assert kind_of("9765120000000123", repr(float("9765120000000123"))) == LONG_NUMBER


DATES = ["2026-03-01", "2026-12-31", "1999-07-04", "2026-03-01T10:15:00", "2026-11-09 08:05"]
DATE_FORMATS = [
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%d %B %Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%Y-%m-%dT%H:%M:%S",
]


@pytest.mark.parametrize(
    ("stored", "saved"),
    [
        (d, datetime.fromisoformat(d).strftime(f))
        for d in DATES
        for f in DATE_FORMATS
        if datetime.fromisoformat(d).strftime(f) != d
    ],
)
def test_dates_reformatted_by_a_spreadsheet_are_damage(stored: str, saved: str) -> None:
    assert kind_of(stored, saved) == DATE


@pytest.mark.parametrize("stored", DATES)
def test_a_date_written_as_its_excel_serial_number_is_damage(stored: str) -> None:
    moment = datetime.fromisoformat(stored)
    serial = (moment - datetime(1899, 12, 30)).total_seconds() / 86400
    saved = str(int(serial)) if serial.is_integer() else f"{serial:.6f}"
    assert kind_of(stored, saved) == DATE


@pytest.mark.parametrize("stored", ["'+tag", "'=SUM(A1)", "'s-Hertogenbosch", "'01234"])
def test_a_leading_apostrophe_removed_is_damage(stored: str) -> None:
    assert kind_of(stored, stored[1:]) == APOSTROPHE


@pytest.mark.parametrize(
    ("stored", "fixed"),
    [
        ("Germany", "United States"),
        ("bo-at-example.com", "bo@example.com"),
        ("Łódź", "Lodz"),
        ("Москва", "Moskva"),
        ("Who?", "Who"),
        ("Cafe", "Café"),
        ("01234", "01235"),
        ("1234", "01234"),
        ("12345", "12346"),
        ("4111111111111111", "4111111111111112"),
        ("+4915112345678", "+4915112345679"),
        ("2026-03-01", "2026-03-02"),
        ("2026-03-01", "01/04/2026"),
        ("03/01/2026", "03/01/2027"),
        ("tag", "'tag"),
        ("Ana", "Anna"),
        ("", "filled in"),
        ("555-0100", "555-0199"),
        ("Straße", "Strasse"),
    ],
)
def test_real_fixes_are_not_damage(stored: str, fixed: str) -> None:
    assert kind_of(stored, fixed) is None


def test_an_unchanged_value_is_not_damage() -> None:
    assert kind_of("東京", "東京") is None


def test_find_names_each_damaged_column_with_both_values() -> None:
    old = {"first_name": "Łódź", "zip": "01234", "country": "Narnia", "phone": "9765120000000123"}
    new = {
        "first_name": saved_as_1252_with_low_bytes("Łódź"),
        "zip": read_as_number_general("01234"),
        "country": "Germany",
        "phone": read_as_number_excel_column("9765120000000123"),
    }
    found = find(old, new, ["first_name", "zip", "country", "phone"])
    assert found == [
        Damage("first_name", LOW_BYTES, "Łódź", "Aódz"),
        Damage("zip", LEADING_ZEROS, "01234", "1234"),
        Damage("phone", LONG_NUMBER, "9765120000000123", "9.76512E+15"),
    ]
    assert found[1].description == damage.DESCRIPTIONS[LEADING_ZEROS]


def test_find_reads_a_missing_stored_column_as_empty() -> None:
    assert find({}, {"notes": "?"}, ["notes"]) == []
