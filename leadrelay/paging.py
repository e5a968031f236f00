"""Keyset paging: page sizes, and opaque page tokens holding the last row's sort key (base64 JSON)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from leadrelay.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

Key = datetime | UUID | int


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or default, maximum)


def encode(*key: Key) -> str:
    """The token after a row whose sort key is `key`."""
    parts = [k.isoformat() if isinstance(k, datetime) else str(k) for k in key]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def decode(token: str, *kinds: type[Key]) -> tuple[Any, ...] | None:
    """The sort key a token holds, each part read as its kind (datetime, UUID or int); None for
    no token (the first page)."""
    if not token:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError(token)
        return tuple(_read(kind, part) for kind, part in zip(kinds, parts, strict=True))
    except (ValueError, TypeError):
        raise InvalidArgument("page_token", "not a token this service returned") from None


def _read(kind: type[Key], part: str) -> Key:
    if kind is datetime:
        return datetime.fromisoformat(part)
    if kind is UUID:
        return UUID(part)
    return int(part)
