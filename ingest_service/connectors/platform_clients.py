"""What the webhooks, pollers and syncs of both platforms share: their API clients, the decrypted
token of a connection, and one answer to a platform's refusal (token refused -> NEEDS_RECONNECT,
throttled -> back off; the watermark is never touched here)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from ingest_service.connectors import connections_store
from ingest_service.connectors.graph_api import GraphClient, GraphError
from ingest_service.connectors.linkedin_api import LinkedInClient, LinkedInError
from ingest_service.resources import IngestResources
from leadrelay.crypto import SecretBox

log = logging.getLogger(__name__)

PlatformError = GraphError | LinkedInError
# Rate-limit pause of a source: doubles from BACKOFF_BASE up to BACKOFF_CAP seconds.
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0


def graph(deps: IngestResources) -> GraphClient:
    return GraphClient(
        deps.http, deps.settings.graph_api_base_url, deps.settings.graph_api_version, deps.settings.facebook_app_secret
    )


def linkedin(deps: IngestResources) -> LinkedInClient:
    return LinkedInClient(deps.http, deps.settings.linkedin_api_base_url, deps.settings.linkedin_version)


def box(deps: IngestResources) -> SecretBox:
    return SecretBox(deps.settings.secret_key)


def token(deps: IngestResources, connection: asyncpg.Record | dict[str, Any]) -> str:
    return box(deps).decrypt(connection["access_token"])


async def refused(deps: IngestResources, connection: asyncpg.Record, exc: PlatformError, *, doing: str) -> str:
    """Records a platform refusal on the source and returns a sentence saying what happened."""
    source_id = connection["source_id"]
    async with deps.pool.acquire() as con:
        if exc.token_refused:
            message = f"{doing}: the platform refused the token ({exc}); reconnect the source"
            await connections_store.mark_needs_reconnect(con, source_id, message)
            log.warning("token refused: source needs reconnect", extra={"source_id": str(source_id), "error": str(exc)})
            return message
        if exc.rate_limited:
            pause = await connections_store.back_off(
                con, source_id, f"{doing}: rate limited ({exc})", BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS
            )
            log.info("rate limited: backing off", extra={"source_id": str(source_id), "seconds": pause})
            return f"{doing}: rate limited ({exc}); paused {pause:.0f} s"
        message = f"{doing}: {exc}"
        await connections_store.record_error(con, source_id, message)
        log.warning("platform call failed", extra={"source_id": str(source_id), "error": str(exc)})
        return message
