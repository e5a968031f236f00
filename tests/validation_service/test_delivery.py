"""Request bodies built from a lead, and the verdict on every kind of answer."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from validation_service.delivery import FAILED, POSTED, REJECTED, RETRY, Verdict, build_body, classify, excerpt
from validation_service.destinations import BodyField, Success

LEAD = {"email": "ana@example.com", "first_name": "Ana", "lead_id": "L1", "company": "Ñandú SA"}
BODY = (
    BodyField("Email", lead_column="email"),
    BodyField("FirstName", lead_column="first_name"),
    BodyField("Phone", lead_column="phone"),
    BodyField("Company", lead_column="company"),
    BodyField("LeadSource", constant_kind="string", constant="LinkedIn"),
    BodyField("Score", constant_kind="decimal", constant=12.5),
    BodyField("OptIn", constant_kind="bool", constant=True),
)


def test_json_body_has_lead_columns_constants_and_empty_missing_columns() -> None:
    payload, content_type = build_body("JSON", BODY, LEAD)
    assert content_type == "application/json"
    assert json.loads(payload) == {
        "Email": "ana@example.com",
        "FirstName": "Ana",
        "Phone": "",
        "Company": "Ñandú SA",
        "LeadSource": "LinkedIn",
        "Score": 12.5,
        "OptIn": True,
    }


def test_form_body_is_url_encoded_text() -> None:
    payload, content_type = build_body("FORM", (*BODY, BodyField("N", constant_kind="decimal", constant=3.0)), LEAD)
    assert content_type == "application/x-www-form-urlencoded"
    assert parse_qs(payload.decode(), keep_blank_values=True) == {
        "Email": ["ana@example.com"],
        "FirstName": ["Ana"],
        "Phone": [""],
        "Company": ["Ñandú SA"],
        "LeadSource": ["LinkedIn"],
        "Score": ["12.5"],
        "OptIn": ["true"],
        "N": ["3"],
    }


PLAIN = Success()
JSONY = Success(
    status_ranges=((200, 299),),
    result_json_path="$.status",
    accepted_values=("accepted", "duplicate-merged"),
    reason_json_path="$.reason",
    record_id_json_path="$.id",
)


@pytest.mark.parametrize(
    "success, status, text, error, expected",
    [
        (PLAIN, 200, "", "", Verdict(POSTED)),
        (PLAIN, 204, "", "", Verdict(POSTED)),
        (JSONY, 201, '{"status":"accepted","id":"crm-9"}', "", Verdict(POSTED, "", "crm-9")),
        (JSONY, 200, '{"status":"duplicate-merged","id":42}', "", Verdict(POSTED, "", "42")),
        (
            JSONY,
            200,
            '{"status":"rejected","reason":"email on the suppression list"}',
            "",
            Verdict(REJECTED, "email on the suppression list"),
        ),
        (JSONY, 200, '{"status":"rejected"}', "", Verdict(REJECTED, "result 'rejected'")),
        (JSONY, 200, '{"other":1}', "", Verdict(REJECTED, "result ''")),
        (JSONY, 200, "<html>oops</html>", "", Verdict(RETRY, "HTTP 200: the response is not JSON")),
        (PLAIN, 503, "busy", "", Verdict(RETRY, "HTTP 503")),
        (JSONY, 500, '{"reason":"db down"}', "", Verdict(RETRY, "HTTP 500: db down")),
        (PLAIN, 408, "", "", Verdict(RETRY, "HTTP 408")),
        (PLAIN, 429, "", "", Verdict(RETRY, "HTTP 429")),
        (PLAIN, None, "", "timed out after 500 ms", Verdict(RETRY, "timed out after 500 ms")),
        (PLAIN, None, "", "connection error: refused", Verdict(RETRY, "connection error: refused")),
        (PLAIN, 400, "bad", "", Verdict(FAILED, "HTTP 400")),
        (JSONY, 422, '{"reason":"email is required"}', "", Verdict(FAILED, "HTTP 422: email is required")),
        (PLAIN, 401, "", "", Verdict(FAILED, "HTTP 401")),
        (PLAIN, 302, "", "", Verdict(FAILED, "HTTP 302: redirects are not followed")),
        (Success(status_ranges=((200, 200),)), 201, "", "", Verdict(FAILED, "HTTP 201")),
    ],
)
def test_judges_each_answer(success: Success, status: int | None, text: str, error: str, expected: Verdict) -> None:
    assert classify(success, status, text, error) == expected


def test_regex_decides_on_the_raw_body() -> None:
    success = Success(accepted_regex=r"<result>OK</result>")
    assert classify(success, 200, "<xml><result>OK</result></xml>") == Verdict(POSTED)
    assert classify(success, 200, "<xml><result>NO</result></xml>") == Verdict(
        REJECTED, "the response did not match accepted_regex"
    )
    with_reason = Success(accepted_regex=r'"ok":\s*true', reason_json_path="$.error")
    assert classify(with_reason, 200, '{"ok": false, "error": "bad phone"}') == Verdict(REJECTED, "bad phone")
    assert classify(with_reason, 200, "not json") == Verdict(REJECTED, "the response did not match accepted_regex")


def test_record_id_path_on_an_unparsable_answer_is_retried() -> None:
    assert classify(Success(record_id_json_path="$.id"), 201, "created!") == Verdict(
        RETRY, "HTTP 201: the response is not JSON"
    )


def test_excerpt_truncates_long_answers() -> None:
    assert excerpt("x" * 10) == "x" * 10
    assert excerpt("y" * 5000) == "y" * 1000 + "…"
