"""LinkedIn leads' stage changes to the sandbox's LinkedIn Conversions API over real HTTP: the wire
format, the 90-day limit, conversion rules per stage, bisection, retries and the token pause."""

import hashlib
import secrets
from typing import Any

import aiohttp
import grpc

from feedback_service.linkedin_client import classify
from feedback_service.linkedin_payload import request_body
from leadrelay.v1 import feedback_pb2
from tests.feedback_service import support as s
from tests.harness import rpc_error
from tests.waiting import eventually

QUALIFIED = "urn:lla:llaPartnerConversion:7001"
WON = "urn:lla:llaPartnerConversion:7002"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class LinkedInConversions:
    """The sandbox's LinkedIn Conversions API control endpoints for one access token."""

    def __init__(self, sandbox_url: str) -> None:
        self.base = f"{sandbox_url}/linkedin/_control/conversions"
        self.token = "li-" + secrets.token_hex(8)

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as session, session.request(method, self.base + path, **kw) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def allow(self, *rules: str) -> None:
        await self._call("POST", "/rules", json={"access_token": self.token, "rules": list(rules)})

    async def fail_next(self, status: int, count: int = 1) -> None:
        await self._call("POST", "/errors", json={"access_token": self.token, "status": status, "count": count})

    async def record(self) -> dict[str, Any]:
        return await self._call("GET", "", params={"access_token": self.token})


async def setup_linkedin(api, sandbox, rules=None):
    li = LinkedInConversions(sandbox.url)
    await li.allow(QUALIFIED, WON)
    await api.feedback.SetLinkedInConversionsConfig(
        feedback_pb2.LinkedInConversionsConfig(
            access_token=li.token, conversion_rules=rules or {"Qualified": QUALIFIED, "Closed Won": "7002"}
        )
    )
    return li


async def record(api, *changes):
    return await api.feedback.RecordStageChanges(feedback_pb2.RecordStageChangesRequest(changes=list(changes)))


async def linkedin_lead(pool, account, source, **kw):
    return await s.lead(pool, account, source, platform_lead_id=f"{secrets.randbelow(10**9)}-1", **kw)


async def settled(pool, account, n):
    rows = await s.events(pool, account)
    return rows if len(rows) == n and all(r["status"] != "PENDING" for r in rows) else None


async def test_a_linkedin_stage_change_reaches_linkedin_with_the_documented_shape(api, pool, sandbox):
    account = api.account.account_id
    li = await setup_linkedin(api, sandbox)
    source = await s.source(pool, account, "LINKEDIN")
    lead_id, pid = await linkedin_lead(pool, account, source, fields={"email": " Ana@Example.com ", "phone": "1"})
    when = s.ago(minutes=20).replace(microsecond=0)
    await record(api, s.change(lead_id=lead_id, stage="qualified", at=when))

    [row] = await eventually(lambda: settled(pool, account, 1))
    assert (row["status"], row["channel"], row["attempts"]) == ("SENT", "LINKEDIN", 1)
    got = await li.record()
    assert got["events"] == [
        {
            "conversion": QUALIFIED,
            "conversionHappenedAt": int(when.timestamp()) * 1000,
            "user": {
                "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("ana@example.com")}],
                "lead": f"urn:li:leadGenFormResponse:{pid}",
            },
            "eventId": f"lr-{row['event_id']}",
        }
    ]
    assert got["requests"] == [{"events": 1, "status": 200}]
    status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
    assert status.HasField("linkedin_last_sent_at") and not status.linkedin_paused


async def test_a_change_older_than_90_days_is_never_sent_to_linkedin(api, pool, sandbox):
    account = api.account.account_id
    li = await setup_linkedin(api, sandbox)
    source = await s.source(pool, account, "LINKEDIN")
    old_lead, _ = await linkedin_lead(pool, account, source, captured_at=s.ago(days=100))
    new_lead, _ = await linkedin_lead(pool, account, source)
    await record(
        api,
        s.change(lead_id=old_lead, stage="Qualified", at=s.ago(days=91)),
        s.change(lead_id=new_lead, stage="Qualified"),
    )
    rows = await eventually(lambda: settled(pool, account, 2))
    assert [r["status"] for r in rows] == ["EXPIRED", "SENT"]
    assert "90-day window" in rows[0]["reason"]
    assert [e["conversionHappenedAt"] for e in (await li.record())["events"]] == [
        int(rows[1]["changed_at"].timestamp() * 1000)
    ]


async def test_a_stage_without_a_conversion_rule_is_not_sendable_naming_the_stage(api, pool, sandbox):
    account = api.account.account_id
    await setup_linkedin(api, sandbox)
    source = await s.source(pool, account, "LINKEDIN")
    lead_id, _ = await linkedin_lead(pool, account, source)
    await record(api, s.change(lead_id=lead_id, stage="Demo booked"))
    [row] = await eventually(lambda: settled(pool, account, 1))
    assert row["status"] == "NOT_SENDABLE"
    assert row["reason"] == "stage 'Demo booked' has no LinkedIn conversion rule (SetLinkedInConversionsConfig)"


async def test_a_refused_batch_is_bisected_until_the_bad_event_is_alone(api, pool, sandbox):
    account = api.account.account_id
    unknown_rule = "urn:lla:llaPartnerConversion:7999"  # mapped, but LinkedIn does not know it
    li = await setup_linkedin(api, sandbox, {"Qualified": QUALIFIED, "Lost": unknown_rule})
    source = await s.source(pool, account, "LINKEDIN")
    leads = [await linkedin_lead(pool, account, source) for _ in range(6)]
    await record(
        api,
        *[
            s.change(lead_id=lead_id, stage="Lost" if i == 4 else "Qualified", at=s.ago(minutes=30 - i))
            for i, (lead_id, _) in enumerate(leads)
        ],
    )
    rows = await eventually(lambda: settled(pool, account, 6))
    assert [r["status"] for r in rows] == ["SENT"] * 4 + ["FAILED", "SENT"]
    assert rows[4]["reason"] == (
        "(HTTP 422) /elements/0/conversion urn:lla:llaPartnerConversion:7999 does not exist or is not "
        "accessible with this token"
    )
    got = await li.record()
    # [0-5] refused → [0-2] sent, [3-5] refused → [3] sent, [4-5] refused → [4] refused alone, [5] sent.
    assert [(r["events"], r["status"]) for r in got["requests"]] == [
        (6, 422),
        (3, 200),
        (3, 422),
        (1, 200),
        (2, 422),
        (1, 422),
        (1, 200),
    ]
    assert len(got["events"]) == 5


async def test_linkedin_throttling_is_retried_and_a_refused_token_pauses_until_a_new_one(api, pool, sandbox):
    account = api.account.account_id
    li = await setup_linkedin(api, sandbox)
    source = await s.source(pool, account, "LINKEDIN")
    lead_id, _ = await linkedin_lead(pool, account, source)
    await li.fail_next(429)
    await record(api, s.change(lead_id=lead_id, stage="Qualified"))

    async def deferred():
        rows = await s.events(pool, account)
        return rows if rows and rows[0]["attempts"] == 1 else None

    [row] = await eventually(deferred)
    assert row["status"] == "PENDING" and row["reason"].startswith("will retry: (HTTP 429)")
    flushed = await api.feedback.Flush(feedback_pb2.FlushRequest())  # now, not after the backoff
    assert flushed.sent == 1
    assert [r["status"] for r in (await li.record())["requests"]] == [429, 200]

    await li.fail_next(401)
    other, _ = await linkedin_lead(pool, account, source)
    await record(api, s.change(lead_id=other, stage="Closed Won"))

    async def paused():
        status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
        return status if status.linkedin_paused else None

    status = await eventually(paused)
    assert status.linkedin_paused_reason.startswith("LinkedIn refused the access token: (HTTP 401)")
    assert not status.paused  # Meta's dispatch is another matter
    await api.feedback.SetLinkedInConversionsConfig(
        feedback_pb2.LinkedInConversionsConfig(access_token=li.token, conversion_rules={"Closed Won": WON})
    )
    rows = await eventually(lambda: settled(pool, account, 2))
    assert [r["status"] for r in rows] == ["SENT", "SENT"]


def test_request_body_refuses_more_than_5000_events():
    assert len(request_body([{}] * 5000)["elements"]) == 5000
    try:
        request_body([{}] * 5001)
    except ValueError as exc:
        assert "at most 5000" in str(exc)
    else:
        raise AssertionError("5,001 events were accepted")


def test_a_2xx_with_an_element_not_created_is_a_refused_batch():
    answer = classify(200, {"elements": [{"status": 201}, {"status": 422, "message": "bad conversion"}]})
    assert (answer.kind, answer.message) == ("rejected", "elements[1]: (HTTP 422) bad conversion")
    assert classify(200, {"elements": [{"status": 201}]}).kind == "ok"
    assert classify(401, {"status": 401, "message": "expired"}).kind == "token"
    assert classify(429, {}).kind == "transient"


async def test_an_invalid_conversion_rule_is_refused_naming_the_stage(api):
    config = feedback_pb2.LinkedInConversionsConfig(access_token="t", conversion_rules={"Won": "urn:li:foo:1"})
    error = await rpc_error(api.feedback.SetLinkedInConversionsConfig(config))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "conversion_rules['Won']" in error.details()
    saved = await api.feedback.SetLinkedInConversionsConfig(
        feedback_pb2.LinkedInConversionsConfig(access_token="t", conversion_rules={"Won": "42"})
    )
    assert dict(saved.conversion_rules) == {"Won": "urn:lla:llaPartnerConversion:42"} and saved.has_access_token
    assert saved.access_token == ""


async def test_linkedin_reads_the_email_from_the_accounts_configured_columns(api, pool, sandbox):
    account = api.account.account_id
    await api.feedback.SetFeedbackConfig(
        s.config(s.dataset_id(), identifier_columns=[feedback_pb2.IdentifierColumns(key="em", columns=["Work mail"])])
    )
    li = await setup_linkedin(api, sandbox)
    source = await s.source(pool, account, "LINKEDIN")
    fields = {"email": "home@example.com", "Work mail": "Ana@Acme.example"}
    lead_id, _ = await linkedin_lead(pool, account, source, fields=fields)
    await record(api, s.change(lead_id=lead_id, stage="Qualified"))
    await eventually(lambda: settled(pool, account, 1))
    [event] = (await li.record())["events"]
    assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": sha("ana@acme.example")}]
