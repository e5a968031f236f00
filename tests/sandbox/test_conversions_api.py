"""The sandbox's Conversions API checks payloads as Meta does and answers with Meta's shapes."""

import hashlib
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


async def post(sandbox, dataset, body, **kw):
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
    import json

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sandbox.url}/graph/v25.0/{dataset}/events",
            params={"access_token": "t"},
            data={"data": json.dumps([event()])},
        ) as response,
    ):
        assert response.status == 200 and (await response.json())["events_received"] == 1


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
