import pytest

from leadrelay.v1 import common_pb2
from reports_app.mapping_grid import (
    CATCH_ALL,
    CONSTANT,
    FIELD,
    GridError,
    GridRow,
    explain,
    from_mapping,
    moved,
    starter,
    to_mapping,
)


def test_a_grid_becomes_field_mappings_and_back_with_types_and_constants():
    grid = [
        GridRow("Email", "email", FIELD, "email"),
        GridRow("Campaign", "lookup", CONSTANT, "", "lookup", " CMP-7 "),
        GridRow("Budget", "decimal", CONSTANT, "", "decimal", "12.5"),
        GridRow("Consent", "boolean", CONSTANT, "", "boolean", "Yes"),
        GridRow("Day", "date", CONSTANT, "", "date", "2027-01-31"),
        GridRow("At", "datetime", CONSTANT, "", "datetime", "2027-01-31 09:30"),
        GridRow("Notes", "", CATCH_ALL),
    ]
    rows = to_mapping(grid)
    assert [(r.column, r.column_type, r.WhichOneof("value")) for r in rows] == [
        ("Email", "email", "form_field"),
        ("Campaign", "lookup", "constant"),
        ("Budget", "decimal", "constant"),
        ("Consent", "boolean", "constant"),
        ("Day", "date", "constant"),
        ("At", "datetime", "constant"),
        ("Notes", "", "unmapped_fields"),
    ]
    assert rows[1].constant.lookup_value == "CMP-7" and rows[3].constant.bool_value is True
    back = from_mapping(rows)
    assert back[1] == GridRow("Campaign", "lookup", CONSTANT, "", "lookup", "CMP-7")
    assert back[2].constant_value == "12.5" and back[3].constant_value == "true"
    assert back[5].constant_value == "2027-01-31 09:30" and back[6] == grid[6]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ([GridRow("", takes=CATCH_ALL)], "Row 1: give the column a name"),
        ([GridRow("A", field="a"), GridRow("A", takes=CATCH_ALL)], "Row 2 (A): row 1 has the same column"),
        ([GridRow("A"), GridRow("N", takes=CATCH_ALL)], "Row 1 (A): choose the form field"),
        (
            [GridRow("A", takes=CONSTANT, constant_kind="decimal", constant_value="ten")],
            "Row 1 (A): 'ten' is not a number",
        ),
        (
            [GridRow("A", takes=CONSTANT, constant_kind="date", constant_value="31/01")],
            "Row 1 (A): '31/01' is not a date",
        ),
        ([GridRow("A", field="a")], "One column must take everything not mapped"),
    ],
)
def test_a_row_the_services_would_refuse_is_named(grid, message):
    with pytest.raises(GridError, match=message.replace("(", r"\(").replace(")", r"\)")):
        to_mapping(grid)


def test_refusals_name_rows_and_rows_move():
    assert explain("mappings[2].constant.date_value: bad") == "row 3.constant.date_value: bad"
    grid = starter(["email", "city"])
    assert [r.column for r in grid] == ["email", "city", "not_mapped_fields"]
    assert [r.column for r in moved(grid, 2, -1)] == ["email", "not_mapped_fields", "city"]
    assert moved(grid, 0, -1) == grid
    assert (
        from_mapping([common_pb2.FieldMapping(column="x", form_field="y", column_type="colour")])[0].column_type == ""
    )
