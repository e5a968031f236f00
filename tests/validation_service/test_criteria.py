"""Criteria evaluation is a pure function: exhaustive cases per rule kind, ordering and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from leadrelay.errors import InvalidArgument
from validation_service.criteria import Row, Rule, check_rules, compile_rules, deliverability_domains, judge_rows

COUNTRY = Rule(
    "picklist",
    "country",
    {
        "allowed": ["United States", "Germany"],
        "mapper": {"USA": "United States", "U.S.": "United States"},
        "case_insensitive": True,
    },
)


def judge(fields: dict, *rules: Rule, is_test: bool = False):
    return judge_rows([Row(fields, is_test)], compile_rules(rules))[0]


def test_no_rules_accepts_everything_unchanged() -> None:
    j = judge({"a": "x"})
    assert (j.status, j.disposition_code, j.custom_reason, j.fields) == ("ACCEPTED", "", "", {"a": "x"})


@pytest.mark.parametrize("value", ["", "   "])
def test_required_rejects_empty(value: str) -> None:
    j = judge({"email": value}, Rule("required", "email"))
    assert (j.status, j.disposition_code, j.custom_reason) == (
        "REJECTED",
        "REJECT_LEAD_MISSING_REQUIRED_FIELD",
        "email: is required but empty",
    )
    assert judge({}, Rule("required", "email")).status == "REJECTED"


def test_only_required_judges_empty_values() -> None:
    rules = [
        Rule("email", "e"),
        Rule("phone", "p"),
        COUNTRY,
        Rule("max_length", "e", {"max": 1}),
        Rule("pattern", "e", {"regex": "x"}),
    ]
    assert judge({"e": "", "p": " "}, *rules).status == "ACCEPTED"


def test_email_is_normalised_or_rejected_with_the_value() -> None:
    assert judge({"email": " Ann@EXAMPLE.com"}, Rule("email", "email")).fields["email"] == "Ann@example.com"
    j = judge({"email": "ann@"}, Rule("email", "email"))
    assert j.disposition_code == "REJECT_LEAD_INVALID_EMAIL"
    assert j.custom_reason.startswith('email: "ann@" is not a valid email address (')


def test_phone_uses_the_default_region_and_stores_e164() -> None:
    assert judge({"p": "(415) 555-0123"}, Rule("phone", "p", {"default_region": "US"})).fields["p"] == "+14155550123"
    j = judge({"p": "415 555"}, Rule("phone", "p", {"default_region": "US"}))
    assert (j.disposition_code, j.custom_reason.split(" (")[0]) == (
        "REJECT_LEAD_INVALID_PHONE",
        'p: "415 555" is not a valid phone number',
    )


@pytest.mark.parametrize("value", ["united states", "USA", "U.S.", "usa", " u.s. ", "United States", "UNITED STATES"])
def test_picklist_mapper_and_case_insensitivity_make_variants_the_allowed_value(value: str) -> None:
    j = judge({"country": value}, COUNTRY)
    assert (j.status, j.fields["country"]) == ("ACCEPTED", "United States")


def test_case_sensitive_picklist_refuses_other_case() -> None:
    rule = Rule("picklist", "job_function", {"allowed": ["Engineering"]})
    assert judge({"job_function": "Engineering"}, rule).status == "ACCEPTED"
    j = judge({"job_function": "engineering"}, rule)
    assert j.custom_reason == 'job_function: "engineering" is not on the picklist'
    j = judge({"job_function": "Ingeniería"}, rule)
    assert (j.disposition_code, j.custom_reason) == (
        "REJECT_LEAD_INVALID_LIST_VALUE",
        'job_function: "Ingeniería" is not on the picklist',
    )


def test_multi_value_picklist_checks_each_value() -> None:
    rule = Rule("picklist", "i", {"allowed": ["CRM", "Ads"], "mapper": {"adverts": "Ads"}})
    assert judge({"i": "CRM;adverts"}, rule).fields["i"] == "CRM;Ads"
    j = judge({"i": "CRM;Fax;Telex"}, rule)
    assert j.custom_reason == 'i: "Fax" is not on the picklist; i: "Telex" is not on the picklist'


def test_max_length_and_pattern() -> None:
    j = judge({"c": "abcdef"}, Rule("max_length", "c", {"max": 5}))
    assert (j.disposition_code, j.custom_reason) == (
        "REJECT_LEAD_FIELD_TOO_LONG",
        'c: "abcdef" is 6 characters, longer than 5',
    )
    assert judge({"c": "abcde"}, Rule("max_length", "c", {"max": 5})).status == "ACCEPTED"
    zip_rule = Rule("pattern", "zip", {"regex": r"\d{5}"})
    assert judge({"zip": "12345"}, zip_rule).status == "ACCEPTED"
    j = judge({"zip": "123456"}, zip_rule)  # the whole value must match
    assert (j.disposition_code, j.custom_reason) == (
        "REJECT_LEAD_INVALID_FORMAT",
        r'zip: "123456" does not match the pattern \d{5}',
    )


def test_long_values_are_shortened_in_reasons() -> None:
    j = judge({"c": "x" * 300}, Rule("max_length", "c", {"max": 255}))
    assert j.custom_reason == f'c: "{"x" * 59}…" is 300 characters, longer than 255'


def test_test_leads_are_rejected_when_asked() -> None:
    rule = Rule("reject_test_leads")
    assert judge({}, rule).status == "ACCEPTED"
    j = judge({}, rule, is_test=True)
    assert (j.disposition_code, j.custom_reason) == ("REJECT_LEAD_TEST_LEAD", "the lead is a test lead")


def test_first_failing_rule_gives_the_code_and_the_reason_names_every_failure() -> None:
    j = judge(
        {"email": "bad", "country": "Narnia", "zip": "x"},
        Rule("pattern", "zip", {"regex": r"\d+"}),
        Rule("email", "email"),
        COUNTRY,
    )
    assert j.disposition_code == "REJECT_LEAD_INVALID_FORMAT"
    parts = j.custom_reason.split("; ")
    assert parts[0] == 'zip: "x" does not match the pattern \\d+'
    assert parts[1].startswith('email: "bad" is not a valid email address')
    assert parts[2] == 'country: "Narnia" is not on the picklist'


def test_rule_overrides_code_and_reason() -> None:
    rule = Rule("required", "email", {}, "REJECT_LEAD_INVALID_EMAIL", "we need an email")
    j = judge({}, rule)
    assert (j.disposition_code, j.custom_reason) == ("REJECT_LEAD_INVALID_EMAIL", "we need an email")


def test_later_rules_see_normalised_values() -> None:
    j = judge({"e": "A@EXAMPLE.COM"}, Rule("email", "e"), Rule("pattern", "e", {"regex": r"A@example\.com"}))
    assert j.status == "ACCEPTED"


DUP = Rule("duplicate", "", {"window_days": 30, "columns": ["email"], "scope": "source"})
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def lead_id(n: int) -> UUID:
    return UUID(int=n)


def test_duplicates_within_a_batch_keep_the_first() -> None:
    rows = [Row({"email": "a@x.com"}), Row({"email": "A@X.COM "}), Row({"email": "b@x.com"}), Row({"email": ""})]
    got = [j.disposition_code for j in judge_rows(rows, compile_rules([DUP]))]
    assert got == ["", "REJECT_LEAD_DUPLICATE", "", ""]


def test_duplicates_against_stored_leads_respect_the_window_and_arrival_order() -> None:
    criteria = compile_rules([DUP])
    key = judge_rows([Row({"email": "a@x.com"})], criteria)[0].keys[0].key
    me = Row({"email": "a@x.com"}, lead_id=lead_id(50), received_at=T0)
    cases = [
        ([(T0 - timedelta(days=29), lead_id(1))], "REJECT_LEAD_DUPLICATE"),
        ([(T0 - timedelta(days=31), lead_id(1))], ""),  # outside the window
        ([(T0 + timedelta(seconds=1), lead_id(1))], ""),  # arrived later
        ([(T0, lead_id(49))], "REJECT_LEAD_DUPLICATE"),  # same instant, earlier id
        ([(T0, lead_id(51))], ""),
        ([(T0, lead_id(50))], ""),  # itself
    ]
    for stored, code in cases:
        assert judge_rows([me], criteria, {key: stored})[0].disposition_code == code, stored


def test_duplicate_reason_names_the_columns_values_and_the_earlier_lead() -> None:
    rule = Rule("duplicate", "", {"window_days": 7, "columns": ["email", "phone"], "scope": "account"})
    criteria = compile_rules([rule])
    first = judge_rows([Row({"email": "a@x.com", "phone": "+1"})], criteria)[0]
    j = judge_rows([Row({"email": "a@x.com", "phone": "+1"})], criteria, {first.keys[0].key: [(T0, lead_id(7))]})[0]
    assert j.custom_reason == f'email, phone: "a@x.com", "+1" was already received within 7 days (lead {lead_id(7)})'


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([Rule("unknown", "x")], "rules[0]: set one rule kind"),
        ([Rule("required", "")], "rules[0].column: name the column"),
        ([Rule("required", "nope")], "rules[0].column: unknown column 'nope'"),
        ([Rule("pattern", "email", {"regex": "(a"})], "rules[0].pattern.regex: not a valid regular expression"),
        ([Rule("pattern", "email", {"regex": ""})], "rules[0].pattern.regex: the pattern is empty"),
        ([Rule("picklist", "email", {"allowed": []})], "rules[0].picklist.allowed:"),
        ([Rule("picklist", "email", {"allowed": ["A"], "mapper": {"b": "B"}})], "rules[0].picklist.mapper['b']:"),
        ([Rule("max_length", "email", {"max": 0})], "rules[0].max_length.max:"),
        ([Rule("phone", "email", {"default_region": "QQ"})], "rules[0].phone.default_region:"),
        ([Rule("duplicate", "", {"window_days": 0, "columns": ["email"]})], "rules[0].duplicate.window_days:"),
        ([Rule("duplicate", "", {"window_days": 1, "columns": []})], "rules[0].duplicate.columns:"),
        ([Rule("duplicate", "", {"window_days": 1, "columns": ["email", "fax"]})], "rules[0].duplicate.columns[1]:"),
        ([Rule("required", "email"), Rule("required", "email", disposition_code="NOPE")], "rules[1].disposition_code:"),
    ],
)
def test_invalid_rules_name_the_index_and_field(rules: list[Rule], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_rules(rules, ["email", "phone"])
    assert str(err.value).startswith(message)


def test_without_known_columns_any_column_is_allowed() -> None:
    check_rules([Rule("required", "anything")])


def test_an_undeliverable_email_domain_is_rejected_with_the_reason_dns_gave() -> None:
    rules = [Rule("email", "email", {"check_deliverability": True})]
    rows = [Row({"email": "a@nomail.example"}), Row({"email": "b@Mail.example"}), Row({"email": "not an address"})]
    criteria = compile_rules(rules)
    assert deliverability_domains(rows, criteria) == {"nomail.example", "mail.example"}
    why = "The domain name nomail.example does not exist."
    got = judge_rows(rows, criteria, undeliverable={"nomail.example": why})
    assert (got[0].status, got[0].disposition_code) == ("REJECTED", "REJECT_LEAD_INVALID_EMAIL")
    assert got[0].custom_reason == f'email: "a@nomail.example" is not a valid email address ({why})'
    assert (got[1].status, got[1].fields["email"]) == ("ACCEPTED", "b@mail.example")


def test_without_check_deliverability_no_domain_is_looked_up() -> None:
    rows = [Row({"email": "a@nomail.example"})]
    criteria = compile_rules([Rule("email", "email")])
    assert deliverability_domains(rows, criteria) == set()
    assert judge_rows(rows, criteria, undeliverable={"nomail.example": "gone"})[0].status == "ACCEPTED"
