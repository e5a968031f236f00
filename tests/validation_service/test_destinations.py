"""The destination checks: every bad field is named, private addresses are refused unless allowed."""

from __future__ import annotations

import ipaddress

import pytest

from leadrelay.errors import InvalidArgument
from leadrelay.settings import SettingsError
from validation_service.destinations import (
    BodyField,
    DestinationSpec,
    Success,
    check_destination,
    check_url,
    is_public_address,
    parse_allow_hosts,
)
from validation_service.post_out_worker import GuardedResolver

COLUMNS = {"email", "first_name", "company"}


def spec(**kw) -> DestinationSpec:
    base = dict(name="CRM", url="https://crm.example.com/leads", body=(BodyField("Email", lead_column="email"),))
    return DestinationSpec(**{**base, **kw})


def refused(
    s: DestinationSpec, *, columns=COLUMNS, allow_private: bool = False, allow_hosts=frozenset()
) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        check_destination(s, columns, allow_private=allow_private, allow_hosts=allow_hosts)
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
        "http://[::1]/",
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


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fe80::1]/",
        "http://[fe80::a9fe:a9fe%25eth0]/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://100.100.100.200/latest/meta-data/",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_whatever_the_settings(url: str) -> None:
    host = url.split("/")[2]
    everything = parse_allow_hosts(f"{host},169.254.169.254,[fe80::1]")
    for allow_private, allow_hosts in ((False, frozenset()), (True, frozenset()), (True, everything)):
        err = refused(spec(url=url), allow_private=allow_private, allow_hosts=allow_hosts)
        assert err.field == "url"
        assert "link-local or cloud-metadata address: never a destination" in str(err)


def test_the_allow_list_admits_exactly_its_hosts_and_ports() -> None:
    allowed = parse_allow_hosts(" 127.0.0.1:8090, [::1]:9000 ,sandbox.internal")
    assert allowed == {("127.0.0.1", 8090), ("::1", 9000), ("sandbox.internal", None)}
    for url in ("http://127.0.0.1:8090/crm/demo/leads", "http://[::1]:9000/", "https://sandbox.internal/x"):
        check_url(url, allow_private=False, allow_hosts=allowed)
    for url in ("http://127.0.0.1:8091/", "http://127.0.0.1/", "http://10.0.0.1:8090/", "http://localhost:8090/"):
        with pytest.raises(InvalidArgument, match="must be public"):
            check_url(url, allow_private=False, allow_hosts=allowed)


@pytest.mark.parametrize("raw", ["127.0.0.1:http", "127.0.0.1:0", ":8090", "[::1]:99999"])
def test_a_malformed_allow_list_entry_is_a_settings_error_naming_it(raw: str) -> None:
    with pytest.raises(SettingsError, match="POSTOUT_ALLOW_HOSTS"):
        parse_allow_hosts(raw)


@pytest.mark.parametrize("name", ["2852039166", "0xa9fea9fe", "169.254.169.254"])
async def test_names_resolving_to_metadata_are_refused_at_connect_time_even_with_private_allowed(name: str) -> None:
    # getaddrinfo reads these spellings as 169.254.169.254: DNS (or a numeric name) cannot bring it back.
    resolver = GuardedResolver(allow_private=True, allow_hosts=parse_allow_hosts(f"{name}:80"))
    try:
        with pytest.raises(OSError, match="may not use"):
            await resolver.resolve(name, 80)
        assert [r["host"] for r in await resolver.resolve("127.0.0.1", 80)] == ["127.0.0.1"]
    finally:
        await resolver.close()


async def test_loopback_names_resolve_only_for_an_allowed_host_and_port() -> None:
    resolver = GuardedResolver(allow_private=False, allow_hosts=parse_allow_hosts("localhost:8090"))
    try:
        assert {r["host"] for r in await resolver.resolve("localhost", 8090)} <= {"127.0.0.1", "::1"}
        with pytest.raises(OSError, match="may not use"):
            await resolver.resolve("localhost", 8091)
    finally:
        await resolver.close()


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
