"""`make run`'s post-out demo: every source of the demo account delivers to the sandbox CRM, so
accepted demo leads show POSTED (and the CRM's records) within seconds."""

from __future__ import annotations

import asyncio
import json

from leadrelay import accounts
from leadrelay.crypto import SecretBox
from leadrelay.db import connect, resolve_dsn
from leadrelay.settings import Settings

DEMO_DESTINATION = "Sandbox CRM (demo)"


async def _prepare(settings: Settings) -> int:
    from validation_service import post_out_store
    from validation_service.destinations import BodyField, DestinationSpec, Success

    url = f"http://{settings.host}:{settings.sandbox_port}/crm/demo/leads"
    con = await connect(resolve_dsn(settings), settings=settings)
    added = 0
    try:
        async with con.transaction():
            account_id = await accounts.ensure_account(con, "demo")
            sources = await con.fetch(
                """
                SELECT s.source_id FROM sources s
                WHERE s.account_id = $1
                  AND NOT EXISTS (SELECT 1 FROM destinations d WHERE d.source_id = s.source_id AND d.name = $2)
                """,
                account_id,
                DEMO_DESTINATION,
            )
            for row in sources:
                columns = await post_out_store.mapped_columns(con, row["source_id"]) or {"email"}
                body = (
                    BodyField("lead_id", lead_column="lead_id"),
                    BodyField("source_id", lead_column="source_id"),
                    *(BodyField(c, lead_column=c) for c in sorted(columns)),
                    BodyField("lead_source", constant_kind="string", constant="LeadRelay"),
                )
                spec = DestinationSpec(
                    name=DEMO_DESTINATION,
                    url=url,
                    body=body,
                    headers={"Authorization": "Bearer demo-crm-token"},
                    success=Success(
                        result_json_path="$.status",
                        accepted_values=("accepted",),
                        reason_json_path="$.reason",
                        record_id_json_path="$.id",
                    ),
                )
                sealed = SecretBox(settings.secret_key).encrypt(json.dumps(dict(spec.headers)))
                await post_out_store.insert_destination(con, account_id, row["source_id"], spec, sealed)
                added += 1
    finally:
        await con.close()
    return added


def demo_post_out(settings: Settings, api_key: str) -> None:
    added = asyncio.run(_prepare(settings))
    print(
        f"  post-out    {added} demo source(s) now deliver to the sandbox CRM; see what it received at "
        f"http://{settings.host}:{settings.sandbox_port}/crm/_control/demo",
        flush=True,
    )
