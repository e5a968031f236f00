"""Opaque page tokens for keyset paging: the last row's sort key, base64-encoded."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from uuid import UUID

from leadrelay.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode(at: datetime, ident: UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), str(ident)]).encode()).decode()


def decode(token: str) -> tuple[datetime, UUID] | None:
    if not token:
        return None
    try:
        at, ident = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(at), UUID(ident)
    except (ValueError, TypeError):
        raise InvalidArgument("page_token", "not a token this service returned") from None
