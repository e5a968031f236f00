"""Personal data masked for viewers (unless their account lets them see it): emails, phones and
names keep just enough to tell leads apart; answers and free text are hidden. Plain functions."""

from __future__ import annotations

import re
from typing import Any, Final

HIDDEN: Final = "•••"
# Column names that hold a person's contact details or name (lower-cased, separators ignored).
_PERSONAL = re.compile(r"(e?mail|phone|mobile|tel|name|address|street|zip|postal|birth|linkedin)")


def is_personal(column: str) -> bool:
    return bool(_PERSONAL.search(column.lower().replace("_", "").replace(" ", "")))


def email(value: str) -> str:
    local, at, domain = value.partition("@")
    return f"{local[:1]}{HIDDEN}@{domain}" if at else HIDDEN


def value(column: str, raw: Any) -> Any:
    """A mapped field's value as a masked viewer sees it."""
    if raw in (None, "") or not is_personal(column):
        return raw
    text = str(raw)
    if "mail" in column.lower():
        return email(text)
    if any(k in column.lower() for k in ("phone", "mobile", "tel")):
        digits = re.sub(r"\D", "", text)
        return f"{HIDDEN}{digits[-2:]}" if len(digits) > 4 else HIDDEN
    return f"{text[:1]}{HIDDEN}"


def reason(text: str) -> str:
    """A rejection reason quotes the offending value (several reasons are joined with "; "): hidden
    where its column is personal."""
    return "; ".join(_one_reason(part) for part in text.split("; "))


def _one_reason(text: str) -> str:
    column, sep, _ = text.partition(":")
    if not sep or not is_personal(column):
        return text
    return re.sub(r'"[^"]*"', f'"{HIDDEN}"', text)
