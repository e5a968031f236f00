"""OAuth connect against the sandbox's consent pages and token endpoints, through our RPCs: states,
encrypted tokens, subscriptions made and removed, renewal, and what happens when it fails."""

from datetime import timedelta
from uuid import UUID

import grpc

from ingest_service.connectors import connect_store, pollers, token_renewal
from ingest_service.connectors.oauth_connect import state_hash
from ingest_service.connectors.platform_oauth import now_utc
from leadrelay.crypto import SecretBox
from leadrelay.v1 import ingest_pb2
from reports_app import users
from reports_app.notifications.notifier import Notifier
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.connect_support import FACEBOOK, LINKEDIN, RETURN_URL, connect, consent
from tests.ingest_service.connector_support import connection_row, judged, post


async def _pages(web, sandbox, count: int = 2) -> list[dict]:
    pages = [
        await post(web, f"{sandbox.url}/graph/_control/pages", {"name": f"Bakery {n}", "forms": 1})
        for n in range(count)
    ]
    await post(web, f"{sandbox.url}/graph/_control/login", {"page_ids": [p["page_id"] for p in pages]})
    return pages


async def _ad_accounts(web, sandbox, count: int = 2) -> list[dict]:
    accounts = []
    for _ in range(count):
        account = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {})
        account["form"] = await post(
            web, f"{sandbox.url}/linkedin/_control/forms", {"account_id": account["account_id"]}
        )
        accounts.append(account)
    await post(web, f"{sandbox.url}/linkedin/_control/member", {"account_ids": [a["account_id"] for a in accounts]})
    return accounts


async def _grant(pool, source_id: str):
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT grant_id FROM source_connections WHERE source_id = $1", UUID(source_id))
        return await connect_store.grant(con, row["grant_id"])


async def test_facebook_connect_stores_page_tokens_encrypted_subscribes_and_leads_arrive_by_webhook(
    web, api, servers, sandbox, pool, settings
):
    pages = await _pages(web, sandbox)
    choices = await connect(api, web, FACEBOOK)
    assert {(c.external_account_id, c.name) for c in choices.choices} == {
        (p["page_id"], f"Bakery {n}") for n, p in enumerate(pages)
    }
    picked = await api.ingest.PickConnectAccounts(
        ingest_pb2.PickConnectAccountsRequest(
            grant_id=choices.grant_id, external_account_ids=[pages[0]["page_id"]], user_ref="user-1"
        )
    )
    (source,) = picked.sources
    assert (source.name, source.external_account_id, source.connected) == (
        "Facebook: Bakery 0",
        pages[0]["page_id"],
        True,
    )
    assert source.state == ingest_pb2.SOURCE_STATE_ACTIVE and source.last_error == ""
    row = await connection_row(pool, source.source_id)
    assert pages[0]["access_token"].encode() not in bytes(row["access_token"])
    assert SecretBox(settings.secret_key).decrypt(row["access_token"]) == pages[0]["access_token"]
    forms = await api.ingest.ListForms(ingest_pb2.ListFormsRequest(source_id=source.source_id))
    assert [f.platform_form_id for f in forms.forms] == pages[0]["form_ids"]

    async with web.get(f"{sandbox.url}/graph/_control/subscriptions") as reply:
        subscriptions = await reply.json()
    assert subscriptions["app_callback"] == f"{servers.settings.public_base_url}/webhooks/facebook"
    assert subscriptions["pages"][pages[0]["page_id"]] == ["leadgen"]
    assert pages[1]["page_id"] not in subscriptions["pages"]

    # No control call points the sandbox at us: the Page's subscription does.
    ids = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": pages[0]["form_ids"][0], "count": 2}))[
        "ids"
    ]
    rows = await judged(pool, source.source_id, 2)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)

    await api.ingest.DisconnectSource(ingest_pb2.DisconnectSourceRequest(source_id=source.source_id))
    async with web.get(f"{sandbox.url}/graph/_control/subscriptions") as reply:
        assert pages[0]["page_id"] not in (await reply.json())["pages"]


async def test_a_connect_state_is_single_use_short_lived_and_bound_to_its_account_and_user(
    web, api, servers, sandbox, pool
):
    await _pages(web, sandbox, 1)
    begun = await api.ingest.BeginConnect(
        ingest_pb2.BeginConnectRequest(platform=FACEBOOK, user_ref="user-1", return_url=RETURN_URL)
    )
    back = await consent(web, begun.authorize_url)

    other = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        err = await rpc_error(
            other.ingest.CompleteConnect(ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"]))
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "state" in err.details()
    finally:
        await other.close()
    err = await rpc_error(
        api.ingest.CompleteConnect(
            ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref="user-2")
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    done = await api.ingest.CompleteConnect(
        ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref="user-1")
    )
    assert len(done.choices) == 1
    err = await rpc_error(
        api.ingest.CompleteConnect(
            ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref="user-1")
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "already used" in err.details()
    # The callback does not pass a used state on either.
    async with web.get(
        f"{servers.settings.public_base_url}/connect/facebook/callback",
        params={"state": back["state"], "code": "x"},
        allow_redirects=False,
    ) as reply:
        assert reply.status == 400 and "expired" in await reply.text()

    begun = await api.ingest.BeginConnect(
        ingest_pb2.BeginConnectRequest(platform=FACEBOOK, user_ref="user-1", return_url=RETURN_URL)
    )
    back = await consent(web, begun.authorize_url)
    async with pool.acquire() as con:
        await con.execute(
            "UPDATE connect_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1",
            state_hash(back["state"]),
        )
    err = await rpc_error(
        api.ingest.CompleteConnect(
            ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref="user-1")
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "expired" in err.details()


async def test_begin_connect_refuses_a_bad_platform_or_return_url_naming_the_field(api):
    err = await rpc_error(api.ingest.BeginConnect(ingest_pb2.BeginConnectRequest(return_url=RETURN_URL)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith("platform:")
    err = await rpc_error(
        api.ingest.BeginConnect(ingest_pb2.BeginConnectRequest(platform=LINKEDIN, return_url="javascript:alert(1)"))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith("return_url:")


async def test_a_page_whose_leads_access_leaves_the_app_out_says_what_to_assign(web, api, sandbox):
    (page,) = await _pages(web, sandbox, 1)
    await post(web, f"{sandbox.url}/graph/_control/leads_access", {"page_id": page["page_id"], "restricted": True})
    choices = await connect(api, web, FACEBOOK)
    picked = await api.ingest.PickConnectAccounts(
        ingest_pb2.PickConnectAccountsRequest(
            grant_id=choices.grant_id, external_account_ids=[page["page_id"]], user_ref="user-1"
        )
    )
    (source,) = picked.sources
    assert source.connected and "Leads Access" in source.last_error
    assert "Business Settings > Integrations > Leads Access" in source.last_error


async def test_a_pick_outside_the_choices_is_refused_naming_it(web, api, sandbox):
    await _pages(web, sandbox, 1)
    choices = await connect(api, web, FACEBOOK)
    err = await rpc_error(
        api.ingest.PickConnectAccounts(
            ingest_pb2.PickConnectAccountsRequest(
                grant_id=choices.grant_id, external_account_ids=["999"], user_ref="user-1"
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "'999'" in err.details()


async def test_one_linkedin_member_token_serves_two_ad_accounts_is_refreshed_and_disconnect_stops_one(
    web, api, servers, sandbox, pool, settings
):
    accounts = await _ad_accounts(web, sandbox)
    choices = await connect(api, web, LINKEDIN)
    assert {c.external_account_id for c in choices.choices} == {a["account_id"] for a in accounts}
    picked = await api.ingest.PickConnectAccounts(
        ingest_pb2.PickConnectAccountsRequest(
            grant_id=choices.grant_id, external_account_ids=[a["account_id"] for a in accounts], user_ref="user-1"
        )
    )
    first, second = picked.sources
    async with web.get(f"{sandbox.url}/linkedin/_control/subscriptions") as reply:
        subscribed = {s["account_id"]: s["webhook"] for s in (await reply.json()).values()}
    for account in accounts:
        assert subscribed[account["account_id"]] == f"{servers.settings.public_base_url}/webhooks/linkedin"

    box = SecretBox(settings.secret_key)
    old = box.decrypt((await connection_row(pool, first.source_id))["access_token"])
    grant = await _grant(pool, first.source_id)
    assert grant["refresh_token"] is not None and grant["access_expires_at"] > now_utc() + timedelta(days=59)
    # Eight days before the access token expires, it is refreshed for both ad accounts.
    await token_renewal.check_grant(servers.ingest.deps, grant, grant["access_expires_at"] - timedelta(days=6))
    new = box.decrypt((await connection_row(pool, first.source_id))["access_token"])
    assert new != old and box.decrypt((await connection_row(pool, second.source_id))["access_token"]) == new
    await post(web, f"{sandbox.url}/linkedin/_control/tokens", {"access_token": old, "expires_in": 0})
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {
            "account_id": accounts[0]["account_id"],
            "form_id": str(accounts[0]["form"]["id"]),
            "count": 1,
            "notify": False,
        },
    )
    async with pool.acquire() as con:
        connection = await con.fetchrow(
            "SELECT c.*, s.platform, s.external_account_id, s.state, s.enabled FROM source_connections c "
            "JOIN sources s USING (source_id) WHERE source_id = $1",
            UUID(first.source_id),
        )
    assert await pollers.poll_source(servers.ingest.deps, connection) == 1

    await api.ingest.DisconnectSource(ingest_pb2.DisconnectSourceRequest(source_id=first.source_id))
    async with web.get(f"{sandbox.url}/linkedin/_control/subscriptions") as reply:
        left = {s["account_id"] for s in (await reply.json()).values()}
    assert accounts[0]["account_id"] not in left and accounts[1]["account_id"] in left
    still = await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=second.source_id))
    assert still.state == ingest_pb2.SOURCE_STATE_ACTIVE and still.connected


async def test_a_facebook_token_that_cannot_be_renewed_makes_its_sources_need_reconnect_and_the_admins_are_mailed(
    web, api, servers, sandbox, pool, settings
):
    async with pool.acquire() as con:
        await users.create_user(
            con, api.account.account_id, f"admin-{api.account.name}@example.com", "pw-123456", "admin"
        )
    (page,) = await _pages(web, sandbox, 1)
    choices = await connect(api, web, FACEBOOK)
    (source,) = (
        await api.ingest.PickConnectAccounts(
            ingest_pb2.PickConnectAccountsRequest(
                grant_id=choices.grant_id, external_account_ids=[page["page_id"]], user_ref="user-1"
            )
        )
    ).sources
    grant = await _grant(pool, source.source_id)
    user_token = SecretBox(settings.secret_key).decrypt(grant["access_token"])
    await post(web, f"{sandbox.url}/graph/_control/tokens", {"access_token": user_token, "extendable": False})
    mailbox = sandbox.extra["mailbox"]
    before = len(mailbox.messages)

    await token_renewal.check_grant(servers.ingest.deps, grant, grant["access_expires_at"] - timedelta(days=1))

    after = await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=source.source_id))
    assert after.state == ingest_pb2.SOURCE_STATE_NEEDS_RECONNECT
    assert "renewing the Facebook token failed" in after.last_error and "reconnect" in after.last_error
    # The console's notifier tells the notification role (nobody chosen: the admins).
    notifier = Notifier(settings, pool)
    await notifier.evaluate(api.account.account_id, now_utc())
    await notifier.send_due()
    (mail,) = (await mailbox.wait_for(before + 1))[before:]
    assert mail.rcpt_tos == [f"admin-{api.account.name}@example.com"]
    message = mail.message()
    assert message["Subject"] == "LeadRelay: Source “Facebook: Bakery 0” needs reconnecting"
    assert "renewing the Facebook token failed" in message.get_content() and "Reconnect" in message.get_content()


async def test_admins_are_reminded_fifteen_days_before_only_a_reconnect_helps(
    web, api, servers, sandbox, pool, settings
):
    async with pool.acquire() as con:
        await users.create_user(
            con, api.account.account_id, f"boss-{api.account.name}@example.com", "pw-123456", "admin"
        )
    (page,) = await _pages(web, sandbox, 1)
    choices = await connect(api, web, FACEBOOK)
    (source,) = (
        await api.ingest.PickConnectAccounts(
            ingest_pb2.PickConnectAccountsRequest(
                grant_id=choices.grant_id, external_account_ids=[page["page_id"]], user_ref="user-1"
            )
        )
    ).sources
    grant = await _grant(pool, source.source_id)
    assert grant["reconnect_by"] - grant["created_at"] > timedelta(days=89)
    mailbox = sandbox.extra["mailbox"]
    before = len(mailbox.messages)
    day_75 = grant["reconnect_by"] - timedelta(days=15)
    notifier = Notifier(settings, pool)
    await token_renewal.check_grant(servers.ingest.deps, grant, day_75 - timedelta(hours=1))
    await notifier.evaluate(api.account.account_id, day_75 - timedelta(hours=1))
    await notifier.send_due()
    assert len(mailbox.messages) == before
    await token_renewal.check_grant(servers.ingest.deps, grant, day_75 + timedelta(hours=1))
    await notifier.evaluate(api.account.account_id, day_75 + timedelta(hours=1))
    await notifier.send_due()
    (mail,) = (await mailbox.wait_for(before + 1))[before:]
    assert mail.rcpt_tos == [f"boss-{api.account.name}@example.com"]
    assert mail.message()["Subject"] == f"LeadRelay: Facebook authorisation ends on {grant['reconnect_by']:%Y-%m-%d}"
    assert "in 14 days" in mail.message().get_content() and "Reconnect" in mail.message().get_content()
    still = await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=source.source_id))
    assert still.state == ingest_pb2.SOURCE_STATE_ACTIVE


async def test_a_revoked_linkedin_refresh_token_makes_every_ad_account_of_the_member_need_reconnect(
    web, api, servers, sandbox, pool, settings
):
    accounts = await _ad_accounts(web, sandbox)
    choices = await connect(api, web, LINKEDIN)
    picked = await api.ingest.PickConnectAccounts(
        ingest_pb2.PickConnectAccountsRequest(
            grant_id=choices.grant_id, external_account_ids=[a["account_id"] for a in accounts], user_ref="user-1"
        )
    )
    grant = await _grant(pool, picked.sources[0].source_id)
    refresh = SecretBox(settings.secret_key).decrypt(grant["refresh_token"])
    await post(web, f"{sandbox.url}/linkedin/_control/tokens", {"refresh_token": refresh, "revoked": True})

    await token_renewal.check_grant(servers.ingest.deps, grant, grant["access_expires_at"] - timedelta(days=1))

    for source in picked.sources:
        after = await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=source.source_id))
        assert after.state == ingest_pb2.SOURCE_STATE_NEEDS_RECONNECT
        assert "invalid_grant" in after.last_error


async def test_a_cancelled_consent_returns_the_platforms_error_and_connects_nothing(web, api, servers, sandbox):
    await _pages(web, sandbox, 1)
    begun = await api.ingest.BeginConnect(
        ingest_pb2.BeginConnectRequest(platform=FACEBOOK, user_ref="user-1", return_url=RETURN_URL)
    )
    back = await consent(web, begun.authorize_url, decision="cancel")
    assert (back["error"], back["platform"]) == ("access_denied", "facebook") and "code" not in back
    listed = await api.ingest.ListSources(ingest_pb2.ListSourcesRequest())
    assert list(listed.sources) == []
