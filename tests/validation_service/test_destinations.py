"""The destination checks: every bad field is named, private addresses are refused unless allowed."""

from __future__ import annotations

import ipaddress

import pytest

from leadrelay.errors import InvalidArgument
from validation_service.destinations import (
    BodyField,
    DestinationSpec,
    Success,
    check_destination,
    check_url,
    is_public_address,
)

COLUMNS = {"email", "first_name", "company"}


def spec(**kw) -> DestinationSpec:
    base = dict(name="CRM", url="https://crm.example.com/leads", body=(BodyField("Email", lead_column="email"),))
    return DestinationSpec(**{**base, **kw})


def refused(s: DestinationSpec, *, columns=COLUMNS, allow_private: bool = False) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        check_destination(s, columns, allow_private=allow_private)
    return info.value


def test_accepts_a_complete_destination() -> None:
    check_destination(
        spec(
            method="PUT",
            body_format="FORM",
            body=(
                BodyField("Email", lead_column="email"),
                BodyField("Id", lead_column="lead_id"),
                BodyField("Campaign", constant_kind="lookup", constant="7010"),
            ),
            headers={"Authorization": "Bearer x", "X-Api-Key": "k"},
            success=Success(((200, 201),), "$.status", ("ok",), "", "$.reason", "$.id"),
        ),
        COLUMNS,
        allow_private=False,
    )


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://crm.example.com/x", "must be an http or https URL"),
        ("crm.example.com/leads", "must be an http or https URL"),
        ("https:///leads", "has no host"),
        ("https://user:pw@crm.example.com/", "credentials in the URL"),
        ("https://crm.example.com:99999/", "not a valid URL"),
    ],
)
def test_refuses_bad_urls_naming_the_url(url: str, message: str) -> None:
    err = refused(spec(url=url))
    assert err.field == "url"
    assert message in str(err)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8090/crm/x/leads",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://localhost:8080/",
        "http://metadata.google.internal/",
    ],
)
def test_refuses_private_loopback_and_link_local_addresses(url: str) -> None:
    err = refused(spec(url=url))
    assert err.field == "url"
    assert "must be public" in str(err)


def test_private_addresses_allowed_when_the_setting_says_so() -> None:
    check_destination(spec(url="http://127.0.0.1:8090/crm/x/leads"), COLUMNS, allow_private=True)
    check_url("http://localhost/", allow_private=True)


def test_public_addresses_pass() -> None:
    check_url("https://93.184.216.34/leads", allow_private=False)
    check_url("https://[2606:4700::1111]/", allow_private=False)
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert not is_public_address(ipaddress.ip_address("127.0.0.2"))


def test_refuses_an_unknown_mapping_column_naming_the_row() -> None:
    err = refused(spec(body=(BodyField("Email", lead_column="email"), BodyField("Phone", lead_column="phone"))))
    assert err.field == "body[1].lead_column"
    assert "unknown column 'phone'" in str(err)


def test_builtin_lead_columns_are_always_known_and_no_mapping_means_no_check() -> None:
    check_destination(spec(body=(BodyField("Id", lead_column="platform_lead_id"),)), set(), allow_private=False)
    check_destination(spec(body=(BodyField("Phone", lead_column="phone"),)), None, allow_private=False)


def test_refuses_body_rows_without_a_value_or_twice_the_same_column() -> None:
    assert refused(spec(body=(BodyField("Email"),))).field == "body[0]"
    twice = (BodyField("Email", lead_column="email"), BodyField("Email", lead_column="company"))
    assert refused(spec(body=twice)).field == "body[1].column"
    assert refused(spec(body=(BodyField(" ", lead_column="email"),))).field == "body[0].column"


@pytest.mark.parametrize(
    "success, field",
    [
        (Success(result_json_path="$..[", accepted_values=("ok",)), "success.result_json_path"),
        (Success(reason_json_path="$$"), "success.reason_json_path"),
        (Success(record_id_json_path="a b"), "success.record_id_json_path"),
        (Success(accepted_regex="(unclosed"), "success.accepted_regex"),
        (Success(accepted_values=("ok",)), "success.accepted_values"),
        (Success(result_json_path="$.status"), "success.accepted_values"),
        (Success(status_ranges=((300, 200),)), "success.status_ranges[0]"),
        (Success(status_ranges=((200, 299), (0, 700))), "success.status_ranges[1]"),
    ],
)
def test_refuses_bad_success_criteria_naming_the_field(success: Success, field: str) -> None:
    assert refused(spec(success=success)).field == field


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"Idempotency-Key": "mine"}, "set by LeadRelay"),
        ({"content-type": "text/plain"}, "set by LeadRelay"),
        ({"Bad Header": "x"}, "not a valid header name"),
        ({"X-Token": "a\r\nInjected: 1"}, "line break"),
    ],
)
def test_refuses_bad_headers(headers: dict[str, str], message: str) -> None:
    err = refused(spec(headers=headers))
    assert err.field.startswith("headers[")
    assert message in str(err)


def test_refuses_bad_method_format_timeout_and_name() -> None:
    assert refused(spec(method="GET")).field == "method"
    assert refused(spec(body_format="XML")).field == "body_format"
    assert refused(spec(timeout_ms=0)).field == "timeout_ms"
    assert refused(spec(timeout_ms=500_000)).field == "timeout_ms"
    assert refused(spec(name="")).field == "name"
