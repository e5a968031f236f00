"""appsecret_proof on ingest's Graph calls: a Page that requires it (Meta's "Require App Secret")
still connects and delivers leads; the stand-in refuses calls without a proof or with a wrong one."""

import secrets

from leadrelay.appsecret_proof import appsecret_proof
from leadrelay.v1 import common_pb2, ingest_pb2
from tests.ingest_service.connector_support import judged, post


def test_the_proof_is_the_hex_hmac_sha256_of_the_token_keyed_by_the_app_secret():
    # HMAC-SHA256(key=b"secret", msg=b"token"): the key is the app secret, never the token.
    assert appsecret_proof("token", "secret") == "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"


async def test_a_page_requiring_appsecret_proof_connects_and_delivers_webhook_leads(web, api, servers, sandbox, pool):
    page = await post(
        web,
        f"{sandbox.url}/graph/_control/pages",
        {"forms": 1, "access_token": f"EAAB-{secrets.token_hex(8)}", "require_appsecret_proof": True},
    )
    hook = f"{servers.settings.public_base_url}/webhooks/facebook"
    await post(web, f"{sandbox.url}/graph/_control/webhook", {"page_id": page["page_id"], "url": hook})
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="Hardened Page", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=page["access_token"])
    )
    [lead_id] = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": page["form_ids"][0]}))["ids"]
    [lead] = await judged(pool, source.source_id, 1)
    assert lead["platform_lead_id"] == lead_id


async def test_the_graph_stand_in_refuses_a_missing_or_wrong_proof_where_required(web, sandbox, settings):
    page = await post(
        web,
        f"{sandbox.url}/graph/_control/pages",
        {"forms": 1, "access_token": f"EAAB-{secrets.token_hex(8)}", "require_appsecret_proof": True},
    )
    url = f"{sandbox.url}/graph/v25.0/{page['page_id']}"
    token = page["access_token"]
    for proof, message in (
        (None, "API calls from the server require an appsecret_proof argument"),
        ("0" * 64, "Invalid appsecret_proof provided in the API argument"),
    ):
        params = {"access_token": token, **({"appsecret_proof": proof} if proof else {})}
        async with web.get(url, params=params) as reply:
            body = await reply.json()
        assert (reply.status, body["error"]["code"], body["error"]["message"]) == (400, 100, message)
    good = appsecret_proof(token, settings.facebook_app_secret)
    async with web.get(url, params={"access_token": token, "appsecret_proof": good}) as reply:
        assert reply.status == 200
