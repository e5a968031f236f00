"""Keyset page tokens: what a token holds comes back as it went in; anything else names page_token."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import UUID

import pytest

from leadrelay import paging
from leadrelay.errors import InvalidArgument

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
ID = UUID("00000000-0000-4000-8000-000000000001")


def test_a_token_gives_back_the_sort_key_it_was_made_from() -> None:
    assert paging.decode(paging.encode(AT, ID), datetime, UUID) == (AT, ID)
    assert paging.decode(paging.encode(AT, ID, ID), datetime, UUID, UUID) == (AT, ID, ID)
    assert paging.decode(paging.encode(42), int) == (42,)
    assert paging.decode("", datetime, UUID) is None


@pytest.mark.parametrize(
    "token",
    ["not base64 at all!", base64.urlsafe_b64encode(b"[1, 2, 3]").decode(), paging.encode(42), paging.encode(ID, AT)],
)
def test_a_token_this_service_did_not_make_is_invalid_argument_naming_page_token(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        paging.decode(token, datetime, UUID)
    assert refused.value.field == "page_token"


def test_page_sizes_default_cap_and_refuse_negatives() -> None:
    assert (paging.page_size(0), paging.page_size(5), paging.page_size(10**6)) == (100, 5, 1000)
    with pytest.raises(InvalidArgument):
        paging.page_size(-1)
