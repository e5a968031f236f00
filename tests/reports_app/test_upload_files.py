"""The uploaded file as the console reads it: samples per column, rows numbered as the ingest
service numbers them, and the rows still to fix in the file's own format with the new reason."""

from __future__ import annotations

import codecs
import csv
import io

from openpyxl import load_workbook

from reports_app import labels
from reports_app import upload_files as files
from tests.ingest_service.file_support import csv_bytes, xlsx_bytes

HEADER = ["LeadID", "DispositionCode", "CustomReason", "email", "country"]
LATIN = [
    HEADER,
    *(
        [*r[:4], "Österreich"]
        for r in [["a1", "", "", "x@example.com"], ["a2", "", "", "y@example.com"], ["a3", "", "", "z@example.com"]]
    ),
]
ROWS = [
    HEADER,
    ["a1", "REJECT_LEAD_INVALID_EMAIL", "old", "bo-at-example.com", "Germany"],
    ["a2", "REJECT_LEAD_INVALID_LIST_VALUE", "old", "cy@example.com", "Narnia"],
    ["a3", "REJECT_LEAD_INVALID_LIST_VALUE", "old", "di@example.com", "=Mordor"],
]


def test_a_csv_in_any_common_encoding_and_delimiter_reads_the_same():
    for data in (
        csv_bytes(ROWS),
        codecs.BOM_UTF8 + csv_bytes(ROWS),
        csv_bytes(ROWS, encoding="utf-16"),
        csv_bytes(ROWS, delimiter=";"),
        csv_bytes(LATIN, encoding="cp1252"),
    ):
        table = files.read(data)
        assert table.headers == HEADER and [n for n, _ in table.rows] == [2, 3, 4]
    assert (
        files.read(csv_bytes([[*r[:4], "Österreich"] for r in ROWS], encoding="cp1252")).rows[0][1][4] == "Österreich"
    )


def test_samples_are_distinct_non_empty_values_in_file_order():
    table = files.read(csv_bytes([["a", "b"], ["x", ""], ["x", "1"], ["y", "2"], ["z", "3"], ["w", "4"]]))
    assert files.samples(table, 0) == ["x", "y", "z"]
    assert files.samples(table, 1, n=2) == ["1", "2"]
    assert [files.letter(i) for i in (0, 25, 26, 27)] == ["A", "Z", "AA", "AB"]


def test_the_rows_still_to_fix_keep_the_files_format_with_the_new_reason():
    reasons = {4: ("REJECT_LEAD_INVALID_LIST_VALUE", 'country: "=Mordor" is not on the picklist'), 2: ("", "held: …")}
    data, name = files.still_to_fix(csv_bytes(ROWS), reasons, "fixed.csv")
    assert name == "fixed-to-fix.csv"
    back = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert back == [
        HEADER,
        ["a1", "", "held: …", "bo-at-example.com", "Germany"],
        [
            "a3",
            "REJECT_LEAD_INVALID_LIST_VALUE",
            'country: "=Mordor" is not on the picklist',
            "di@example.com",
            "=Mordor",
        ],
    ]

    data, name = files.still_to_fix(xlsx_bytes(ROWS), reasons, "fixed.xlsx")
    assert name == "fixed-to-fix.xlsx"
    sheet = load_workbook(io.BytesIO(data)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1][0] == "a1"
    assert sheet.freeze_panes == "A2"


def test_a_report_file_neutralises_formulas_in_csv():
    data = files.rows_file(["Row", "Reason"], [[2, "=HYPERLINK(1)"]], xlsx=False)
    assert data.decode("utf-8-sig").splitlines()[1] == "2,'=HYPERLINK(1)"


def test_who_acted_in_words():
    emails = {"7c1e": "ana@example.com"}
    assert labels.actor("user:7c1e", emails) == "ana@example.com"
    assert labels.actor("user:gone", emails) == "a removed user"
    assert labels.actor("key:ab12", emails) == "API key lr_ab12_…"
    assert labels.actor("", emails) == "LeadRelay"
