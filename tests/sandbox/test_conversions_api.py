"""The sandbox's Conversions API checks payloads as Meta does and answers with Meta's shapes."""

import hashlib
import hmac
import json
import secrets
import time

import aiohttp
import pytest


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def event(**over):
    e = {
        "event_name": "Qualified",
        "event_time": int(time.time()) - 60,
        "action_source": "system_generated",
        "user_data": {"lead_id": 1234567890123456, "em": [sha("a@b.com")]},
        "custom_data": {"event_source": "crm", "lead_event_source": "Acme CRM"},
    }
    e.update(over)
    return e


@pytest.fixture
def dataset():
    return str(secrets.randbelow(9 * 10**14) + 10**14)


APP_SECRET = "test-app-secret"  # the sandbox's FACEBOOK_APP_SECRET in the tests (conftest)


def proof(token: str, secret: str = APP_SECRET) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


async def post(sandbox, dataset, body, *, with_proof=True, **kw):
    if with_proof and "access_token" in body:
        body = {**body, "appsecret_proof": proof(body["access_token"])}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}/graph/v25.0/{dataset}/events", json=body, **kw) as response,
    ):
        return response.status, await response.json()


async def control(sandbox, method, path, **kw):
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sandbox.url}/graph/_control/capi/{path}", **kw) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_accepts_a_valid_batch_with_metas_answer(sandbox, dataset):
    status, body = await post(sandbox, dataset, {"data": [event(), event(event_name="Won")], "access_token": "t"})
    assert status == 200
    assert body["events_received"] == 2 and body["messages"] == [] and body["fbtrace_id"]
    record = await control(sandbox, "GET", "events", params={"dataset_id": dataset})
    assert [e["event_name"] for e in record["events"]] == ["Qualified", "Won"]


async def test_token_in_the_query_string_and_data_as_json_text(sandbox, dataset):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sandbox.url}/graph/v25.0/{dataset}/events",
            params={"access_token": "t", "appsecret_proof": proof("t")},
            data={"data": json.dumps([event()])},
        ) as response,
    ):
        assert response.status == 200 and (await response.json())["events_received"] == 1


def sdk_request(events, access_token, *, app_secret=APP_SECRET, test_event_code=None):
    """The request Meta's Python Business SDK makes for EventRequest.execute(): each event JSON-encoded
    (EventRequest.normalize), the params' lists JSON-encoded with sort_keys and compact separators
    (api._top_level_param_json_encode) and sent form-encoded as the POST body (FacebookAdsApi.call,
    data=params); access_token and appsecret_proof ride in the query string (FacebookSession)."""
    params = {"data": [json.dumps(e) for e in events]}
    if test_event_code is not None:
        params["test_event_code"] = test_event_code
    body = {k: json.dumps(v, sort_keys=True, separators=(",", ":")) if isinstance(v, list) else v
            for k, v in params.items()}  # fmt: skip
    query = {"access_token": access_token, "appsecret_proof": proof(access_token, app_secret)}
    return query, body


async def test_accepts_what_metas_business_sdk_sends_form_encoded(sandbox, dataset):
    events = [event(), event(event_name="Won", user_data={"lead_id": "1234567890123456", "fn": [sha("mary")]})]
    query, body = sdk_request(events, "sdk-token", test_event_code="TEST42")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}/graph/v25.0/{dataset}/events", params=query, data=body) as response,
    ):
        assert response.request_info.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert response.status == 200, await response.text()
        assert (await response.json())["events_received"] == 2
    record = await control(sandbox, "GET", "events", params={"dataset_id": dataset})
    assert record["events"] == events
    assert [r["test_event_code"] for r in record["requests"]] == ["TEST42"]


async def test_appsecret_proof_is_required_and_checked_when_the_app_secret_is_set(sandbox, dataset):
    status, body = await post(sandbox, dataset, {"data": [event()], "access_token": "t"}, with_proof=False)
    assert status == 400 and "require an appsecret_proof" in body["error"]["message"]
    bad = {"data": [event()], "access_token": "t", "appsecret_proof": proof("t", "another-secret")}
    status, body = await post(sandbox, dataset, bad, with_proof=False)
    assert status == 400 and body["error"]["message"] == "Invalid appsecret_proof provided in the API argument"
    status, _ = await post(sandbox, dataset, {"data": [event()], "access_token": "t"})
    assert status == 200


async def test_limited_data_use_fields_are_checked(sandbox, dataset):
    ldu = {"data_processing_options": ["LDU"], "data_processing_options_country": 1}
    status, _ = await post(
        sandbox, dataset, {"data": [event(**ldu, data_processing_options_state=1000)], "access_token": "t"}
    )
    assert status == 200
    for bad, says in [
        ({**ldu, "data_processing_options_state": 77}, "not a state Meta accepts"),
        (ldu, "state is required"),
        ({"data_processing_options": ["CCPA"]}, "must be [] or"),
    ]:
        status, body = await post(sandbox, dataset, {"data": [event(**bad)], "access_token": "t"})
        assert status == 400 and says in body["error"]["error_user_msg"]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"event_time": int(time.time()) - 8 * 86400}, "more than 7 days in the past"),
        ({"event_time": int(time.time()) + 3600}, "in the future"),
        ({"action_source": "website"}, "must be system_generated"),
        ({"event_name": ""}, "event_name is required"),
        ({"user_data": {"lead_id": 12345}}, "is not a valid lead ID"),
        ({"user_data": {"lead_id": "lead-3"}}, "is not a valid lead ID"),
        ({"user_data": {"lead_id": 1234567890123456, "em": ["a@b.com"]}}, "must be SHA-256 hashed"),
        ({"user_data": {"lead_id": 1234567890123456, "ph": [sha("1").upper()]}}, "must be SHA-256 hashed"),
        ({"user_data": {"lead_id": 1234567890123456, "ct": ["london"]}}, "user_data.ct must be SHA-256 hashed"),
        ({"custom_data": {"lead_event_source": "CRM"}}, "event_source must be crm"),
        ({"custom_data": {"event_source": "crm"}}, "lead_event_source is required"),
    ],
)
async def test_one_bad_event_refuses_the_whole_request(sandbox, dataset, bad, says):
    status, body = await post(sandbox, dataset, {"data": [event(), event(**bad)], "access_token": "t"})
    assert status == 400
    error = body["error"]
    assert (error["code"], error["type"], error["message"]) == (100, "OAuthException", "Invalid parameter")
    assert error["error_user_msg"].startswith("data[1].") and says in error["error_user_msg"]
    assert error["fbtrace_id"]
    assert (await control(sandbox, "GET", "events", params={"dataset_id": dataset}))["events"] == []


async def test_more_than_1000_events_and_no_token(sandbox, dataset):
    status, body = await post(sandbox, dataset, {"data": [event()] * 1001, "access_token": "t"})
    assert status == 400 and "at most 1000" in body["error"]["error_user_msg"]
    status, body = await post(sandbox, dataset, {"data": [event()]})
    assert status == 400 and body["error"]["code"] == 2500


async def test_errors_on_demand_and_expired_tokens(sandbox, dataset):
    await control(sandbox, "POST", "errors", json={"dataset_id": dataset, "kind": "server"})
    await control(sandbox, "POST", "errors", json={"dataset_id": dataset, "kind": "rate_limit", "code": 80004})
    status, body = await post(sandbox, dataset, {"data": [event()], "access_token": "t"})
    assert status == 500 and body["error"]["code"] == 2 and body["error"]["is_transient"] is True
    status, body = await post(sandbox, dataset, {"data": [event()], "access_token": "t"})
    assert status == 400 and body["error"]["code"] == 80004
    status, _ = await post(sandbox, dataset, {"data": [event()], "access_token": "t"})
    assert status == 200
    await control(sandbox, "POST", "expired_tokens", json={"token": f"old-{dataset}"})
    status, body = await post(sandbox, dataset, {"data": [event()], "access_token": f"old-{dataset}"})
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (190, 463)
    record = await control(sandbox, "GET", "events", params={"dataset_id": dataset})
    assert [r["status"] for r in record["requests"]] == [500, 400, 200, 400]
