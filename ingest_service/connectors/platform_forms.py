"""A source's forms as the platform lists them now, registered with their questions (connect, the
pasted-token connect and RefreshForms all register forms this one way)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ingest_service.connectors import form_questions, linkedin_owners, platform_clients
from ingest_service.resources import IngestResources
from leadrelay.capture import sources_store
from leadrelay.db import Connection


async def listed(deps: IngestResources, token: str, platform: str, external: str) -> list[dict[str, Any]]:
    """The Page's / ad account's forms with their questions (raises the platform's error)."""
    if platform == "FACEBOOK":
        return await platform_clients.graph(deps).page_forms(token, external)
    return await platform_clients.linkedin(deps).forms(token, linkedin_owners.of_source(external))


async def register(
    con: Connection, account_id: UUID, source_id: UUID, platform: str, found: list[dict[str, Any]]
) -> None:
    """Every listed form upserted (name kept current, on/off untouched) with its fields recorded."""
    for form in found:
        row, _ = await sources_store.upsert_form(
            con, account_id, source_id, str(form["id"]), str(form.get("name", "")), None
        )
        await sources_store.record_form_fields(con, row["form_id"], form_questions.of_form(platform, form))
