"""What a person typed in a lead search box, read as the lookups it means: a LeadID (exact), an email,
phone number or platform lead id (exact, through the leads' search keys), and a name or company
that contains the text (through the suffixes of their words). Plain functions; the SQL that uses
them is leads_store.search_leads, the index expressions are migration 0022's.

The normalisations here must match the SQL functions of migration 0022: keys are lower-cased,
phones are their digits, words split on anything not a letter or digit and are 3 to 40 long."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from uuid import UUID

MAX_QUERY: Final = 200
MIN_CONTAINS: Final = 3
_WORD_MAX: Final = 40
_NON_WORD: Final = re.compile(r"[^\w]+|_+")
_PHONE_CHARS: Final = re.compile(r"^[+\d\s().\-/]+$")


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
