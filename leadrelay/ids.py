"""Ids in requests: every service parses them the same way, so every error names the field.

Decided once: an empty or malformed id is INVALID_ARGUMENT naming the field (it cannot name any row);
NOT_FOUND is only for a well-formed id with no row the caller may see.
"""

from __future__ import annotations

from uuid import UUID

from leadrelay.errors import InvalidArgument


def as_id(raw: str) -> UUID | None:
    """The id, or None when `raw` is not one (for checks that report a row instead of refusing)."""
    try:
        return UUID(raw)
    except ValueError:
        return None


def parse_id(kind: str, raw: str, field: str) -> UUID:
    """A request's id: empty or malformed is INVALID_ARGUMENT naming the field."""
    if not raw:
        raise InvalidArgument(field, f"the {kind} id is required")
    parsed = as_id(raw)
    if parsed is None:
        raise InvalidArgument(field, f"{raw!r} is not a {kind} id (a UUID)")
    return parsed
