"""Test data for the reports: sources and leads written with plain SQL INSERTs into a test's own
account (the triggers maintain the aggregates exactly as they do for the real writers)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


async def source(
    con: asyncpg.Connection,
    account_id: UUID,
    name: str,
    platform: str = "CSV",
    columns: tuple[str, ...] = ("email", "country"),
) -> UUID:
    mapping = [{"column": c, "form_field": c} for c in columns]
    return await con.fetchval(
        """INSERT INTO sources (account_id, name, platform, default_mapping) VALUES ($1, $2, $3, $4)
           RETURNING source_id""",
        account_id,
        name,
        platform,
        mapping,
    )


async def lead(
    con: asyncpg.Connection,
    account_id: UUID,
    source_id: UUID,
    received_at: datetime,
    *,
    status: str = "ACCEPTED",
    code: str = "",
    reason: str = "",
    post_out: str = "",
    fields: dict[str, Any] | None = None,
    platform_lead_id: str = "",
) -> UUID:
    fields = fields if fields is not None else {"email": "a@example.com", "country": "Germany"}
    return await con.fetchval(
        """INSERT INTO leads (account_id, source_id, platform_lead_id, status, disposition_code, custom_reason,
                              post_out_status, fields, answers, captured_at, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING lead_id""",
        account_id,
        source_id,
        platform_lead_id or secrets.token_hex(8),
        status,
        code,
        reason,
        post_out,
        fields,
        [{"name": k, "values": [v]} for k, v in fields.items()],
        received_at,
    )
