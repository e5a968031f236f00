"""OAuth tokens: the grant requests, the reading of token answers (which failures need a person), and
the cache against the sandbox's token endpoints, renewing before expiry and after a refusal."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from leadrelay.errors import InvalidArgument
from tests.validation_service.crm_support import VendorOrg
from validation_service import oauth_tokens
from validation_service.destinations import OAuth
from validation_service.oauth_tokens import TokenCache, TokenUnavailable, read_answer

CREDS = {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "refresh-token"}
TIMEOUT = aiohttp.ClientTimeout(total=5)


def test_grant_requests() -> None:
    cc = OAuth("client_credentials", "https://x/token", scope="api")
    assert oauth_tokens.token_request(cc, CREDS) == {
        "grant_type": "client_credentials",
        "client_id": "client-id",
        "client_secret": "client-secret",
        "scope": "api",
    }
    rt = OAuth("refresh_token", "https://x/token")
    assert oauth_tokens.token_request(rt, CREDS)["refresh_token"] == "refresh-token"


def test_credentials_each_grant_needs_are_named() -> None:
    with pytest.raises(InvalidArgument, match=r"oauth\.client_secret"):
        oauth_tokens.check_credentials(OAuth("client_credentials", "https://x"), {"client_id": "a"})
    with pytest.raises(InvalidArgument, match=r"oauth\.refresh_token"):
        oauth_tokens.check_credentials(OAuth("refresh_token", "https://x"), {"client_id": "a"})


@pytest.mark.parametrize(
    ("status", "text", "permanent"),
    [
        (None, "", False),
        (503, "", False),
        (429, "", False),
        (200, "<html>", False),
        (400, '{"error": "invalid_grant", "error_description": "expired"}', True),
        (401, '{"error": "invalid_client"}', True),
        (200, '{"error": "invalid_code"}', True),
    ],
)
def test_token_failures_say_whether_a_person_must_act(status: int | None, text: str, permanent: bool) -> None:
    with pytest.raises(TokenUnavailable) as err:
        read_answer(status, text, "timed out")
    assert err.value.permanent is permanent


def test_a_token_answer_without_expiry_assumes_the_default() -> None:
    assert read_answer(200, '{"access_token": "t"}').lifetime_seconds == oauth_tokens.DEFAULT_LIFETIME_SECONDS
    assert read_answer(200, '{"access_token": "t", "expires_in": 3599}').lifetime_seconds == 3599


def test_renewal_comes_before_expiry() -> None:
    assert oauth_tokens.renew_after(3600) == 3540
    assert oauth_tokens.renew_after(10) == 9


async def test_the_cache_fetches_once_renews_before_expiry_and_after_a_refusal(sandbox) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    now = [0.0]
    oauth = OAuth("client_credentials", f"{org.base}/identity/oauth/token")
    destination = uuid.uuid4()
    async with aiohttp.ClientSession() as session:
        cache = TokenCache(session, clock=lambda: now[0])
        first = await cache.token(destination, 1, oauth, CREDS, client_timeout=TIMEOUT)
        assert await cache.token(destination, 1, oauth, CREDS, client_timeout=TIMEOUT) == first
        now[0] = 3540.0  # the sandbox's 3600 s token, one margin before it lapses
        second = await cache.token(destination, 1, oauth, CREDS, client_timeout=TIMEOUT)
        assert second != first
        third = await cache.token(destination, 1, oauth, CREDS, refused=second, client_timeout=TIMEOUT)
        assert third != second
        # Another caller that saw the same refusal takes the renewed token, no second fetch.
        assert await cache.token(destination, 1, oauth, CREDS, refused=second, client_timeout=TIMEOUT) == third
        # A changed destination (new version) fetches anew.
        assert await cache.token(destination, 2, oauth, CREDS, client_timeout=TIMEOUT) != third
    assert cache.fetches == 4
    assert (await org.stats())["tokens_issued"] == 4


async def test_after_a_refusal_only_a_token_fetched_since_is_sent(sandbox) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    now = [0.0]
    oauth = OAuth("client_credentials", f"{org.base}/identity/oauth/token")
    destination = uuid.uuid4()
    async with aiohttp.ClientSession() as session:
        cache = TokenCache(session, clock=lambda: now[0])
        cached = await cache.token(destination, 1, oauth, CREDS, client_timeout=TIMEOUT)
        now[0] = 10.0
        # A call carrying an older token was refused at 10 s: the cached one, fetched at 0 s, may have
        # lapsed as well (a short-lived token, or a session the CRM ended), so a new one is fetched...
        renewed = await cache.token(
            destination, 1, oauth, CREDS, refused="older", refused_at=9.5, client_timeout=TIMEOUT
        )
        assert renewed != cached
        # ...and a call refused at the same moment takes that renewal, fetched after its refusal.
        again = await cache.token(destination, 1, oauth, CREDS, refused="older", refused_at=9.8, client_timeout=TIMEOUT)
        assert again == renewed
    assert cache.fetches == 2


async def test_refused_credentials_are_permanent(sandbox) -> None:
    org = VendorOrg(sandbox.url, "salesforce")
    oauth = OAuth("client_credentials", f"{org.base}/services/oauth2/token")
    async with aiohttp.ClientSession() as session:
        cache = TokenCache(session)
        with pytest.raises(TokenUnavailable) as err:
            await cache.token(uuid.uuid4(), 1, oauth, {**CREDS, "client_secret": "wrong"}, client_timeout=TIMEOUT)
    assert err.value.permanent
    assert str(err.value) == "token endpoint refused the credentials: HTTP 400: invalid_grant authentication failure"
