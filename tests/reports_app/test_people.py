"""People and keys against the real database and services: the last admin cannot be demoted or
disabled, an invitation link sets a password once, API keys are shown once and stop working when
revoked, set-up changes land in the audit log naming the person and holding no secret, and a paused
destination is e-mailed (real SMTP) once when it pauses and once more when it resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from leadrelay import audit_store, clients
from leadrelay.v1 import accounts_pb2, accounts_pb2_grpc, feedback_pb2, ingest_pb2, validation_pb2
from reports_app import users
from reports_app.notifications.notifier import Notifier
from reports_app.views.audit_log import actor_name
from tests.harness import rpc_error
from tests.validation_service.post_out_support import Crm, seed_leads, seed_source
from tests.validation_service.test_post_out_service import destination_request
from tests.waiting import eventually

PASSWORD = "people password"


async def _admin(pool, account, name: str = "boss") -> users.User:
    email = f"{name}-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
        user = await users.authenticate(con, email, PASSWORD)
    assert user is not None
    return user


async def _write(pool, fn, *args):
    async with pool.acquire() as con, con.transaction():
        return await fn(con, *args)


async def test_the_last_admin_who_can_sign_in_is_neither_demoted_nor_disabled(pool, account):
    boss = await _admin(pool, account)
    now = datetime.now(UTC)
    invited_admin, _ = await _write(pool, users.invite, boss, f"new-{account.name}@example.com", users.ADMIN, now)
    for change in (
        lambda con: users.set_role(con, boss, boss.user_id, users.VIEWER),
        lambda con: users.set_disabled(con, boss, boss.user_id, True),
    ):
        with pytest.raises(users.Refused, match="only admin"):
            await _write(pool, change)
    # An invited admin without a password does not count: still refused above. A second real admin does.
    helper = await _admin(pool, account, "helper")
    await _write(pool, users.set_role, boss, boss.user_id, users.VIEWER)
    async with pool.acquire() as con:
        assert (await users.active_user(con, boss.user_id)).role == users.VIEWER
        rows = await audit_store.entries(con, account.account_id, area="users")
    assert [(r["action"], r["actor"]) for r in rows][:2] == [
        ("role changed", f"user:{boss.user_id}"),
        ("user invited", f"user:{boss.user_id}"),
    ]
    assert rows[0]["detail"] == {"email": boss.email, "from": "admin", "to": "viewer"}
    viewer = await _write(pool, users.active_user, boss.user_id)
    with pytest.raises(users.Refused, match="Only an admin"):
        await _write(pool, users.set_disabled, viewer, helper.user_id, True)
    assert invited_admin


async def test_an_invitation_link_sets_the_password_once_and_expires(pool, account):
    boss = await _admin(pool, account)
    now = datetime.now(UTC)
    email = f"ines-{account.name}@example.com"
    _, token = await _write(pool, users.invite, boss, email, users.VIEWER, now)
    async with pool.acquire() as con:
        assert await users.authenticate(con, email, "") is None  # no password yet: cannot sign in
        stored = await con.fetchval("SELECT count(*) FROM report_password_links WHERE token_hash = $1", token.encode())
        assert stored == 0  # only the hash is kept
        assert await users.link_holder(con, token, now + users.INVITE_LIFETIME + timedelta(seconds=1)) is None
    with pytest.raises(users.Refused, match="8 characters"):
        await _write(pool, users.use_link, token, "short", now)
    assert await _write(pool, users.use_link, token, "a good password", now) == email
    assert await _write(pool, users.use_link, token, "another password", now) is None  # used up
    async with pool.acquire() as con:
        assert (await users.authenticate(con, email, "a good password")).email == email
    with pytest.raises(users.Refused, match="already has a user here"):
        await _write(pool, users.invite, boss, email.upper(), users.VIEWER, now)


def _as(settings, account, user):
    return clients.as_account(settings.internal_token, account.account_id, user.user_id)


async def test_a_key_is_shown_once_listed_by_prefix_and_stops_working_when_revoked(pool, account, servers, settings):
    boss = await _admin(pool, account)
    async with clients.channel(servers.ingest_target) as ch:
        keys = accounts_pb2_grpc.AccountServiceStub(ch)
        made = await keys.CreateApiKey(
            accounts_pb2.CreateApiKeyRequest(name="Zapier"), metadata=_as(settings, account, boss)
        )
        assert made.secret.startswith(f"lr_{made.key.prefix}_") and made.key.name == "Zapier"
        bad = await rpc_error(
            keys.CreateApiKey(accounts_pb2.CreateApiKeyRequest(name=" "), metadata=_as(settings, account, boss))
        )
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "name" in bad.details()
        # An API key (even this one) cannot manage keys.
        denied = await rpc_error(
            keys.ListApiKeys(accounts_pb2.ListApiKeysRequest(), metadata=(("authorization", f"Bearer {made.secret}"),))
        )
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        async with clients.api_key_channel(servers.ingest_target, made.secret) as keyed:
            from leadrelay.v1 import ingest_pb2_grpc

            ingest = ingest_pb2_grpc.IngestServiceStub(keyed)
            await ingest.ListSources(ingest_pb2.ListSourcesRequest())
            listed = {
                k.prefix: k
                for k in (
                    await keys.ListApiKeys(accounts_pb2.ListApiKeysRequest(), metadata=_as(settings, account, boss))
                ).keys
            }
            assert listed[made.key.prefix].HasField("last_used_at") and not listed[made.key.prefix].HasField(
                "revoked_at"
            )
            assert made.secret not in str(listed)  # the secret is never listed
            revoked = await keys.RevokeApiKey(
                accounts_pb2.RevokeApiKeyRequest(key_id=made.key.key_id), metadata=_as(settings, account, boss)
            )
            assert revoked.HasField("revoked_at")
            gone = await rpc_error(ingest.ListSources(ingest_pb2.ListSourcesRequest()))  # the tests cache keys 0 s
            assert gone.code() == grpc.StatusCode.UNAUTHENTICATED
        other = await rpc_error(
            keys.RevokeApiKey(
                accounts_pb2.RevokeApiKeyRequest(key_id=made.key.key_id),
                metadata=clients.as_account(settings.internal_token, (await _other(pool)).account_id),
            )
        )
        assert other.code() == grpc.StatusCode.NOT_FOUND
    async with pool.acquire() as con:
        rows = await audit_store.entries(con, account.account_id, area="keys")
    assert [(r["action"], r["actor"], r["subject_id"]) for r in rows] == [
        ("API key revoked", f"user:{boss.user_id}", made.key.prefix),
        ("API key created", f"user:{boss.user_id}", made.key.prefix),
    ]
    assert made.secret not in json.dumps([r["detail"] for r in rows])


async def _other(pool):
    from tests.harness import new_account

    return await new_account(pool, "other")


async def test_set_up_changes_are_audited_with_the_person_and_no_secret(pool, account, servers, settings):
    boss = await _admin(pool, account)
    meta = _as(settings, account, boss)
    source_id = await seed_source(pool, account.account_id)
    async with clients.channel(servers.validation_target) as vch, clients.channel(servers.feedback_target) as fch:
        from leadrelay.v1 import feedback_pb2_grpc, validation_pb2_grpc

        post = validation_pb2_grpc.PostOutServiceStub(vch)
        dest = await post.CreateDestination(
            destination_request(
                source_id,
                "https://crm.example.com/leads?api_key=q-secret-1",
                headers={"Authorization": "Bearer header-secret-2"},
            ),
            metadata=meta,
        )
        await validation_pb2_grpc.ValidationServiceStub(vch).SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(
                source_id=str(source_id),
                rules=[validation_pb2.Rule(column="email", required=validation_pb2.Required())],
            ),
            metadata=meta,
        )
        await feedback_pb2_grpc.FeedbackServiceStub(fch).SetFeedbackConfig(
            feedback_pb2.FeedbackConfig(dataset_id="123", access_token="meta-secret-3", lead_event_source="Acme"),
            metadata=meta,
        )
    async with pool.acquire() as con:
        rows = await audit_store.entries(con, account.account_id)
    assert [(r["area"], r["action"], r["actor"]) for r in rows] == [
        ("feedback", "Meta feedback settings saved", f"user:{boss.user_id}"),
        ("criteria", "criteria version 1 saved", f"user:{boss.user_id}"),
        ("destination", "destination created", f"user:{boss.user_id}"),
    ]
    assert rows[1]["detail"] == {"version": 1, "rules": ["required email"]}
    assert rows[2]["subject_id"] == dest.destination_id
    assert rows[2]["detail"]["url"] == "https://crm.example.com/leads" and rows[2]["detail"]["headers"] == [
        "Authorization"
    ]
    everything = json.dumps([r["detail"] for r in rows])
    for secret in ("q-secret-1", "header-secret-2", "meta-secret-3"):
        assert secret not in everything
    # The page names the person, never the label.
    assert actor_name({f"user:{boss.user_id}": boss.email}, rows[0]["actor"]) == boss.email


async def test_a_paused_destination_is_mailed_once_when_it_pauses_and_once_when_it_resumes(
    pool, account, servers, sandbox, settings, api
):
    boss = await _admin(pool, account)
    watcher = await _admin(pool, account, "watcher")
    await _write(pool, users.set_notified, boss, {watcher.user_id})  # the role: only the watcher
    threshold = servers.settings.postout_breaker_threshold
    source_id = await seed_source(pool, account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(fail_rate=1.0)
    dest = await api.postout.CreateDestination(destination_request(source_id, crm.url))
    await seed_leads(pool, account.account_id, source_id, threshold + 5)

    async def paused() -> bool:
        async with pool.acquire() as con:
            return bool(
                await con.fetchval(
                    "SELECT paused_until > now() FROM destinations WHERE destination_id = $1::uuid", dest.destination_id
                )
            )

    await eventually(paused, what="destination paused")
    notifier = Notifier(settings, pool)
    mailbox = sandbox.extra["mailbox"]

    def mine():
        return [m for m in mailbox.messages if m.rcpt_tos == [watcher.email]]

    await notifier.evaluate(account.account_id, datetime.now(UTC))
    await notifier.send_due()
    (started,) = await eventually(lambda: _ready(mine()), what="the pause e-mail")
    assert started.message()["Subject"] == "LeadRelay: Destination “Acme CRM” is paused"
    assert "resume it on the Post-outs page" in started.message().get_content()
    # Still paused: nothing new.
    await notifier.evaluate(account.account_id, datetime.now(UTC))
    await notifier.send_due()
    assert len(mine()) == 1

    await crm.set(fail_rate=0.0)
    await api.postout.ResumeDestination(validation_pb2.ResumeDestinationRequest(destination_id=dest.destination_id))
    await notifier.evaluate(account.account_id, datetime.now(UTC))
    await notifier.send_due()
    await eventually(lambda: _ready(mine(), 2), what="the resume e-mail")
    assert mine()[1].message()["Subject"] == "LeadRelay: Resolved: Destination “Acme CRM” is paused"
    async with pool.acquire() as con:
        history = await con.fetch(
            "SELECT kind, cleared_at IS NOT NULL AS cleared FROM notification_alerts WHERE account_id = $1",
            account.account_id,
        )
    assert [(r["kind"], r["cleared"]) for r in history] == [("destination", True)]


async def _ready(messages, n: int = 1):
    return messages if len(messages) >= n else None
