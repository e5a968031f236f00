"""Country names and codes as people type them → ISO 3166-1 alpha-2, and US state names → their codes.
Pure (the tables are the libraries' data, loaded once).

Countries come from Babel (Unicode CLDR): every territory's name in the languages below ("Poland",
"Polska", "Deutschland", "Allemagne") and CLDR's territory aliases ("UK" → GB, "USA"/"840" → US); and
from pycountry (ISO 3166-1): official names ("United States of America") and alpha-3 codes. A name
that two territories share in different languages is left out rather than guessed. US states come
from pycountry's ISO 3166-2 table ("California" → CA), which Babel does not have.
"""

from __future__ import annotations

import functools
import unicodedata

import pycountry
from babel import Locale
from babel.core import get_global

# The languages whose country names are recognised: the lead forms we see are mostly in these.
# (Every CLDR locale would be ~1,000 tables to load for little gain.)
LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "cs", "sk", "hu", "ro",
    "el", "tr", "ru", "uk", "ja", "zh", "ko", "ar", "he", "hi", "id", "vi", "th",
)  # fmt: skip


def fold(text: str) -> str:
    """Case, accents, spaces and punctuation ignored: 'España' and 'espana', 'U.S.A.' and 'usa'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if unicodedata.category(ch)[0] in "LN")


@functools.cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    ambiguous: set[str] = set()

    def add(name: str, code: str) -> None:
        key = fold(name)
        if not key or key in ambiguous:
            return
        if index.get(key, code) != code:
            ambiguous.add(key)
            del index[key]
            return
        index[key] = code

    for language in LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                add(name, code)
    for alias, targets in get_global("territory_aliases").items():
        # "UK" → GB, "USA" → US, "276" → DE; aliases of a split territory (several targets) are skipped.
        if len(targets) == 1 and len(targets[0]) == 2:
            add(alias, targets[0])
    for country in pycountry.countries:
        # ISO's own spellings too: official names ("United States of America") and alpha-3 codes.
        for name in (country.name, getattr(country, "official_name", ""), getattr(country, "common_name", "")):
            add(name, country.alpha_2)
        add(country.alpha_3, country.alpha_2)
        add(country.alpha_2, country.alpha_2)
    return index


def country_code(raw: str) -> str | None:
    """ISO 3166-1 alpha-2 (upper case) for a code, alias or name in one of LANGUAGES; None when unknown."""
    return _country_index().get(fold(raw or ""))


@functools.cache
def _us_states() -> dict[str, str]:
    index: dict[str, str] = {}
    for subdivision in pycountry.subdivisions.get(country_code="US"):  # type: ignore[no-untyped-call]  # pycountry is unannotated
        short = subdivision.code.removeprefix("US-")
        index[fold(subdivision.name)] = short
        index[fold(short)] = short
    return index


def us_state_code(raw: str) -> str | None:
    """Two-letter code of a US state (or district, territory) given by name or code; None otherwise."""
    return _us_states().get(fold(raw or ""))
