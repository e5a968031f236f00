"""LinkedIn Lead Sync client: leadFormResponses by owner (submittedAtTimeRange, start/count paging,
total; one finder per lead type the owner has: linkedin_owners), one response by id, forms by owner.
Every call carries LinkedIn-Version and X-Restli-Protocol-Version: 2.0.0. Rest.li 2.0 query values keep
their structure characters (parentheses, colons, commas) literal and URL-encode the URNs inside, so URLs
are built by hand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from ingest_service.connectors.linkedin_owners import Owner

RESPONSE_FIELDS = (
    "ownerInfo,associatedEntityInfo,leadMetadataInfo,owner,leadType,versionedLeadGenFormUrn,id,"
    "submittedAt,testLead,formResponse,leadMetadata,associatedEntity,"
    "form:(hiddenFields,creationLocale,name,id,content,versionId)"
)


class LinkedInError(Exception):
    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(f"LinkedIn HTTP {status}{f' {code}' if code else ''}: {message}")
        self.status = status
        self.code = code

    @property
    def token_refused(self) -> bool:
        return self.status == 401

    @property
    def rate_limited(self) -> bool:
        return self.status == 429

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class ResponsesPage:
    elements: list[dict[str, Any]]
    start: int
    count: int
    total: int


class LinkedInClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, version: str) -> None:
        self._http = http
        self._base = f"{base_url.rstrip('/')}/rest"
        self._version = version

    async def _get(self, path_and_query: str, token: str) -> dict[str, Any]:
        return (await self._call("GET", path_and_query, token))[0]

    async def _call(
        self, method: str, path_and_query: str, token: str, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], str]:
        """(the JSON body, the created entity's id from `x-restli-id`)."""
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        try:
            async with self._http.request(
                method, URL(f"{self._base}/{path_and_query}", encoded=True), headers=headers, json=body
            ) as reply:
                raw = await reply.read()
                status = reply.status
                created = reply.headers.get("x-restli-id") or reply.headers.get("x-linkedin-id") or ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LinkedInError(503, f"LinkedIn API unreachable: {type(exc).__name__}") from exc
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if status >= 400:
            raise LinkedInError(
                status,
                str(body.get("message", "")) if isinstance(body, dict) else "",
                str(body.get("code", "")) if isinstance(body, dict) else "",
            )
        if not isinstance(body, dict):
            raise LinkedInError(502, "LinkedIn answered with a body that is not a JSON object")
        return body, created

    async def ad_accounts(self, token: str) -> list[tuple[str, str]]:
        """(sponsored account id, name) of every ad account the member can reach."""
        body = await self._get("adAccountUsers?q=authenticatedUser&count=100&start=0", token)
        found = []
        for element in body.get("elements", [])[:100]:
            account_id = str(element.get("account", "")).rsplit(":", 1)[-1]
            if not account_id.isdigit():
                continue
            details = await self._get(f"adAccounts/{account_id}", token)
            found.append((account_id, str(details.get("name", ""))))
        return found

    async def subscribe_leads(self, token: str, account_id: str, webhook: str) -> str:
        """A lead notification subscription for the ad account's sponsored leads; its id."""
        _, created = await self._call(
            "POST",
            "leadNotifications",
            token,
            {
                "webhook": webhook,
                "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{account_id}"},
                "leadType": "SPONSORED",
            },
        )
        return created

    async def unsubscribe_leads(self, token: str, subscription_id: str) -> None:
        await self._call("DELETE", f"leadNotifications/{quote(subscription_id, safe='')}", token)

    async def forms(self, token: str, owner: Owner) -> list[dict[str, Any]]:
        body = await self._get(f"leadForms?q=owner&owner={owner.finder}&count=100&start=0", token)
        return list(body.get("elements", []))

    async def response(self, token: str, response_id: str) -> dict[str, Any]:
        fields = quote(RESPONSE_FIELDS, safe=",:()")
        return await self._get(f"leadFormResponses/{quote(response_id, safe='')}?fields={fields}", token)

    async def responses_page(
        self,
        token: str,
        owner: Owner,
        lead_type: str,
        *,
        start_ms: int,
        end_ms: int,
        start: int = 0,
        count: int = 100,
        fields: str = RESPONSE_FIELDS,
    ) -> ResponsesPage:
        query = (
            f"leadFormResponses?q=owner&owner={owner.finder}&leadType=(leadType:{lead_type})"
            f"&limitedToTestLeads=false&submittedAtTimeRange=(start:{start_ms},end:{end_ms})"
            f"&fields={quote(fields, safe=',:()')}&count={count}&start={start}"
        )
        body = await self._get(query, token)
        paging = body.get("paging") or {}
        return ResponsesPage(
            list(body.get("elements", [])),
            int(paging.get("start", start)),
            int(paging.get("count", count)),
            int(paging.get("total", 0)),
        )

    async def responses(
        self, token: str, owner: Owner, *, start_ms: int, end_ms: int, count: int = 100
    ) -> AsyncIterator[ResponsesPage]:
        """Every page of the window, lead type after lead type: `start += count` until
        `start >= total` (reference §7)."""
        for lead_type in owner.lead_types:
            start = 0
            while True:
                page = await self.responses_page(
                    token, owner, lead_type, start_ms=start_ms, end_ms=end_ms, start=start, count=count
                )
                yield page
                start += page.count
                if start >= page.total or not page.elements:
                    break

    async def total(self, token: str, owner: Owner, *, start_ms: int, end_ms: int) -> int:
        """The owner's responses submitted in the window, every lead type (`paging.total`, count=1)."""
        total = 0
        for lead_type in owner.lead_types:
            page = await self.responses_page(
                token, owner, lead_type, start_ms=start_ms, end_ms=end_ms, count=1, fields="id"
            )
            total += page.total
        return total
