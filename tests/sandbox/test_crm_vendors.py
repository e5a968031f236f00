"""The strict vendor stand-ins over real HTTP: requests checked as each vendor does, its answers
(record-level failures inside a 200 included), tokens issued and lapsing on a timer or on demand."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.validation_service.crm_support import VendorOrg
from tests.waiting import eventually


async def call(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, url, **kw) as r:
        text = await r.text()
        return r.status, (await r.json(content_type=None)) if text else None


async def token(org: VendorOrg, path: str, **form: str) -> str:
    status, answer = await call(
        "POST", f"{org.base}{path}", data={"client_id": "client-id", "client_secret": "client-secret", **form}
    )
    assert status == 200, answer
    return answer["access_token"]


async def test_hubspot_refuses_a_flat_body_and_answers_409_for_an_existing_email(sandbox) -> None:
    org = VendorOrg(sandbox.url, "hubspot")
    await org.set(static_token="pat")
    auth = {"Authorization": "Bearer pat"}
    url = f"{org.base}/crm/v3/objects/contacts"
    status, answer = await call("POST", url, json={"email": "a@b.co"}, headers=auth)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    assert "'properties' must be an object" in answer["message"]
    status, created = await call("POST", url, json={"properties": {"email": "A@b.co"}}, headers=auth)
    assert status == 201
    status, answer = await call("POST", url, json={"properties": {"email": "a@b.co"}}, headers=auth)
    assert (status, answer["message"]) == (409, f"Contact already exists. Existing ID: {created['id']}")
    status, answer = await call("POST", url, json={"properties": {}}, headers={"Authorization": "Bearer nope"})
    assert (status, answer["category"]) == (401, "INVALID_AUTHENTICATION")


async def test_marketo_answers_200_with_success_false_and_per_record_status(sandbox) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    status, answer = await call(
        "GET",
        f"{org.base}/identity/oauth/token?grant_type=client_credentials&client_id=client-id&client_secret=client-secret",
    )
    assert (status, answer["token_type"], answer["expires_in"]) == (200, "bearer", 3600)
    url = f"{org.base}/rest/v1/leads.json"
    auth = {"Authorization": f"Bearer {answer['access_token']}"}
    body = {"action": "createOnly", "lookupField": "email", "input": [{"email": "a@b.co"}, {"email": "x@invalid.test"}]}
    status, answer = await call("POST", url, json=body, headers=auth)
    assert status == 200 and answer["success"] is True
    assert [r["status"] for r in answer["result"]] == ["created", "skipped"]
    status, answer = await call("POST", url, json={**body, "input": [{"email": "a@b.co"}]}, headers=auth)
    assert answer["result"][0]["reasons"] == [{"code": "1005", "message": "Lead already exists"}]
    status, answer = await call("POST", url, json=body, headers={"Authorization": "Bearer forged"})
    assert (status, answer["success"], answer["errors"][0]["code"]) == (200, False, "601")
    status, answer = await call("POST", url, json={"input": [{}] * 301}, headers=auth)
    assert answer["errors"][0]["code"] == "1003"


async def test_tokens_lapse_on_the_timer_and_on_demand(sandbox) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    await org.set(token_lifetime_seconds=0.2)
    url = f"{org.base}/rest/v1/leads.json"
    value = await token(org, "/identity/oauth/token", grant_type="client_credentials")
    body = {"input": [{"email": "a@b.co"}]}

    async def expired() -> bool:
        _, answer = await call("POST", url, json=body, headers={"Authorization": f"Bearer {value}"})
        return not answer["success"] and answer["errors"][0]["code"] == "602"

    await eventually(expired, within=10, what="the token lapsed on its timer")
    await org.set(token_lifetime_seconds=3600)
    value = await token(org, "/identity/oauth/token", grant_type="client_credentials")
    assert not await expired()
    await org.set(expire_tokens=True)
    assert await expired()


async def test_salesforce_requires_lead_fields_and_a_session(sandbox) -> None:
    org = VendorOrg(sandbox.url, "salesforce")
    value = await token(org, "/services/oauth2/token", grant_type="client_credentials")
    url = f"{org.base}/services/data/v60.0/sobjects/Lead"
    status, answer = await call("POST", url, json={"Email": "a@b.co"}, headers={"Authorization": f"Bearer {value}"})
    assert (status, answer[0]["errorCode"]) == (400, "REQUIRED_FIELD_MISSING")
    status, answer = await call("POST", url, json={"Nope": 1}, headers={"Authorization": f"Bearer {value}"})
    assert answer[0]["errorCode"] == "INVALID_FIELD"
    status, answer = await call("POST", url, json={}, headers={"Authorization": "Bearer x"})
    assert (status, answer[0]["errorCode"]) == (401, "INVALID_SESSION_ID")


async def test_zoho_wants_its_own_scheme_and_answers_invalid_refresh_tokens_with_a_200(sandbox) -> None:
    org = VendorOrg(sandbox.url, "zoho")
    status, answer = await call(
        "POST",
        f"{org.base}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "client-id",
            "client_secret": "client-secret",
            "refresh_token": "old",
        },
    )
    assert (status, answer) == (200, {"error": "invalid_code"})
    value = await token(org, "/oauth/v2/token", grant_type="refresh_token", refresh_token="refresh-token")
    url = f"{org.base}/crm/v7/Leads/upsert"
    status, answer = await call(
        "POST", url, json={"data": [{"Last_Name": "A"}]}, headers={"Authorization": f"Bearer {value}"}
    )
    assert (status, answer["code"]) == (401, "INVALID_TOKEN")
    auth = {"Authorization": f"Zoho-oauthtoken {value}"}
    status, answer = await call(
        "POST", url, json={"data": [{"Last_Name": "A", "Email": "a@b.co"}, {"Email": "c@d.co"}]}, headers=auth
    )
    assert status == 207
    assert [(d["status"], d["code"]) for d in answer["data"]] == [
        ("success", "SUCCESS"),
        ("error", "MANDATORY_NOT_FOUND"),
    ]
    status, answer = await call("POST", url, json={"data": [{"Last_Name": "B", "Email": "A@b.co"}]}, headers=auth)
    assert (status, answer["data"][0]["action"]) == (200, "update")


async def test_dynamics_needs_a_default_scope_and_returns_the_entity_on_request(sandbox) -> None:
    org = VendorOrg(sandbox.url, "dynamics")
    status, answer = await call(
        "POST",
        f"{org.base}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "client-id",
            "client_secret": "client-secret",
            "scope": "x",
        },
    )
    assert (status, answer["error"]) == (400, "invalid_scope")
    value = await token(
        org, "/oauth2/v2.0/token", grant_type="client_credentials", scope="https://o.crm.dynamics.com/.default"
    )
    url = f"{org.base}/api/data/v9.2/leads"
    auth = {"Authorization": f"Bearer {value}"}
    status, _ = await call("POST", url, json={"lastname": "A"}, headers=auth)
    assert status == 204
    status, answer = await call(
        "POST", url, json={"lastname": "A"}, headers={**auth, "Prefer": "return=representation"}
    )
    assert status == 201 and answer["leadid"]


async def test_pipedrive_takes_its_token_in_the_query_string(sandbox) -> None:
    org = VendorOrg(sandbox.url, "pipedrive")
    await org.set(static_token="tok")
    url = f"{org.base}/api/v1/persons"
    assert (await call("POST", url, json={"name": "A"}))[0] == 401
    status, answer = await call("POST", f"{url}?api_token=tok", json={"email": "a@b.co"})
    assert (status, answer["error"]) == (400, "Name must be given.")
    status, answer = await call("POST", f"{url}?api_token=tok", json={"name": "A", "email": "a@b.co"})
    assert status == 201 and answer["success"] is True


async def test_salesforce_upserts_by_an_external_id_field_single_and_in_collections(sandbox) -> None:
    org = VendorOrg(sandbox.url, "salesforce")
    auth = {"Authorization": f"Bearer {await token(org, '/services/oauth2/token', grant_type='client_credentials')}"}
    lead = {"LastName": "Paz", "Company": "Ñandú SA", "Email": "a@b.co"}
    url = f"{org.base}/services/data/v60.0/sobjects/Lead/LeadRelay_Lead_ID__c/k1"
    status, created = await call("PATCH", url, json=lead, headers=auth)
    assert (status, created["success"], created["created"]) == (201, True, True)
    status, again = await call("PATCH", url, json={**lead, "Title": "CTO"}, headers=auth)
    assert (status, again["id"], again["created"]) == (200, created["id"], False)
    status, answer = await call("PATCH", url, json={**lead, "LeadRelay_Lead_ID__c": "k1"}, headers=auth)
    assert (status, answer[0]["errorCode"]) == (400, "INVALID_FIELD")  # the key goes in the URL only
    status, answer = await call("PATCH", url.replace("LeadRelay_Lead_ID__c", "Nope__c"), json=lead, headers=auth)
    assert (status, answer[0]["errorCode"]) == (404, "NOT_FOUND")
    records = [
        {"attributes": {"type": "Lead"}, "LeadRelay_Lead_ID__c": "k1", **lead},
        {"attributes": {"type": "Lead"}, "LeadRelay_Lead_ID__c": "k2", **lead, "Email": "c@d.co"},
        {"attributes": {"type": "Lead"}, **lead},
    ]
    collection = f"{org.base}/services/data/v60.0/composite/sobjects/Lead/LeadRelay_Lead_ID__c"
    status, answers = await call("PATCH", collection, json={"allOrNone": False, "records": records}, headers=auth)
    assert status == 200
    assert [(a["success"], a.get("id") == created["id"], a.get("created")) for a in answers] == [
        (True, True, False),
        (True, False, True),
        (False, False, None),
    ]
    stats = await org.stats()
    assert (stats["created"], stats["updated"], stats["doubled"]) == (2, 2, [])


async def test_dynamics_patch_to_a_lead_id_creates_then_updates_that_row(sandbox) -> None:
    org = VendorOrg(sandbox.url, "dynamics")
    bearer = await token(
        org, "/oauth2/v2.0/token", grant_type="client_credentials", scope="https://org.crm.dynamics.com/.default"
    )
    headers = {"Authorization": f"Bearer {bearer}", "Prefer": "return=representation"}
    key = "0b7e6a4e-8d0e-4a53-9d9c-3f1f2a0c8b11"
    url = f"{org.base}/api/data/v9.2/leads({key})"
    status, row = await call("PATCH", url, json={"lastname": "Paz", "emailaddress1": "a@b.co"}, headers=headers)
    assert (status, row["leadid"], row["lastname"]) == (201, key, "Paz")
    status, row = await call("PATCH", url, json={"jobtitle": "CTO"}, headers=headers)
    assert (status, row["leadid"], row["lastname"], row["jobtitle"]) == (200, key, "Paz", "CTO")
    status, _ = await call("PATCH", url, json={"jobtitle": "CEO"}, headers={"Authorization": headers["Authorization"]})
    assert status == 204
    status, answer = await call("PATCH", f"{org.base}/api/data/v9.2/leads(42)", json={"lastname": "X"}, headers=headers)
    assert status == 400 and "leads(42)" in answer["error"]["message"]
    stats = await org.stats()
    assert (stats["created"], stats["updated"], stats["doubled"]) == (1, 2, [])


async def test_pipedrive_finds_persons_by_exact_email_and_links_leads_to_an_existing_person(sandbox) -> None:
    org = VendorOrg(sandbox.url, "pipedrive")
    await org.set(static_token="pd")
    base = f"{org.base}/api/v1"
    status, person = await call("POST", f"{base}/persons?api_token=pd", json={"name": "Ana", "email": "Ana@b.co"})
    assert status == 201
    search = f"{base}/persons/search?fields=email&exact_match=true&api_token=pd"
    status, found = await call("GET", f"{search}&term=ana%40b.co")
    assert status == 200 and [i["item"]["id"] for i in found["data"]["items"]] == [person["data"]["id"]]
    status, found = await call("GET", f"{search}&term=na%40b.co")
    assert found["data"]["items"] == []
    status, lead = await call(
        "POST", f"{base}/leads?api_token=pd", json={"title": "Ana's lead", "person_id": person["data"]["id"]}
    )
    assert (status, lead["data"]["person_id"]) == (201, person["data"]["id"])
    status, answer = await call("POST", f"{base}/leads?api_token=pd", json={"title": "x", "person_id": 999999})
    assert (status, answer["error"]) == (400, "A lead must be linked to an existing person")
    status, answer = await call("POST", f"{base}/leads?api_token=pd", json={"person_id": person["data"]["id"]})
    assert (status, answer["error"]) == (400, "title is required")
