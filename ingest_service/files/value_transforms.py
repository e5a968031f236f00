"""What an import's column mapping can do to a value on its way in (ColumnMapping.transform). Pure.

`given`/`family` split a full name (Facebook's `full_name`) at its last space: "Mary Ann Smith" ->
"Mary Ann" + "Smith"; a one-word name is a given name.
"""

from __future__ import annotations

from collections.abc import Callable

GIVEN = "given"
FAMILY = "family"

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "title": lambda v: " ".join(w[:1].upper() + w[1:] for w in v.split()),
    GIVEN: lambda v: v.strip().rpartition(" ")[0].strip() or v.strip(),
    FAMILY: lambda v: v.strip().rpartition(" ")[2] if " " in v.strip() else "",
}
