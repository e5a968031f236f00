"""Meta's customer-information normalisation and SHA-256 hashing (Conversions API `user_data`).

Pure functions. The rules are Meta's documentation (customer-information-parameters): normalise, then
SHA-256 of the UTF-8 bytes as lowercase hex. Where the Business SDKs disagree with the documentation,
the documentation wins (the tests list which corpus rows are followed and which are not):

- email: trim and lowercase, nothing removed (the PHP SDK's FILTER_SANITIZE_EMAIL stripping is not
  documented); a value without the `x@y.z` shape is not sent (as the Python SDK refuses it).
- phone: digits only, no leading zeros, WITH the country code. A number written internationally
  (`+…`, `00…`) keeps its own; a national number gets the region's code via libphonenumber
  (`(650)555-1212` → `16505551212`, the documented vector). An extension is dropped; a value that
  is not a possible phone number (too short or long for its country) is not sent. The SDKs never add
  a country code — their `123-456-7890` → `1234567890` would not match, so we do not follow those rows.
- names: NFC, lowercase, punctuation removed (the docs); the SDKs keep punctuation.
- country: ISO 3166-1 alpha-2 from a real country table (`feedback_service.countries`), so "United
  Kingdom", "Deutschland" and "USA" become `gb`, `de`, `us`; it also picks the region of the lead's
  national phone numbers. st: a US state's two-letter code (`California` → `ca`).
- a value that already is a SHA-256 hex digest is passed through (lowercased), never hashed twice.
  32-hex MD5 values are not passed through: Meta asks for SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import phonenumbers

from feedback_service.countries import country_code, us_state_code

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# The Python SDK's loose `.+@.+\..+`, except that the domain (after the last @) has no spaces and the
# local part does not end in @ (`324342@@@@bar.com` is no address; `"a b"@c.d` is one).
_EMAIL = re.compile(r".*[^@]@[^@\s]+\.[^@\s]+")
_NON_DIGITS = re.compile(r"\D+")
# Digits and the separators people put between them, nothing else (no extension, no letters).
# (A `+` only in front.)
_PLAIN_NUMBER = re.compile(r"\+?[\d\s().-]+")
# Where the number proper ends (an extension, a note): the first character no number is written with.
_NOT_NUMBER = re.compile(r"[^\d\s().+-]")

DEFAULT_REGION = "US"
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def sha256_hex(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def already_hashed(value: str) -> bool:
    return _SHA256.fullmatch(value.strip()) is not None


def normalize_email(raw: str) -> str | None:
    value = raw.strip().lower()
    if not value:
        return None
    return value if _EMAIL.fullmatch(value) else None


def normalize_phone(raw: str, default_region: str = DEFAULT_REGION) -> str | None:
    """Digits with the country code and no leading zeros (E.164 without the `+`), or None when the
    value is no phone number. An extension (`ext. 5`, `x5`, `#5`) is dropped, never hashed into it."""
    value = raw.strip()
    if not value:
        return None
    region = (default_region or DEFAULT_REGION).upper()
    if _PLAIN_NUMBER.fullmatch(value):
        # North America: what libphonenumber answers for a possible number, without its cost
        # (+1 or, in the region, a leading 1 and ten digits with area code 2-9; ten such digits alone
        # only in the region).
        digits = _NON_DIGITS.sub("", value)
        international = value.startswith("+")
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            if international or region in _NANP_REGIONS:
                return digits
        elif len(digits) == 10 and digits[0] in "23456789" and not international and region in _NANP_REGIONS:
            return "1" + digits
    if value.startswith("00"):
        # Written internationally with the 00 prefix most of the world dials.
        value = "+" + value[2:]
    number = _possible(value, region)
    if number is None and not value.startswith("+"):
        # Not a possible national number of the region: perhaps it already starts with a country
        # code (`4420 7946 0958`).
        number = _possible("+" + _NON_DIGITS.sub("", _NOT_NUMBER.split(value, 1)[0]), None)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def _possible(value: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def normalize_name(raw: str) -> str | None:
    """fn / ln: NFC (so `Vale\u0301ry` and `Valéry` hash alike), lowercase, no punctuation or symbols
    (inner spaces are kept, collapsed: the docs ask only for punctuation to go)."""
    value = unicodedata.normalize("NFC", raw).lower()
    value = "".join(ch for ch in value if unicodedata.category(ch)[0] not in "PSC")
    return " ".join(value.split()) or None


def normalize_city(raw: str) -> str | None:
    """ct: lowercase, no punctuation, digits, special characters or spaces (`newyork`)."""
    value = unicodedata.normalize("NFC", raw).lower()
    value = "".join(ch for ch in value if unicodedata.category(ch)[0] == "L")
    return value or None


def normalize_zip(raw: str) -> str | None:
    """zp: lowercase, no spaces or dash; a US ZIP+4 (nine digits) keeps its first five."""
    value = re.sub(r"[\s-]+", "", raw.strip().lower())
    if re.fullmatch(r"\d{9}", value):
        value = value[:5]
    return value or None


def normalize_country(raw: str) -> str | None:
    """country: ISO 3166-1 alpha-2, lowercase; names in many languages resolve (`Deutschland` → `de`),
    anything that is no country is not sent."""
    code = country_code(raw)
    return code.lower() if code else None


def normalize_state(raw: str, country: str = "") -> str | None:
    """st: a US state as its two-letter code (`California` → `ca`); elsewhere lowercase letters only."""
    if country.upper() in ("", "US"):
        code = us_state_code(raw)
        if code:
            return code.lower()
    return normalize_city(raw)


_NORMALIZERS = {
    "em": normalize_email,
    "fn": normalize_name,
    "ln": normalize_name,
    "ct": normalize_city,
    "zp": normalize_zip,
    "country": normalize_country,
}


def normalize(field: str, raw: str, default_region: str = DEFAULT_REGION) -> str | None:
    """`default_region`: the region national phone numbers are in, and the country a state is in."""
    if field == "ph":
        return normalize_phone(raw, default_region)
    if field == "st":
        return normalize_state(raw, default_region)
    return _NORMALIZERS[field](raw)


def hash_value(field: str, raw: str | None, default_region: str = DEFAULT_REGION) -> str | None:
    """The value Meta expects for a hashed `user_data` key, or None when there is nothing to send."""
    if raw is None:
        return None
    if already_hashed(raw):
        return raw.strip().lower()
    normalized = normalize(field, raw, default_region)
    return sha256_hex(normalized) if normalized else None


def hash_values(field: str, raws: Iterable[str | None], default_region: str = DEFAULT_REGION) -> list[str]:
    """Hashes of several values, duplicates (after normalisation) dropped, order kept."""
    out: list[str] = []
    for raw in raws:
        hashed = hash_value(field, raw, default_region)
        if hashed and hashed not in out:
            out.append(hashed)
    return out


# The user_data keys a lead's columns can feed, in the order they are sent.
KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country")

# Where a lead's mapped columns keep each identifier when the configuration names no columns for it:
# CRMs name them differently; matched ignoring case, spaces, dashes and underscores. Meta's own form
# answers (`email`, `phone_number`, `first_name`, `zip_code`, `post_code`, ...) are among them.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "em": ("email", "email_address", "work_email", "business_email", "email1", "e_mail", "mail"),
    "ph": (
        "phone",
        "phone_number",
        "mobile",
        "mobile_phone",
        "mobile_number",
        "work_phone",
        "business_phone",
        "telephone",
        "tel",
        "cell",
        "cell_phone",
    ),
    "fn": ("first_name", "firstname", "given_name", "forename"),
    "ln": ("last_name", "lastname", "surname", "family_name"),
    "ct": ("city", "town"),
    "st": ("state", "province", "state_province", "state_code", "region"),
    "zp": ("zip", "zip_code", "zipcode", "postal_code", "postcode", "post_code"),
    "country": ("country", "country_code", "country_name"),
}


@functools.lru_cache(maxsize=4096)
def column_key(name: str) -> str:
    """A column name as matched: case, spaces, dashes and underscores ignored."""
    return re.sub(r"[\s_\-]+", "", name).lower()


@functools.lru_cache(maxsize=256)
def _column_index(columns: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    configured = dict(columns)
    for key in KEYS:
        for name in configured.get(key, DEFAULT_COLUMNS[key]):
            index.setdefault(column_key(name), key)
    return index


def identifier_columns(
    configured: Mapping[str, Sequence[str]] | None = None,
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The configuration's columns per key, in a hashable form; a key it leaves out keeps its defaults,
    a key given no columns is never sent."""
    return tuple(sorted((key, tuple(names)) for key, names in (configured or {}).items()))


def identifier_values(
    fields: Mapping[str, object], columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> dict[str, list[str]]:
    """The lead's raw values per user_data key, read from the columns that feed it."""
    index = _column_index(columns)
    out: dict[str, list[str]] = {}
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            continue
        key = index.get(column_key(name))
        if key is not None:
            out.setdefault(key, []).append(value)
    return out


def lead_country(values: Mapping[str, Sequence[str]]) -> str:
    """The lead's country (ISO alpha-2, upper case) from its country columns, or ""."""
    for raw in values.get("country", ()):
        code = country_code(raw)
        if code:
            return code
    return ""


def user_data_hashes(
    fields: Mapping[str, object],
    default_region: str = DEFAULT_REGION,
    columns: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> dict[str, list[str]]:
    """Every hashed user_data key the lead has a usable value for (em, ph, fn, ln, ct, st, zp,
    country); keys with nothing usable are left out. The lead's own country picks the region of its
    national phone numbers (and says whether its state is a US one); else `default_region`."""
    values = identifier_values(fields, columns)
    country = lead_country(values)
    region = country if country in phonenumbers.SUPPORTED_REGIONS else default_region
    out: dict[str, list[str]] = {}
    for key in KEYS:
        raws = values.get(key)
        if not raws:
            continue
        hashed = hash_values(key, raws, country if key == "st" else region)
        if hashed:
            out[key] = hashed
    return out
