"""Normalisation of the values people type into forms: email addresses and phone numbers.

Pure functions (no network: whether an email domain receives mail is validation_service.deliverability's,
resolved before judging). A value that cannot be normalised raises `Invalid` with a reason a person can
act on.
"""

from __future__ import annotations

import re
from functools import lru_cache

import email_validator
import phonenumbers


class Invalid(ValueError):
    """The value is not a valid email address / phone number; str() says why."""


def normalize_email(value: str) -> str:
    """The normalised address (domain lower-cased and IDNA-normalised, local part kept as typed),
    e.g. " Ann@Example.COM " -> "Ann@example.com"."""
    return _normalize_email_cached(value.strip())


@lru_cache(maxsize=65536)
def _normalize_email_cached(text: str) -> str:
    # Fast path for the common case, a plain ASCII local part: only the domain needs the full
    # (slow, IDNA) check, and domains repeat across leads, so their verdict is cached. Anything
    # else goes through email-validator whole. tests/leadrelay/test_normalize.py checks both paths
    # agree on every corpus case.
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and len(text) <= 254 and _PLAIN_LOCAL.fullmatch(local):
        found = _domain(domain)
        if found is not None and len(local) + 1 + max(len(found[0]), len(found[1])) <= 254:
            return f"{local}@{found[0]}"
    return _validate(text)


# RFC 5322 dot-atom of ASCII atext: what email-validator accepts and leaves unchanged.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=16384)
def _domain(domain: str) -> tuple[str, str] | None:
    """The normalised domain and its ASCII form, or None when the domain alone is not valid (then
    the full check runs and says why)."""
    try:
        result = email_validator.validate_email(f"a@{domain}", check_deliverability=False)
        return result.domain, result.ascii_domain
    except email_validator.EmailNotValidError:
        return None


def _validate(text: str) -> str:
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise Invalid(str(exc)) from None
    return result.normalized


def email_key(value: str) -> str:
    """What makes two addresses "the same person" for the duplicate rule: case-insensitive."""
    return value.strip().casefold()


def normalize_phone(value: str, default_region: str = "") -> str:
    """The number in E.164 ("+14155550123"). Numbers without a country code are read in
    `default_region` (ISO 3166-1 alpha-2, e.g. "US"); without one they must start with "+"."""
    return _normalize_phone_cached(value.strip(), default_region.strip().upper())


@lru_cache(maxsize=65536)
def _normalize_phone_cached(text: str, region: str) -> str:
    if not text:
        raise Invalid("the phone number is empty")
    fast = _fast_e164(text, region) if region else None
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and not region:
            raise Invalid("the number has no country code (start it with + or set a default region)") from None
        raise Invalid(_PARSE_REASONS.get(exc.error_type, "it is not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        raise Invalid(f"it is not a valid number for {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast_e164(text: str, region: str) -> str | None:
    """The common case, cheaper, with the same result: a number of digits and the usual separators,
    valid in `region`, the main region of its country code. phonenumbers ignores those separators,
    and parses the bare digits in three quarters of the time. Its is_valid_number first finds the
    number's region, checking each region of the country code in turn, then checks the number for
    that region again; for the first region of the list (whose metadata has no leading digits),
    finding it *is* that check, so one check decides. None: anything else, left to the full path
    (which also words the errors). tests/leadrelay/test_normalize.py compares both paths."""
    if not _main_region(region):
        return None
    digits = _SEPARATORS.sub("", text)
    if not (digits.isascii() and digits.isdigit()):
        return None
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number_for_region(number, region):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_SEPARATORS = re.compile(r"[\s().-]+")


@lru_cache(maxsize=512)
def _main_region(region: str) -> bool:
    """Whether `region` comes first among its country code's regions and has no leading digits
    (US for +1, GB for +44, DE for +49): then a number valid there is valid, full stop."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return False
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, ())  # type: ignore[arg-type]  # a region's metadata has a country code
    return bool(regions) and regions[0] == region and metadata.leading_digits is None


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "its country code is not valid",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "it is too short",
    phonenumbers.NumberParseException.TOO_LONG: "it is too long",
}


def is_region(code: str) -> bool:
    return code.strip().upper() in phonenumbers.SUPPORTED_REGIONS
