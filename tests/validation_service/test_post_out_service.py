"""PostOutService over gRPC, with the shared validation server's workers delivering to the sandbox
CRM over real HTTP: destinations, statuses, logs, retries, rejections, the breaker, SSRF refusal."""

from __future__ import annotations

import asyncpg
import grpc

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, validation_pb2, validation_pb2_grpc
from tests.harness import Account, Api, new_account, rpc_error
from tests.validation_service.post_out_support import (
    Crm,
    all_posted,
    insert_destination,
    seed_leads,
    seed_source,
    statuses,
)
from tests.waiting import eventually
from validation_service.app import running as validation_running

BODY = [
    common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
    common_pb2.FieldMapping(column="Email", lead_column="email"),
    common_pb2.FieldMapping(column="FirstName", lead_column="first_name"),
    common_pb2.FieldMapping(column="LeadSource", constant=common_pb2.Constant(string_value="LinkedIn")),
    common_pb2.FieldMapping(column="Score", constant=common_pb2.Constant(decimal_value=7)),
]
CRM_SUCCESS = validation_pb2.SuccessCriteria(
    result_json_path="$.status",
    accepted_values=["accepted"],
    reason_json_path="$.reason",
    record_id_json_path="$.id",
)


def destination_request(source_id, url, **kw):
    base = dict(
        source_id=str(source_id),
        name="Acme CRM",
        url=url,
        body=BODY,
        success=CRM_SUCCESS,
        headers={"Authorization": "Bearer s3cret-token"},
        timeout_ms=2000,
    )
    return validation_pb2.CreateDestinationRequest(**{**base, **kw})


async def test_creates_a_destination_keeping_header_values_secret(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    created = await api.postout.CreateDestination(destination_request(source_id, crm.url))
    assert created.headers == {"Authorization": ""}
    assert created.state == validation_pb2.DESTINATION_STATE_ACTIVE
    assert created.method == "POST" and created.timeout_ms == 2000 and created.enabled
    assert [m.column for m in created.body] == ["lead_id", "Email", "FirstName", "LeadSource", "Score"]
    assert created.body[4].constant.decimal_value == 7
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT * FROM destinations WHERE destination_id = $1::uuid", created.destination_id)
    assert b"s3cret-token" not in bytes(row["headers_encrypted"])
    assert list(row["header_names"]) == ["Authorization"]

    listed = await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=str(source_id)))
    assert [d.destination_id for d in listed.destinations] == [created.destination_id]
    assert listed.destinations[0].headers == {"Authorization": ""}

    updated = await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(destination_id=created.destination_id, name="Renamed", timeout_ms=500)
    )
    assert (updated.name, updated.timeout_ms, updated.url) == ("Renamed", 500, crm.url)
    assert updated.headers == {"Authorization": ""}
    async with pool.acquire() as con:
        kept = await con.fetchval(
            "SELECT headers_encrypted FROM destinations WHERE destination_id = $1::uuid", created.destination_id
        )
    assert bytes(kept) == bytes(row["headers_encrypted"])


async def test_refuses_bad_destinations_naming_the_field(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    url = Crm(sandbox.url).url
    cases = [
        (dict(url="ftp://crm.example.com/"), "url:"),
        (dict(url="not a url"), "url:"),
        (
            dict(body=[common_pb2.FieldMapping(column="Phone", lead_column="phone")]),
            "body[0].lead_column: unknown column 'phone'",
        ),
        (
            dict(success=validation_pb2.SuccessCriteria(result_json_path="$..[", accepted_values=["ok"])),
            "success.result_json_path",
        ),
        (dict(success=validation_pb2.SuccessCriteria(accepted_regex="(oops")), "success.accepted_regex"),
        (dict(success=validation_pb2.SuccessCriteria(record_id_json_path="$$")), "success.record_id_json_path"),
        (dict(method="DELETE"), "method:"),
    ]
    for change, message in cases:
        request = destination_request(source_id, change.pop("url", url), **change)
        err = await rpc_error(api.postout.CreateDestination(request))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, change
        assert message in err.details(), (change, err.details())


async def test_other_accounts_sources_and_destinations_are_refused(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    other = await new_account(pool)
    theirs = await seed_source(pool, other.account_id)
    err = await rpc_error(api.postout.CreateDestination(destination_request(theirs, Crm(sandbox.url).url)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    their_destination = await insert_destination(pool, other.account_id, theirs, Crm(sandbox.url).url)
    err = await rpc_error(
        api.postout.ResumeDestination(validation_pb2.ResumeDestinationRequest(destination_id=str(their_destination)))
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await rpc_error(api.postout.ListPostOuts(validation_pb2.ListPostOutsRequest(source_id=str(theirs))))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await rpc_error(
        api.postout.ResumeDestination(
            validation_pb2.ResumeDestinationRequest(destination_id="00000000-0000-0000-0000-000000000001")
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_ssrf_private_addresses_refused_when_not_allowed(
    settings: Settings, pool: asyncpg.Pool, account: Account, sandbox
) -> None:
    source_id = await seed_source(pool, account.account_id)
    strict = settings.replace(postout_allow_private_urls=False, postout_workers=0)
    async with validation_running(strict, pool, grpc_port=0) as server:
        channel = clients.api_key_channel(f"127.0.0.1:{server.grpc_port}", account.api_key)
        stub = validation_pb2_grpc.PostOutServiceStub(channel)
        try:
            for url in (
                Crm(sandbox.url).url,
                "http://10.0.0.5/leads",
                "http://localhost:8080/x",
                "http://[::1]/",
            ):
                err = await rpc_error(stub.CreateDestination(destination_request(source_id, url)))
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert err.details().startswith("url: ") and "must be public" in err.details()
        finally:
            await channel.close()


async def test_only_the_allowed_host_and_port_pass_and_metadata_never(
    settings: Settings, pool: asyncpg.Pool, account: Account, sandbox
) -> None:
    source_id = await seed_source(pool, account.account_id)
    crm = Crm(sandbox.url)
    sandbox_host_port = crm.url.split("/")[2]  # 127.0.0.1:<port>, what `make run` allows for its sandbox
    other_port = f"http://127.0.0.1:{int(sandbox_host_port.split(':')[1]) + 1}/crm/x/leads"
    for allow_private, allow_hosts in ((False, sandbox_host_port), (True, f"{sandbox_host_port},169.254.169.254")):
        s = settings.replace(
            postout_allow_private_urls=allow_private, postout_allow_hosts=allow_hosts, postout_workers=0
        )
        async with validation_running(s, pool, grpc_port=0) as server:
            channel = clients.api_key_channel(f"127.0.0.1:{server.grpc_port}", account.api_key)
            stub = validation_pb2_grpc.PostOutServiceStub(channel)
            try:
                created = await stub.CreateDestination(destination_request(source_id, crm.url))
                assert created.url == crm.url
                for url in (
                    "http://169.254.169.254/latest/meta-data",
                    "http://169.254.170.2/v2/credentials",
                    "http://[fe80::a9fe:a9fe]/",
                    "http://[fd00:ec2::254]/latest/meta-data",
                    "http://[::ffff:169.254.169.254]/",
                ):
                    err = await rpc_error(stub.CreateDestination(destination_request(source_id, url)))
                    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, url
                    assert err.details().startswith("url: ") and "never a destination" in err.details(), url
                err = await rpc_error(
                    stub.UpdateDestination(
                        validation_pb2.UpdateDestinationRequest(
                            destination_id=created.destination_id, url="http://169.254.169.254/latest/meta-data"
                        )
                    )
                )
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                if not allow_private:
                    err = await rpc_error(stub.CreateDestination(destination_request(source_id, other_port)))
                    assert "must be public" in err.details()
            finally:
                await channel.close()


async def test_delivers_accepted_leads_with_body_headers_and_idempotency_key(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    dest = await api.postout.CreateDestination(destination_request(source_id, crm.url))
    leads = await seed_leads(pool, api.account.account_id, source_id, 3)
    await eventually(lambda: all_posted(pool, leads), what="3 posted")

    stats = await crm.stats()
    assert stats["created"] == 3 and stats["received"] == 3 and stats["doubled"] == []
    by_lead = {r["lead"]: r for r in stats["records"]}
    assert set(by_lead) == {str(lead) for lead in leads}
    async with pool.acquire() as con:
        rows = {
            r["lead_id"]: r
            for r in await con.fetch(
                "SELECT l.lead_id, l.fields, l.post_out_status, p.idempotency_key, p.record_id, p.attempts "
                "FROM leads l JOIN post_outs p USING (lead_id) WHERE l.lead_id = ANY($1::uuid[])",
                leads,
            )
        }
    for lead in leads:
        record, row = by_lead[str(lead)], rows[lead]
        assert record["body"] == {
            "lead_id": str(lead),
            "Email": row["fields"]["email"],
            "FirstName": row["fields"]["first_name"],
            "LeadSource": "LinkedIn",
            "Score": 7,
        }
        assert record["headers"]["Authorization"] == "Bearer s3cret-token"
        assert record["headers"]["Idempotency-Key"] == row["idempotency_key"]
        assert record["content_type"] == "application/json"
        assert (row["post_out_status"], row["record_id"], row["attempts"]) == ("POSTED", record["id"], 1)

    listed = await api.postout.ListPostOuts(
        validation_pb2.ListPostOutsRequest(
            source_id=str(source_id), status=validation_pb2.POST_OUT_STATUS_POSTED, page_size=2
        )
    )
    assert len(listed.post_outs) == 2 and listed.next_page_token
    rest = await api.postout.ListPostOuts(
        validation_pb2.ListPostOutsRequest(
            source_id=str(source_id),
            status=validation_pb2.POST_OUT_STATUS_POSTED,
            page_size=2,
            page_token=listed.next_page_token,
        )
    )
    assert len(rest.post_outs) == 1 and not rest.next_page_token
    every = [*listed.post_outs, *rest.post_outs]
    assert {p.lead_id for p in every} == {str(lead) for lead in leads}
    assert all(
        p.destination_id == dest.destination_id
        and p.record_id.startswith("crm-")
        and p.attempts == 1
        and p.last_status_code == 201
        and p.posted_at.seconds > 0
        for p in every
    )

    logs = await api.postout.ListPostOutAttempts(validation_pb2.ListPostOutAttemptsRequest(lead_id=str(leads[0])))
    assert [(a.attempt, a.status_code, a.outcome) for a in logs.attempts] == [(1, 201, "posted")]
    record_id = next(p.record_id for p in every if p.lead_id == str(leads[0]))
    assert logs.attempts[0].response_excerpt == f'{{"status": "accepted", "id": "{record_id}"}}'


async def test_exactly_once_under_twenty_percent_server_errors(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(fail_rate=0.2, seed=5)
    await api.postout.CreateDestination(destination_request(source_id, crm.url))
    leads = await seed_leads(pool, api.account.account_id, source_id, 200)
    await eventually(lambda: all_posted(pool, leads), within=60, what="200 posted")
    stats = await crm.stats()
    assert stats["created"] == 200
    assert stats["doubled"] == []
    assert all(c["created"] == 1 for c in stats["per_lead"].values())
    async with pool.acquire() as con:
        logged = await con.fetchval("SELECT count(*) FROM post_out_attempts WHERE lead_id = ANY($1::uuid[])", leads)
        retried = await con.fetchval(
            "SELECT count(*) FROM post_out_attempts WHERE lead_id = ANY($1::uuid[]) AND outcome = 'retry'", leads
        )
    assert stats["received"] == logged > 200
    assert retried == logged - 200


async def test_timeouts_are_retried_without_doubles(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    # The CRM answers too late for our 300 ms timeout but creates the record anyway.
    await crm.set(timeout_rate=0.3, timeout_seconds=0.6, seed=11)
    await api.postout.CreateDestination(destination_request(source_id, crm.url, timeout_ms=300))
    # 20 leads: fewer timeouts in a row than the breaker's threshold (the breaker has its own test).
    leads = await seed_leads(pool, api.account.account_id, source_id, 20)
    await eventually(lambda: all_posted(pool, leads), within=30, what="20 posted")
    stats = await crm.stats()
    assert stats["created"] == 20 and stats["doubled"] == []
    async with pool.acquire() as con:
        timeouts = await con.fetchval(
            "SELECT count(*) FROM post_out_attempts WHERE lead_id = ANY($1::uuid[]) "
            "AND reason = 'timed out after 300 ms'",
            leads,
        )
    assert timeouts > 0


async def test_rejection_is_parsed_and_not_retried(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(sequence=["reject"], reject_reason="email is on the suppression list")
    await api.postout.CreateDestination(destination_request(source_id, crm.url))
    [lead] = await seed_leads(pool, api.account.account_id, source_id, 1)
    await eventually(lambda: _status_is(pool, [lead], "REJECTED_BY_DESTINATION"), what="rejected")
    [post_out] = (await api.postout.ListPostOuts(validation_pb2.ListPostOutsRequest(lead_id=str(lead)))).post_outs
    assert post_out.status == validation_pb2.POST_OUT_STATUS_REJECTED_BY_DESTINATION
    assert (post_out.last_error, post_out.attempts, post_out.last_status_code) == (
        "email is on the suppression list",
        1,
        200,
    )
    logs = await api.postout.ListPostOutAttempts(validation_pb2.ListPostOutAttemptsRequest(lead_id=str(lead)))
    assert [(a.outcome, a.reason) for a in logs.attempts] == [("rejected", "email is on the suppression list")]
    assert (await crm.stats())["received"] == 1
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT post_out_status FROM leads WHERE lead_id = $1", lead) == (
            "REJECTED_BY_DESTINATION"
        )
        events = await con.fetch("SELECT type, detail FROM lead_events WHERE lead_id = $1", lead)
    assert [e["type"] for e in events] == ["post_rejected"]
    assert events[0]["detail"].endswith(": email is on the suppression list")


async def test_unparsable_answer_is_an_error_kept_raw_and_retried(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(sequence=["garbage"])
    await api.postout.CreateDestination(destination_request(source_id, crm.url))
    [lead] = await seed_leads(pool, api.account.account_id, source_id, 1)
    await eventually(lambda: all_posted(pool, [lead]), what="posted after garbage")
    logs = await api.postout.ListPostOutAttempts(validation_pb2.ListPostOutAttemptsRequest(lead_id=str(lead)))
    assert [(a.attempt, a.outcome, a.reason) for a in logs.attempts] == [
        (1, "retry", "HTTP 200: the response is not JSON"),
        (2, "posted", ""),
    ]
    assert logs.attempts[0].response_excerpt == "<html><body>502 upstream hiccup</body></html>"


async def test_client_errors_fail_without_retry_and_retry_post_outs_requeues(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(sequence=["fail", "fail"], fail_status=422)
    await api.postout.CreateDestination(destination_request(source_id, crm.url))
    leads = await seed_leads(pool, api.account.account_id, source_id, 2)
    await eventually(lambda: _status_is(pool, leads, "FAILED"), what="2 failed")
    assert (await crm.stats())["received"] == 2
    async with pool.acquire() as con:
        assert {
            r["post_out_status"]
            for r in await con.fetch("SELECT post_out_status FROM leads WHERE lead_id = ANY($1::uuid[])", leads)
        } == {"FAILED"}
    [failed] = (await api.postout.ListPostOuts(validation_pb2.ListPostOutsRequest(lead_id=str(leads[0])))).post_outs
    assert (failed.last_status_code, failed.last_error) == (422, "HTTP 422: service unavailable")

    one = await api.postout.RetryPostOuts(validation_pb2.RetryPostOutsRequest(lead_ids=[str(leads[0])]))
    assert one.requeued == 1
    await eventually(lambda: all_posted(pool, leads[:1]), what="first retried")
    rest = await api.postout.RetryPostOuts(
        validation_pb2.RetryPostOutsRequest(all_failed=True, source_id=str(source_id))
    )
    assert rest.requeued == 1
    await eventually(lambda: all_posted(pool, leads), what="all retried")
    assert (await crm.stats())["created"] == 2
    err = await rpc_error(api.postout.RetryPostOuts(validation_pb2.RetryPostOutsRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_circuit_breaker_pauses_and_resume_delivers(api: Api, pool: asyncpg.Pool, servers, sandbox) -> None:
    threshold = servers.settings.postout_breaker_threshold
    source_id = await seed_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    await crm.set(fail_rate=1.0)
    dest = await api.postout.CreateDestination(destination_request(source_id, crm.url))
    leads = await seed_leads(pool, api.account.account_id, source_id, threshold + 20)

    async def paused() -> validation_pb2.Destination | None:
        [d] = (
            await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=str(source_id)))
        ).destinations
        return d if d.state == validation_pb2.DESTINATION_STATE_PAUSED else None

    d = await eventually(paused, what="paused")
    assert d.consecutive_failures >= threshold and d.paused_until.seconds > 0
    assert "POSTED" not in await statuses(pool, leads)

    await crm.set(fail_rate=0.0)
    resumed = await api.postout.ResumeDestination(
        validation_pb2.ResumeDestinationRequest(destination_id=dest.destination_id)
    )
    assert resumed.state == validation_pb2.DESTINATION_STATE_ACTIVE and resumed.consecutive_failures == 0
    await api.postout.RetryPostOuts(validation_pb2.RetryPostOutsRequest(lead_ids=[str(x) for x in leads]))
    await eventually(lambda: all_posted(pool, leads), within=30, what="all posted after resume")
    stats = await crm.stats()
    assert stats["created"] == len(leads) and stats["doubled"] == []


async def test_test_leads_only_go_to_destinations_that_take_them(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_source(pool, api.account.account_id)
    skips, takes = Crm(sandbox.url), Crm(sandbox.url)
    await api.postout.CreateDestination(destination_request(source_id, skips.url))
    [test_lead] = await seed_leads(pool, api.account.account_id, source_id, 1, is_test=True)
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT post_out_status FROM leads WHERE lead_id = $1", test_lead) == "NOT_POSTED"
        assert await con.fetchval("SELECT count(*) FROM post_outs WHERE lead_id = $1", test_lead) == 0

    await api.postout.CreateDestination(destination_request(source_id, takes.url, post_test_leads=True))
    [second] = await seed_leads(pool, api.account.account_id, source_id, 1, is_test=True)
    await eventually(lambda: all_posted(pool, [second]), what="test lead posted")
    assert ((await skips.stats())["received"], (await takes.stats())["created"]) == (0, 1)


async def _status_is(pool: asyncpg.Pool, leads: list, status: str) -> bool:
    return (await statuses(pool, leads)) == {status: len(leads)}
