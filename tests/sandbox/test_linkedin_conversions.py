"""The sandbox's LinkedIn Conversions API checks requests strictly against docs/linkedin-conversions-api.md."""

import hashlib
import io
import json
import secrets
import time

import aiohttp
import pytest

RULE = "urn:lla:llaPartnerConversion:104012"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def element(**over):
    e = {
        "conversion": RULE,
        "conversionHappenedAt": int(time.time() * 1000) - 60_000,
        "user": {
            "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("ana@example.com")}],
            "lead": "urn:li:leadGenFormResponse:6b4f3f0c-1",
        },
        "eventId": "lr-1",
    }
    e.update(over)
    return e


def headers(token, **over):
    h = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": "202601",
        "X-Restli-Protocol-Version": "2.0.0",
        "X-RestLi-Method": "BATCH_CREATE",
    }
    h.update(over)
    return {k: v for k, v in h.items() if v is not None}


@pytest.fixture
async def token(sandbox):
    token = "li-" + secrets.token_hex(6)
    await control(sandbox, "POST", "rules", json={"access_token": token, "rules": [RULE]})
    return token


async def post(sandbox, token, body, **header_over):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sandbox.url}/linkedin/rest/conversionEvents",
            data=io.BytesIO(json.dumps(body).encode()),  # 5,000 events are over aiohttp's raw-bytes warning
            headers={"Content-Type": "application/json", **headers(token, **header_over)},
        ) as response,
    ):
        return response.status, await response.json()


async def control(sandbox, method, path, **kw):
    url = f"{sandbox.url}/linkedin/_control/conversions" + (f"/{path}" if path else "")
    async with aiohttp.ClientSession() as session, session.request(method, url, **kw) as response:
        assert response.status == 200
        return await response.json()


async def test_accepts_a_batch_create_with_one_status_per_element(sandbox, token):
    status, body = await post(sandbox, token, {"elements": [element(), element(eventId="lr-2")]})
    assert (status, body) == (200, {"elements": [{"status": 201}, {"status": 201}]})
    record = await control(sandbox, "GET", "", params={"access_token": token})
    assert [e["eventId"] for e in record["events"]] == ["lr-1", "lr-2"]
    assert record["requests"] == [{"events": 2, "status": 200}]


@pytest.mark.parametrize(
    ("header", "value", "says"),
    [
        ("LinkedIn-Version", None, "LinkedIn-Version"),
        ("X-Restli-Protocol-Version", None, "2.0.0"),
        ("X-RestLi-Method", None, "BATCH_CREATE"),
        ("X-RestLi-Method", "CREATE", "BATCH_CREATE"),
        ("Authorization", None, "oauth2_access_token"),
    ],
)
async def test_headers_are_required(sandbox, token, header, value, says):
    status, body = await post(sandbox, token, {"elements": [element()]}, **{header: value})
    assert status >= 400 and says in body["message"] and body["status"] == status


@pytest.mark.parametrize(
    ("over", "says"),
    [
        ({"conversionHappenedAt": int(time.time())}, "milliseconds"),
        ({"conversionHappenedAt": int((time.time() - 91 * 86400) * 1000)}, "more than 90 days"),
        ({"conversionHappenedAt": int((time.time() + 3600) * 1000)}, "in the future"),
        ({"conversion": "urn:lla:llaPartnerConversion:999"}, "does not exist"),
        ({"conversion": "104012"}, "not a conversion rule URN"),
        ({"event_name": "Qualified"}, "unrecognized field"),
        ({"user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "ana@example.com"}]}}, "SHA-256"),
        ({"user": {"userIds": [{"idType": "EMAIL", "idValue": "x"}]}}, "not a known id type"),
        ({"user": {"lead": "urn:li:leadGenFormResponse:1"}}, "userIds is required"),
        ({"user": {"userIds": [], "lead": "12345"}}, "not a lead form response URN"),
        ({"user": {"userIds": []}}, "no user id, lead or userInfo"),
    ],
)
async def test_one_bad_element_refuses_the_whole_request_naming_it(sandbox, token, over, says):
    status, body = await post(sandbox, token, {"elements": [element(), element(**over)]})
    assert status == 422 and body["message"].startswith("/elements/1") and says in body["message"]
    assert (await control(sandbox, "GET", "", params={"access_token": token}))["events"] == []


async def test_at_most_5000_events_a_request(sandbox, token):
    status, body = await post(sandbox, token, {"elements": [element()] * 5001})
    assert status == 400 and "at most 5000" in body["message"]
    status, _ = await post(sandbox, token, {"elements": [element()] * 5000})
    assert status == 200


async def test_errors_on_demand(sandbox, token):
    await control(sandbox, "POST", "errors", json={"access_token": token, "status": 500})
    await control(sandbox, "POST", "errors", json={"access_token": token, "status": 401})
    assert (await post(sandbox, token, {"elements": [element()]}))[0] == 500
    status, body = await post(sandbox, token, {"elements": [element()]})
    assert status == 401 and "expired" in body["message"]
    assert (await post(sandbox, token, {"elements": [element()]}))[0] == 200
