"""The sandbox's OAuth stand-ins over real HTTP: codes are single use and tied to their redirect_uri,
Cancel comes back as the platforms' error query, refresh tokens can be revoked, and a lead
notification subscription needs a webhook that passes the challenge."""

from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.ingest_service.connector_support import post

REDIRECT = "http://127.0.0.1:9/cb"
HEADERS = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


async def _decide(web, url: str, decision: str, state: str = "s1") -> dict[str, str]:
    form = {"client_id": "app", "redirect_uri": REDIRECT, "state": state, "scope": "x", "decision": decision}
    async with web.post(url, data=form, allow_redirects=False) as reply:
        assert reply.status == 302
        return dict(parse_qsl(urlsplit(reply.headers["Location"]).query))


async def test_a_facebook_code_is_single_use_and_bound_to_its_redirect_uri(web, sandbox, settings):
    page = await post(web, f"{sandbox.url}/graph/_control/pages", {"name": "Corner Shop"})
    await post(web, f"{sandbox.url}/graph/_control/login", {"page_ids": [page["page_id"]]})
    back = await _decide(web, f"{sandbox.url}/facebook/v25.0/dialog/oauth", "allow")
    token_url = f"{sandbox.url}/graph/v25.0/oauth/access_token"
    query = {"client_id": "app", "client_secret": settings.facebook_app_secret, "code": back["code"]}
    async with web.get(token_url, params={**query, "redirect_uri": "http://127.0.0.1:9/other"}) as reply:
        assert reply.status == 400
    back = await _decide(web, f"{sandbox.url}/facebook/v25.0/dialog/oauth", "allow")
    query["code"] = back["code"]
    async with web.get(token_url, params={**query, "redirect_uri": REDIRECT}) as reply:
        short = await reply.json()
    assert short["expires_in"] < 3 * 3600
    async with web.get(token_url, params={**query, "redirect_uri": REDIRECT}) as reply:
        assert (await reply.json())["error"]["code"] == 100  # used
    long_query = {
        "client_id": "app",
        "client_secret": settings.facebook_app_secret,
        "grant_type": "fb_exchange_token",
        "fb_exchange_token": short["access_token"],
    }
    async with web.get(token_url, params=long_query) as reply:
        long = await reply.json()
    assert long["expires_in"] == 60 * 24 * 3600
    async with web.get(
        f"{sandbox.url}/graph/v25.0/me/accounts", params={"access_token": long["access_token"]}
    ) as reply:
        assert [(p["id"], p["access_token"]) for p in (await reply.json())["data"]] == [
            (page["page_id"], page["access_token"])
        ]


async def test_cancel_comes_back_as_each_platforms_error_query(web, sandbox):
    back = await _decide(web, f"{sandbox.url}/facebook/v25.0/dialog/oauth", "cancel", state="s2")
    assert (back["error"], back["error_reason"], back["state"]) == ("access_denied", "user_denied", "s2")
    back = await _decide(web, f"{sandbox.url}/linkedin/oauth/v2/authorization", "cancel", state="s3")
    assert (back["error"], back["state"]) == ("user_cancelled_authorize", "s3")


async def test_a_revoked_linkedin_refresh_token_is_an_invalid_grant(web, sandbox, settings):
    account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {})
    await post(web, f"{sandbox.url}/linkedin/_control/member", {"account_ids": [account["account_id"]]})
    back = await _decide(web, f"{sandbox.url}/linkedin/oauth/v2/authorization", "allow")
    token_url = f"{sandbox.url}/linkedin/oauth/v2/accessToken"
    secret = {"client_id": "app", "client_secret": settings.linkedin_client_secret}
    async with web.post(
        token_url,
        data={**secret, "grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT},
    ) as reply:
        tokens = await reply.json()
    assert tokens["expires_in"] == 60 * 24 * 3600 and tokens["refresh_token_expires_in"] == 365 * 24 * 3600
    async with web.get(
        f"{sandbox.url}/linkedin/rest/adAccountUsers?q=authenticatedUser",
        headers={**HEADERS, "Authorization": f"Bearer {tokens['access_token']}"},
    ) as reply:
        assert [e["account"] for e in (await reply.json())["elements"]] == [
            f"urn:li:sponsoredAccount:{account['account_id']}"
        ]
    await post(
        web, f"{sandbox.url}/linkedin/_control/tokens", {"refresh_token": tokens["refresh_token"], "revoked": True}
    )
    async with web.post(
        token_url, data={**secret, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ) as reply:
        assert reply.status == 400 and (await reply.json())["error"] == "invalid_grant"


async def test_a_lead_notification_subscription_needs_a_webhook_that_passes_the_challenge(web, sandbox, settings):
    account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {})
    await post(web, f"{sandbox.url}/linkedin/_control/member", {"account_ids": [account["account_id"]]})
    back = await _decide(web, f"{sandbox.url}/linkedin/oauth/v2/authorization", "allow")
    async with web.post(
        f"{sandbox.url}/linkedin/oauth/v2/accessToken",
        data={
            "client_id": "app",
            "client_secret": settings.linkedin_client_secret,
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT,
        },
    ) as reply:
        token = (await reply.json())["access_token"]
    body = {
        "webhook": f"{sandbox.url}/healthz?{urlencode({'not': 'a-webhook'})}",
        "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{account['account_id']}"},
        "leadType": "SPONSORED",
    }
    async with web.post(
        f"{sandbox.url}/linkedin/rest/leadNotifications",
        json=body,
        headers={**HEADERS, "Authorization": f"Bearer {token}"},
    ) as reply:
        assert reply.status == 400 and (await reply.json())["code"] == "WEBHOOK_VALIDATION_FAILED"
