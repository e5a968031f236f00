"""SetFeedbackConfig / stage mapping / RecordStageChanges against the real server and database."""

import grpc

from feedback_service.capi_payload import WINDOW
from leadrelay.crypto import SecretBox
from leadrelay.v1 import feedback_pb2
from tests.feedback_service import support as s
from tests.harness import new_account, rpc_error


async def test_config_token_is_encrypted_at_rest_and_never_returned(api, pool, servers):
    saved = await api.feedback.SetFeedbackConfig(s.config("123456789012345", token="EAAB-secret", test_event_code="T1"))
    assert saved.access_token == "" and saved.has_access_token
    assert (saved.dataset_id, saved.lead_event_source, saved.test_event_code) == ("123456789012345", "Acme CRM", "T1")
    assert saved.mode == feedback_pb2.DISPATCH_MODE_IMMEDIATE
    assert (saved.time_zone, saved.phone_region) == ("UTC", "US")
    stored = await pool.fetchval(
        "SELECT access_token FROM feedback_configs WHERE account_id = $1", api.account.account_id
    )
    assert b"EAAB-secret" not in bytes(stored)
    assert SecretBox(servers.settings.secret_key).decrypt(stored) == "EAAB-secret"
    # Updating without a token keeps the stored one.
    again = await api.feedback.SetFeedbackConfig(
        feedback_pb2.FeedbackConfig(dataset_id="123456789012345", lead_event_source="HubSpot", **s.daily_not_due())
    )
    assert again.has_access_token and again.lead_event_source == "HubSpot"
    assert again.mode == feedback_pb2.DISPATCH_MODE_DAILY
    got = await api.feedback.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest())
    assert got == again
    assert (
        SecretBox(servers.settings.secret_key).decrypt(
            await pool.fetchval(
                "SELECT access_token FROM feedback_configs WHERE account_id = $1", api.account.account_id
            )
        )
        == "EAAB-secret"
    )


async def test_config_bad_input_names_the_field(api):
    cases = [
        (feedback_pb2.FeedbackConfig(dataset_id="abc", access_token="t", lead_event_source="CRM"), "dataset_id"),
        (feedback_pb2.FeedbackConfig(dataset_id="1", access_token="t", lead_event_source=" "), "lead_event_source"),
        (feedback_pb2.FeedbackConfig(dataset_id="1", lead_event_source="CRM"), "access_token"),
        (
            feedback_pb2.FeedbackConfig(dataset_id="1", access_token="t", lead_event_source="CRM", daily_hour=24),
            "daily_hour",
        ),
        (
            feedback_pb2.FeedbackConfig(
                dataset_id="1", access_token="t", lead_event_source="CRM", time_zone="Mars/Olympus"
            ),
            "time_zone",
        ),
        (
            feedback_pb2.FeedbackConfig(dataset_id="1", access_token="t", lead_event_source="CRM", phone_region="XX"),
            "phone_region",
        ),
    ]
    for request, field in cases:
        err = await rpc_error(api.feedback.SetFeedbackConfig(request))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith(field), err.details()


async def test_stage_mapping_round_trip_and_bad_stage(api):
    mapping = {
        "New": feedback_pb2.META_STAGE_LEAD,
        "SQL": feedback_pb2.META_STAGE_SALES_OPPORTUNITY,
        "Won": feedback_pb2.META_STAGE_CONVERTED,
    }
    saved = await api.feedback.SetStageMapping(feedback_pb2.SetStageMappingRequest(stages=mapping))
    assert dict(saved.stages) == mapping
    assert dict((await api.feedback.GetStageMapping(feedback_pb2.GetStageMappingRequest())).stages) == mapping
    err = await rpc_error(
        api.feedback.SetStageMapping(
            feedback_pb2.SetStageMappingRequest(stages={"Odd": feedback_pb2.META_STAGE_UNSPECIFIED})
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "stages['Odd']" in err.details()


async def test_records_each_good_change_and_an_error_per_bad_item(api, pool):
    account = api.account.account_id
    await api.feedback.SetStageMapping(
        feedback_pb2.SetStageMappingRequest(
            stages={"New": feedback_pb2.META_STAGE_LEAD, "Won": feedback_pb2.META_STAGE_CONVERTED}
        )
    )
    fb = await s.source(pool, account)
    li = await s.source(pool, account, "LINKEDIN")
    lead_a, _ = await s.lead(pool, account, fb, captured_at=s.ago(hours=3))
    lead_b, pid_b = await s.lead(pool, account, fb, captured_at=s.ago(hours=3))
    lead_li, _ = await s.lead(pool, account, li, platform_lead_id="urn:li:leadGenFormResponse:abc")
    other = await new_account(pool)
    other_lead, _ = await s.lead(pool, other.account_id, await s.source(pool, other.account_id))
    when = s.ago(hours=1)
    response = await api.feedback.RecordStageChanges(
        feedback_pb2.RecordStageChangesRequest(
            changes=[
                s.change(lead_id=lead_a, stage="New", at=when),  # 0 ok
                s.change(platform_lead_id=pid_b, stage="Won", at=when),  # 1 ok, by Meta id
                s.change(lead_id=lead_li, stage="New", at=when),  # 2 ok, NOT_SENDABLE
                s.change(lead_id=lead_a, stage="Nurture", at=when),  # 3 ok, unmapped
                s.change(lead_id=lead_a, stage="New", at=when),  # 4 repeat of 0
                s.change(lead_id="00000000-0000-0000-0000-000000000001", stage="New"),  # 5 unknown lead
                s.change(lead_id="not-a-uuid", stage="New"),  # 6 malformed
                s.change(platform_lead_id="999999999999999", stage="New"),  # 7 unknown platform id
                s.change(lead_id=lead_a, stage="Won", at=s.ago(minutes=-10)),  # 8 future
                s.change(lead_id=lead_a, stage="Won", at=s.ago(hours=5)),  # 9 before capture
                s.change(lead_id=lead_a, stage="  "),  # 10 blank stage
                s.change(lead_id=other_lead, stage="New"),  # 11 another account's
            ]
        )
    )
    assert response.recorded == 4 and response.duplicates == 1
    messages = {e.index: e.message for e in response.errors}
    assert sorted(messages) == [5, 6, 7, 8, 9, 10, 11]
    assert messages[5] == "lead 00000000-0000-0000-0000-000000000001 not found"
    assert messages[6] == "lead_id 'not-a-uuid' is not a LeadRelay lead id (a UUID)"
    assert messages[7] == "no lead with platform_lead_id '999999999999999'"
    assert "is in the future" in messages[8]
    assert "before the lead was captured" in messages[9]
    assert messages[10] == "crm_stage is empty"
    assert messages[11] == f"lead {other_lead} belongs to another account"
    assert [e.platform_lead_id for e in response.errors if e.index == 7] == ["999999999999999"]

    rows = [(r["lead_id"], r["crm_stage"], r["meta_stage"], r["status"]) for r in await s.events(pool, account)]
    assert rows == [
        (lead_a, "New", "LEAD", "PENDING"),
        (lead_b, "Won", "CONVERTED", "PENDING"),
        (lead_li, "New", "LEAD", "NOT_SENDABLE"),
        (lead_a, "Nurture", "NOT_ASSIGNED", "PENDING"),
    ]
    # The identical repeat, sent again later, is still one change.
    again = await api.feedback.RecordStageChanges(
        feedback_pb2.RecordStageChangesRequest(changes=[s.change(lead_id=lead_a, stage="New", at=when)])
    )
    assert (again.recorded, again.duplicates, list(again.errors)) == (0, 1, [])

    status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
    assert list(status.unmapped_stages) == ["Nurture"]
    by_status = {c.status: c.count for c in status.by_status}
    assert by_status[feedback_pb2.FEEDBACK_EVENT_STATUS_PENDING] == 3
    assert by_status[feedback_pb2.FEEDBACK_EVENT_STATUS_NOT_SENDABLE] == 1
    by_stage = {c.stage: c.count for c in status.by_stage}
    assert by_stage[feedback_pb2.META_STAGE_LEAD] == 2 and by_stage[feedback_pb2.META_STAGE_NOT_ASSIGNED] == 1

    # Mapping the stage later re-maps the events not sent yet, and it leaves the unmapped list.
    await api.feedback.SetStageMapping(
        feedback_pb2.SetStageMappingRequest(
            stages={
                "New": feedback_pb2.META_STAGE_LEAD,
                "Won": feedback_pb2.META_STAGE_CONVERTED,
                "Nurture": feedback_pb2.META_STAGE_MARKETING_QUALIFIED_LEAD,
            }
        )
    )
    assert [r["meta_stage"] for r in await s.events(pool, account)][3] == "MARKETING_QUALIFIED_LEAD"
    status = await api.feedback.GetFeedbackStatus(feedback_pb2.GetFeedbackStatusRequest())
    assert list(status.unmapped_stages) == []


async def test_a_change_already_out_of_the_window_is_expired_with_the_reason(api, pool):
    account = api.account.account_id
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb, captured_at=s.ago(days=10))
    response = await api.feedback.RecordStageChanges(
        feedback_pb2.RecordStageChangesRequest(changes=[s.change(lead_id=lead_id, stage="New", at=s.ago(days=8))])
    )
    assert response.recorded == 1
    [row] = await s.events(pool, account)
    assert row["status"] == "EXPIRED" and "7-day window" in row["reason"]
    assert WINDOW.days == 7


async def test_empty_batch_is_invalid_argument(api):
    err = await rpc_error(api.feedback.RecordStageChanges(feedback_pb2.RecordStageChangesRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "changes: empty batch: send at least one stage change"


async def test_facebook_lead_with_a_malformed_meta_id_is_stored_not_sendable(api, pool):
    account = api.account.account_id
    fb = await s.source(pool, account)
    lead_id, _ = await s.lead(pool, account, fb, platform_lead_id="l:12345")
    await api.feedback.RecordStageChanges(feedback_pb2.RecordStageChangesRequest(changes=[s.change(lead_id=lead_id)]))
    [row] = await s.events(pool, account)
    assert (row["status"], row["reason"]) == ("NOT_SENDABLE", "Meta lead id 'l:12345' is not a 15-16 digit number")
