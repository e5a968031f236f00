"""PostOutService for CRM destinations: presets, body templates, OAuth settings and masked secrets in
every answer, and the fields bad input names."""

from __future__ import annotations

import json

import asyncpg
import grpc
import pytest

from leadrelay.v1 import validation_pb2
from tests.harness import Api, rpc_error
from tests.validation_service.crm_support import VendorOrg, person, seed_people, seed_person_source, settled
from tests.validation_service.post_out_support import Crm
from tests.waiting import eventually


async def test_list_destination_presets_offers_every_vendor_fitted_to_the_source(api: Api, pool: asyncpg.Pool) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    presets = (
        await api.postout.ListDestinationPresets(validation_pb2.ListDestinationPresetsRequest(source_id=str(source_id)))
    ).presets
    assert [p.name for p in presets] == [
        "hubspot",
        "salesforce",
        "marketo",
        "zoho",
        "pipedrive",
        "dynamics",
        "pipedrive_leads",
    ]
    marketo = presets[2]
    assert (marketo.path, marketo.max_batch_size, marketo.oauth.grant_type) == (
        "/rest/v1/leads.json",
        300,
        "client_credentials",
    )
    assert json.loads(marketo.body_template)["input"][0]["lastName"] == "{{last_name}}"
    assert list(marketo.success.token_error_codes) == ["601", "602"]
    assert presets[0].options == {"existing_contact": "update|reject"}
    # Each says what a base URL of its CRM looks like (the form's placeholder), on the preset's own host.
    assert presets[1].example_base_url == "https://yourcompany.my.salesforce.com"
    for p in presets:
        assert p.example_base_url.startswith("https://"), p.name


async def test_a_query_string_token_and_oauth_credentials_never_come_back(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    pipedrive = VendorOrg(sandbox.url, "pipedrive")
    created = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id), name="PD", url=f"{pipedrive.base}?api_token=pd-secret&x=1", preset="pipedrive"
        )
    )
    assert created.url == f"{pipedrive.base}/api/v1/persons?api_token=****&x=1"
    marketo = VendorOrg(sandbox.url, "marketo")
    oauth = validation_pb2.OAuth(grant_type="client_credentials", client_id="cid-secret", client_secret="cs-secret")
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id), name="MK", url=marketo.base, preset="marketo", oauth=oauth
        )
    )
    listed = await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=str(source_id)))
    answer = str(listed)
    for secret in ("pd-secret", "cid-secret", "cs-secret"):
        assert secret not in answer
    mk = listed.destinations[1]
    assert (mk.oauth.grant_type, mk.oauth.token_url, mk.oauth.client_id) == (
        "client_credentials",
        f"{marketo.base}/identity/oauth/token",
        "",
    )
    # Sending the URL back as shown keeps the stored token.
    updated = await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(destination_id=created.destination_id, url=created.url, name="PD2")
    )
    async with pool.acquire() as con:
        stored = await con.fetchval("SELECT url FROM destinations WHERE destination_id = $1", created.destination_id)
    assert stored.endswith("?api_token=pd-secret&x=1") and updated.url == created.url
    moved = await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(
            destination_id=created.destination_id, url=f"{pipedrive.base}/v2?api_token=new-secret"
        )
    )
    assert moved.url == f"{pipedrive.base}/v2/api/v1/persons?api_token=****"


async def test_a_new_base_url_keeps_the_salesforce_external_id_field(api: Api, pool: asyncpg.Pool) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    created = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id),
            name="SF",
            url="https://acme.my.salesforce.com",
            preset="salesforce",
            preset_options={"external_id_field": "Web_Lead_Id__c"},
            oauth=validation_pb2.OAuth(grant_type="client_credentials", client_id="cid", client_secret="cs"),
        )
    )
    assert created.url.endswith("/sobjects/Lead/Web_Lead_Id__c/{{lead_id}}")
    moved = await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(
            destination_id=created.destination_id, url="https://acme-new.my.salesforce.com"
        )
    )
    assert (
        moved.url == "https://acme-new.my.salesforce.com/services/data/v60.0/sobjects/Lead/Web_Lead_Id__c/{{lead_id}}"
    )
    # The token URL the preset made on the old domain moved with it.
    assert created.oauth.token_url == "https://acme.my.salesforce.com/services/oauth2/token"
    assert moved.oauth.token_url == "https://acme-new.my.salesforce.com/services/oauth2/token"
    # A URL of the preset's own, written out whole, is taken as written (here: another field).
    renamed = await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(
            destination_id=created.destination_id,
            url="https://acme-new.my.salesforce.com/services/data/v60.0/sobjects/Lead/Other_Id__c/{{lead_id}}",
        )
    )
    assert renamed.url.endswith("/sobjects/Lead/Other_Id__c/{{lead_id}}")
    assert renamed.oauth.token_url == "https://acme-new.my.salesforce.com/services/oauth2/token"


async def test_a_token_in_the_url_is_masked_in_the_post_out_logs(api: Api, pool: asyncpg.Pool) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    # Nothing listens on port 9 (discard) of loopback: a connection error quoting the URL.
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id),
            name="PD",
            url="http://127.0.0.1:9/api/v1/persons?api_token=leaky-token",
            body_template='{"name": "{{first_name}}"}',
            timeout_ms=500,
        )
    )
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])

    async def logged() -> list:
        async with pool.acquire() as con:
            return await con.fetch("SELECT reason FROM post_out_attempts WHERE lead_id = $1", lead)

    [attempt, *_] = await eventually(logged, what="an attempt logged")
    assert "leaky-token" not in attempt["reason"] and "connection error" in attempt["reason"]


async def test_a_body_template_posts_nested_json(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    crm = Crm(sandbox.url)
    template = (
        '{"lead_id": "{{lead_id}}", "contact": {"name": "{{first_name}} {{last_name}}", '
        '"email": "{{email | lower}}", "tags": ["ads", "{{job_title | lower}}"]}, "phone": "{{missing_ok | trim}}"}'
    )
    error = await rpc_error(
        api.postout.CreateDestination(
            validation_pb2.CreateDestinationRequest(
                source_id=str(source_id), name="T", url=crm.url, body_template=template
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == ("body_template: at $.phone: {{missing_ok}} is not a column of the source's mapping")
    template = template.replace("missing_ok", "phone")
    created = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id),
            name="T",
            url=crm.url,
            body_template=template,
            success=validation_pb2.SuccessCriteria(record_id_json_path="$.id"),
        )
    )
    assert created.body_template == template
    p = person(3)
    [lead] = await seed_people(pool, api.account.account_id, source_id, [p])
    await eventually(lambda: settled(pool, [lead]), what="posted")
    [record] = (await crm.stats())["records"]
    assert record["body"] == {
        "lead_id": str(lead),
        "contact": {"name": "Ana3 Paz3", "email": p["email"].lower(), "tags": ["ads", "cto"]},
        "phone": p["phone"],
    }


@pytest.mark.parametrize(
    ("change", "details"),
    [
        ({"body_template": '{"a": [1,}'}, "body_template: is not valid JSON at line 1 column 10: Expecting value"),
        (
            {"preset": "sugarcrm"},
            "preset: 'sugarcrm' is not one of hubspot, salesforce, marketo, zoho, pipedrive, dynamics, pipedrive_leads",
        ),
        (
            {"preset": "pipedrive", "batch_size": 5},
            "batch_size: only a preset with a batch endpoint posts several leads per call",
        ),
        ({"preset": "marketo", "batch_size": 301}, "batch_size: 301 is outside 1..300 for marketo"),
        ({"batch_size": 50}, "batch_size: only a preset with a batch endpoint posts several leads per call"),
        (
            {"oauth": validation_pb2.OAuth(grant_type="password", token_url="https://x.example/t")},
            "oauth.grant_type: 'password' is not one of client_credentials, refresh_token",
        ),
        (
            {
                "oauth": validation_pb2.OAuth(
                    grant_type="client_credentials", token_url="https://x.example/t", client_id="a"
                )
            },
            "oauth.client_secret: is required for the client_credentials grant",
        ),
    ],
)
async def test_bad_crm_settings_name_the_field(api: Api, pool: asyncpg.Pool, change: dict, details: str) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    request = {"source_id": str(source_id), "name": "X", "url": "https://crm.example.com", **change}
    error = await rpc_error(api.postout.CreateDestination(validation_pb2.CreateDestinationRequest(**request)))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, details)
