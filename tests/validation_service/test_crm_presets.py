"""Presets as data: templates fitted to the source's columns, success criteria as each vendor answers
(classified by delivery.classify_records on the vendors' documented answers), options, batch bodies."""

from __future__ import annotations

import json

import pytest

from leadrelay.errors import InvalidArgument
from validation_service import crm_presets, delivery
from validation_service.body_template import compile_template
from validation_service.crm_presets import PRESETS
from validation_service.destinations import check_success

PERSON = {"email": " Ana@Example.com", "first_name": "Ana", "last_name": "Paz", "phone": "+1555", "company": "Acme"}


def judge(preset: str, status: int, answer: object, count: int = 1, **options: str) -> list[tuple[str, str, str]]:
    p = PRESETS[preset]
    success = crm_presets.success_for(p, crm_presets.options(p, options))
    verdicts = delivery.classify_records(success, status, json.dumps(answer), count)
    return [(v.outcome, v.reason, v.record_id) for v in verdicts]


def batch_judge(preset: str, status: int, answer: object, count: int) -> list[tuple[str, str, str]]:
    batch = PRESETS[preset].batch
    assert batch is not None
    return [
        (v.outcome, v.reason, v.record_id)
        for v in delivery.classify_records(batch.success, status, json.dumps(answer), count)
    ]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_has_valid_success_criteria_and_a_template_for_any_source(name: str) -> None:
    p = PRESETS[name]
    check_success(p.success)
    if p.batch:
        check_success(p.batch.success)
    for columns in (None, {"email"}, {"email", "full_name"}, set(PERSON)):
        template = compile_template(crm_presets.default_template(p, columns))
        assert columns is None or template.columns <= {*columns, "platform_lead_id"}


def test_a_template_uses_first_and_last_name_or_splits_a_full_name() -> None:
    with_parts = json.loads(crm_presets.default_template(PRESETS["hubspot"], {"email", "first_name", "last_name"}))
    assert with_parts == {
        "properties": {"email": "{{email | trim | lower}}", "firstname": "{{first_name}}", "lastname": "{{last_name}}"}
    }
    full = json.loads(crm_presets.default_template(PRESETS["hubspot"], {"email", "full_name"}))
    assert full["properties"]["lastname"] == "{{full_name | last_name}}"


def test_a_required_vendor_field_is_never_sent_empty() -> None:
    template = compile_template(crm_presets.default_template(PRESETS["salesforce"], {"email", "full_name"}))
    assert template.render({"email": "a@b.co", "full_name": "Cher"}) == {
        "FirstName": "Cher",
        "LastName": "[not provided]",
        "Email": "a@b.co",
        "Company": "[not provided]",
        "LeadSource": "LeadRelay",
    }


def test_marketo_per_record_status_and_reasons() -> None:
    answer = {
        "requestId": "e42b#14272d07d78",
        "success": True,
        "result": [
            {"id": 50, "status": "created"},
            {"id": 51, "status": "updated"},
            {"status": "skipped", "reasons": [{"code": "1005", "message": "Lead already exists"}]},
        ],
    }
    assert judge("marketo", 200, answer, 3) == [
        ("posted", "", "50"),
        ("posted", "", "51"),
        ("rejected", "Lead already exists", ""),
    ]


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("601", "reauth"),
        ("602", "reauth"),
        ("606", "retry"),
        ("615", "retry"),
        ("1003", "rejected"),
        ("609", "rejected"),
    ],
)
def test_marketo_success_false_is_never_posted(code: str, outcome: str) -> None:
    answer = {"requestId": "x", "success": False, "errors": [{"code": code, "message": "says no"}]}
    assert judge("marketo", 200, answer, 2) == [(outcome, f"error {code}: says no", "")] * 2


def test_salesforce_single_and_composite_answers() -> None:
    assert judge("salesforce", 201, {"id": "00Q1", "success": True, "errors": []}) == [("posted", "", "00Q1")]
    refused = [{"message": "Required fields are missing: [LastName]", "errorCode": "REQUIRED_FIELD_MISSING"}]
    assert judge("salesforce", 400, refused) == [("rejected", "Required fields are missing: [LastName]", "")]
    assert (
        judge("salesforce", 401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}])[0][0] == "failed"
    )
    composite = [
        {"id": "00Q2", "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid"}]},
    ]
    assert batch_judge("salesforce", 200, composite, 2) == [("posted", "", "00Q2"), ("rejected", "Email: invalid", "")]


def test_a_batch_answer_with_the_wrong_number_of_results_is_never_posted() -> None:
    assert (
        batch_judge("salesforce", 200, [{"id": "1", "success": True, "errors": []}], 2)
        == [("failed", "HTTP 200: 1 results for 2 records sent", "")] * 2
    )


def test_zoho_upsert_answers_per_record_including_a_multi_status() -> None:
    ok = {
        "code": "SUCCESS",
        "action": "insert",
        "details": {"id": "42"},
        "message": "record added",
        "status": "success",
    }
    bad = {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Last_Name"},
        "message": "required field not found",
        "status": "error",
    }
    assert judge("zoho", 207, {"data": [ok, bad]}, 2) == [
        ("posted", "", "42"),
        ("rejected", "required field not found", ""),
    ]
    assert judge("zoho", 400, {"data": [bad]}) == [("rejected", "required field not found", "")]


@pytest.mark.parametrize(("choice", "expected"), [("update", "posted"), ("reject", "rejected")])
def test_hubspot_conflict_reads_as_chosen(choice: str, expected: str) -> None:
    conflict = {"status": "error", "message": "Contact already exists. Existing ID: 7", "category": "CONFLICT"}
    assert judge("hubspot", 409, conflict, existing_contact=choice)[0][0] == expected
    assert judge("hubspot", 201, {"id": "9", "properties": {}}) == [("posted", "", "9")]


def test_pipedrive_and_dynamics_answers() -> None:
    assert judge("pipedrive", 201, {"success": True, "data": {"id": 5}}) == [("posted", "", "5")]
    assert judge("pipedrive", 400, {"success": False, "error": "Name must be given."}) == [
        ("rejected", "Name must be given.", "")
    ]
    assert judge("dynamics", 201, {"leadid": "abc"}) == [("posted", "", "abc")]
    assert judge("dynamics", 400, {"error": {"code": "0x1", "message": "bad"}}) == [("rejected", "bad", "")]


def test_options_are_checked_by_name_and_value() -> None:
    assert crm_presets.options(PRESETS["hubspot"], {}) == {"existing_contact": "update"}
    with pytest.raises(InvalidArgument, match=r"preset_options\['existing_contact'\]"):
        crm_presets.options(PRESETS["hubspot"], {"existing_contact": "merge"})
    with pytest.raises(InvalidArgument, match=r"preset_options\['colour'\]"):
        crm_presets.options(PRESETS["marketo"], {"colour": "red"})
    with pytest.raises(InvalidArgument, match="preset: 'sugar'"):
        crm_presets.get("sugar")


def test_batch_bodies_follow_each_vendor() -> None:
    marketo = PRESETS["marketo"]
    assert marketo.batch is not None
    singles = [{"action": "createOrUpdate", "lookupField": "email", "input": [{"email": e}]} for e in ("a", "b")]
    assert crm_presets.batch_body(marketo.batch, singles) == {
        "action": "createOrUpdate",
        "lookupField": "email",
        "input": [{"email": "a"}, {"email": "b"}],
    }
    salesforce = PRESETS["salesforce"]
    found = crm_presets.batch_for(salesforce, crm_presets.url_for(salesforce, "https://acme.my.salesforce.com"))
    assert found is not None
    # The sObject collections upsert: each record carries its lead's id in the external-id field.
    assert crm_presets.batch_body(found[0], [{"LastName": "A"}], keys=["6f1c"]) == {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Lead"}, "LastName": "A", "LeadRelay_Lead_ID__c": "6f1c"}],
    }


def test_urls_on_the_base_url_and_the_batch_endpoint() -> None:
    sf = PRESETS["salesforce"]
    url = crm_presets.url_for(sf, "https://acme.my.salesforce.com/")
    assert url == "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Lead/LeadRelay_Lead_ID__c/{{lead_id}}"
    assert crm_presets.batch_url(sf, url) == (
        "https://acme.my.salesforce.com/services/data/v60.0/composite/sobjects/Lead/LeadRelay_Lead_ID__c"
    )
    assert crm_presets.batch_url(sf, "https://acme.my.salesforce.com/custom") is None
    # The external-id field as a setting, or as the person wrote it in the URL (then kept).
    own = crm_presets.url_for(sf, "https://acme.my.salesforce.com", {"external_id_field": "Web_Id__c"})
    assert own.endswith("/sobjects/Lead/Web_Id__c/{{lead_id}}") and crm_presets.url_for(sf, own) == own
    assert crm_presets.batch_url(sf, own).endswith("/composite/sobjects/Lead/Web_Id__c")  # type: ignore[union-attr]
    assert crm_presets.settings_in(sf, own) == {"external_id_field": "Web_Id__c"}
    assert crm_presets.base_of(sf, own) == "https://acme.my.salesforce.com"
    assert crm_presets.settings_in(sf, "https://acme.my.salesforce.com/custom") == {}
    assert crm_presets.base_of(sf, "https://acme.my.salesforce.com/custom") is None
    with pytest.raises(InvalidArgument, match="external_id_field"):
        crm_presets.options(sf, {"external_id_field": "Web Id"})
    dyn = crm_presets.url_for(PRESETS["dynamics"], "https://org.crm.dynamics.com")
    assert dyn == "https://org.crm.dynamics.com/api/data/v9.2/leads({{lead_id}})"
    lead = {"lead_id": "0b7e6a4e-8d0e-4a53-9d9c-3f1f2a0c8b11"}
    assert delivery.lead_url(dyn, lead).endswith("/leads(0b7e6a4e-8d0e-4a53-9d9c-3f1f2a0c8b11)")
    pipedrive = PRESETS["pipedrive"]
    pd = crm_presets.url_for(pipedrive, "https://acme.pipedrive.com?api_token=t")
    assert pd == "https://acme.pipedrive.com/api/v1/persons?api_token=t"
    assert crm_presets.lookup_url(pipedrive, pd, {"email": " Ana+1@Example.com"}) == (
        "https://acme.pipedrive.com/api/v1/persons/search?term=Ana%2B1%40Example.com&fields=email"
        "&exact_match=true&api_token=t"
    )
    assert crm_presets.lookup_url(pipedrive, pd, {"email": ""}) is None
    assert crm_presets.oauth_for(PRESETS["marketo"], "https://123-ABC-456.mktorest.com").token_url == (
        "https://123-ABC-456.mktorest.com/identity/oauth/token"
    )


def test_batching_needs_a_batch_endpoint_and_a_single_record_template() -> None:
    with pytest.raises(InvalidArgument, match="batch_size"):
        crm_presets.check_batch(PRESETS["pipedrive"], "{}", 10)
    with pytest.raises(InvalidArgument, match=r"outside 1\.\.300"):
        crm_presets.check_batch(PRESETS["marketo"], '{"input": [{}]}', 301)
    with pytest.raises(InvalidArgument, match="body_template: a batched marketo body holds exactly one record"):
        crm_presets.check_batch(PRESETS["marketo"], '{"input": [{}, {}]}', 10)


def test_hubspot_batch_answers_are_matched_by_trace_id_in_any_order() -> None:
    batch = PRESETS["hubspot"].batch
    assert batch is not None
    assert crm_presets.batch_body(batch, [{"properties": {"email": "a"}}], ["t1"]) == {
        "inputs": [{"properties": {"email": "a"}, "objectWriteTraceId": "t1"}]
    }
    answer = {
        "status": "COMPLETE",
        "results": [{"id": "12", "objectWriteTraceId": "t3"}, {"id": "11", "objectWriteTraceId": "t1"}],
        "errors": [
            {
                "category": "CONFLICT",
                "message": "Contact already exists. Existing ID: 5",
                "context": {"objectWriteTraceId": ["t2"]},
            },
            {"category": "VALIDATION_ERROR", "message": "Email invalid", "context": {"objectWriteTraceId": ["t4"]}},
        ],
    }

    def verdicts(posted: tuple[str, ...]) -> list[tuple[str, str, str]]:
        found = delivery.classify_traced(
            batch.success,
            207,
            json.dumps(answer),
            ["t1", "t2", "t3", "t4", "t5"],
            "objectWriteTraceId",
            posted_categories=posted,
        )
        return [(v.outcome, v.reason, v.record_id) for v in found]

    missing = ("failed", "HTTP 207: the answer names no result for this record", "")
    assert verdicts(("CONFLICT",)) == [
        ("posted", "", "11"),
        ("posted", "", "5"),  # the existing contact the message names
        ("posted", "", "12"),
        ("rejected", "Email invalid", ""),
        missing,
    ]
    assert verdicts(())[1] == ("rejected", "Contact already exists. Existing ID: 5", "")
    whole = delivery.classify_traced(batch.success, 503, "", ["t1", "t2"], "objectWriteTraceId")
    assert [v.outcome for v in whole] == ["retry", "retry"]
