"""Which file column feeds which source column. Pure.

Headers match a source's columns ignoring case, spacing, punctuation and accents ("E-mail",
"e_mail " and "EMAIL" are all `email`), then through common synonyms ("Work email" -> email,
"Surname" -> last_name, "Zip code" -> postal_code) when exactly one source column is in the same
synonym group. Manual mappings (`Override`) come first; an override with an empty column ignores
that file column. Without a header row, file columns map to the source's columns by position.
For a re-upload a header that matches nothing is an error naming its column (a silently dropped
column would lose the fix the user made); an import decides what such columns do (import_plan).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ingest_service.files.csv_reader import column_letter

# Each group: words people put in headers for one idea. A header and a source column match when
# their normalised forms fall in the same group.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        {"email", "emailaddress", "mail", "workemail", "businessemail", "emailid", "correo", "courriel"},
        {
            "phone",
            "phonenumber",
            "telephone",
            "tel",
            "telephonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "workphone",
            "businessphone",
            "phoneno",
            "mobilephonenumber",
        },
        {"firstname", "givenname", "forename", "fname", "first"},
        {"lastname", "surname", "familyname", "lname", "last"},
        {"fullname", "name", "contactname"},
        {
            "company",
            "companyname",
            "organization",
            "organisation",
            "employer",
            "business",
            "businessname",
            "companyaccount",
        },
        {"jobtitle", "title", "position", "role", "designation"},
        {"jobfunction", "function", "department"},
        {"seniority", "senioritylevel", "joblevel"},
        {"country", "countryname", "countryregion", "countryorregion", "countrycode"},
        {"state", "province", "stateprovince", "region", "stateorprovince", "county", "stateregion"},
        {"city", "town", "locality"},
        {"zip", "zipcode", "postalcode", "postcode", "postal"},
        {"address", "streetaddress", "street", "address1", "addressline1"},
        {"website", "url", "companywebsite", "web", "site", "websiteurl"},
        {"industry", "sector"},
        {"companysize", "employees", "numberofemployees", "employeecount", "headcount"},
    )
)
_GROUP_OF = {word: i for i, group in enumerate(SYNONYM_GROUPS) for word in group}


class HeaderError(ValueError):
    """A file column that cannot be mapped; `column` is 1-based, `row` is where the header is."""

    def __init__(self, column: int, header: str, message: str, row: int = 1) -> None:
        label = f' ("{header}")' if header else ""
        where = f"row {row}, column {column_letter(column)}{label}" if column else f"row {row}{label}"
        super().__init__(f"{where}: {message}")
        self.row = row
        self.column = column
        self.header = header
        self.reason = message


@dataclass(frozen=True)
class Override:
    """A manual mapping: the file column named `header` (or at 1-based `position`) feeds `column`;
    an empty `column` means ignore that file column."""

    column: str
    header: str = ""
    position: int = 0
    # Import only: send the file column to the catch-all; the value transform (value_transforms).
    catch_all: bool = False
    transform: str = ""


def normalise(text: str) -> str:
    """Case-, accent-, spacing- and punctuation-free form: " E-Mail Address" -> "emailaddress"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def unique_headers(headers: Sequence[str]) -> list[str]:
    """Repeated header names get suffixes (A, A_1, A_2), never colliding with a header already in the
    file (c, c, c, c_1 -> c, c_2, c_3, c_1): PapaParse's rule, so every column stays addressable."""
    used = set(headers)
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}
    out = []
    for header in headers:
        if header not in seen:
            seen.add(header)
            next_suffix[header] = 1
            out.append(header)
            continue
        k = next_suffix[header]
        while f"{header}_{k}" in used:
            k += 1
        renamed = f"{header}_{k}"
        used.add(renamed)
        next_suffix[header] = k + 1
        out.append(renamed)
    return out


def _find_column(header: str, columns: Sequence[str]) -> str | None:
    key = normalise(header)
    if not key:
        return None
    for column in columns:
        if normalise(column) == key:
            return column
    group = _GROUP_OF.get(key)
    if group is None:
        return None
    candidates = [c for c in columns if _GROUP_OF.get(normalise(c)) == group]
    return candidates[0] if len(candidates) == 1 else None


def match_headers(
    headers: Sequence[str],
    columns: Sequence[str],
    overrides: Sequence[Override] = (),
    *,
    skip: Collection[int] = (),
    row: int = 1,
    strict: bool = True,
    unmatched_ok: bool = False,
    shared: bool = False,
) -> list[str | None]:
    """For each file column (0-based index), the source column it feeds, or None (ignored: blank
    header, an override with no column, or an index in `skip` that the caller reads itself).
    `strict=False` leaves a header that matches nothing as None instead of raising (a file feeding
    several sources checks the union itself); `unmatched_ok` does the same but keeps the checks of
    the overrides (an import sends such columns to the catch-all). `shared` lets several file
    columns feed one source column (an import takes the first non-empty, Phone then Mobile)."""
    result: list[str | None] = [None] * len(headers)
    decided: set[int] = set(skip)
    for override in overrides:
        unknown = bool(override.column) and override.column not in columns
        if unknown and strict:
            raise HeaderError(
                0 if not override.position else override.position,
                override.header,
                f"the mapping names column {override.column!r}, which the source does not have "
                f"(columns: {', '.join(columns)})",
                row,
            )
        if override.position:
            index = override.position - 1
            if not 0 <= index < len(headers):
                raise HeaderError(
                    override.position,
                    "",
                    f"the mapping names position {override.position}, but the file has {len(headers)} columns",
                    row,
                )
        else:
            key = normalise(override.header)
            matches = [i for i, h in enumerate(headers) if normalise(h) == key and i not in skip]
            if not matches:
                raise HeaderError(0, override.header, "the mapping names a header the file does not have", row)
            index = matches[0]
        result[index] = None if unknown else override.column or None
        decided.add(index)
    for i, header in enumerate(headers):
        if i in decided or not header.strip():
            continue
        column = _find_column(header, columns)
        if column is None:
            if not strict or unmatched_ok:
                continue
            raise HeaderError(
                i + 1,
                header,
                f"matches no column of the source (columns: {', '.join(columns) or 'none'}); "
                "map it in the import's column mapping, or map it to nothing to ignore it",
                row,
            )
        result[i] = column
    taken: dict[str, int] = {}
    for i, column in enumerate(result):
        if column is None:
            continue
        if column in taken and not shared:
            first = taken[column]
            raise HeaderError(
                i + 1,
                headers[i],
                f'feeds column {column!r}, which column {column_letter(first + 1)} ("{headers[first]}") already feeds',
                row,
            )
        taken[column] = i
    if not taken and strict and not unmatched_ok:
        raise HeaderError(1, headers[0] if headers else "", "the header row maps to none of the source's columns", row)
    return result


def positional(width: int, columns: Sequence[str], overrides: Sequence[Override] = ()) -> list[str | None]:
    """No header row: file column i feeds the source's column i. With positional overrides, only the
    positions they name are read. More file columns than source columns is an error."""
    if overrides:
        result: list[str | None] = [None] * width
        for override in overrides:
            if not override.position:
                raise HeaderError(0, override.header, "without a header row, mappings must name a position")
            if override.column and override.column not in columns:
                raise HeaderError(
                    override.position,
                    "",
                    f"the mapping names column {override.column!r}, which the source does not have",
                )
            if override.position > width:
                raise HeaderError(override.position, "", f"the file has only {width} columns")
            result[override.position - 1] = override.column or None
        return result
    if width > len(columns):
        raise HeaderError(
            len(columns) + 1,
            "",
            f"the file has {width} columns but the source has {len(columns)} ({', '.join(columns)}); "
            "map the columns by position or remove the extra ones",
        )
    return list(columns[:width])
