"""A notification that arrived before its Page / ad account was connected is IGNORED; connecting the
source re-drives it into a lead (without waiting for the pull backup)."""

import secrets

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.ingest_service.connector_support import inbox_rows, judged, post
from tests.waiting import eventually


async def _settled(pool, platform, external_id, status):
    rows = await inbox_rows(pool, platform, external_id)
    return rows if rows and all(r["status"] == status for r in rows) else []


async def test_a_facebook_notification_ignored_before_connect_becomes_a_lead_on_connect(
    web, api, servers, sandbox, pool
):
    page = await post(
        web, f"{sandbox.url}/graph/_control/pages", {"forms": 1, "access_token": f"EAAB-{secrets.token_hex(8)}"}
    )
    hook = f"{servers.settings.public_base_url}/webhooks/facebook"
    await post(web, f"{sandbox.url}/graph/_control/webhook", {"page_id": page["page_id"], "url": hook})
    [lead_id] = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": page["form_ids"][0]}))["ids"]
    [ignored] = await eventually(lambda: _settled(pool, "FACEBOOK", page["page_id"], "IGNORED"))
    assert ignored["dedupe_key"] == lead_id

    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="Late Page", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=page["access_token"])
    )

    [row] = await eventually(lambda: _settled(pool, "FACEBOOK", page["page_id"], "DONE"))
    assert row["inbox_id"] == ignored["inbox_id"]
    [lead] = await judged(pool, source.source_id, 1)
    assert lead["platform_lead_id"] == lead_id
    async with pool.acquire() as con:
        via = await con.fetchval(
            "SELECT detail FROM lead_events WHERE lead_id = $1 AND type = 'received'", lead["lead_id"]
        )
    assert via == "webhook"


async def test_a_linkedin_notification_ignored_before_connect_becomes_a_lead_on_connect(
    web, api, servers, sandbox, pool
):
    account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {})
    form = await post(web, f"{sandbox.url}/linkedin/_control/forms", {"account_id": account["account_id"]})
    hook = f"{servers.settings.public_base_url}/webhooks/linkedin"
    await post(web, f"{sandbox.url}/linkedin/_control/webhook", {"account_id": account["account_id"], "url": hook})
    [response_id] = (await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(form["id"])}))["ids"]
    await eventually(lambda: _settled(pool, "LINKEDIN", account["account_id"], "IGNORED"))

    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="Late account", platform=common_pb2.PLATFORM_LINKEDIN, external_account_id=account["account_id"]
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=account["access_token"])
    )

    await eventually(lambda: _settled(pool, "LINKEDIN", account["account_id"], "DONE"))
    [lead] = await judged(pool, source.source_id, 1)
    assert lead["platform_lead_id"] == response_id


async def test_connecting_leaves_ignored_notifications_older_than_seven_days_alone(web, api, servers, sandbox, pool):
    page = await post(
        web, f"{sandbox.url}/graph/_control/pages", {"forms": 1, "access_token": f"EAAB-{secrets.token_hex(8)}"}
    )
    async with pool.acquire() as con:
        await con.execute(
            """INSERT INTO webhook_inbox (platform, dedupe_key, external_account_id, status, reason, received_at)
               VALUES ('FACEBOOK', $1, $2, 'IGNORED', 'no connected Facebook source', now() - interval '8 days')""",
            str(secrets.randbelow(10**15)),
            page["page_id"],
        )
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="Old Page", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=page["access_token"])
    )
    [row] = await inbox_rows(pool, "FACEBOOK", page["page_id"])
    assert (row["status"], row["attempts"]) == ("IGNORED", 0)
