"""The LinkedIn stand-in over real HTTP: required headers, q=owner + submittedAtTimeRange + start/count
paging with total, form versions, signed notifications and the challenge handshake."""

import hashlib
import hmac
import json
import time

from aiohttp import web as aioweb
from yarl import URL

from leadrelay.http import http_server
from tests.ingest_service.connector_support import post

HEADERS = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


async def _account(web, sandbox):
    account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {})
    form = await post(web, f"{sandbox.url}/linkedin/_control/forms", {"account_id": account["account_id"]})
    return account, form


def _finder(sandbox, account_id, start_ms, end_ms, start, count):
    owner = f"(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A{account_id})"
    return URL(
        f"{sandbox.url}/linkedin/rest/leadFormResponses?q=owner&owner={owner}&leadType=(leadType:SPONSORED)"
        f"&submittedAtTimeRange=(start:{start_ms},end:{end_ms})&fields=id,submittedAt,testLead,"
        f"form:(id,content)&count={count}&start={start}",
        encoded=True,
    )


async def test_calls_without_the_version_headers_or_token_are_refused(web, sandbox):
    account, _ = await _account(web, sandbox)
    url = _finder(sandbox, account["account_id"], 0, 1, 0, 10)
    async with web.get(url, headers={"Authorization": f"Bearer {account['access_token']}"}) as reply:
        assert reply.status == 400 and (await reply.json())["code"] == "VERSION_MISSING"
    async with web.get(url, headers=HEADERS) as reply:
        body = await reply.json()
        assert reply.status == 401 and body == {
            "status": 401,
            "serviceErrorCode": 401,
            "message": "Empty oauth2_access_token",
        }
    async with web.get(url, headers={**HEADERS, "Authorization": "Bearer nope"}) as reply:
        assert reply.status == 401


async def test_responses_page_by_start_and_count_within_the_time_range(web, sandbox):
    account, form = await _account(web, sandbox)
    now = int(time.time() * 1000)
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {"form_id": str(form["id"]), "count": 2, "submitted_at": now - 10 * 86_400_000, "notify": False},
    )
    ids = (
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/leads",
            {"form_id": str(form["id"]), "count": 5, "submitted_at": now, "spread_ms": 5000, "notify": False},
        )
    )["ids"]
    headers = {**HEADERS, "Authorization": f"Bearer {account['access_token']}"}
    seen, start = [], 0
    while True:
        async with web.get(
            _finder(sandbox, account["account_id"], now - 86_400_000, now + 1, start, 2), headers=headers
        ) as reply:
            body = await reply.json()
        assert body["paging"]["total"] == 5
        seen += [e["id"] for e in body["elements"]]
        start += body["paging"]["count"]
        if start >= body["paging"]["total"]:
            break
    assert seen == ids
    element = body["elements"][-1]
    assert element["form"]["id"] == form["id"] and element["form"]["content"]["questions"]


async def test_notifications_are_signed_and_the_challenge_is_checked(web, sandbox, base_settings):
    received: list[tuple[bytes, str]] = []
    secret = base_settings.linkedin_client_secret.encode()

    async def hook(request: aioweb.Request) -> aioweb.Response:
        received.append((await request.read(), request.headers.get("X-LI-Signature", "")))
        return aioweb.Response()

    async def good_challenge(request: aioweb.Request) -> aioweb.Response:
        code = request.query["challengeCode"]
        return aioweb.json_response(
            {"challengeCode": code, "challengeResponse": hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()}
        )

    async def bad_challenge(request: aioweb.Request) -> aioweb.Response:
        return aioweb.json_response({"challengeCode": request.query["challengeCode"], "challengeResponse": "00"})

    app = aioweb.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/hook", good_challenge)
    app.router.add_get("/bad", bad_challenge)
    async with http_server(app, "127.0.0.1", 0, what="test hook") as port:
        account, form = await _account(web, sandbox)
        assert (
            await post(web, f"{sandbox.url}/linkedin/_control/challenge", {"url": f"http://127.0.0.1:{port}/hook"})
        )["validated"] is True
        assert (await post(web, f"{sandbox.url}/linkedin/_control/challenge", {"url": f"http://127.0.0.1:{port}/bad"}))[
            "validated"
        ] is False
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/webhook",
            {"account_id": account["account_id"], "url": f"http://127.0.0.1:{port}/hook"},
        )
        ids = (await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(form["id"])}))["ids"]
        await post(web, f"{sandbox.url}/linkedin/_control/drain")
    assert len(received) == 1
    body, signature = received[0]
    assert signature == hmac.new(secret, b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    event = json.loads(body)
    assert event["type"] == "LEAD_ACTION" and event["leadAction"] == "CREATED"
    assert event["leadGenFormResponse"] == f"urn:li:leadGenFormResponse:{ids[0]}"
    assert event["leadGenForm"] == f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{form['id']},1)"
    assert event["owner"] == {"sponsoredAccount": f"urn:li:sponsoredAccount:{account['account_id']}"}
