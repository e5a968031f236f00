"""SyncLeads, GetSourceCounts and DisconnectSource over real gRPC against the sandbox."""

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import rpc_error
from tests.ingest_service.connector_support import (
    connection_row,
    facebook_source,
    judged,
    leads_of,
    linkedin_source,
    post,
)
from tests.waiting import eventually

DAY = 86_400


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _sync(api, source_id: str, since: datetime, until: datetime | None = None, form_id: str = ""):
    request = ingest_pb2.SyncLeadsRequest(source_id=source_id, form_id=form_id, since=_ts(since))
    if until is not None:
        request.until.CopyFrom(_ts(until))
    return api.ingest.SyncLeads(request)


async def _progress(call) -> list:
    return [p async for p in call]


async def test_a_90_day_sync_streams_progress_and_a_second_finds_every_lead_known(web, api, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, forms=2)
    now = int(datetime.now(UTC).timestamp())
    ids = []
    for form_id in fb.form_ids:
        ids += (
            await post(
                web,
                f"{sandbox.url}/graph/_control/leads",
                {
                    "form_id": form_id,
                    "count": 150,
                    "created_time": now - 60,
                    "spread_seconds": 89 * DAY,
                    "deliver": False,
                },
            )
        )["ids"]
    old = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": fb.form_ids[0], "count": 3, "created_time": now - 95 * DAY, "deliver": False},
        )
    )["ids"]
    since = datetime.now(UTC) - timedelta(days=90)
    progress = await _progress(_sync(api, fb.source_id, since))
    last = progress[-1]
    assert last.done and (last.leads_seen, last.leads_new, last.leads_known) == (300, 300, 0)
    assert last.pages_read >= 2 * 13 and not last.resumed  # two forms, thirteen 7-day slices
    assert [p.leads_seen for p in progress] == sorted(p.leads_seen for p in progress)  # streamed, growing
    rows = await judged(pool, fb.source_id, 300)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    assert not set(old) & {r["platform_lead_id"] for r in rows}
    again = (await _progress(_sync(api, fb.source_id, since)))[-1]
    assert (again.leads_seen, again.leads_new, again.leads_known) == (300, 0, 300)
    counts = await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(source_id=fb.source_id, since=_ts(since), until=_ts(datetime.now(UTC)))
    )
    assert (counts.received, counts.platform_reported, counts.difference) == (300, 300, 0)
    assert counts.accepted + counts.rejected == 300 and counts.processing == 0


async def test_a_sync_reaching_beyond_the_limit_is_refused(web, api, sandbox):
    fb = await facebook_source(api, sandbox, web)
    error = await rpc_error(_progress(_sync(api, fb.source_id, datetime.now(UTC) - timedelta(days=91))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "90 days" in error.details()
    error = await rpc_error(_progress(api.ingest.SyncLeads(ingest_pb2.SyncLeadsRequest(source_id=fb.source_id))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith("since:")


async def test_an_interrupted_sync_resumes_where_it_stopped(web, api, sandbox, pool):
    li = await linkedin_source(api, sandbox, web)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    ids = (
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/leads",
            {
                "form_id": str(li.form["id"]),
                "count": 40,
                "submitted_at": now_ms - 60_000,
                "spread_ms": 19 * DAY * 1000,
                "notify": False,
            },
        )
    )["ids"]
    since, until = datetime.now(UTC) - timedelta(days=20), datetime.now(UTC)
    call = _sync(api, li.source_id, since, until)
    async for p in call:
        if p.leads_seen:
            break
    call.cancel()

    async def interrupted():
        async with pool.acquire() as con:
            return (
                await con.fetchval("SELECT state FROM sync_runs WHERE source_id = $1::uuid", li.source_id)
                == "INTERRUPTED"
            )

    assert await eventually(interrupted)
    progress = await _progress(_sync(api, li.source_id, since, until))
    assert progress[0].resumed and progress[0].message.startswith("resuming from")
    last = progress[-1]
    assert last.done and last.resumed and last.sync_id == progress[0].sync_id
    assert last.leads_seen >= 40 and last.leads_new == 40  # counts carry over; any overlap is "known"
    assert sorted(r["platform_lead_id"] for r in await leads_of(pool, li.source_id)) == sorted(ids)


async def test_a_form_sync_beside_webhooks_and_throttling_takes_each_lead_once(web, api, servers, sandbox, pool):
    fb = await facebook_source(
        api, sandbox, web, forms=2, webhook_url=f"{servers.settings.public_base_url}/webhooks/facebook"
    )
    now = int(datetime.now(UTC).timestamp())
    mine = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": fb.form_ids[0], "count": 20, "created_time": now - 60, "spread_seconds": 3 * DAY},
        )
    )["ids"]
    await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[1], "count": 5, "deliver": False})
    await post(web, f"{sandbox.url}/graph/_control/drain")
    await judged(pool, fb.source_id, 20)  # the webhooks brought them in
    await post(web, f"{sandbox.url}/graph/_control/errors", {"code": 17, "count": 1, "access_token": fb.token})
    progress = await _progress(_sync(api, fb.source_id, datetime.now(UTC) - timedelta(days=5), form_id=fb.form_ids[0]))
    assert any(p.message.startswith("rate limited") for p in progress)
    last = progress[-1]
    assert last.done and (last.leads_seen, last.leads_new, last.leads_known) == (20, 0, 20)
    rows = await leads_of(pool, fb.source_id)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(mine)  # the other form was not synced


async def test_disconnecting_deletes_the_token_and_stops_everything(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=f"{servers.settings.public_base_url}/webhooks/facebook")
    source = await api.ingest.DisconnectSource(ingest_pb2.DisconnectSourceRequest(source_id=fb.source_id))
    assert source.state == ingest_pb2.SOURCE_STATE_DISCONNECTED and not source.connected
    row = await connection_row(pool, fb.source_id)
    assert row["state"] == "DISCONNECTED" and row["access_token"] is None
    await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0]})
    await post(web, f"{sandbox.url}/graph/_control/drain")
    error = await rpc_error(_progress(_sync(api, fb.source_id, datetime.now(UTC) - timedelta(days=1))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "not connected" in error.details()
    counts = await api.ingest.GetSourceCounts(ingest_pb2.GetSourceCountsRequest(source_id=fb.source_id))
    assert counts.platform_reported == -1
    assert await leads_of(pool, fb.source_id) == []


async def test_connect_checks_the_token_and_the_platform(web, api, sandbox):
    page = await post(web, f"{sandbox.url}/graph/_control/pages", {"forms": 1})
    fb = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="p", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    error = await rpc_error(
        api.ingest.ConnectSource(ingest_pb2.ConnectSourceRequest(source_id=fb.source_id, access_token="EAAB-wrong"))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "refused the token" in error.details()
    connected = await api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=fb.source_id, access_token=page["access_token"])
    )
    assert connected.connected and connected.state == ingest_pb2.SOURCE_STATE_ACTIVE
    forms = await api.ingest.ListForms(ingest_pb2.ListFormsRequest(source_id=fb.source_id))
    assert [f.platform_form_id for f in forms.forms] == page["form_ids"]
    csv = await api.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name="c", platform=common_pb2.PLATFORM_CSV))
    error = await rpc_error(
        api.ingest.ConnectSource(ingest_pb2.ConnectSourceRequest(source_id=csv.source_id, access_token="x"))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    counts = await api.ingest.GetSourceCounts(ingest_pb2.GetSourceCountsRequest(source_id=csv.source_id))
    assert (counts.received, counts.platform_reported) == (0, -1)


async def test_another_accounts_source_is_permission_denied(web, api, sandbox, pool, servers):
    from tests.harness import Api, new_account

    fb = await facebook_source(api, sandbox, web)
    other = await new_account(pool)
    stranger = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        for call in (
            stranger.ingest.GetSourceCounts(ingest_pb2.GetSourceCountsRequest(source_id=fb.source_id)),
            stranger.ingest.DisconnectSource(ingest_pb2.DisconnectSourceRequest(source_id=fb.source_id)),
            _progress(_sync(stranger, fb.source_id, datetime.now(UTC) - timedelta(days=1))),
        ):
            assert (await rpc_error(call)).code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await stranger.close()
    assert (await connection_row(pool, fb.source_id))["state"] == "ACTIVE"
