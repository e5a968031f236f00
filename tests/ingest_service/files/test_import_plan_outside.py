"""The pure side of vendor imports: identity cells, transforms, plans over unmatched and shared
columns, report footers."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest

from ingest_service.files import import_plan, lead_identity, upload_file
from ingest_service.files.csv_reader import CsvError
from ingest_service.files.header_match import Override
from ingest_service.files.value_transforms import TRANSFORMS
from leadrelay.capture import mapping

ROWS = (
    mapping.MappingRow("email", form_field="email"),
    mapping.MappingRow("phone", form_field="phone"),
    mapping.MappingRow("first_name", form_field="first_name"),
    mapping.MappingRow("last_name", form_field="last_name"),
    mapping.MappingRow("notes", unmapped_fields=True),
)


def _table(headers: list[str]) -> upload_file.Table:
    return upload_file.Table("csv", None, 1, headers, 1)


def test_identity_cells_fill_the_lead_with_facebook_prefixes_dropped() -> None:
    columns = lead_identity.find_columns(["id", "created_time", "form_id", "Test Lead", "email"])
    assert columns == {"platform_lead_id": 0, "captured_at": 1, "form_id": 2, "is_test": 3}
    identity = lead_identity.read(columns, ["l:123", "2026-08-01T10:00:00+0000", "f:77", "TRUE", "a@example.com"])
    assert identity == lead_identity.Identity("123", datetime(2026, 8, 1, 10, tzinfo=UTC), True, "77", "")
    assert lead_identity.parse_time("12/7/2026 9:02 AM") == datetime(2026, 12, 7, 9, 2, tzinfo=UTC)


def test_a_bad_identity_cell_names_what_it_should_be() -> None:
    with pytest.raises(lead_identity.IdentityError, match="'maybe' is not true or false"):
        lead_identity.read({"is_test": 0}, ["maybe"])
    with pytest.raises(lead_identity.IdentityError, match="'yesterday' is not a date and time") as err:
        lead_identity.read({"captured_at": 0}, ["yesterday"])
    assert err.value.use == "captured_at"


def test_full_name_splits_at_the_last_space() -> None:
    assert (TRANSFORMS["given"]("Mary Ann Smith"), TRANSFORMS["family"]("Mary Ann Smith")) == ("Mary Ann", "Smith")
    assert (TRANSFORMS["given"]("Cher"), TRANSFORMS["family"]("Cher")) == ("Cher", "")
    assert TRANSFORMS["title"]("ada lovelace") == "Ada Lovelace"


def test_unmatched_columns_go_to_the_catch_all_and_are_listed() -> None:
    plan = import_plan.plan_source(
        uuid.uuid4(), ROWS, _table(["Email", "Shoe size", "Lead ID"]), (), unmatched=import_plan.CATCH_ALL
    )
    assert plan.feeds is None and plan.answer_names == ["email", "Shoe size", None]
    assert [(u.index, u.use) for u in plan.outside] == [(1, "catch_all"), (2, "platform_lead_id")]
    ignored = import_plan.plan_source(
        uuid.uuid4(),
        ROWS,
        _table(["Email", "Shoe size", "Hat"]),
        (Override("", header="Hat", catch_all=True),),
        unmatched=import_plan.IGNORE,
    )
    assert ignored.answer_names == ["email", None, "Hat"]


def test_shared_columns_take_the_first_non_empty_in_mapping_order() -> None:
    table = _table(["Phone", "Mobile", "full_name"])
    plan = import_plan.plan_source(uuid.uuid4(), ROWS, table, (), unmatched=import_plan.CATCH_ALL)
    assert plan.answer_names == ["phone", "first_name", "last_name"]
    assert import_plan.values(plan, ["", "+44 7700", "Ada Lovelace"]) == ["+44 7700", "Ada", "Lovelace"]
    assert import_plan.values(plan, ["+1 212", "+44 7700", ""]) == ["+1 212", "", ""]
    mobile_first = import_plan.plan_source(
        uuid.uuid4(),
        ROWS,
        table,
        (Override("phone", header="Mobile", transform="trim"), Override("phone", header="Phone")),
        unmatched=import_plan.CATCH_ALL,
    )
    assert import_plan.values(mobile_first, ["+1 212", " +44 7700 ", ""])[0] == "+44 7700"


def _scan(text: str) -> upload_file.Table:
    return upload_file.scan(io.BytesIO(text.encode()), max_rows=100)


def test_report_footer_is_skipped_but_a_short_data_row_is_refused() -> None:
    table = _scan('a,b,c\r\n1,2,3\r\n\r\n"Grand Totals (1 records)"\r\n"Acme Inc"\r\n')
    assert (table.data_rows, table.footer_rows) == (1, (4, 5))
    assert [
        r.fields
        for r in upload_file.rows(
            io.BytesIO(b"a,b,c\r\n1,2,3\r\n\r\nTotal\r\n"), _scan("a,b,c\r\n1,2,3\r\n\r\nTotal\r\n")
        )
    ] == [["1", "2", "3"]]
    with pytest.raises(CsvError, match="row 3, column B"):
        _scan("a,b,c\r\n1,2,3\r\nAcme Inc\r\n")
    with pytest.raises(CsvError, match="row 3, column B"):
        _scan("a,b,c\r\n1,2,3\r\nTotal\r\n4,5,6\r\n")
