"""Whether an account may see a row: the one check every service makes before acting on an id."""

from __future__ import annotations

from uuid import UUID

from leadrelay.errors import NotFound, PermissionDenied


def check_owner(kind: str, ident: UUID, owner: UUID | None, account_id: UUID) -> None:
    """`owner` is the row's account (None: no such row). Raises NotFound or PermissionDenied naming the id."""
    if owner is None:
        raise NotFound(kind, str(ident))
    if owner != account_id:
        raise PermissionDenied(kind, str(ident))
