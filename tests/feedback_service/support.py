"""Seeding leads with plain SQL (the intake path is someone else's) and talking to the sandbox's
Conversions API control endpoints over real HTTP."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from leadrelay.protoconv import to_timestamp
from leadrelay.v1 import feedback_pb2


def meta_lead_id() -> str:
    return str(secrets.randbelow(9 * 10**15) + 10**15)  # 16 digits


def dataset_id() -> str:
    return str(secrets.randbelow(9 * 10**14) + 10**14)  # 15 digits


def ago(**kw: float) -> datetime:
    return datetime.now(UTC) - timedelta(**kw)


async def source(pool: asyncpg.Pool, account_id: UUID, platform: str = "FACEBOOK") -> UUID:
    return await pool.fetchval(
        "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, $3) RETURNING source_id",
        account_id,
        f"{platform.title()} source",
        platform,
    )


async def lead(
    pool: asyncpg.Pool,
    account_id: UUID,
    source_id: UUID,
    *,
    platform_lead_id: str | None = None,
    fields: dict[str, Any] | None = None,
    captured_at: datetime | None = None,
) -> tuple[UUID, str]:
    pid = platform_lead_id or meta_lead_id()
    lead_id = await pool.fetchval(
        """INSERT INTO leads (account_id, source_id, platform_lead_id, status, fields, captured_at, received_at)
           VALUES ($1, $2, $3, 'ACCEPTED', $4, $5, $5) RETURNING lead_id""",
        account_id,
        source_id,
        pid,
        fields or {},
        captured_at or ago(hours=2),
    )
    return lead_id, pid


def change(
    *,
    lead_id: UUID | str | None = None,
    platform_lead_id: str | None = None,
    stage: str = "New",
    at: datetime | None = None,
) -> feedback_pb2.StageChange:
    c = feedback_pb2.StageChange(crm_stage=stage)
    if lead_id is not None:
        c.lead_id = str(lead_id)
    if platform_lead_id is not None:
        c.platform_lead_id = platform_lead_id
    when = at if at is not None else ago(minutes=30)
    c.changed_at.CopyFrom(to_timestamp(when))
    return c


async def events(pool: asyncpg.Pool, account_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT e.*, l.platform_lead_id FROM feedback_events e JOIN leads l USING (lead_id)
           WHERE e.account_id = $1 ORDER BY e.event_id""",
        account_id,
    )


class Capi:
    """The sandbox's Conversions API control endpoints for one dataset."""

    def __init__(self, sandbox_url: str, dataset: str) -> None:
        self.base = f"{sandbox_url}/graph/_control/capi"
        self.dataset = dataset

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as session, session.request(method, f"{self.base}/{path}", **kw) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def record(self) -> dict[str, Any]:
        return await self._call("GET", "events", params={"dataset_id": self.dataset})

    async def received(self) -> list[dict[str, Any]]:
        return (await self.record())["events"]

    async def fail_next(self, kind: str, count: int = 1, code: int | None = None) -> None:
        await self._call(
            "POST", "errors", json={"dataset_id": self.dataset, "kind": kind, "count": count, "code": code}
        )

    async def expire_token(self, token: str) -> None:
        await self._call("POST", "expired_tokens", json={"token": token})

    async def unknown_leads(self, *lead_ids: str) -> None:
        await self._call("POST", "unknown_leads", json={"dataset_id": self.dataset, "lead_ids": list(lead_ids)})


def config(
    dataset: str, *, token: str = "tok-good", mode: int = feedback_pb2.DISPATCH_MODE_IMMEDIATE, **kw: Any
) -> feedback_pb2.FeedbackConfig:
    return feedback_pb2.FeedbackConfig(
        dataset_id=dataset, access_token=token, lead_event_source="Acme CRM", mode=mode, **kw
    )


def daily_not_due() -> dict[str, Any]:
    """A DAILY config whose first slot is about a day away: only Flush sends (deterministic tests)."""
    hour = (datetime.now(UTC) - timedelta(hours=1)).hour
    return {"mode": feedback_pb2.DISPATCH_MODE_DAILY, "daily_hour": hour, "time_zone": "UTC"}
