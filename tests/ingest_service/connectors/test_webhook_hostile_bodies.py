"""Signed bodies that used to crash the webhook handler, and unsigned bodies that used to be read
whole: every signed body is stored and answered 200, an oversize body is refused with 413, on the
real ingest HTTP port."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import secrets

import aiohttp

from tests.ingest_service.connector_support import facebook_source, inbox_rows, judged, post
from tests.waiting import eventually


def _hook(servers) -> str:
    return f"{servers.settings.public_base_url}/webhooks/facebook"


def _signed(servers, body: bytes) -> dict:
    digest = hmac.new(servers.settings.facebook_app_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def _change(page_id: str, leadgen_id: str, form_id: str) -> dict:
    return {"field": "leadgen", "value": {"leadgen_id": leadgen_id, "page_id": page_id, "form_id": form_id}}


async def _unreadable(pool, marker: str):
    async with pool.acquire() as con:
        return await con.fetchrow("SELECT * FROM webhook_inbox WHERE raw_body LIKE $1", f"%{marker}%")


async def _deliver(web, servers, body: bytes) -> None:
    async with web.post(_hook(servers), data=body, headers=_signed(servers, body)) as reply:
        assert reply.status == 200, await reply.text()


async def test_changes_that_are_not_a_list_are_stored_failed_and_the_valid_entry_is_processed(
    web, api, servers, sandbox, pool
):
    fb = await facebook_source(api, sandbox, web)
    [lead_id] = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "deliver": False}))[
        "ids"
    ]
    marker = secrets.token_hex(6)
    body = json.dumps(
        {
            "object": "page",
            "marker": marker,
            "entry": [
                {"id": fb.page_id, "changes": 5},
                {"id": fb.page_id, "changes": [_change(fb.page_id, lead_id, fb.form_ids[0])]},
            ],
        }
    ).encode()
    await _deliver(web, servers, body)
    [lead] = await judged(pool, fb.source_id, 1)
    assert lead["platform_lead_id"] == lead_id
    failed = await _unreadable(pool, marker)
    assert (failed["status"], failed["reason"]) == ("FAILED", "entry[0]: no `changes` list")


async def test_a_body_nested_100000_deep_is_stored_failed_with_the_reason(web, servers, pool):
    marker = secrets.token_hex(6)
    body = f'{{"marker": "{marker}", "entry": '.encode() + b"[" * 100_000 + b"]" * 100_000 + b"}"
    await _deliver(web, servers, body)
    row = await _unreadable(pool, marker)
    assert row["status"] == "FAILED" and row["reason"].startswith("malformed JSON: depth limit exceeded")


async def test_a_raw_nul_byte_is_stored_failed_with_a_replacement_character(web, servers, pool):
    marker = secrets.token_hex(6)
    body = f'{{"marker": "{marker}", "entry": ["a\x00b"]}}'.encode()
    await _deliver(web, servers, body)
    row = await _unreadable(pool, marker)
    assert row["status"] == "FAILED" and row["reason"].startswith("malformed JSON: unexpected control character")
    assert '"a\ufffdb"' in row["raw_body"]


async def test_an_escaped_nul_in_form_id_still_delivers_the_lead(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web)
    [lead_id] = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "deliver": False}))[
        "ids"
    ]
    body = json.dumps(
        {"object": "page", "entry": [{"id": fb.page_id, "changes": [_change(fb.page_id, lead_id, "77\x00")]}]}
    ).encode()
    assert b"\\u0000" in body
    await _deliver(web, servers, body)
    [lead] = await judged(pool, fb.source_id, 1)
    assert (lead["platform_lead_id"], lead["platform_form_id"]) == (lead_id, fb.form_ids[0])

    async def done():
        rows = await inbox_rows(pool, "FACEBOOK", fb.page_id)
        return rows if rows and rows[0]["status"] != "PENDING" else []

    [row] = await eventually(done)
    assert (row["status"], row["platform_form_id"]) == ("DONE", "77\ufffd")
    assert row["payload"]["form_id"] == "77\ufffd"
    assert row["reason"] == f"webhook named form 77\ufffd, the lead is on form {fb.form_ids[0]}"


async def test_an_oversize_unsigned_body_is_refused_with_413_and_signed_posts_still_work(
    web, api, servers, sandbox, pool
):
    limit = servers.settings.webhook_max_body_bytes
    # Declared too large: refused from the header, before a byte of the body is read.
    async with web.post(_hook(servers), data=io.BytesIO(b"x" * (limit + 1))) as reply:
        assert reply.status == 413 and "WEBHOOK_MAX_BODY_BYTES" in await reply.text()

    # Not declared (chunked) and trickling: read up to the limit, then refused. While it is open, a
    # signed notification is taken as usual.
    fb = await facebook_source(api, sandbox, web)
    [lead_id] = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "deliver": False}))[
        "ids"
    ]
    go_on = asyncio.Event()

    async def trickle():
        yield b"x" * 65536
        await go_on.wait()
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536

    async def oversize() -> int:
        async with aiohttp.ClientSession() as other:
            async with other.post(_hook(servers), data=trickle()) as reply:
                return reply.status

    pending = asyncio.ensure_future(oversize())
    body = json.dumps(
        {"object": "page", "entry": [{"id": fb.page_id, "changes": [_change(fb.page_id, lead_id, fb.form_ids[0])]}]}
    ).encode()
    await _deliver(web, servers, body)
    [lead] = await judged(pool, fb.source_id, 1)
    assert lead["platform_lead_id"] == lead_id
    go_on.set()
    assert await pending == 413


async def test_linkedin_signed_bodies_too_deep_or_with_a_raw_nul_are_stored_failed(web, servers, pool):
    secret = servers.settings.linkedin_client_secret.encode()
    for poison, reason in ((b"[" * 100_000 + b"]" * 100_000, "depth limit exceeded"), (b'"a\x00b"', "control")):
        marker = secrets.token_hex(6)
        body = f'{{"marker": "{marker}", "x": '.encode() + poison + b"}"
        signature = hmac.new(secret, b"hmacsha256=" + body, hashlib.sha256).hexdigest()
        url = f"{servers.settings.public_base_url}/webhooks/linkedin"
        async with web.post(url, data=body, headers={"X-LI-Signature": signature}) as reply:
            assert reply.status == 200
        row = await _unreadable(pool, marker)
        assert row["status"] == "FAILED" and row["reason"].startswith("malformed JSON") and reason in row["reason"]
