"""Shared set-up of the connector tests: sandbox Pages / ad accounts, connected sources, waits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.waiting import eventually


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any] | None = None) -> Any:
    async with session.post(url, json=body or {}) as reply:
        assert reply.status < 300, await reply.text()
        return await reply.json()


@dataclass
class FacebookSource:
    source_id: str
    page_id: str
    token: str
    form_ids: list[str]


@dataclass
class LinkedInSource:
    source_id: str
    account_id: str
    token: str
    form: dict[str, Any]


async def facebook_source(
    api: Any, sandbox: Any, web: aiohttp.ClientSession, *, forms: int = 1, webhook_url: str = "", **delivery: Any
) -> FacebookSource:
    page = await post(
        web, f"{sandbox.url}/graph/_control/pages", {"forms": forms, "access_token": f"EAAB-{secrets.token_hex(8)}"}
    )
    await post(
        web, f"{sandbox.url}/graph/_control/webhook", {"page_id": page["page_id"], "url": webhook_url, **delivery}
    )
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="Facebook page", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=page["access_token"])
    )
    return FacebookSource(source.source_id, page["page_id"], page["access_token"], page["form_ids"])


async def linkedin_source(
    api: Any,
    sandbox: Any,
    web: aiohttp.ClientSession,
    *,
    webhook_url: str = "",
    form: dict[str, Any] | None = None,
    organization: bool = False,
    **delivery: Any,
) -> LinkedInSource:
    """An ad account's source, or (organization=True) an organization's: external_account_id
    urn:li:organization:{id}, EVENT / COMPANY / ORGANIZATION_PRODUCT leads."""
    account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {"organization": organization})
    created = await post(
        web, f"{sandbox.url}/linkedin/_control/forms", {"account_id": account["account_id"], **(form or {})}
    )
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/webhook",
        {"account_id": account["account_id"], "url": webhook_url, **delivery},
    )
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="LinkedIn organization" if organization else "LinkedIn ads",
            platform=common_pb2.PLATFORM_LINKEDIN,
            external_account_id=f"urn:li:organization:{account['account_id']}"
            if organization
            else account["account_id"],
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=account["access_token"])
    )
    return LinkedInSource(source.source_id, account["account_id"], account["access_token"], created)


async def leads_of(pool: asyncpg.Pool, source_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as con:
        return await con.fetch(
            """SELECT l.*, f.platform_form_id FROM leads l LEFT JOIN forms f USING (form_id)
                WHERE l.source_id = $1 ORDER BY l.platform_lead_id""",
            UUID(source_id),
        )


async def judged(pool: asyncpg.Pool, source_id: str, count: int, *, within: float = 15.0) -> list[asyncpg.Record]:
    """The source's leads once `count` of them exist and none is PROCESSING any more."""

    async def check() -> list[asyncpg.Record]:
        rows = await leads_of(pool, source_id)
        return rows if len(rows) >= count and all(r["status"] != "PROCESSING" for r in rows) else []

    await eventually(check, within=within)
    return await leads_of(pool, source_id)


async def inbox_rows(pool: asyncpg.Pool, platform: str, external_account_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as con:
        return await con.fetch(
            "SELECT * FROM webhook_inbox WHERE platform = $1 AND external_account_id = $2 ORDER BY inbox_id",
            platform,
            external_account_id,
        )


async def connection_row(pool: asyncpg.Pool, source_id: str) -> asyncpg.Record | None:
    async with pool.acquire() as con:
        return await con.fetchrow(
            """SELECT c.*, s.state FROM sources s LEFT JOIN source_connections c USING (source_id)
                WHERE s.source_id = $1""",
            UUID(source_id),
        )


async def watermarks(pool: asyncpg.Pool, source_id: str) -> dict[str, int]:
    async with pool.acquire() as con:
        rows = await con.fetch("SELECT scope, position FROM connector_watermarks WHERE source_id = $1", UUID(source_id))
    return {r["scope"]: r["position"] for r in rows}


def answers_of(row: asyncpg.Record) -> dict[str, list[str]]:
    return {a["name"]: a["values"] for a in row["answers"]}
