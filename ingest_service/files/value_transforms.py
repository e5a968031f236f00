"""What an import's column mapping can do to a value on its way in (ColumnMapping.transform). Pure.

`given`/`family` split a full name (Facebook's `full_name`) at its last space: "Mary Ann Smith" ->
"Mary Ann" + "Smith"; a one-word name is a given name. `unprefix` drops the kind prefix Facebook's
lead download puts before a value so a spreadsheet keeps it as text (`p:+15555550123`); an import
applies it to the phone columns of a file that carries platform lead ids.
"""

from __future__ import annotations

from collections.abc import Callable

GIVEN = "given"
FAMILY = "family"
UNPREFIX = "unprefix"

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "title": lambda v: " ".join(w[:1].upper() + w[1:] for w in v.split()),
    GIVEN: lambda v: v.strip().rpartition(" ")[0].strip() or v.strip(),
    FAMILY: lambda v: v.strip().rpartition(" ")[2] if " " in v.strip() else "",
    UNPREFIX: lambda v: v[2:] if v[:2] == "p:" else v,
}
