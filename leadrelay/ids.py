"""Ids in requests: every service parses them the same way, so every error names the field or the id."""

from __future__ import annotations

from uuid import UUID

from leadrelay.errors import InvalidArgument, NotFound


def parse_id(kind: str, raw: str, field: str) -> UUID:
    """A request's id: empty is INVALID_ARGUMENT; one that cannot exist is NOT_FOUND naming it."""
    if not raw:
        raise InvalidArgument(field, f"the {kind} id is required")
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(kind, raw) from None
