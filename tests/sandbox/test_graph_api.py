"""The Graph API stand-in over real HTTP: wire shapes, filtering + cursor paging, test leads, error
bodies on demand, and signed at-least-once webhooks (duplicates, drops)."""

import hashlib
import hmac
import json
import secrets
import time

from aiohttp import web as aioweb

from leadrelay.http import http_server
from tests.ingest_service.connector_support import post

V = "v25.0"


async def _page(web, sandbox, forms=1):
    return await post(
        web, f"{sandbox.url}/graph/_control/pages", {"forms": forms, "access_token": f"EAAB-{secrets.token_hex(6)}"}
    )


async def _get(web, url, **params):
    async with web.get(url, params=params) as reply:
        return reply.status, await reply.json()


async def test_a_lead_has_the_graph_wire_shape(web, sandbox):
    page = await _page(web, sandbox)
    form_id = page["form_ids"][0]
    ids = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {
                "form_id": form_id,
                "deliver": False,
                "field_data": [{"name": "email", "values": ["joe@example.com"]}],
                "custom_disclaimer_responses": [
                    {"checkbox_key": "optional_1", "is_checked": "1"},
                    {"checkbox_key": "optional_2", "is_checked": ""},
                ],
            },
        )
    )["ids"]
    status, lead = await _get(
        web,
        f"{sandbox.url}/graph/{V}/{ids[0]}",
        access_token=page["access_token"],
        fields="id,form_id,field_data,custom_disclaimer_responses,is_organic,ad_id,campaign_id,created_time",
    )
    assert status == 200
    assert lead["id"] == ids[0] and lead["form_id"] == form_id
    assert lead["field_data"] == [{"name": "email", "values": ["joe@example.com"]}]
    assert lead["custom_disclaimer_responses"][1] == {"checkbox_key": "optional_2", "is_checked": ""}
    assert lead["is_organic"] is False and lead["ad_id"].isdigit() and lead["campaign_id"].isdigit()
    assert lead["created_time"].endswith("+0000")


async def test_a_wrong_token_gets_error_190_and_an_unknown_lead_error_100_33(web, sandbox):
    page = await _page(web, sandbox)
    ids = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": page["form_ids"][0], "deliver": False}))[
        "ids"
    ]
    status, body = await _get(web, f"{sandbox.url}/graph/{V}/{ids[0]}", access_token="EAAB-wrong")
    assert status == 400 and body["error"]["code"] == 190 and body["error"]["type"] == "OAuthException"
    assert body["error"]["fbtrace_id"]
    async with web.delete(f"{sandbox.url}/graph/_control/leads/{ids[0]}") as reply:
        assert reply.status == 200
    status, body = await _get(web, f"{sandbox.url}/graph/{V}/{ids[0]}", access_token=page["access_token"])
    assert (status, body["error"]["code"], body["error"]["error_subcode"]) == (400, 100, 33)


async def test_the_leads_edge_filters_on_time_created_and_pages_by_cursor(web, sandbox):
    page = await _page(web, sandbox)
    form_id = page["form_ids"][0]
    now = int(time.time())
    old = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": form_id, "count": 2, "created_time": now - 7200, "deliver": False},
        )
    )["ids"]
    recent = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": form_id, "count": 7, "created_time": now, "spread_seconds": 60, "deliver": False},
        )
    )["ids"]
    filtering = json.dumps([{"field": "time_created", "operator": "GREATER_THAN_OR_EQUAL", "value": now - 3600}])
    params = {"access_token": page["access_token"], "limit": "3", "filtering": filtering, "fields": "id"}
    seen, pages = [], 0
    while True:
        status, body = await _get(web, f"{sandbox.url}/graph/{V}/{form_id}/leads", **params)
        assert status == 200
        pages += 1
        seen += [d["id"] for d in body["data"]]
        if "next" not in body["paging"]:
            break
        params["after"] = body["paging"]["cursors"]["after"]
    assert pages == 3
    assert seen == list(reversed(recent))  # newest first, each once
    assert not set(old) & set(seen)


async def test_one_test_lead_per_form_with_the_testing_tools_placeholders(web, sandbox):
    page = await _page(web, sandbox)
    url = f"{sandbox.url}/graph/{V}/{page['form_ids'][0]}/test_leads?access_token={page['access_token']}"
    async with web.post(url) as reply:
        first = await reply.json()
    async with web.post(url) as reply:
        second = await reply.json()
    assert second["error"]["code"] == 100
    _status, lead = await _get(
        web,
        f"{sandbox.url}/graph/{V}/{first['id']}",
        access_token=page["access_token"],
        fields="field_data,is_organic,ad_id",
    )
    assert lead["is_organic"] is True and "ad_id" not in lead
    assert lead["field_data"][0] == {"name": "full_name", "values": ["<test lead: dummy data for full_name>"]}


async def test_rate_limit_errors_come_on_demand_then_stop(web, sandbox):
    page = await _page(web, sandbox)
    await post(
        web, f"{sandbox.url}/graph/_control/errors", {"code": 80005, "count": 2, "access_token": page["access_token"]}
    )
    url = f"{sandbox.url}/graph/{V}/{page['form_ids'][0]}/leads"
    codes = [
        (await _get(web, url, access_token=page["access_token"]))[1].get("error", {}).get("code") for _ in range(3)
    ]
    assert codes == [80005, 80005, None]


async def test_webhooks_are_signed_duplicated_and_dropped_on_demand(web, sandbox, base_settings):
    received: list[tuple[bytes, str]] = []

    async def hook(request: aioweb.Request) -> aioweb.Response:
        received.append((await request.read(), request.headers.get("X-Hub-Signature-256", "")))
        return aioweb.Response(text="ok")

    app = aioweb.Application()
    app.router.add_post("/hook", hook)
    async with http_server(app, "127.0.0.1", 0, what="test hook") as port:
        page = await _page(web, sandbox)
        form_id = page["form_ids"][0]
        url = f"http://127.0.0.1:{port}/hook"
        await post(
            web,
            f"{sandbox.url}/graph/_control/webhook",
            {"page_id": page["page_id"], "url": url, "duplicate_rate": 1.0, "duplicates": 2},
        )
        ids = (
            await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 4, "batch_size": 2})
        )["ids"]
        await post(web, f"{sandbox.url}/graph/_control/drain")
        assert len(received) == 2 * 3  # two POSTs of two changes, each sent three times
        for body, signature in received:
            expected = hmac.new(base_settings.facebook_app_secret.encode(), body, hashlib.sha256).hexdigest()
            assert signature == f"sha256={expected}"
        notified = {
            str(c["value"]["leadgen_id"])
            for body, _ in received
            for e in json.loads(body)["entry"]
            for c in e["changes"]
        }
        assert notified == set(ids)
        first = json.loads(received[0][0])
        assert first["object"] == "page" and first["entry"][0]["id"] == page["page_id"]
        assert first["entry"][0]["changes"][0]["field"] == "leadgen"

        received.clear()
        await post(
            web,
            f"{sandbox.url}/graph/_control/webhook",
            {"page_id": page["page_id"], "url": url, "duplicate_rate": 0.0, "drop_rate": 1.0},
        )
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 3})
        await post(web, f"{sandbox.url}/graph/_control/drain")
        assert received == []


async def test_a_failing_receiver_gets_the_notification_again(web, sandbox):
    statuses = [500, 200]
    received: list[bytes] = []

    async def hook(request: aioweb.Request) -> aioweb.Response:
        received.append(await request.read())
        return aioweb.Response(status=statuses[min(len(received) - 1, 1)])

    app = aioweb.Application()
    app.router.add_post("/hook", hook)
    async with http_server(app, "127.0.0.1", 0, what="test hook") as port:
        page = await _page(web, sandbox)
        await post(
            web,
            f"{sandbox.url}/graph/_control/webhook",
            {"page_id": page["page_id"], "url": f"http://127.0.0.1:{port}/hook"},
        )
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": page["form_ids"][0]})
        await post(web, f"{sandbox.url}/graph/_control/drain")
    assert len(received) == 2 and received[0] == received[1]
