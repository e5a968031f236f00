"""LinkedIn lead notifications on the real ingest HTTP port: the challenge, signatures, the fetch of
the response, and answers joined to the exact form version."""

import hashlib
import hmac
import json

from tests.ingest_service.connector_support import (
    answers_of,
    inbox_rows,
    judged,
    leads_of,
    linkedin_source,
    post,
)
from tests.waiting import eventually


def _hook(servers) -> str:
    return f"{servers.settings.public_base_url}/webhooks/linkedin"


async def test_the_sandbox_validates_our_webhook_with_the_challenge(web, servers, sandbox):
    assert (await post(web, f"{sandbox.url}/linkedin/_control/challenge", {"url": _hook(servers)}))["validated"]
    async with web.get(_hook(servers), params={"challengeCode": "890e4665"}) as reply:
        body = await reply.json()
    expected = hmac.new(b"test-linkedin-secret", b"890e4665", hashlib.sha256).hexdigest()
    assert body == {"challengeCode": "890e4665", "challengeResponse": expected}


async def test_a_notified_lead_is_joined_to_the_version_it_was_submitted_on(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers))
    form_id = str(li.form["id"])
    questions = li.form["content"]["questions"]
    size_q = next(q for q in questions if q["name"] == "companySize")
    # Version 2 renames every option; a lead submitted on version 1 must read version 1's texts.
    v2 = json.loads(json.dumps(questions))
    for q in v2:
        if q["name"] == "companySize":
            for option in q["questionDetails"]["multipleChoiceQuestionDetails"]["options"]:
                option["text"] = {"localized": {"en_US": f"v2 {option['id']}"}}
    await post(web, f"{sandbox.url}/linkedin/_control/forms/{form_id}/versions", {"questions": v2})
    by_field = {q.get("predefinedField"): q["questionId"] for q in questions}
    answers = [
        {"questionId": by_field["EMAIL"], "answerDetails": {"textQuestionAnswer": {"answer": "kev@example.com"}}},
        {"questionId": by_field["JOB_FUNCTION"], "answerDetails": {"textQuestionAnswer": {"answer": "Ingeniería"}}},
        {"questionId": size_q["questionId"], "answerDetails": {"multipleChoiceAnswer": {"options": [2]}}},
    ]
    ids = (
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/leads",
            {"form_id": form_id, "version": 1, "answers": answers, "test_lead": True},
        )
    )["ids"]
    [lead] = await judged(pool, li.source_id, 1)
    assert lead["platform_lead_id"] == ids[0] and lead["is_test"] is True
    assert lead["platform_form_id"] == form_id
    assert answers_of(lead) == {
        "email": ["kev@example.com"],
        "job_function": ["Ingeniería"],
        "companySize": ["51-200"],
        "utm_source": ["linkedin"],
        "consent_0": answers_of(lead)["consent_0"],
    }
    assert lead["platform_context"]["form_version"] == "1"
    assert "join_problems" not in lead["platform_context"]

    async def done():
        rows = await inbox_rows(pool, "LINKEDIN", li.account_id)
        return rows if rows and rows[0]["status"] == "DONE" else []

    [row] = await eventually(done)  # marked just after intake returns
    assert row["status"] == "DONE"
    assert row["dedupe_key"] == f"{ids[0]}:CREATED:{row['payload']['occurredAt']}"  # response, action, occurredAt


async def test_an_answer_the_version_lacks_is_kept_with_the_reason(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers))
    answers = [{"questionId": 424242, "answerDetails": {"textQuestionAnswer": {"answer": "stray"}}}]
    ids = (
        await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"]), "answers": answers})
    )["ids"]
    [lead] = await judged(pool, li.source_id, 1)
    assert lead["platform_lead_id"] == ids[0]
    assert answers_of(lead)["question_424242"] == ["stray"]
    assert lead["platform_context"]["join_problems"] == (
        f"answer to question 424242 which form version {li.form['id']} v1 does not have"
    )


async def test_duplicate_notifications_and_forged_ones(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers), duplicate_rate=1.0, duplicates=4)
    ids = (await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"]), "count": 6}))[
        "ids"
    ]
    await post(web, f"{sandbox.url}/linkedin/_control/drain")
    rows = await judged(pool, li.source_id, 6)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    body = json.dumps(
        {
            "type": "LEAD_ACTION",
            "leadAction": "CREATED",
            "leadGenFormResponse": "urn:li:leadGenFormResponse:forged-1",
            "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{li.account_id}"},
        }
    ).encode()
    wrong = hmac.new(b"guess", b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    for headers in ({"X-LI-Signature": wrong}, {}):
        async with web.post(_hook(servers), data=body, headers=headers) as reply:
            assert reply.status == 403
    assert all(r["dedupe_key"] != "forged-1:CREATED" for r in await inbox_rows(pool, "LINKEDIN", li.account_id))
    assert len(await leads_of(pool, li.source_id)) == 6


async def test_a_response_deleted_before_the_fetch_is_failed_with_the_reason(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers), delay_ms=300)
    ids = (await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"])}))["ids"]
    async with web.delete(f"{sandbox.url}/linkedin/_control/leads/{ids[0]}?notify=true") as reply:
        assert reply.status == 200

    async def settled():
        rows = await inbox_rows(pool, "LINKEDIN", li.account_id)
        return rows if len(rows) == 2 and all(r["status"] != "PENDING" for r in rows) else []

    rows = {r["dedupe_key"].rsplit(":", 1)[0]: r for r in await eventually(settled)}
    created, deleted = rows[f"{ids[0]}:CREATED"], rows[f"{ids[0]}:DELETED"]
    assert created["status"] == "FAILED" and "no longer exists on LinkedIn" in created["reason"]
    assert deleted["status"] == "DONE" and "member deleted" in deleted["reason"]
    assert await leads_of(pool, li.source_id) == []
