"""Who is calling: API keys (`authorization: Bearer <key>`) scoped to one account, and the internal
token our own services use to call each other on an account's behalf (with `x-leadrelay-account`).

The account of the current call lives in a contextvar; servicers read it with `current_account()`.
"""

from __future__ import annotations

import contextvars
import hmac
import time
from collections.abc import Iterable
from uuid import UUID

import asyncpg

from leadrelay import accounts

ACCOUNT_HEADER = "x-leadrelay-account"

_account: contextvars.ContextVar[UUID] = contextvars.ContextVar("account")


class Unauthenticated(Exception):
    """No usable credentials; the message says what was wrong (never the key itself)."""


class InternalOnly(Exception):
    """An API key called an RPC only our own services may call (with the internal token)."""


def current_account() -> UUID:
    """The calling API key's account. Every request is scoped to it."""
    try:
        return _account.get()
    except LookupError:
        raise RuntimeError("current_account() outside an authenticated call") from None


def set_account(account_id: UUID) -> contextvars.Token[UUID]:
    return _account.set(account_id)


def reset_account(token: contextvars.Token[UUID]) -> None:
    _account.reset(token)


def bearer_metadata(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def internal_metadata(internal_token: str, account_id: UUID | str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {internal_token}"), (ACCOUNT_HEADER, str(account_id)))


class Authenticator:
    """Resolves call metadata to an account. Keys are looked up by hash and cached briefly, so a
    revoked key stops working within `cache_seconds`."""

    def __init__(self, pool: asyncpg.Pool, internal_token: str, cache_seconds: float = 30.0) -> None:
        self._pool = pool
        self._internal = internal_token
        self._internal_bytes = internal_token.encode()
        self._ttl = cache_seconds
        self._cache: dict[bytes, tuple[UUID | None, float]] = {}

    async def account_for(self, metadata: Iterable[tuple[str, str | bytes]], *, internal_only: bool = False) -> UUID:
        """The calling account. `internal_only`: the RPC takes the internal token alone; an API key
        (valid or not) raises InternalOnly."""
        header = account_header = ""
        for key, value in metadata:  # one pass, no dict: this runs on every call
            if isinstance(value, str):
                key = key.lower()
                if key == "authorization":
                    header = value
                elif key == ACCOUNT_HEADER:
                    account_header = value
        if not header:
            raise Unauthenticated("missing authorization metadata: send 'authorization: Bearer <api key>'")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("authorization metadata must be 'Bearer <api key>'")
        credential = credential.strip()
        if self._internal and hmac.compare_digest(credential.encode(), self._internal_bytes):
            try:
                return UUID(account_header)
            except ValueError:
                raise Unauthenticated(f"internal calls must name the account in {ACCOUNT_HEADER}") from None
        if internal_only:
            raise InternalOnly("this RPC is internal: only LeadRelay's own services may call it")
        account = await self._lookup(credential)
        if account is None:
            prefix = credential.split("_")[1] if credential.count("_") >= 2 else "?"
            raise Unauthenticated(f"API key lr_{prefix}_… is not valid (unknown or revoked)")
        return account

    async def _lookup(self, key: str) -> UUID | None:
        digest = accounts.hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[1] > now:
            return cached[0]
        async with self._pool.acquire() as con:
            account = await accounts.account_for_key(con, key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (account, now + self._ttl)
        return account
