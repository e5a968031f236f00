"""The destinations page's pure parts: "name: value" lines, a made-up test lead, verdicts in words."""

from __future__ import annotations

import pytest

from reports_app import destination_calls, destination_form


def test_pairs_are_read_and_a_bad_line_is_named() -> None:
    assert destination_form.parse_pairs("Authorization: Bearer a:b\n\nX-Key: 1", "Headers") == {
        "Authorization": "Bearer a:b",
        "X-Key": "1",
    }
    with pytest.raises(ValueError, match="Headers, line 2: write it as “name: value”"):
        destination_form.parse_pairs("A: 1\nno colon", "Headers")


def test_a_made_up_lead_fills_every_column() -> None:
    assert destination_form.synthetic_lead(["email", "first_name", "budget"]) == (
        "email: test.lead@example.com\nfirst_name: Test\nbudget: Test"
    )


def test_verdicts_in_words() -> None:
    assert destination_form.verdict("posted", "", "1001", 201, "") == (
        "success",
        "The CRM took the lead (record 1001).",
    )
    level, text = destination_form.verdict("rejected", "Email invalid", "", 400, "")
    assert (level, text) == ("warning", "The CRM refused the lead: Email invalid. It would not be retried.")
    assert destination_form.verdict("retry", "", "", 0, "timed out after 10000 ms")[1].startswith(
        "No usable answer (timed out after 10000 ms)"
    )


def test_a_logged_excerpt_reads_with_its_json_indented() -> None:
    assert destination_form.readable_excerpt('POST https://x/y\n\n{"a":1}') == 'POST https://x/y\n\n{\n  "a": 1\n}'
    assert destination_form.readable_excerpt('{"a": "cut…') == '{"a": "cut…'


def test_status_ranges_are_read_and_a_bad_one_is_named() -> None:
    ranges = destination_calls.status_ranges("200-299, 409")
    assert [(r.min, r.max) for r in ranges] == [(200, 299), (409, 409)]
    with pytest.raises(ValueError, match="'2xx' is not a status"):
        destination_calls.status_ranges("2xx")
