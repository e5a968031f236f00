"""Dispatch to the sandbox's Conversions API over real HTTP: immediate sending, bisection, expiry,
retries, token pause, DAILY scheduling and backfill."""

import hashlib
from datetime import UTC, datetime, timedelta

import aiohttp
import grpc

from leadrelay.protoconv import to_timestamp
from leadrelay.v1 import feedback_pb2
from tests.feedback_service import support as s
from tests.harness import rpc_error
from tests.waiting import eventually


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def record(api, *changes):
    return await api.feedback.RecordStageChanges(feedback_pb2.RecordStageChangesRequest(changes=list(changes)))


async def statuses(pool, account):
    return [r["status"] for r in await s.events(pool, account)]


async def test_immediate_mode_sends_within_seconds_with_metas_payload(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetStageMapping(
        feedback_pb2.SetStageMappingRequest(stages={"Qualified": feedback_pb2.META_STAGE_MARKETING_QUALIFIED_LEAD})
    )
    await api.feedback.SetFeedbackConfig(s.config(dataset, test_event_code="TEST123"))
    fb = await s.source(pool, account)
    fields = {"email": " Ana@Example.com", "phone_number": "(650) 555-1212"}
    lead_id, pid = await s.lead(pool, account, fb, fields=fields)
    when = s.ago(minutes=20).replace(microsecond=0)
    await record(api, s.change(lead_id=lead_id, stage="Qualified", at=when))

    [row] = await eventually(lambda: _sent(pool, account))
    assert row["fbtrace_id"] and row["attempts"] == 1
    assert await capi.received() == [
        {
            "event_name": "Qualified",
            "event_time": int(when.timestamp()),
            "action_source": "system_generated",
            "event_id": f"lr-{row['event_id']}",
            "user_data": {"lead_id": int(pid), "em": [sha("ana@example.com")], "ph": [sha("16505551212")]},
            "custom_data": {
                "event_source": "crm",
                "lead_event_source": "Acme CRM",
                "facebook_lifecycle_stage_name": "MARKETING_QUALIFIED_LEAD",
                "lifecycle_stage_name": "Qualified",
            },
        }
    ]
    assert [r["test_event_code"] for r in (await capi.record())["requests"]] == ["TEST123"]
    status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
    assert {c.status: c.count for c in status.by_status}[feedback_pb2.FEEDBACK_EVENT_STATUS_SENT] == 1
    assert status.HasField("last_sent_at")


async def _sent(pool, account):
    rows = await s.events(pool, account)
    return rows if rows and all(r["status"] == "SENT" for r in rows) else None


async def test_a_refused_batch_is_bisected_until_the_bad_events_are_isolated(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    leads = [await s.lead(pool, account, fb) for _ in range(10)]
    await capi.unknown_leads(leads[2][1], leads[7][1])
    await record(
        api, *[s.change(lead_id=lead_id, stage="New", at=s.ago(minutes=30 - i)) for i, (lead_id, _) in enumerate(leads)]
    )

    flushed = await api.feedback.Flush(feedback_pb2.FlushRequest())
    assert (flushed.sent, flushed.failed, flushed.expired) == (8, 2, 0)
    rows = await s.events(pool, account)
    assert [r["status"] for r in rows] == ["SENT"] * 2 + ["FAILED"] + ["SENT"] * 4 + ["FAILED"] + ["SENT"] * 2
    failed = [r for r in rows if r["status"] == "FAILED"]
    assert failed[0]["reason"] == (
        f"(#100) Invalid parameter: data[0].user_data.lead_id {leads[2][1]} does not match any lead of this business"
    )
    assert all(r["fbtrace_id"] for r in rows)
    received = await capi.received()
    assert [e["user_data"]["lead_id"] for e in received] == [
        int(pid) for i, (_, pid) in enumerate(leads) if i not in (2, 7)
    ]
    # Halves, left first: 10 → 5 (bad) → 2 ok + 3 (bad) → 1 FAILED + 2 ok; then the right 5 likewise.
    assert [(r["events"], r["status"]) for r in (await capi.record())["requests"]] == [
        (10, 400),
        (5, 400),
        (2, 200),
        (3, 400),
        (1, 400),
        (2, 200),
        (5, 400),
        (2, 200),
        (3, 400),
        (1, 400),
        (2, 200),
    ]


async def test_events_that_aged_out_while_waiting_are_expired_never_sent(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    old_lead, _ = await s.lead(pool, account, fb, captured_at=s.ago(days=9))
    new_lead, _ = await s.lead(pool, account, fb)
    await record(
        api, s.change(lead_id=old_lead, stage="New", at=s.ago(days=6)), s.change(lead_id=new_lead, stage="New")
    )
    # A DAILY account waited too long: the first change is now 8 days old.
    await pool.execute(
        "UPDATE feedback_events SET changed_at = changed_at - interval '2 days' WHERE lead_id = $1", old_lead
    )
    flushed = await api.feedback.Flush(feedback_pb2.FlushRequest())
    # (The loop's own pass may have expired it a moment before the Flush did.)
    assert (flushed.sent, flushed.failed) == (1, 0) and flushed.expired in (0, 1)
    rows = await s.events(pool, account)
    assert [r["status"] for r in rows] == ["EXPIRED", "SENT"]
    assert "7-day window" in rows[0]["reason"]
    assert [r["events"] for r in (await capi.record())["requests"]] == [1]


async def test_server_errors_and_throttling_are_retried_later(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb)
    await record(api, s.change(lead_id=lead_id))
    await capi.fail_next("server")
    await capi.fail_next("rate_limit", code=613)

    first = await api.feedback.Flush(feedback_pb2.FlushRequest())
    assert (first.sent, first.failed) == (0, 0)
    [row] = await s.events(pool, account)
    assert row["status"] == "PENDING" and row["attempts"] == 1 and row["reason"].startswith("will retry: (#2)")
    assert row["next_attempt_at"] > datetime.now(UTC)
    second = await api.feedback.Flush(feedback_pb2.FlushRequest())
    assert second.sent == 0
    [row] = await s.events(pool, account)
    assert row["attempts"] == 2 and "(#613)" in row["reason"]
    third = await api.feedback.Flush(feedback_pb2.FlushRequest())
    assert third.sent == 1
    assert await statuses(pool, account) == ["SENT"]
    assert [r["status"] for r in (await capi.record())["requests"]] == [500, 400, 200]


async def test_a_refused_token_pauses_dispatch_until_a_new_token_is_set(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    token = f"tok-{dataset}"
    await capi.expire_token(token)
    await api.feedback.SetFeedbackConfig(s.config(dataset, token=token))
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb)
    await record(api, s.change(lead_id=lead_id))

    async def paused():
        status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
        return status if status.paused else None

    status = await eventually(paused)
    assert "(#190) Error validating access token" in status.paused_reason
    config = await api.feedback.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest())
    assert config.paused and config.paused_reason == status.paused_reason
    assert await statuses(pool, account) == ["PENDING"]
    err = await rpc_error(api.feedback.Flush(feedback_pb2.FlushRequest()))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "paused" in err.details()
    requests_while_paused = len((await capi.record())["requests"])

    resumed = await api.feedback.SetFeedbackConfig(s.config(dataset, token="tok-new"))
    assert not resumed.paused and resumed.paused_reason == ""
    await eventually(lambda: _sent(pool, account))
    assert requests_while_paused == 1


async def _a_whole_pass_went_by(api, pool, account, fb):
    """Returns once the dispatcher has run a whole pass over the account that began after the call:
    a change too old to send is expired at the start of the first pass over the account that sees
    it, so a second one, recorded once the first is expired, is expired only by a later pass, after
    the one before it ended. A stopped dispatcher never gets here."""
    for _ in range(2):
        lead_id, _ = await s.lead(pool, account, fb, captured_at=s.ago(days=9))
        await record(api, s.change(lead_id=lead_id, stage="New", at=s.ago(days=6)))
        await pool.execute(
            "UPDATE feedback_events SET changed_at = changed_at - interval '2 days' WHERE lead_id = $1", lead_id
        )

        async def expired(lead_id=lead_id):
            rows = [r for r in await s.events(pool, account) if r["lead_id"] == lead_id]
            return [r["status"] for r in rows] == ["EXPIRED"]

        await eventually(expired, what="a dispatcher pass over the account")


async def test_daily_mode_sends_at_the_configured_hour_once_a_day(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    # The slot an hour ago: passed at any time of day, and the next one is about a day away.
    slot_hour = (datetime.now(UTC) - timedelta(hours=1)).hour
    await api.feedback.SetFeedbackConfig(
        s.config(dataset, mode=feedback_pb2.DISPATCH_MODE_DAILY, daily_hour=slot_hour, time_zone="UTC")
    )
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb)
    # The last daily run was a day ago, before today's slot: the slot is due now.
    await pool.execute(
        "UPDATE feedback_configs SET daily_last_run_at = now() - interval '1 day' WHERE account_id = $1", account
    )
    await record(api, s.change(lead_id=lead_id, stage="New", at=s.ago(minutes=40)))
    await eventually(lambda: _sent(pool, account))
    last_run = await pool.fetchval("SELECT daily_last_run_at FROM feedback_configs WHERE account_id = $1", account)
    assert last_run > s.ago(minutes=1)
    # Today's run is done: a later change waits for tomorrow's slot, however many passes go by.
    await record(api, s.change(lead_id=lead_id, stage="Won", at=s.ago(minutes=10)))
    await _a_whole_pass_went_by(api, pool, account, fb)
    events = [r["status"] for r in await s.events(pool, account) if r["lead_id"] == lead_id]
    assert events == ["SENT", "PENDING"]
    assert len(await capi.received()) == 1


async def test_backfill_records_initial_stages_sends_the_window_and_reports_the_rest(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetStageMapping(
        feedback_pb2.SetStageMappingRequest(stages={"Inbound": feedback_pb2.META_STAGE_LEAD})
    )
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    li = await s.source(pool, account, "LINKEDIN")
    await s.lead(pool, account, fb, captured_at=s.ago(days=70))  # before `since`: not touched
    old, _ = await s.lead(pool, account, fb, captured_at=s.ago(days=20))
    recent, recent_pid = await s.lead(pool, account, fb, captured_at=s.ago(days=2))
    linkedin, _ = await s.lead(pool, account, li, platform_lead_id="urn:li:x:1", captured_at=s.ago(days=1))

    too_far = feedback_pb2.BackfillRequest(since=to_timestamp(s.ago(days=61)))
    err = await rpc_error(_drain(api.feedback.Backfill(too_far)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "more than 60 days" in err.details()

    progress = await _drain(api.feedback.Backfill(feedback_pb2.BackfillRequest(since=to_timestamp(s.ago(days=60)))))
    final = progress[-1]
    assert final.done and not any(p.done for p in progress[:-1])
    assert (
        final.leads_seen,
        final.events_recorded,
        final.events_sent,
        final.events_expired,
        final.events_not_sendable,
        final.events_failed,
        final.events_pending,
    ) == (3, 3, 1, 1, 1, 0, 0)
    rows = {r["lead_id"]: r for r in await s.events(pool, account)}
    assert {k: (v["crm_stage"], v["status"]) for k, v in rows.items()} == {
        old: ("Inbound", "EXPIRED"),
        recent: ("Inbound", "SENT"),
        linkedin: ("Inbound", "NOT_SENDABLE"),
    }
    assert [e["user_data"]["lead_id"] for e in await capi.received()] == [int(recent_pid)]

    # Run again: nothing new, everything reported as duplicates.
    again = (await _drain(api.feedback.Backfill(feedback_pb2.BackfillRequest(since=to_timestamp(s.ago(days=60))))))[-1]
    assert (again.events_recorded, again.duplicates) == (0, 3)

    # Each run is recorded (the refused one never started), and the notification role hears of both.
    from reports_app.notifications import conditions, facts

    async with pool.acquire() as con:
        runs = await con.fetch(
            "SELECT ok, summary FROM feedback_backfills WHERE account_id = $1 ORDER BY started_at", account
        )
        seen = await facts.gather(con, account, datetime.now(UTC), s.ago(days=1))
    assert [(r["ok"], r["summary"].split(":")[0]) for r in runs] == [(True, "backfill done")] * 2
    told = [a.title for a in conditions.jobs(seen) if a.key.startswith("job:backfill:")]
    assert len(told) == 2 and all(t.startswith("Lifecycle backfill of “leads captured since ") for t in told), told
    assert all(t.endswith("” finished") for t in told), told


async def test_backfill_with_the_crms_past_changes(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb, captured_at=s.ago(days=30))
    since = s.ago(days=40)
    changes = [
        s.change(lead_id=lead_id, stage="New", at=s.ago(days=29)),
        s.change(lead_id=lead_id, stage="Qualified", at=s.ago(days=3)),
        s.change(lead_id=lead_id, stage="Won", at=s.ago(hours=1)),
        s.change(lead_id="00000000-0000-0000-0000-000000000002", stage="Won"),
    ]
    progress = await _drain(
        api.feedback.Backfill(feedback_pb2.BackfillRequest(since=to_timestamp(since), changes=changes))
    )
    assert [(e.index, e.message) for e in progress[0].errors] == [
        (3, "lead 00000000-0000-0000-0000-000000000002 not found")
    ]
    final = progress[-1]
    assert (final.events_recorded, final.events_sent, final.events_expired) == (3, 2, 1)
    assert await statuses(pool, account) == ["EXPIRED", "SENT", "SENT"]


async def _drain(stream):
    return [p async for p in stream]


async def test_a_leads_identifiers_and_ldu_reach_the_conversions_api_as_configured(api, pool, sandbox):
    account = api.account.account_id
    dataset = s.dataset_id()
    capi = s.Capi(sandbox.url, dataset)
    await api.feedback.SetFeedbackConfig(
        s.config(
            dataset,
            identifier_columns=[feedback_pb2.IdentifierColumns(key="fn", columns=["Given Name"])],
            limited_data_use=feedback_pb2.LimitedDataUse(opt_out_columns=["CCPA choice"]),
        )
    )
    fb = await s.source(pool, account)
    fields = {
        "Given Name": "Mary",
        "last_name": "O'Brien",
        "city": "Los Angeles",
        "state": "California",
        "zip": "90001-1234",
        "country": "USA",
        "phone": "(213) 555-0147 x12",
        "CCPA choice": "Yes",
    }
    lead_id, pid = await s.lead(pool, account, fb, fields=fields)
    await record(api, s.change(lead_id=lead_id, stage="Qualified"))
    await eventually(lambda: _sent(pool, account))
    [event] = await capi.received()
    assert event["user_data"] == {
        "lead_id": int(pid),
        "ph": [sha("12135550147")],
        "fn": [sha("mary")],
        "ln": [sha("obrien")],
        "ct": [sha("losangeles")],
        "st": [sha("ca")],
        "zp": [sha("90001")],
        "country": [sha("us")],
    }
    assert event["data_processing_options"] == ["LDU"]
    assert (event["data_processing_options_country"], event["data_processing_options_state"]) == (1, 1000)
    config = await api.feedback.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest())
    assert [(c.key, list(c.columns)) for c in config.identifier_columns] == [("fn", ["Given Name"])]
    assert list(config.limited_data_use.opt_out_columns) == ["CCPA choice"]


async def test_an_unknown_identifier_key_is_refused_naming_it(api):
    config = s.config(s.dataset_id(), identifier_columns=[feedback_pb2.IdentifierColumns(key="db", columns=["dob"])])
    error = await rpc_error(api.feedback.SetFeedbackConfig(config))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "identifier_columns[0].key" in error.details()


async def test_a_refused_appsecret_proof_pauses_dispatch_naming_the_app_secret(api, pool, sandbox, settings):
    from feedback_service.dispatcher import Dispatcher

    account = api.account.account_id
    dataset = s.dataset_id()
    await api.feedback.SetFeedbackConfig(s.config(dataset, **s.daily_not_due()))
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb)
    await record(api, s.change(lead_id=lead_id))
    async with aiohttp.ClientSession() as session:
        wrong = settings.replace(facebook_app_secret="not-the-apps-secret")
        result = await Dispatcher(wrong, pool, session).dispatch(account, flush=True)
    assert result.paused and "appsecret_proof" in result.note and "FACEBOOK_APP_SECRET" in result.note
    assert await statuses(pool, account) == ["PENDING"]
