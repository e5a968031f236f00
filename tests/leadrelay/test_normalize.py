"""Email and phone normalisation, against our own cases and the public corpora carried into
tests/fixtures (isemail, python-email-validator, libphonenumber, libphonenumber-js)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import phonenumbers
import pytest

from leadrelay.normalize import Invalid, email_key, normalize_email, normalize_phone

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _cases(name: str) -> list[dict]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if "case_id" in row]


def _email_ok(value: str) -> tuple[bool, str | None]:
    try:
        return True, normalize_email(value)
    except Invalid:
        return False, None


def _phone_ok(value: str, region: str) -> tuple[bool, str | None]:
    try:
        return True, normalize_phone(value, region)
    except Invalid:
        return False, None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann@EXAMPLE.com", "Ann@example.com"),
        ("  bob@example.org ", "bob@example.org"),
        ("josé@bücher.de", "josé@bücher.de"),
        ("x@XN--BCHER-KVA.de", "x@bücher.de"),
    ],
)
def test_normalises_valid_addresses(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "plain", "a@", "@b.com", "a b@c.com", "a@b", "a@@b.com", "a@b..com"])
def test_refuses_invalid_addresses_with_a_reason(raw: str) -> None:
    with pytest.raises(Invalid) as err:
        normalize_email(raw)
    assert str(err.value)


def test_email_key_ignores_case() -> None:
    assert email_key(" Ann@Example.com") == email_key("ann@example.COM")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("+44 20 7946 0018", "", "+442079460018"),
        ("030 901820", "DE", "+4930901820"),
        ("+1 415 555 0123", "DE", "+14155550123"),
        ("0044 20 7946 0018", "DE", "+442079460018"),
    ],
)
def test_normalises_phone_numbers_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("4155550123", "", "no country code"),
        ("12", "US", "not a valid number"),
        ("hello", "US", "not a phone number"),
        ("+1 555 000 0000", "", "not a valid number"),
        ("", "US", "empty"),
    ],
)
def test_refuses_invalid_phone_numbers_with_a_reason(raw: str, region: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        normalize_phone(raw, region)


# Where email-validator (our configuration: no quoted local parts, no IP literals, no display names,
# globally deliverable domains, surrounding whitespace trimmed) differs from isemail's RFC view.
EMAIL_DISAGREEMENTS = {
    # Surrounding whitespace / CR LF: we trim what people paste into forms, isemail calls it invalid.
    "whitespace trimmed": {
        "isemail-088",
        "isemail-099",
        "isemail-127",
        "isemail-128",
        "isemail-132",
        "isemail-141",
        "isemail-142",
        "isemail-143",
        "isemail-144",
        "isemail-145",
        "isemail-146",
        "isemail-147",
        "isemail-148",
        "isemail-150",
        "isemail-151",
        "isemail-152",
        "isemail-153",
        "isemail-154",
        "isemail-155",
        "isemail-156",
        "isemail-157",
        "isemail-158",
        "pev-082",
        "pev-095",
    },
    # Domains without a dot or with a numeric TLD (test@io, test@org): valid RFC, never a real lead.
    "dotless or numeric domain refused": {"isemail-005", "isemail-023", "isemail-024", "isemail-166"},
    # Quoted local parts and empty quoted strings: legal RFC 5321, refused by email-validator's default.
    "quoted local part refused": {
        "isemail-042",
        "isemail-043",
        "isemail-045",
        "isemail-046",
        "isemail-048",
        "isemail-055",
    },
    # Bracketed IP literals: refused by default.
    "IP literal refused": {
        "isemail-061",
        "isemail-068",
        "isemail-072",
        "isemail-075",
        "isemail-077",
        "isemail-079",
        "isemail-081",
    },
    # A 65-character local part: over RFC 5321's 64, accepted by email-validator outside strict mode.
    "long local part accepted": {"isemail-026"},
}


def test_email_corpus_agrees_except_the_documented_cases() -> None:
    cases = _cases("email_validity.jsonl")
    # Cases run under other email-validator options (quoted locals allowed, smtputf8 off, ...) do not
    # describe our configuration.
    applicable = [c for c in cases if c["options"] in ({}, {"check_deliverability": False})]
    disagree = set()
    for c in applicable:
        ok, got = _email_ok(c["input"])
        if ok != c["expected_valid"] or (ok and c.get("expected_normalized") not in (None, got)):
            disagree.add(c["case_id"])
    documented = set().union(*EMAIL_DISAGREEMENTS.values())
    assert disagree == documented
    assert (len(cases), len(applicable), len(applicable) - len(disagree)) == (485, 241, 199)


PHONE_DISAGREEMENTS = {
    # phonenumbers 9.0.43 metadata is newer than the suite's example numbers (ranges withdrawn).
    "metadata drift": {"lpn-BJ-229-voip", "lpn-BJ-229-uan", "lpn-ZW-263-fixedLine", "lpjs-013", "lpjs-041"},
    # libphonenumber-js 'min' metadata checks length only; Google's full patterns refuse these.
    "js min metadata looser": {"lpjs-111", "lpjs-112", "lpjs-114"},
    # Input libphonenumber-js refuses (241 trailing spaces, 'Call:' prefix, a leading space, a stray x
    # in an RFC 3966 URI) that phonenumbers reads leniently; "ext. abc" is read as digits 398222.
    "lenient parsing": {"lpjs-046", "lpjs-055", "lpjs-120", "lpjs-123", "lpjs-052"},
}


def test_phone_corpus_agrees_except_the_documented_cases() -> None:
    cases = [c for c in _cases("phone_e164.jsonl") if c["expected_valid"] is not None]
    disagree = set()
    for c in cases:
        ok, got = _phone_ok(c["input"], c["region"])
        if ok != c["expected_valid"] or (ok and c.get("expected_e164") not in (None, got)):
            disagree.add(c["case_id"])
    assert disagree == set().union(*PHONE_DISAGREEMENTS.values())
    assert (len(cases), len(cases) - len(disagree)) == (1241, 1228)


def test_the_fast_path_agrees_with_email_validator_on_every_corpus_input() -> None:
    from leadrelay.normalize import _validate

    for c in _cases("email_validity.jsonl"):
        text = c["input"].strip()
        try:
            slow: str | None = _validate(text)
        except Invalid:
            slow = None
        _, fast = _email_ok(c["input"])
        assert fast == slow, c["case_id"]


def _library_e164(text: str, region: str) -> str | None:
    """phonenumbers' own answer, the long way: parse, is_valid_number, format."""
    try:
        number = phonenumbers.parse(text.strip(), region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_inputs() -> list[tuple[str, str]]:
    """The corpus, every region's example numbers written the ways people type them, and random
    digits with separators (seeded: the same cases every run)."""
    rng = random.Random(20261123)
    out = [(c["input"], c["region"]) for c in _cases("phone_e164.jsonl")]
    formats = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for fmt in formats:
                text = phonenumbers.format_number(example, fmt)
                out += [(text, region), (text.replace(" ", "-"), region), (text.replace(" ", "."), region)]
            digits = str(example.national_number)
            for variant in (digits, digits[:-1], digits + "9", f"({digits[:3]}) {digits[3:]}"):
                out.append((variant, region))
    for _ in range(3000):
        region = rng.choice(["US", "GB", "DE", "FR", "IN", "BR", "RU", "CA", "AU", "IT"])
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 16)))
        text = "".join(c + rng.choice(["", "", "", " ", "-", ".", "(", ")", "  "]) for c in digits)
        out.append((rng.choice(["", "1", "0", "00", " ("]) + text, region))
    return out


def test_the_phone_fast_path_agrees_with_the_library_on_every_input() -> None:
    from leadrelay.normalize import _fast_e164

    taken = 0
    for text, region in _phone_inputs():
        expected = _library_e164(text, region)
        fast = _fast_e164(text.strip(), region) if region else None
        if fast is not None:
            taken += 1
            assert fast == expected, (text, region)
        assert _phone_ok(text, region) == (expected is not None, expected), (text, region)
    assert taken > 1000  # the fast path is the common case, not a dead branch
