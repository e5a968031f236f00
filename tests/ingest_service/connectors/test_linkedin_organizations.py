"""Organization-owned LinkedIn leads (event, company and product pages: EVENT, COMPANY,
ORGANIZATION_PRODUCT) captured by webhook, poll and sync, like an ad account's SPONSORED leads."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from google.protobuf.timestamp_pb2 import Timestamp
from yarl import URL

from ingest_service.connectors import connections_store, linkedin_owners, pollers
from ingest_service.connectors.linkedin_owners import Owner
from ingest_service.connectors.linkedin_webhook import events
from leadrelay.v1 import ingest_pb2
from tests.ingest_service.connector_support import answers_of, inbox_rows, judged, linkedin_source, post

HEADERS = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def test_a_source_names_an_ad_account_or_an_organization():
    assert linkedin_owners.of_source("507404993") == Owner("sponsoredAccount", "507404993")
    assert linkedin_owners.of_source("urn:li:sponsoredAccount:507404993") == Owner("sponsoredAccount", "507404993")
    org = linkedin_owners.of_source("urn:li:organization:2414183")
    assert org == Owner("organization", "2414183")
    assert org.finder == "(organization:urn%3Ali%3Aorganization%3A2414183)"
    assert org.lead_types == ("EVENT", "COMPANY", "ORGANIZATION_PRODUCT")
    assert (org.key, linkedin_owners.of_source("507404993").key) == ("urn:li:organization:2414183", "507404993")


def test_a_notification_owned_by_an_organization_is_filed_under_the_organization_urn():
    rows, problems = events(
        {
            "type": "LEAD_ACTION",
            "leadAction": "CREATED",
            "leadGenFormResponse": "urn:li:leadGenFormResponse:ab-1",
            "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:9, 2)",
            "owner": {"organization": "urn:li:organization:2414183"},
            "leadType": "EVENT",
        }
    )
    assert problems == []
    assert [(key, owner, form) for key, owner, form, _ in rows] == [
        ("ab-1:CREATED", "urn:li:organization:2414183", "9")
    ]


async def test_an_event_lead_of_an_organization_arrives_by_webhook(web, api, servers, sandbox, pool):
    li = await linkedin_source(
        api, sandbox, web, organization=True, webhook_url=f"{servers.settings.public_base_url}/webhooks/linkedin"
    )
    [response_id] = (
        await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"]), "lead_type": "EVENT"})
    )["ids"]
    [lead] = await judged(pool, li.source_id, 1)
    assert lead["platform_lead_id"] == response_id
    assert lead["platform_form_id"] == str(li.form["id"])
    assert lead["platform_context"]["lead_type"] == "EVENT"
    assert lead["platform_context"]["organization_id"] == li.account_id
    assert answers_of(lead)["email"][0].count("@") == 1
    [row] = await inbox_rows(pool, "LINKEDIN", f"urn:li:organization:{li.account_id}")
    assert row["status"] == "DONE"


async def test_every_organization_lead_type_is_polled_synced_and_counted(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, organization=True)
    ids = []
    for lead_type in ("EVENT", "COMPANY", "ORGANIZATION_PRODUCT"):
        ids += (
            await post(
                web,
                f"{sandbox.url}/linkedin/_control/leads",
                {"form_id": str(li.form["id"]), "lead_type": lead_type, "count": 3, "notify": False},
            )
        )["ids"]
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(li.source_id))
    assert await pollers.poll_source(servers.ingest.deps, connection) == 9
    rows = await judged(pool, li.source_id, 9)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    assert sorted({r["platform_context"]["lead_type"] for r in rows}) == ["COMPANY", "EVENT", "ORGANIZATION_PRODUCT"]

    since = datetime.now(UTC) - timedelta(days=1)
    request = ingest_pb2.SyncLeadsRequest(source_id=li.source_id, since=_ts(since))
    last = [p async for p in api.ingest.SyncLeads(request)][-1]
    assert last.done and (last.leads_seen, last.leads_new, last.leads_known) == (9, 0, 9)
    counts = await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(source_id=li.source_id, since=_ts(since), until=_ts(datetime.now(UTC)))
    )
    assert (counts.received, counts.platform_reported) == (9, 9)


async def test_the_stand_in_refuses_a_lead_type_the_owner_cannot_have(web, sandbox):
    org = await post(web, f"{sandbox.url}/linkedin/_control/accounts", {"organization": True})
    owner = f"(organization:urn%3Ali%3Aorganization%3A{org['account_id']})"
    headers = {**HEADERS, "Authorization": f"Bearer {org['access_token']}"}
    base = f"{sandbox.url}/linkedin/rest/leadFormResponses?q=owner&owner={owner}"
    async with web.get(URL(f"{base}&leadType=(leadType:SPONSORED)", encoded=True), headers=headers) as reply:
        assert reply.status == 400
    async with web.get(URL(f"{base}&leadType=(leadType:EVENT)", encoded=True), headers=headers) as reply:
        assert (reply.status, (await reply.json())["paging"]["total"]) == (200, 0)
    sponsored = f"(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A{org['account_id']})"
    url = f"{sandbox.url}/linkedin/rest/leadFormResponses?q=owner&owner={sponsored}"
    async with web.get(URL(url, encoded=True), headers=headers) as reply:
        assert reply.status == 400  # an organization is not an ad account
