"""The CSV reader against csv-spectrum and PapaParse's plain RFC 4180 cases (carried into
tests/fixtures), then encodings, dialect guessing, streaming and malformed files."""

from __future__ import annotations

import base64
import codecs
import io
import json
from pathlib import Path

import pytest

from ingest_service.files import csv_reader
from ingest_service.files.csv_reader import CsvError, Tokenizer, column_letter, parse, read_records, sniff
from ingest_service.files.header_match import unique_headers

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _cases(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line]


SPECTRUM = _cases("csv_spectrum.jsonl")
PAPA = _cases("csv_papaparse_rfc4180.jsonl")


def _records(data: bytes, **kw) -> list[list[str]]:
    return [r.fields for r in read_records(io.BytesIO(data), **kw)]


def test_fixture_counts() -> None:
    assert len(SPECTRUM) == 12
    assert len(PAPA) == 88


@pytest.mark.parametrize("case", SPECTRUM, ids=[c["case_id"] for c in SPECTRUM])
def test_csv_spectrum(case: dict) -> None:
    records = [r.fields for r in read_records(io.BytesIO(base64.b64decode(case["csv_base64"]))) if r.fields != [""]]
    header, *rows = records
    assert [dict(zip(header, row, strict=True)) for row in rows] == case["expected"]


def _papa_delimiter(case: dict) -> str | None:
    delimiter = case["config"].get("delimiter")
    # PapaParse ignores an unusable delimiter (a newline) and guesses instead; so do we here.
    if delimiter is not None and ("\n" in delimiter or "\r" in delimiter or '"' in delimiter):
        delimiter = None
    # The core parser defaults to comma; Papa.parse guesses.
    if delimiter is None and case["api"].startswith("new Papa.Parser"):
        delimiter = ","
    return delimiter


@pytest.mark.parametrize("case", PAPA, ids=[c["case_id"] for c in PAPA])
def test_papaparse_plain_rfc4180(case: dict) -> None:
    rows = parse(case["input"], _papa_delimiter(case))
    if case["config"].get("header") and rows:
        rows[0] = unique_headers(rows[0])
        if case["api"].startswith("Papa.parse"):
            rows = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert rows == case["expected_data"]


def test_every_spectrum_case_also_parses_fed_one_character_at_a_time() -> None:
    for case in SPECTRUM:
        text = base64.b64decode(case["csv_base64"]).decode("utf-8")
        whole = parse(text, ",")
        tokenizer = Tokenizer(",", csv_reader.detect_newline(text))
        pieces = []
        for ch in text:
            pieces += tokenizer.feed(ch)
        pieces += tokenizer.close()
        assert [r.fields for r in pieces] == whole, case["case_id"]
        assert [r.row for r in pieces] == list(range(1, len(whole) + 1))


def test_records_are_numbered_by_record_not_by_line() -> None:
    data = b'a,b\n"multi\nline",2\n\nx,y\n'
    records = list(read_records(io.BytesIO(data)))
    assert [(r.row, r.fields, r.blank) for r in records] == [
        (1, ["a", "b"], False),
        (2, ["multi\nline", "2"], False),
        (3, [""], True),
        (4, ["x", "y"], False),
        (5, [""], True),
    ]


def test_streams_across_small_chunks_with_quotes_split_everywhere() -> None:
    data = b'h1,h2,h3\r\n"a ""quoted"" value","multi\r\nline",plain\r\nx,"",z\r\n'
    expected = [["h1", "h2", "h3"], ['a "quoted" value', "multi\r\nline", "plain"], ["x", "", "z"], [""]]
    for size in (1, 2, 3, 5, 7, 64):
        assert _records(data, chunk_bytes=size) == expected


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("cp1252", b""),
    ],
)
def test_reads_each_encoding_excel_writes(encoding: str, bom: bytes) -> None:
    text = "Name,City,Note\r\nJosé Müller,Zürich,“quoted” – 5€\r\nÅsa,Malmö,ok\r\n"
    records = _records(bom + text.encode(encoding))
    assert records[:3] == [["Name", "City", "Note"], ["José Müller", "Zürich", "“quoted” – 5€"], ["Åsa", "Malmö", "ok"]]


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    text = "Email\tFirst name\r\nana@example.com\tAña\r\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    dialect = sniff(io.BytesIO(data))
    assert (dialect.encoding, dialect.delimiter) == ("utf-16", "\t")
    assert _records(data)[:2] == [["Email", "First name"], ["ana@example.com", "Aña"]]


def test_utf8_that_turns_into_cp1252_late_in_the_file_reads_as_cp1252() -> None:
    data = b"a,b\n" + b"x,y\n" * 40_000 + "Zürich,ok\n".encode("cp1252")
    assert sniff(io.BytesIO(data)).encoding == "cp1252"
    assert _records(data)[-2] == ["Zürich", "ok"]


def test_detect_encoding_keeps_utf8_cut_mid_character() -> None:
    assert csv_reader.detect_encoding("abcé".encode()[:-1]) == "utf-8"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;2,5;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ('"x;y",b,c\n1,2,3\n', ","),
        ('Name;Amount\n"Doe, J";"1,5"\n', ";"),
        ("single\ncolumn\n", ","),
        ("", ","),
    ],
)
def test_delimiter_detection(text: str, delimiter: str) -> None:
    assert csv_reader.detect_delimiter(text) == delimiter


def test_semicolon_file_from_european_excel() -> None:
    data = "E-Mail;Vorname;Betrag\r\nana@example.de;Jürgen;1,50\r\n".encode("cp1252")
    assert _records(data)[:2] == [["E-Mail", "Vorname", "Betrag"], ["ana@example.de", "Jürgen", "1,50"]]


def test_old_mac_cr_line_ends() -> None:
    assert parse("a,b\r1,2\r3,4") == [["a", "b"], ["1", "2"], ["3", "4"]]


def test_lf_file_keeps_a_stray_cr_inside_a_field_but_strips_crlf() -> None:
    assert parse("a,b\nc\rd,e\r\nf,g") == [["a", "b"], ["c\rd", "e"], ["f", "g"]]


def test_unclosed_quote_names_row_and_column() -> None:
    with pytest.raises(CsvError) as err:
        _records(b'a,b,c\n1,2,3\n4,"oops,6\n7,8,9\n')
    assert (err.value.row, err.value.column) == (3, 2)
    assert str(err.value) == "row 3, column B: a quoted field is never closed (missing closing quote)"


def test_text_after_closing_quote_names_row_and_column() -> None:
    with pytest.raises(CsvError) as err:
        parse('a,b,c\n1,"2"x,3\n', ",")
    assert (err.value.row, err.value.column) == (2, 2)
    assert "after a closing quote" in str(err.value)


def test_runaway_quote_stops_at_the_record_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "MAX_RECORD_CHARS", 1000)
    data = b'a,b\n1,"never closed\n' + b"x,y\n" * 2000
    with pytest.raises(CsvError) as err:
        _records(data, chunk_bytes=256)
    assert (err.value.row, err.value.column) == (2, 2)


def test_overlong_unquoted_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "MAX_RECORD_CHARS", 1000)
    with pytest.raises(CsvError) as err:
        _records(b"a,b\n" + b"x" * 5000 + b",y\n", chunk_bytes=256)
    assert err.value.row == 2
    assert "longer than 1000 characters" in str(err.value)


def test_invalid_bytes_in_declared_utf16() -> None:
    data = codecs.BOM_UTF16_LE + "a,b\r\n".encode("utf-16-le") + b"\x00\xd8"  # a lone high surrogate
    with pytest.raises(CsvError) as err:
        _records(data)
    assert err.value.row == 2  # the record being read when the bad bytes came
    assert "not valid utf-16" in str(err.value)


def test_empty_file_has_no_records() -> None:
    assert _records(b"") == []


def test_column_letters() -> None:
    assert [column_letter(n) for n in (1, 2, 26, 27, 52, 53, 702, 703)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]


def test_unusable_delimiter_is_refused() -> None:
    for bad in ("", '"', "\n"):
        with pytest.raises(ValueError):
            Tokenizer(bad)


# The C csv module reads what it can; every record it would read differently goes through the rules
# in Python. Reference: the same text with the C path switched off.
MIXED = (
    'a,"b ""q""",c\r\n'
    '"spaces after" ,x,y\r\n'  # lenient: spaces after a closing quote
    "stray\rcr,in,field\n"  # a CR inside an unquoted field (LF file)
    'multi,"line\r\nvalue",z\r\n'
    "\r\n"  # a blank record
    'A,B",C\n'  # a quote inside an unquoted field
    '"tab after"\t,1,2\n'
    + "".join(f'r{i},"q,{i}",v\r\n' for i in range(600))  # enough for the C reader to take over again
    + '"last" ,no,newline'
)


def _python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tokenizer, "_parse_c", lambda self, buf, pos, out: pos)


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_c_reader_and_python_rules_agree_record_by_record(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    data = MIXED.encode()
    fast = [(r.row, r.fields) for r in read_records(io.BytesIO(data), chunk_bytes=size)]
    with monkeypatch.context() as m:
        _python_only(m)
        slow = [(r.row, r.fields) for r in read_records(io.BytesIO(data), chunk_bytes=size)]
    assert fast == slow
    assert fast[1] == (2, ["spaces after", "x", "y"])
    assert fast[2] == (3, ["stray\rcr", "in", "field"])
    assert fast[-1] == (608, ["last", "no", "newline"])


@pytest.mark.parametrize(
    "tail",
    ['"never closed,1,2\r\n', '"a"b,1,2\r\n', 'x,"y" z,1\r\n'],
)
def test_c_reader_and_python_rules_refuse_alike(monkeypatch: pytest.MonkeyPatch, tail: str) -> None:
    data = ("".join(f"r{i},v,w\r\n" for i in range(300)) + tail + "after,1,2\r\n").encode()
    with pytest.raises(CsvError) as fast:
        list(read_records(io.BytesIO(data)))
    _python_only(monkeypatch)
    with pytest.raises(CsvError) as slow:
        list(read_records(io.BytesIO(data)))
    assert str(fast.value) == str(slow.value)
    assert fast.value.row == 301
