"""The `make run` connector hook against the test servers: both demo sources connect and leads flow."""

import asyncio

from ops.demo.connectors import DEMO_LINKEDIN_ACCOUNT, DEMO_PAGE_ID, demo_connectors
from sandbox import linkedin_api
from tests.ingest_service.connector_support import post
from tests.waiting import eventually


async def test_the_demo_hook_connects_both_sources_and_leads_flow(web, account, servers, sandbox, pool):
    settings = servers.settings.replace(
        sandbox_port=sandbox.port, ingest_grpc_port=int(servers.ingest_target.rsplit(":", 1)[1])
    )
    await asyncio.to_thread(demo_connectors, settings, account.api_key)
    try:

        async def flowing():
            async with pool.acquire() as con:
                rows = await con.fetch(
                    """SELECT s.platform, count(l.lead_id) AS n FROM sources s LEFT JOIN leads l USING (source_id)
                        WHERE s.account_id = $1 GROUP BY s.platform""",
                    account.account_id,
                )
            counts = {r["platform"]: r["n"] for r in rows if r["n"]}
            return counts if len(counts) == 2 else {}

        assert set(await eventually(flowing, within=30, every=0.5)) == {"FACEBOOK", "LINKEDIN"}
        async with pool.acquire() as con:
            external = {
                r["platform"]: r["external_account_id"]
                for r in await con.fetch(
                    "SELECT platform, external_account_id FROM sources WHERE account_id = $1", account.account_id
                )
            }
        assert external == {"FACEBOOK": DEMO_PAGE_ID, "LINKEDIN": DEMO_LINKEDIN_ACCOUNT}
    finally:
        for platform in ("graph", "linkedin"):
            await post(web, f"{sandbox.url}/{platform}/_control/webhook", {"url": ""})
        page = await post(web, f"{sandbox.url}/graph/_control/pages", {"page_id": DEMO_PAGE_ID})
        await post(web, f"{sandbox.url}/graph/_control/demo", {"form_id": page["form_ids"][0], "every_seconds": 0})
        for form_id in sandbox.app[linkedin_api.STATE].demo.form_ids:
            await post(web, f"{sandbox.url}/linkedin/_control/demo", {"form_id": form_id, "every_seconds": 0})
