"""Shared set-up of the CRM preset tests and benches: a source with a person's columns, leads with
chosen emails, one org of a sandbox vendor stand-in (sandbox/crm_vendors.py) driven over HTTP, and the
destination a preset makes for it."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from validation_service import crm_presets, outbox
from validation_service.destinations import DestinationSpec, OAuth

CREDENTIALS = {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "refresh-token"}
STATIC_TOKEN = "static-bench-token"
TOKEN_PATHS = {
    "salesforce": "/services/oauth2/token",
    "marketo": "/identity/oauth/token",
    "zoho": "/oauth/v2/token",
    "dynamics": "/oauth2/v2.0/token",
}


MAPPING = [
    {"column": c, "form_field": c} for c in ("email", "first_name", "last_name", "phone", "company", "job_title")
]


async def seed_person_source(pool: asyncpg.Pool, account_id: UUID) -> UUID:
    async with pool.acquire() as con:
        return await con.fetchval(
            "INSERT INTO sources (account_id, name, platform, default_mapping) VALUES ($1, 'Ads', 'API', $2) "
            "RETURNING source_id",
            account_id,
            MAPPING,
        )


def person(i: int, email: str = "") -> dict[str, str]:
    return {
        "email": email or f"Person{i}.{secrets.token_hex(3)}@Example.com",
        "first_name": f"Ana{i}",
        "last_name": f"Paz{i}",
        "phone": f"+1555000{i:04d}",
        "company": "Ñandú SA",
        "job_title": "CTO",
    }


async def seed_people(
    pool: asyncpg.Pool, account_id: UUID, source_id: UUID, people: list[dict[str, str]]
) -> list[UUID]:
    """ACCEPTED leads, enqueued in the same transaction (as ValidateLeads does), in the order given."""
    tag = secrets.token_hex(4)
    keys = [f"p-{tag}-{i}" for i in range(len(people))]
    async with pool.acquire() as con, con.transaction():
        rows = await con.fetch(
            """
            INSERT INTO leads (account_id, source_id, platform_lead_id, fields, status)
            SELECT $1, $2, k, f, 'ACCEPTED' FROM unnest($3::text[], $4::jsonb[]) AS x(k, f)
            RETURNING lead_id, platform_lead_id
            """,
            account_id,
            source_id,
            keys,
            people,
        )
        by_key = {r["platform_lead_id"]: r["lead_id"] for r in rows}
        ids = [by_key[k] for k in keys]
        await outbox.enqueue(con, ids)
    return ids


COLUMNS = {m["column"] for m in MAPPING}


class VendorOrg:
    """One org of a vendor stand-in: its base URL (what a customer types) and its control."""

    def __init__(self, sandbox_url: str, vendor: str) -> None:
        self.vendor = vendor
        self.name = f"o{secrets.token_hex(5)}"
        self.base = f"{sandbox_url}/vendors/{vendor}/{self.name}"
        self.control = f"{sandbox_url}/vendors/_control/{vendor}/{self.name}"

    async def _call(self, method: str, body: Any = None) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, self.control, json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def set(self, **config: Any) -> None:
        await self._call("POST", config)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET")


async def post_outs(pool: asyncpg.Pool, lead_ids: list[UUID]) -> list[asyncpg.Record]:
    """The deliveries of the leads, in the leads' order."""
    async with pool.acquire() as con:
        rows = await con.fetch("SELECT * FROM post_outs WHERE lead_id = ANY($1::uuid[])", lead_ids)
    by_lead = {r["lead_id"]: r for r in rows}
    return [by_lead[i] for i in lead_ids]


async def settled(pool: asyncpg.Pool, lead_ids: list[UUID]) -> list[asyncpg.Record] | None:
    """The deliveries once none is in flight, else None."""
    rows = await post_outs(pool, lead_ids)
    return rows if all(r["status"] not in ("PENDING", "RETRYING") for r in rows) else None


def preset_destination(preset: crm_presets.Preset, org: VendorOrg, batch_size: int) -> DestinationSpec:
    """The destination CreateDestination makes from the preset, authenticated as the vendor wants."""
    url = crm_presets.url_for(preset, org.base)
    headers = dict(preset.headers)
    oauth = None
    if preset.name.startswith("pipedrive"):
        url += f"?api_token={STATIC_TOKEN}"
    elif preset.name == "hubspot":
        headers["Authorization"] = f"Bearer {STATIC_TOKEN}"
    else:
        default = crm_presets.oauth_for(preset, org.base)
        assert default is not None
        grant = "refresh_token" if preset.name == "zoho" else "client_credentials"
        scope = "https://org.crm.dynamics.com/.default" if preset.name == "dynamics" else ""
        oauth = OAuth(grant, org.base + TOKEN_PATHS[preset.name], scope, default.auth_scheme)
    return DestinationSpec(
        name=f"{preset.name} (preset)",
        url=url,
        method=preset.method,
        headers=headers,
        body_template=crm_presets.default_template(preset, COLUMNS),
        success=crm_presets.success_for(preset, crm_presets.options(preset, {})),
        timeout_ms=30_000,
        preset=preset.name,
        batch_size=batch_size,
        oauth=oauth,
    )
