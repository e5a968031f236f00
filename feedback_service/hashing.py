"""Meta's customer-information normalisation and SHA-256 hashing (Conversions API `user_data`).

Pure functions. The rules are Meta's documentation (customer-information-parameters): normalise, then
SHA-256 of the UTF-8 bytes as lowercase hex. Where the Business SDKs disagree with the documentation,
the documentation wins (the tests list which corpus rows are followed and which are not):

- email: trim and lowercase, nothing removed (the PHP SDK's FILTER_SANITIZE_EMAIL stripping is not
  documented); a value without the `x@y.z` shape is not sent (as the Python SDK refuses it).
- phone: digits only, no leading zeros, WITH the country code. A number written internationally
  (`+…`, `00…`) keeps its own; a national number gets the default region's code via libphonenumber
  (`(650)555-1212` → `16505551212`, the documented vector). The SDKs never add a country code — their
  `123-456-7890` → `1234567890` would not match, so we do not follow those rows.
- names: NFC, lowercase, punctuation removed (the docs); the SDKs keep punctuation.
- a value that already is a SHA-256 hex digest is passed through (lowercased), never hashed twice.
  32-hex MD5 values are not passed through: Meta asks for SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping

import phonenumbers

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# The Python SDK's loose `.+@.+\..+`, except that the domain (after the last @) has no spaces and the
# local part does not end in @ (`324342@@@@bar.com` is no address; `"a b"@c.d` is one).
_EMAIL = re.compile(r".*[^@]@[^@\s]+\.[^@\s]+")
_NON_DIGITS = re.compile(r"\D+")

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
    """Digits with the country code and no leading zeros, or None when nothing is left."""
    value = raw.strip()
    digits = _NON_DIGITS.sub("", value)
    if not digits:
        return None
    if value.startswith("+") or digits.startswith("00"):
        # Written internationally: the country code is already there.
        return digits.lstrip("0") or None
    region = (default_region or DEFAULT_REGION).upper()
    if region in _NANP_REGIONS:
        # North America: what libphonenumber answers for a possible number, without its cost
        # (ten digits, area code 2-9; or eleven with the leading 1).
        if len(digits) == 10 and digits[0] in "23456789":
            return "1" + digits
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return digits
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return f"{number.country_code}{number.national_number}"
    # Not a possible national number of the region: assume it already starts with a country code
    # (`4412390821300`), which is all Meta's rule can say about it.
    return digits.lstrip("0") or None


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


# A few country names people type instead of the code (the docs' own example is `United States` → `us`).
_COUNTRY_NAMES = {
    "unitedstates": "us",
    "unitedstatesofamerica": "us",
    "usa": "us",
    "america": "us",
    "unitedkingdom": "gb",
    "greatbritain": "gb",
    "england": "gb",
    "uk": "gb",
    "canada": "ca",
    "germany": "de",
    "deutschland": "de",
    "france": "fr",
    "spain": "es",
    "espana": "es",
    "mexico": "mx",
    "brazil": "br",
    "brasil": "br",
    "india": "in",
    "australia": "au",
    "italy": "it",
    "italia": "it",
    "netherlands": "nl",
    "japan": "jp",
}


def normalize_country(raw: str) -> str | None:
    """country: ISO 3166-1 alpha-2, lowercase."""
    value = re.sub(r"[^a-z]", "", raw.lower())
    value = _COUNTRY_NAMES.get(value, value)
    return value if len(value) == 2 else None


_NORMALIZERS = {
    "em": normalize_email,
    "ph": normalize_phone,
    "fn": normalize_name,
    "ln": normalize_name,
    "ct": normalize_city,
    "st": normalize_city,
    "zp": normalize_zip,
    "country": normalize_country,
}


def normalize(field: str, raw: str, default_region: str = DEFAULT_REGION) -> str | None:
    if field == "ph":
        return normalize_phone(raw, default_region)
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


# Where a lead's mapped columns keep email and phone: CRMs name them differently; these are matched
# case-insensitively, ignoring spaces, dashes and underscores. Meta's own form answers use `email`
# and `phone_number`, which these also cover.
EMAIL_COLUMNS = ("email", "emailaddress", "workemail", "businessemail", "email1", "e_mail", "mail")
PHONE_COLUMNS = (
    "phone",
    "phonenumber",
    "mobile",
    "mobilephone",
    "mobilenumber",
    "workphone",
    "businessphone",
    "telephone",
    "tel",
    "cell",
    "cellphone",
)
COUNTRY_COLUMNS = ("country", "countrycode")


@functools.lru_cache(maxsize=4096)
def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_EMAIL_KEYS = {_key(c) for c in EMAIL_COLUMNS}
_PHONE_KEYS = {_key(c) for c in PHONE_COLUMNS}
_COUNTRY_KEYS = {_key(c) for c in COUNTRY_COLUMNS}


def contact_values(fields: Mapping[str, object]) -> tuple[list[str], list[str], str]:
    """(emails, phones, country) found among a lead's mapped columns."""
    emails: list[str] = []
    phones: list[str] = []
    country = ""
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            continue
        key = _key(name)
        if key in _EMAIL_KEYS:
            emails.append(value)
        elif key in _PHONE_KEYS:
            phones.append(value)
        elif key in _COUNTRY_KEYS and len(value.strip()) == 2:
            country = value.strip().upper()
    return emails, phones, country


def user_data_hashes(fields: Mapping[str, object], default_region: str = DEFAULT_REGION) -> dict[str, list[str]]:
    """`em` / `ph` for a lead, hashed; keys with nothing usable are left out."""
    emails, phones, country = contact_values(fields)
    region = country if country and country in phonenumbers.SUPPORTED_REGIONS else default_region
    out: dict[str, list[str]] = {}
    em = hash_values("em", emails)
    if em:
        out["em"] = em
    ph = hash_values("ph", phones, region)
    if ph:
        out["ph"] = ph
    return out
