"""Body templates: placeholders become the lead's values, nested anywhere, with filters; bad templates
are refused naming the position."""

from __future__ import annotations

import json

import pytest

from leadrelay.errors import InvalidArgument
from validation_service import body_template
from validation_service.body_template import check_template, compile_template

LEAD = {
    "email": "Ana@Example.COM",
    "first_name": "Ana",
    "last_name": "Paz",
    "full_name": " Ana María Paz ",
    "phone": "",
}


def render(template: object, lead: dict | None = None) -> object:
    return compile_template(json.dumps(template)).render(LEAD if lead is None else lead)


def test_a_whole_string_placeholder_becomes_the_value() -> None:
    assert render({"email": "{{email}}"}) == {"email": "Ana@Example.COM"}


def test_an_empty_or_missing_value_becomes_null() -> None:
    assert render({"phone": "{{phone}}", "city": "{{city}}"}) == {"phone": None, "city": None}


def test_a_typed_value_keeps_its_type() -> None:
    assert render({"n": "{{score}}", "b": "{{opt_in}}"}, {"score": 12.5, "opt_in": True}) == {"n": 12.5, "b": True}


def test_several_placeholders_interpolate_and_empty_reads_as_nothing() -> None:
    assert render({"name": "{{first_name}} {{last_name}}", "note": "tel: {{phone}}."}) == {
        "name": "Ana Paz",
        "note": "tel: .",
    }


def test_objects_and_arrays_nest_freely() -> None:
    template = {
        "action": "createOrUpdate",
        "input": [{"email": "{{email}}", "tags": ["lr", "{{first_name}}"], "deep": {"x": {"y": "{{last_name}}"}}}],
        "count": 1,
        "flag": True,
        "none": None,
    }
    assert render(template) == {
        "action": "createOrUpdate",
        "input": [{"email": "Ana@Example.COM", "tags": ["lr", "Ana"], "deep": {"x": {"y": "Paz"}}}],
        "count": 1,
        "flag": True,
        "none": None,
    }


def test_a_template_may_be_an_array_or_a_bare_string() -> None:
    assert render(["{{email}}"]) == ["Ana@Example.COM"]
    assert render("{{first_name}}") == "Ana"


def test_object_keys_are_literal() -> None:
    assert render({"{{email}}": "x"}) == {"{{email}}": "x"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{email | lower}}", "ana@example.com"),
        ("{{email|upper}}", "ANA@EXAMPLE.COM"),
        ("{{full_name | trim}}", "Ana María Paz"),
        ("{{full_name | first_name}}", "Ana María"),
        ("{{full_name | last_name}}", "Paz"),
        ("{{first_name | last_name}}", None),
        ("{{first_name | first_name}}", "Ana"),
        ('{{phone | default:"unknown"}}', "unknown"),
        ('{{city | default:"n/a" | upper}}', "N/A"),
        ('{{email | default:"x" | lower}}', "ana@example.com"),
        ('{{phone | default:"a|b \\"q\\""}}', 'a|b "q"'),
        ("{{phone | lower}}", None),
    ],
)
def test_filters(expression: str, expected: object) -> None:
    assert render({"v": expression})["v"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("-3.5", -3.5), ("1e3", 1000.0), ("4.0", 4.0), ("n/a", "n/a"), ("", None), (7, 7)],
)
def test_number_filter_types_numbers_and_leaves_other_text(value: object, expected: object) -> None:
    assert render({"v": "{{x | number}}"}, {"x": value}) == {"v": expected}


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("FALSE", False), ("1", True), ("maybe", "maybe")])
def test_boolean_filter(value: str, expected: object) -> None:
    assert render({"v": "{{x | boolean}}"}, {"x": value}) == {"v": expected}


def test_interpolated_typed_values_read_as_text() -> None:
    assert render({"v": "{{a}}/{{b}}/{{c}}"}, {"a": True, "b": 3.0, "c": None}) == {"v": "true/3/"}


def test_render_bytes_is_compact_utf8_json() -> None:
    assert compile_template('{"n": "{{full_name|trim}}"}').render_bytes(LEAD) == '{"n":"Ana María Paz"}'.encode()


def test_columns_lists_every_placeholder_column() -> None:
    assert compile_template('{"a": "{{x}} {{y|lower}}", "b": ["{{z}}"]}').columns == {"x", "y", "z"}


def test_validate_names_the_placeholder_that_is_not_a_column_and_where() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_template('{"properties": {"email": "{{email}}", "phone": "{{mobile}}"}}', {"email"})
    assert err.value.field == "body_template"
    assert "{{mobile}}" in str(err.value) and "$.properties.phone" in str(err.value)


def test_validate_names_an_array_position() -> None:
    with pytest.raises(InvalidArgument, match=r"\$\.input\[1\]\.email"):
        check_template('{"input": [{}, {"email": "{{nope}}"}]}', {"email"})


def test_validate_without_known_columns_accepts_any_column() -> None:
    assert check_template('{"a": "{{anything}}"}', None).columns == {"anything"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,}', "line 1 column 9"),
        ('{"a": \n "{{x}}"', "line 2 column"),
        ("", "line 1 column 1"),
        ('{"a": "{{x"}', "unclosed"),
        ('{"a": "{{x}} y}}"}', "stray"),
        ('{"a": "{{}}"}', "empty placeholder"),
        ('{"a": "{{x | shout}}"}', "unknown filter 'shout'"),
        ('{"a": "{{x | default:unquoted}}"}', "unknown filter"),
        ('{"a": "{{{x}}}"}', "not a column name"),
    ],
)
def test_bad_templates_are_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match="body_template") as err:
        compile_template(text)
    assert message in str(err.value)


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(InvalidArgument, match="at most"):
        compile_template(json.dumps({"a": "x" * body_template.MAX_TEMPLATE_CHARS}))
    deep = "[" * (body_template.MAX_DEPTH + 2) + "]" * (body_template.MAX_DEPTH + 2)
    with pytest.raises(InvalidArgument, match="deeper"):
        compile_template(deep)
