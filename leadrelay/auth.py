"""Who is calling: API keys (`authorization: Bearer <key>`) scoped to one account, and the internal
token our own services use to call each other on an account's behalf (with `x-leadrelay-account`).

The account of the current call lives in a contextvar; servicers read it with `current_account()`.
Who acted lives beside it (`current_actor()`): `user:<report user id>` when the console calls on a
signed-in person's behalf (`x-leadrelay-actor`, trusted only with the internal token), `key:<prefix>`
for an API key, "" for the system itself. Audit trails store that label; the console turns it into a
name.
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
ACTOR_HEADER = "x-leadrelay-actor"

_account: contextvars.ContextVar[UUID] = contextvars.ContextVar("account")
_actor: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="")


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


def current_actor() -> str:
    """Who made the current call: `user:<uuid>`, `key:<prefix>`, or "" (the system)."""
    return _actor.get()


def set_actor(actor: str) -> contextvars.Token[str]:
    return _actor.set(actor)


def reset_actor(token: contextvars.Token[str]) -> None:
    _actor.reset(token)


def bearer_metadata(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def internal_metadata(
    internal_token: str, account_id: UUID | str, actor_user_id: UUID | str | None = None
) -> tuple[tuple[str, str], ...]:
    base = (("authorization", f"Bearer {internal_token}"), (ACCOUNT_HEADER, str(account_id)))
    return base if actor_user_id is None else (*base, (ACTOR_HEADER, str(actor_user_id)))


class Authenticator:
    """Resolves call metadata to an account. Keys are looked up by hash and cached briefly, so a
    revoked key stops working within `cache_seconds`."""

    def __init__(self, pool: asyncpg.Pool, internal_token: str, cache_seconds: float = 30.0) -> None:
        self._pool = pool
        self._internal = internal_token
        self._internal_bytes = internal_token.encode()
        self._ttl = cache_seconds
        self._cache: dict[bytes, tuple[UUID | None, float]] = {}

    async def account_for(
        self, metadata: Iterable[tuple[str, str | bytes]], *, internal_only: bool = False
    ) -> tuple[UUID, str]:
        """(the calling account, who acted: see `current_actor`). `internal_only`: the RPC takes the
        internal token alone; an API key (valid or not) raises InternalOnly."""
        header = account_header = actor_header = ""
        for key, value in metadata:  # one pass, no dict: this runs on every call
            if isinstance(value, str):
                key = key.lower()
                if key == "authorization":
                    header = value
                elif key == ACCOUNT_HEADER:
                    account_header = value
                elif key == ACTOR_HEADER:
                    actor_header = value
        if not header:
            raise Unauthenticated("missing authorization metadata: send 'authorization: Bearer <api key>'")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("authorization metadata must be 'Bearer <api key>'")
        credential = credential.strip()
        if self._internal and hmac.compare_digest(credential.encode(), self._internal_bytes):
            try:
                account_id = UUID(account_header)
            except ValueError:
                raise Unauthenticated(f"internal calls must name the account in {ACCOUNT_HEADER}") from None
            return account_id, _user_actor(actor_header)
        if internal_only:
            raise InternalOnly("this RPC is internal: only LeadRelay's own services may call it")
        account = await self._lookup(credential)
        if account is None:
            prefix = credential.split("_")[1] if credential.count("_") >= 2 else "?"
            raise Unauthenticated(f"API key lr_{prefix}_… is not valid (unknown or revoked)")
        return account, f"key:{credential.split('_')[1]}" if credential.count("_") >= 2 else "key:?"

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


def _user_actor(header: str) -> str:
    if not header:
        return ""
    try:
        return f"user:{UUID(header)}"
    except ValueError:
        raise Unauthenticated(f"{ACTOR_HEADER} must be a user id") from None
