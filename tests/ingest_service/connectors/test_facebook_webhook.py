"""The Facebook webhook on the real ingest HTTP port, fed by the sandbox's signed deliveries."""

import hashlib
import hmac
import json
import secrets

from tests.ingest_service.connector_support import (
    answers_of,
    facebook_source,
    inbox_rows,
    judged,
    leads_of,
    post,
)
from tests.waiting import eventually


def _hook(servers) -> str:
    return f"{servers.settings.public_base_url}/webhooks/facebook"


def _signed(servers, body: bytes) -> dict:
    digest = hmac.new(servers.settings.facebook_app_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def test_the_verification_handshake_echoes_the_challenge_only_for_our_token(web, servers):
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "test-verify-token"}
    async with web.get(_hook(servers), params=params) as reply:
        assert (reply.status, await reply.text()) == (200, "1158201444")
    async with web.get(_hook(servers), params={**params, "hub.verify_token": "meatyhamhock"}) as reply:
        assert reply.status == 403


async def test_a_webhook_lead_is_fetched_mapped_and_judged(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=_hook(servers))
    ids = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {
                "form_id": fb.form_ids[0],
                "field_data": [
                    {"name": "email", "values": ["joe@example.com"]},
                    {"name": "full_name", "values": ["Jöe Ëx"]},
                ],
                "custom_disclaimer_responses": [
                    {"checkbox_key": "optional_1", "is_checked": "1"},
                    {"checkbox_key": "optional_2", "is_checked": ""},
                ],
            },
        )
    )["ids"]
    [lead] = await judged(pool, fb.source_id, 1)
    assert lead["platform_lead_id"] == ids[0] and lead["status"] in ("ACCEPTED", "REJECTED")
    assert lead["platform_form_id"] == fb.form_ids[0]
    assert answers_of(lead) == {
        "email": ["joe@example.com"],
        "full_name": ["Jöe Ëx"],
        "optional_1": ["true"],
        "optional_2": ["false"],
    }
    context = lead["platform_context"]
    assert context["is_organic"] == "false" and context["form_id"] == fb.form_ids[0]
    assert context["ad_id"].isdigit() and context["campaign_id"].isdigit() and context["page_id"] == fb.page_id
    [row] = await eventually(lambda: _all_done(pool, fb.page_id, 1))  # marked just after intake returns
    assert (row["dedupe_key"], row["status"], row["reason"]) == (ids[0], "DONE", "")


async def test_several_entries_and_changes_in_one_post_are_all_taken(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, forms=2, webhook_url=_hook(servers))
    first = (
        await post(
            web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "count": 3, "deliver": False}
        )
    )["ids"]
    second = (
        await post(
            web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[1], "count": 2, "deliver": False}
        )
    )["ids"]
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": fb.page_id,
                    "time": 1,
                    "changes": [
                        {
                            "field": "leadgen",
                            "value": {
                                "leadgen_id": int(i),
                                "page_id": int(fb.page_id),
                                "form_id": int(fb.form_ids[0]),
                                "created_time": 1,
                            },
                        }
                        for i in first
                    ],
                },
                {
                    "id": fb.page_id,
                    "time": 1,
                    "changes": [
                        {
                            "field": "leadgen",
                            "value": {
                                "leadgen_id": int(i),
                                "page_id": int(fb.page_id),
                                "form_id": int(fb.form_ids[1]),
                                "created_time": 1,
                            },
                        }
                        for i in second
                    ],
                },
            ],
        }
    ).encode()
    async with web.post(_hook(servers), data=body, headers=_signed(servers, body)) as reply:
        assert reply.status == 200
    rows = await judged(pool, fb.source_id, 5)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(first + second)
    assert {r["platform_lead_id"]: r["platform_form_id"] for r in rows} == {
        **{i: fb.form_ids[0] for i in first},
        **{i: fb.form_ids[1] for i in second},
    }


async def test_a_duplicate_storm_gives_one_lead_each(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=_hook(servers), duplicate_rate=1.0, duplicates=5)
    ids = (
        await post(
            web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "count": 10, "batch_size": 3}
        )
    )["ids"]
    await post(web, f"{sandbox.url}/graph/_control/drain")
    rows = await judged(pool, fb.source_id, 10)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    inbox = await eventually(lambda: _all_done(pool, fb.page_id, 10))
    assert sorted(r["dedupe_key"] for r in inbox) == sorted(ids)


async def _all_done(pool, page_id, n):
    rows = await inbox_rows(pool, "FACEBOOK", page_id)
    return rows if len(rows) == n and all(r["status"] == "DONE" for r in rows) else []


async def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web)
    ids = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "deliver": False}))["ids"]
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": fb.page_id,
                    "changes": [{"field": "leadgen", "value": {"leadgen_id": ids[0], "page_id": fb.page_id}}],
                }
            ],
        }
    ).encode()
    forged = hmac.new(b"not-the-app-secret", body, hashlib.sha256).hexdigest()
    for headers in (
        {"X-Hub-Signature-256": f"sha256={forged}"},
        {},
        {"X-Hub-Signature-256": _signed(servers, body + b" ")["X-Hub-Signature-256"]},
    ):
        async with web.post(_hook(servers), data=body, headers=headers) as reply:
            assert reply.status == 403
    assert await inbox_rows(pool, "FACEBOOK", fb.page_id) == []
    assert await leads_of(pool, fb.source_id) == []


async def test_malformed_json_is_stored_with_its_reason_and_answered(web, servers, pool):
    marker = secrets.token_hex(6)
    body = f'{{"object": "page", "entry": [{marker}'.encode()
    async with web.post(_hook(servers), data=body, headers=_signed(servers, body)) as reply:
        assert reply.status == 200
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT * FROM webhook_inbox WHERE raw_body LIKE $1", f"%{marker}%")
    assert row["status"] == "FAILED" and row["reason"].startswith("malformed JSON")


async def test_a_lead_for_an_unknown_page_is_kept_as_ignored_with_the_reason(web, servers, pool):
    page_id = str(10**14 + secrets.randbelow(10**14))
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": page_id,
                    "changes": [
                        {
                            "field": "leadgen",
                            "value": {"leadgen_id": secrets.randbelow(10**15), "page_id": int(page_id)},
                        }
                    ],
                }
            ],
        }
    ).encode()
    async with web.post(_hook(servers), data=body, headers=_signed(servers, body)) as reply:
        assert reply.status == 200
    rows = await eventually(lambda: _finished(pool, page_id))
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("IGNORED", f"no connected Facebook source for Page {page_id}")
    ]


async def _finished(pool, page_id):
    rows = await inbox_rows(pool, "FACEBOOK", page_id)
    return rows if rows and all(r["status"] != "PENDING" for r in rows) else []


async def test_a_deleted_lead_is_recorded_as_failed_with_the_reason(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=_hook(servers), delay_ms=300)
    ids = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0]}))["ids"]
    async with web.delete(f"{sandbox.url}/graph/_control/leads/{ids[0]}") as reply:
        assert reply.status == 200  # gone before the delayed notification arrives
    [row] = await eventually(lambda: _finished(pool, fb.page_id))
    assert row["status"] == "FAILED"
    assert row["reason"].startswith(f"lead {ids[0]} no longer exists on Facebook")
    assert await leads_of(pool, fb.source_id) == []


async def test_a_test_lead_is_flagged(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=_hook(servers))
    url = f"{sandbox.url}/graph/v25.0/{fb.form_ids[0]}/test_leads?access_token={fb.token}"
    async with web.post(url) as reply:
        lead_id = (await reply.json())["id"]
    [lead] = await judged(pool, fb.source_id, 1)
    assert lead["platform_lead_id"] == lead_id and lead["is_test"] is True
    assert lead["platform_context"]["is_organic"] == "true" and "ad_id" not in lead["platform_context"]
