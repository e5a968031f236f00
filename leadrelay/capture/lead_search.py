"""Lead search, both sides: what a stored lead can be found by (its search keys and the suffixes of
its name and company words, kept in leads.search_keys and leads.search_words, migration 0034), and
what a person typed in a search box, read as the lookups it means: a LeadID (exact), an email, phone
number or platform lead id (exact, through the search keys), and a name or company that contains the
text (through the suffixes). Plain functions; the SQL that uses them is leads_store's.

One normalisation for both sides, here: keys are lower-cased (Python's Unicode lower), phones are
their digits, words split on anything not a letter or digit and are 3 to 40 long. They were the SQL
functions of migration 0022, which ran in PL/pgSQL for every stored or changed lead (50-105 us each,
inside the statement); computed here they cost a few microseconds in the writer's process."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import orjson

MAX_QUERY: Final = 200
MIN_CONTAINS: Final = 3
_WORD_MAX: Final = 40
_NON_WORD: Final = re.compile(r"[^\w]+|_+")
_PHONE_CHARS: Final = re.compile(r"^[+\d\s().\-/]+$")
_EMAIL_COLUMN: Final = re.compile(r"e-?mail", re.IGNORECASE)
_PHONE_COLUMN: Final = re.compile(r"phone|mobile", re.IGNORECASE)
_WORDS_COLUMN: Final = re.compile(r"name|company|organi[sz]ation", re.IGNORECASE)
_NOT_DIGIT: Final = re.compile(r"[^0-9]")
_EMAIL_MAX: Final = 320
_PHONE_READ: Final = 64  # a phone value's first characters read for digits
_MIN_PHONE: Final = 6
_WORDS_READ: Final = 200  # a name value's first characters read for words (suffixes grow with the square)
# Joins a lead's keys or words into one text for SQL's string_to_array (leads_store passes a batch's
# arrays as one text[] of these). str.split() takes it for whitespace, so no search text holds it;
# a key holding it could never be found and is left out.
SEPARATOR: Final = "\x1f"


def search_keys(fields: Any, platform_lead_id: str) -> list[str]:
    """A stored lead's exact keys: first its platform lead id, lower-cased (leads_store keeps that
    first key when fields change: the id never does), then `field_keys`."""
    keys = [platform_lead_id.lower()]
    keys += (k for k in field_keys(fields) if k != keys[0])
    return keys


def field_keys(fields: Any) -> list[str]:
    """The exact keys of a lead's fields: each value of a column whose name says email (holding an
    @, at most 320 characters), trimmed of spaces and lower-cased; the digits of each value of a
    column whose name says phone or mobile (6 or more). Fields that are not an object have none."""
    if not isinstance(fields, dict):
        return []
    keys: dict[str, None] = {}
    for column, value in fields.items():
        kind = _kind(column)
        if not kind & (_EMAIL | _PHONE):
            continue
        v = _text(value)
        if v is None:
            continue
        if kind & _EMAIL and "@" in v and len(v) <= _EMAIL_MAX:
            keys[v.strip(" ").lower()] = None
        elif kind & _PHONE:
            digits = _NOT_DIGIT.sub("", v[:_PHONE_READ])
            if len(digits) >= _MIN_PHONE:
                keys[digits] = None
    return [k for k in keys if SEPARATOR not in k]


def search_words(fields: Any) -> list[str]:
    """Every suffix of 3 or more characters of every word (3 to 40 letters or digits) of the values of
    the name, company and organisation columns (each value's first 200 characters), lower-cased,
    sorted, once each. A word containing "cme" has a suffix starting with "cme", so the prefix
    query 'cme':* (`_contains`) finds "Acme"."""
    if not isinstance(fields, dict):
        return []
    suffixes: set[str] = set()
    for column, value in fields.items():
        if not _kind(column) & _WORDS:
            continue
        v = _text(value)
        if v is None:
            continue
        for w in _NON_WORD.split(v[:_WORDS_READ].lower()):
            if MIN_CONTAINS <= len(w) <= _WORD_MAX:
                suffixes.update(w[i:] for i in range(len(w) - MIN_CONTAINS + 1))
    return sorted(suffixes)


_EMAIL, _PHONE, _WORDS = 1, 2, 4


@functools.lru_cache(maxsize=4096)
def _kind(column: str) -> int:
    """What a column's name says it holds (_EMAIL, _PHONE, _WORDS bits); a lead's columns repeat."""
    return (
        (_EMAIL if _EMAIL_COLUMN.search(column) else 0)
        | (_PHONE if _PHONE_COLUMN.search(column) else 0)
        | (_WORDS if _WORDS_COLUMN.search(column) else 0)
    )


def fields_of(fields_json: str) -> Any:
    """A lead's fields from their JSON text (as the store receives them); unreadable text has none."""
    try:
        return orjson.loads(fields_json)
    except orjson.JSONDecodeError:
        return None


def joined(items: Iterable[str]) -> str:
    """Keys or words as one text for SQL's string_to_array(text, SEPARATOR)."""
    return SEPARATOR.join(items)


def _text(value: Any) -> str | None:
    """A field's value as PostgreSQL's jsonb_each_text gives it (0022 read them so): strings as they
    are, JSON null as none, anything else as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class LeadSearch:
    """The lookups one search runs (any of them finding the lead is a match)."""

    text: str
    lead_id: UUID | None = None
    keys: tuple[str, ...] = ()
    # A tsquery over the suffixes of the name and company words ('' none): every typed word of 3+
    # characters must be inside one of them.
    words: str = ""

    @property
    def kind(self) -> str:
        """What the text was taken for, in words a person reads."""
        if self.lead_id is not None:
            return "LeadID"
        if "@" in self.text:
            return "email"
        if self.words:
            return "name, company or id"
        return "phone or platform lead id" if self.keys else ""

    @property
    def lettered(self) -> bool:
        """Some typed word of the contains-search has a letter: it may be a piece of many names. Words
        of digits only ("l:1234567" gives "1234567") are ids far more often, found by few leads."""
        return any(not w.isdigit() for w in re.findall(r"'([^']*)'", self.words))

    @property
    def empty(self) -> bool:
        return self.lead_id is None and not self.keys and not self.words


class SearchTooLong(ValueError):
    pass


def parse(text: str) -> LeadSearch:
    """The lookups for `text`. An empty search finds nothing (the caller lists without one)."""
    raw = " ".join(text.split())
    if len(raw) > MAX_QUERY:
        raise SearchTooLong(f"a search is at most {MAX_QUERY} characters, not {len(raw)}")
    if not raw:
        return LeadSearch("")
    try:
        return LeadSearch(raw, lead_id=UUID(raw))
    except ValueError:
        pass
    low = raw.lower()
    if "@" in low and " " not in low:  # an email (or a platform id with an @): exact only
        return LeadSearch(raw, keys=(low,))
    digits = re.sub(r"\D", "", raw)
    if _PHONE_CHARS.match(raw) and len(digits) >= 6:  # a phone number or a numeric platform id
        return LeadSearch(raw, keys=tuple(dict.fromkeys((low, digits))))
    return LeadSearch(raw, keys=(low,), words=_contains(low))


def _contains(low: str) -> str:
    """A tsquery requiring each typed word of 3+ characters to start a suffix of some word (to be
    inside it); '' when no word is long enough."""
    words = [w for w in dict.fromkeys(_NON_WORD.split(low)) if MIN_CONTAINS <= len(w) <= _WORD_MAX]
    # Words hold letters and digits only, so quoting them needs no escaping.
    return " & ".join(f"'{w}':*" for w in words)
