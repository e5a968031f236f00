"""Shared set-up of the post-out tests: seeded sources and accepted leads (plain SQL, as the capture
core stores them), a CRM tenant of the sandbox per test, and bounded waits."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from validation_service import outbox

MAPPING = [
    {"column": "email", "form_field": "email"},
    {"column": "first_name", "form_field": "firstName"},
    {"column": "company", "form_field": "companyName"},
]


async def seed_source(pool: asyncpg.Pool, account_id: UUID) -> UUID:
    async with pool.acquire() as con:
        source_id = await con.fetchval(
            "INSERT INTO sources (account_id, name, platform) VALUES ($1, 'Events', 'API') RETURNING source_id",
            account_id,
        )
        # The mapped columns a destination body may name (0002's default mapping).
        await con.execute("UPDATE sources SET default_mapping = $2 WHERE source_id = $1", source_id, MAPPING)
    return source_id


async def seed_leads(
    pool: asyncpg.Pool, account_id: UUID, source_id: UUID, n: int, *, is_test: bool = False, enqueue: bool = True
) -> list[UUID]:
    """n ACCEPTED leads, enqueued in the same transaction (as ValidateLeads does)."""
    tag = secrets.token_hex(4)
    rows = [
        (
            account_id,
            source_id,
            f"p-{tag}-{i}",
            {"email": f"lead{i}@example.com", "first_name": f"Ana {i}", "company": "Ñandú SA"},
            is_test,
        )
        for i in range(n)
    ]
    async with pool.acquire() as con, con.transaction():
        ids = [
            r["lead_id"]
            for r in await con.fetch(
                """
                INSERT INTO leads (account_id, source_id, platform_lead_id, fields, is_test, status)
                SELECT a, s, p, f, t, 'ACCEPTED'
                FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::bool[]) AS x(a, s, p, f, t)
                RETURNING lead_id
                """,
                *[list(c) for c in zip(*rows, strict=True)],
            )
        ]
        if enqueue:
            await outbox.enqueue(con, ids)
    return ids


class Crm:
    """One tenant of the sandbox CRM, driven over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.name = f"t{secrets.token_hex(5)}"
        self.base = base_url
        self.url = f"{base_url}/crm/{self.name}/leads"

    async def _call(self, method: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, f"{self.base}/crm/_control/{self.name}", json=body) as r,
        ):
            r.raise_for_status()
            return await r.json()

    async def set(self, **config: Any) -> None:
        await self._call("POST", config)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET")


async def statuses(pool: asyncpg.Pool, lead_ids: list[UUID]) -> dict[str, int]:
    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT status, count(*) AS n FROM post_outs WHERE lead_id = ANY($1::uuid[]) GROUP BY status", lead_ids
        )
    return {r["status"]: r["n"] for r in rows}


async def all_posted(pool: asyncpg.Pool, lead_ids: list[UUID], per_lead: int = 1) -> bool:
    return (await statuses(pool, lead_ids)) == {"POSTED": len(lead_ids) * per_lead}


async def insert_destination(pool: asyncpg.Pool, account_id: UUID, source_id: UUID, url: str, **columns: Any) -> UUID:
    """A destination straight in SQL (the RPC tests create theirs through CreateDestination)."""
    values = {
        "name": "CRM",
        "body": [{"column": "lead_id", "lead_column": "lead_id"}, {"column": "email", "lead_column": "email"}],
        "success": {
            "record_id_json_path": "$.id",
            "result_json_path": "$.status",
            "accepted_values": ["accepted"],
            "reason_json_path": "$.reason",
        },
        "timeout_ms": 2000,
        **columns,
    }
    names = ", ".join(values)
    params = ", ".join(f"${i + 4}" for i in range(len(values)))
    async with pool.acquire() as con:
        return await con.fetchval(
            f"INSERT INTO destinations (account_id, source_id, url, {names}) VALUES ($1, $2, $3, {params}) "
            "RETURNING destination_id",
            account_id,
            source_id,
            url,
            *values.values(),
        )
