"""ValidateLeads, EvaluateLeads, criteria versions and dispositions through the real servers."""

from __future__ import annotations

import grpc

from leadrelay.capture import dispositions
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.capture_support import STANDARD_RULES, lead, new_source, rule, set_rules

ACCEPTED = common_pb2.LEAD_STATUS_ACCEPTED
REJECTED = common_pb2.LEAD_STATUS_REJECTED


async def _events(api, lead_id):
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))
    return got, [(e.type, e.detail) for e in got.events]


async def test_rejected_leads_are_rejudged_under_new_criteria_and_accepted_ones_never(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    bad = await api.ingest.SubmitLead(lead(source.source_id, "r-1", email="a@example.com", job_function="Legal"))
    good = await api.ingest.SubmitLead(lead(source.source_id, "r-2", email="b@example.com", job_function="Sales"))
    assert (bad.status, bad.disposition_code) == (REJECTED, "REJECT_LEAD_INVALID_LIST_VALUE")
    relaxed = list(STANDARD_RULES)
    relaxed[4] = rule("job_function", picklist=validation_pb2.Picklist(allowed=["Engineering", "Sales", "Legal"]))
    criteria = await set_rules(api, source.source_id, relaxed)
    assert criteria.version == 2

    response = await api.validation.ValidateLeads(
        validation_pb2.ValidateLeadsRequest(lead_ids=[bad.lead_id, good.lead_id])
    )
    assert [(o.lead_id, o.status, o.disposition_code) for o in response.outcomes] == [
        (bad.lead_id, ACCEPTED, ""),
        (good.lead_id, ACCEPTED, ""),
    ]
    stored_bad, bad_events = await _events(api, bad.lead_id)
    assert stored_bad.criteria_version == 2 and stored_bad.custom_reason == ""
    assert bad_events == [
        ("received", "SubmitLead"),
        ("validated", "REJECTED REJECT_LEAD_INVALID_LIST_VALUE (criteria v1)"),
        ("validated", "ACCEPTED (criteria v2)"),
    ]
    stored_good, good_events = await _events(api, good.lead_id)
    assert stored_good.criteria_version == 1  # accepted under v1, never judged again
    assert good_events == [("received", "SubmitLead"), ("validated", "ACCEPTED (criteria v1)")]


async def test_validate_leads_unknown_and_foreign_ids(api, pool, servers):
    missing = "00000000-0000-4000-8000-0000000000aa"
    err = await rpc_error(api.validation.ValidateLeads(validation_pb2.ValidateLeadsRequest(lead_ids=[missing])))
    assert err.code() == grpc.StatusCode.NOT_FOUND and missing in err.details()
    other = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await new_source(other)
        their_lead = await other.ingest.SubmitLead(lead(theirs.source_id, "x", email="x@example.com"))
        err = await rpc_error(
            api.validation.ValidateLeads(validation_pb2.ValidateLeadsRequest(lead_ids=[their_lead.lead_id]))
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED and their_lead.lead_id in err.details()
        err = await rpc_error(
            api.validation.GetAcceptanceCriteria(
                validation_pb2.GetAcceptanceCriteriaRequest(source_id=theirs.source_id)
            )
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        err = await rpc_error(
            api.validation.EvaluateLeads(validation_pb2.EvaluateLeadsRequest(source_id=theirs.source_id))
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await other.close()


async def test_switched_off_source_stores_and_rejects_then_redrives_when_switched_on(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    await api.ingest.UpdateSource(ingest_pb2.UpdateSourceRequest(source_id=source.source_id, enabled=False))
    off = await api.ingest.SubmitLead(lead(source.source_id, "off-1", email="off@example.com"))
    assert (off.status, off.disposition_code) == (REJECTED, "REJECT_LEAD_SOURCE_DISABLED")
    assert off.custom_reason == "source 'Events' is switched off"
    updated = await api.ingest.UpdateSource(ingest_pb2.UpdateSourceRequest(source_id=source.source_id, enabled=True))
    assert updated.enabled
    got, events = await _events(api, off.lead_id)
    assert (got.status, got.disposition_code) == (ACCEPTED, "")
    assert events[-1] == ("validated", "ACCEPTED (criteria v1)")


async def test_switched_off_form_rejects_its_leads_only_and_redrives_on_switch_on(api):
    source = await new_source(api)
    form = await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(
            source_id=source.source_id, platform_form_id="fb-form-9", name="Webinar", enabled=False
        )
    )
    off = await api.ingest.SubmitLead(lead(source.source_id, "f-1", form_id="fb-form-9", email="f@example.com"))
    on = await api.ingest.SubmitLead(lead(source.source_id, "f-2", email="g@example.com"))
    assert (off.status, off.disposition_code, off.custom_reason) == (
        REJECTED,
        "REJECT_LEAD_SOURCE_DISABLED",
        "form 'fb-form-9' is switched off",
    )
    assert on.status == ACCEPTED
    await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(source_id=source.source_id, platform_form_id="fb-form-9", enabled=True)
    )
    got, _ = await _events(api, off.lead_id)
    assert got.status == ACCEPTED and got.form_id == form.form_id and got.platform_form_id == "fb-form-9"


async def test_duplicate_rule_sees_stored_leads_and_earlier_rows_of_the_batch(api):
    source = await new_source(api)
    await set_rules(
        api,
        source.source_id,
        [
            rule("email", email=validation_pb2.EmailCheck()),
            rule(duplicate=validation_pb2.Duplicate(window_days=30, columns=["email"])),
        ],
    )
    first = await api.ingest.SubmitLead(lead(source.source_id, "d-1", email="Dup@Example.com"))
    batch = await api.ingest.SubmitLeads(
        ingest_pb2.SubmitLeadsRequest(
            leads=[
                lead(source.source_id, "d-2", email="dup@example.com"),
                lead(source.source_id, "d-3", email="new@example.com"),
                lead(source.source_id, "d-4", email="NEW@example.com"),
            ]
        )
    )
    assert first.status == ACCEPTED
    got = [(o.status, o.disposition_code) for o in batch.outcomes]
    assert got == [(REJECTED, "REJECT_LEAD_DUPLICATE"), (ACCEPTED, ""), (REJECTED, "REJECT_LEAD_DUPLICATE")]
    assert batch.outcomes[0].custom_reason == (
        f'email: "dup@example.com" was already received within 30 days (lead {first.lead_id})'
    )
    assert batch.outcomes[2].custom_reason.endswith(f"(lead {batch.outcomes[1].lead_id})")
    # Re-judging the first lead does not make it a duplicate of the later ones.
    again = await api.validation.ValidateLeads(
        validation_pb2.ValidateLeadsRequest(lead_ids=[batch.outcomes[1].lead_id])
    )
    assert again.outcomes[0].status == ACCEPTED
    rejudged = await api.validation.ValidateLeads(
        validation_pb2.ValidateLeadsRequest(lead_ids=[batch.outcomes[2].lead_id])
    )
    assert rejudged.outcomes[0].disposition_code == "REJECT_LEAD_DUPLICATE"
    # A dry run sees the stored leads too.
    dry = await api.validation.EvaluateLeads(
        validation_pb2.EvaluateLeadsRequest(
            source_id=source.source_id,
            rows=[
                validation_pb2.FieldRow(fields={"email": "dup@EXAMPLE.com"}),
                validation_pb2.FieldRow(fields={"email": "fresh@example.com"}),
                validation_pb2.FieldRow(fields={"email": "fresh@example.com"}),
            ],
        )
    )
    assert [o.disposition_code for o in dry.outcomes] == ["REJECT_LEAD_DUPLICATE", "", "REJECT_LEAD_DUPLICATE"]


async def test_account_scoped_duplicates_span_sources(api):
    rules = [
        rule(
            duplicate=validation_pb2.Duplicate(
                window_days=7, columns=["email", "phone"], scope=validation_pb2.DUPLICATE_SCOPE_ACCOUNT
            )
        )
    ]
    one, two = await new_source(api, "One"), await new_source(api, "Two")
    await set_rules(api, one.source_id, rules)
    await set_rules(api, two.source_id, rules)
    a = await api.ingest.SubmitLead(lead(one.source_id, "1", email="p@example.com", phone_number="+14155550123"))
    b = await api.ingest.SubmitLead(lead(two.source_id, "1", email="p@example.com", phone_number="+14155550123"))
    c = await api.ingest.SubmitLead(lead(two.source_id, "2", email="p@example.com", phone_number="+14155550199"))
    assert [(o.status, o.disposition_code) for o in (a, b, c)] == [
        (ACCEPTED, ""),
        (REJECTED, "REJECT_LEAD_DUPLICATE"),
        (ACCEPTED, ""),
    ]


async def test_evaluate_leads_is_a_dry_run_that_stores_nothing(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    response = await api.validation.EvaluateLeads(
        validation_pb2.EvaluateLeadsRequest(
            source_id=source.source_id,
            rows=[
                validation_pb2.FieldRow(fields={"email": "x@EXAMPLE.com", "country": "U.S."}),
                validation_pb2.FieldRow(fields={"email": "x@example.com"}, is_test=True),
                validation_pb2.FieldRow(fields={"email": ""}),
            ],
        )
    )
    got = [(o.status, o.disposition_code) for o in response.outcomes]
    assert got == [
        (ACCEPTED, ""),
        (REJECTED, "REJECT_LEAD_TEST_LEAD"),
        (REJECTED, "REJECT_LEAD_MISSING_REQUIRED_FIELD"),
    ]
    assert dict(response.outcomes[0].fields) == {"email": "x@example.com", "country": "United States"}
    assert response.outcomes[2].custom_reason == "email: is required but empty"
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source.source_id))
    assert list(listed.leads) == []


async def test_criteria_are_versioned_and_read_back(api):
    source = await new_source(api)
    empty = await api.validation.GetAcceptanceCriteria(
        validation_pb2.GetAcceptanceCriteriaRequest(source_id=source.source_id)
    )
    assert (empty.version, list(empty.rules)) == (0, [])
    v1 = await set_rules(api, source.source_id)
    v2 = await set_rules(api, source.source_id, STANDARD_RULES[:2])
    assert (v1.version, v2.version) == (1, 2)
    current = await api.validation.GetAcceptanceCriteria(
        validation_pb2.GetAcceptanceCriteriaRequest(source_id=source.source_id)
    )
    assert current.version == 2 and list(current.rules) == list(STANDARD_RULES[:2])
    old = await api.validation.GetAcceptanceCriteria(
        validation_pb2.GetAcceptanceCriteriaRequest(source_id=source.source_id, version=1)
    )
    assert list(old.rules) == list(STANDARD_RULES)
    err = await rpc_error(
        api.validation.GetAcceptanceCriteria(
            validation_pb2.GetAcceptanceCriteriaRequest(source_id=source.source_id, version=9)
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_invalid_rules_name_the_index_and_field(api):
    source = await new_source(api)
    cases = [
        ([rule("zip", pattern=validation_pb2.Pattern(regex="(unclosed"))], "rules[0].column: unknown column 'zip'"),
        (
            [
                rule("email", required=validation_pb2.Required()),
                rule("email", pattern=validation_pb2.Pattern(regex="(a")),
            ],
            "rules[1].pattern.regex: not a valid regular expression",
        ),
        ([rule("country", picklist=validation_pb2.Picklist())], "rules[0].picklist.allowed:"),
        ([rule("email", max_length=validation_pb2.MaxLength(max=0))], "rules[0].max_length.max:"),
        ([rule("email")], "rules[0]: set one rule kind"),
        ([rule("email", code="REJECT_LEAD_BECAUSE", required=validation_pb2.Required())], "rules[0].disposition_code:"),
        ([rule(duplicate=validation_pb2.Duplicate(window_days=3))], "rules[0].duplicate.columns:"),
        ([rule("phone", phone=validation_pb2.PhoneCheck(default_region="XX"))], "rules[0].phone.default_region:"),
    ]
    for rules, message in cases:
        err = await rpc_error(set_rules(api, source.source_id, rules))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, message
        assert err.details().startswith(message), (err.details(), message)
    err = await rpc_error(set_rules(api, "00000000-0000-4000-8000-0000000000bb"))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "00000000-0000-4000-8000-0000000000bb" in err.details()


async def test_lists_the_disposition_catalogue(api):
    response = await api.validation.ListDispositionCodes(validation_pb2.ListDispositionCodesRequest())
    assert [(c.code, c.description) for c in response.codes] == list(dispositions.CATALOGUE.items())
    assert {c.code for c in response.codes} >= {
        "REJECT_LEAD_MISSING_REQUIRED_FIELD",
        "REJECT_LEAD_INVALID_EMAIL",
        "REJECT_LEAD_INVALID_PHONE",
        "REJECT_LEAD_INVALID_LIST_VALUE",
        "REJECT_LEAD_FIELD_TOO_LONG",
        "REJECT_LEAD_INVALID_FORMAT",
        "REJECT_LEAD_DUPLICATE",
        "REJECT_LEAD_TEST_LEAD",
        "REJECT_LEAD_SOURCE_DISABLED",
    }
