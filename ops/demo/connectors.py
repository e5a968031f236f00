"""`make run`'s connector demo: a sandbox Facebook Page and LinkedIn ad account, connected as sources of
the demo account by OAuth through the public gRPC API (with the demo key) — BeginConnect, Allow on
the sandbox's consent page, CompleteConnect, PickConnectAccounts — as a person would on the console's
Connect page. The connect subscribes the Page and the ad account to our webhooks; then the sandbox
makes a lead every few seconds on each, delivering signed webhooks to LEADRELAY_PUBLIC_URL."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import grpc

from leadrelay.auth import bearer_metadata
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

DEMO_PAGE_ID = "104729318855021"
DEMO_PAGE_TOKEN = "EAAB-demo-page-token"
DEMO_LINKEDIN_ACCOUNT = "508876321"
DEMO_LINKEDIN_TOKEN = "AQV-demo-member-token"

_FACEBOOK_MAPPING = {
    "email": "email",
    "full_name": "full_name",
    "phone": "phone_number",
    "company": "company_name",
    "job_title": "job_title",
    "country": "country",
}
_LINKEDIN_MAPPING = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone_number",
    "company": "company_name",
    "job_title": "job_title",
    "job_function": "job_function",
}


def _control(settings: Settings, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"http://{settings.host}:{settings.sandbox_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def _location(request: urllib.request.Request) -> str:
    """Where a 302 answer sends the browser."""
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303):
            return str(exc.headers["Location"])
        raise
    raise RuntimeError(f"{request.full_url} did not redirect")


def _consent(authorize_url: str) -> dict[str, str]:
    """Clicks Allow on the sandbox's consent page and follows the ingest callback; the query the
    console's Connect page would receive (code and state)."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))
    form = {k: query.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")} | {"decision": "allow"}
    callback = _location(
        urllib.request.Request(
            authorize_url.split("?", 1)[0], data=urllib.parse.urlencode(form).encode(), method="POST"
        )
    )
    back = _location(urllib.request.Request(callback))
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))


def _source(
    settings: Settings,
    stub: ingest_pb2_grpc.IngestServiceStub,
    meta: Any,
    name: str,
    platform: common_pb2.Platform.ValueType,
    external: str,
    columns: dict[str, str],
) -> ingest_pb2.Source:
    found = stub.ListSources(ingest_pb2.ListSourcesRequest(platform=platform, page_size=100), metadata=meta)
    source = next((s for s in found.sources if s.external_account_id == external), None)
    if source is None:
        source = stub.CreateSource(
            ingest_pb2.CreateSourceRequest(name=name, platform=platform, external_account_id=external), metadata=meta
        )
        mappings = [common_pb2.FieldMapping(column=c, form_field=f) for c, f in columns.items()]
        mappings.append(common_pb2.FieldMapping(column="not_mapped_fields", unmapped_fields=True))
        stub.SetDefaultMapping(
            ingest_pb2.SetMappingRequest(source_id=source.source_id, mappings=mappings), metadata=meta
        )
    begun = stub.BeginConnect(
        ingest_pb2.BeginConnectRequest(
            platform=platform,
            source_id=source.source_id,
            user_ref="demo",
            return_url=f"{settings.console_url.rstrip('/')}/?page=Connect",
        ),
        metadata=meta,
    )
    back = _consent(begun.authorize_url)
    choices = stub.CompleteConnect(
        ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref="demo"), metadata=meta
    )
    picked = stub.PickConnectAccounts(
        ingest_pb2.PickConnectAccountsRequest(
            grant_id=choices.grant_id, external_account_ids=[external], user_ref="demo"
        ),
        metadata=meta,
    )
    return picked.sources[0]


def demo_connectors(settings: Settings, api_key: str) -> None:
    if not settings.demo:
        return
    page = _control(
        settings,
        "/graph/_control/pages",
        {"page_id": DEMO_PAGE_ID, "access_token": DEMO_PAGE_TOKEN, "name": "Demo Page", "forms": 1},
    )
    _control(settings, "/graph/_control/login", {"page_ids": [DEMO_PAGE_ID], "name": "Demo marketer"})
    _control(
        settings,
        "/linkedin/_control/accounts",
        {"account_id": DEMO_LINKEDIN_ACCOUNT, "access_token": DEMO_LINKEDIN_TOKEN},
    )
    form = _control(
        settings, "/linkedin/_control/forms", {"account_id": DEMO_LINKEDIN_ACCOUNT, "name": "Demo whitepaper form"}
    )
    _control(settings, "/linkedin/_control/member", {"account_ids": [DEMO_LINKEDIN_ACCOUNT], "name": "Demo marketer"})
    meta = bearer_metadata(api_key)
    with grpc.insecure_channel(f"{settings.host}:{settings.ingest_grpc_port}") as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        fb = _source(
            settings, stub, meta, "Facebook: Demo Page", common_pb2.PLATFORM_FACEBOOK, DEMO_PAGE_ID, _FACEBOOK_MAPPING
        )
        li = _source(
            settings,
            stub,
            meta,
            "LinkedIn: Demo ad account",
            common_pb2.PLATFORM_LINKEDIN,
            DEMO_LINKEDIN_ACCOUNT,
            _LINKEDIN_MAPPING,
        )
    _control(settings, "/graph/_control/demo", {"form_id": page["form_ids"][0], "every_seconds": 4})
    _control(settings, "/linkedin/_control/demo", {"form_id": str(form["id"]), "every_seconds": 6})
    print(
        f"  connectors  sources {fb.source_id} (Facebook) and {li.source_id} (LinkedIn) connected to the "
        "sandbox by OAuth and subscribed; demo leads arrive by webhook every few seconds",
        flush=True,
    )
