"""OAuth 2 access tokens for destinations: fetched with the client-credentials or refresh-token grant,
cached per destination, renewed shortly before they expire and when the CRM refuses one.

The request and the reading of the answer are pure functions; `TokenCache` does the I/O, one fetch
at a time per destination, so a batch of deliveries that all meet an expired token renews it once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp

from leadrelay.errors import InvalidArgument
from validation_service.destinations import OAuth

# Renew this long before the vendor's expiry (a tenth of the lifetime for short-lived tokens), so a
# request never leaves with a token about to lapse.
RENEW_MARGIN_SECONDS = 60.0
# Salesforce's token answer carries no expires_in: assume its session's default of two hours, less;
# a refused token is renewed anyway.
DEFAULT_LIFETIME_SECONDS = 3600.0
MAX_ANSWER_BYTES = 64 * 1024
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class TokenUnavailable(Exception):
    """No token. `permanent`: the credentials are refused (a person must act); otherwise the token
    endpoint failed for now (the delivery retries)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


def check_credentials(oauth: OAuth, credentials: Mapping[str, str]) -> None:
    """What each grant needs, named by field."""
    if not credentials.get("client_id"):
        raise InvalidArgument("oauth.client_id", f"is required for the {oauth.grant_type} grant")
    if oauth.grant_type == "client_credentials" and not credentials.get("client_secret"):
        raise InvalidArgument("oauth.client_secret", "is required for the client_credentials grant")
    if oauth.grant_type == "refresh_token" and not credentials.get("refresh_token"):
        raise InvalidArgument("oauth.refresh_token", "is required for the refresh_token grant")


def token_request(oauth: OAuth, credentials: Mapping[str, str]) -> dict[str, str]:
    """The form fields of the token request (RFC 6749 4.4 and 6; credentials in the body, which
    Marketo, Salesforce, Zoho, HubSpot and Microsoft all accept)."""
    form = {"grant_type": oauth.grant_type, "client_id": credentials.get("client_id", "")}
    if credentials.get("client_secret"):
        form["client_secret"] = credentials["client_secret"]
    if oauth.grant_type == "refresh_token":
        form["refresh_token"] = credentials.get("refresh_token", "")
    if oauth.scope:
        form["scope"] = oauth.scope
    return form


@dataclass(frozen=True)
class Token:
    value: str
    lifetime_seconds: float


def read_answer(status: int | None, text: str, error: str = "") -> Token:
    """The token from the endpoint's answer, or TokenUnavailable saying whether a person must act."""
    if status is None:
        raise TokenUnavailable(f"token endpoint: {error or 'no response'}", permanent=False)
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise TokenUnavailable(f"token endpoint: HTTP {status}", permanent=False)
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise TokenUnavailable(f"token endpoint: HTTP {status}, an answer that is not a JSON object", permanent=False)
    said = " ".join(str(answer[k]) for k in ("error", "error_description") if answer.get(k))
    value = answer.get("access_token")
    if status >= 400 or not isinstance(value, str) or not value:
        # invalid_grant, invalid_client, ... (Zoho answers 200 {"error": "invalid_code"}): the
        # credentials will not work until someone replaces them.
        raise TokenUnavailable(
            f"token endpoint refused the credentials: HTTP {status}{': ' + said if said else ''}", permanent=True
        )
    try:
        lifetime = float(answer.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_SECONDS
    return Token(value, max(lifetime, 1.0))


def renew_after(lifetime_seconds: float) -> float:
    """Seconds after issue when the token is renewed rather than sent."""
    return lifetime_seconds - min(RENEW_MARGIN_SECONDS, lifetime_seconds / 10)


@dataclass
class _Cached:
    version: Any
    value: str
    renew_at: float
    issued_at: float = 0.0  # when its fetch began


class TokenCache:
    """Access tokens per destination, in memory (a restart fetches a new one)."""

    def __init__(self, session: aiohttp.ClientSession, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.clock = clock
        self._tokens: dict[UUID, _Cached] = {}
        self._locks: dict[UUID, asyncio.Lock] = {}
        self.fetches = 0

    async def token(
        self,
        destination_id: UUID,
        version: Any,
        oauth: OAuth,
        credentials: Mapping[str, str],
        *,
        refused: str = "",
        refused_at: float = 0.0,
        client_timeout: aiohttp.ClientTimeout,
    ) -> str:
        """The cached token, or a new one when there is none for this `version` of the destination,
        it is due for renewal, or it is `refused` (the one the CRM just turned down: whoever renews
        first, the others take the new one). With `refused_at` (by `clock`, when that refusal came),
        only a token fetched since then is taken: an older one, though not the one refused, may have
        lapsed too, and a refusal of the renewed token pauses the destination."""
        lock = self._locks.setdefault(destination_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(destination_id)
            if (
                cached is not None
                and cached.version == version
                and cached.value != refused
                and cached.issued_at >= refused_at
                and self.clock() < cached.renew_at
            ):
                return cached.value
            self._tokens.pop(destination_id, None)
            started = self.clock()
            token = await self._fetch(oauth, credentials, client_timeout)
            self._tokens[destination_id] = _Cached(
                version, token.value, started + renew_after(token.lifetime_seconds), started
            )
            return token.value

    async def _fetch(
        self, oauth: OAuth, credentials: Mapping[str, str], client_timeout: aiohttp.ClientTimeout
    ) -> Token:
        self.fetches += 1
        status: int | None = None
        text = error = ""
        try:
            async with self.session.post(
                oauth.token_url,
                data=token_request(oauth, credentials),
                headers={"Accept": "application/json"},
                allow_redirects=False,
                timeout=client_timeout,
            ) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                status = resp.status
                text = raw.decode("utf-8", errors="replace")
        except TimeoutError:
            error = "timed out"
        except (aiohttp.ClientError, OSError) as exc:
            error = f"connection error: {type(exc).__name__}"
        return read_answer(status, text, error)
