"""Graph API client for Lead Ads: a lead by id, a form's `leads` edge (filtering on time_created,
cursor paging), a Page's forms. Errors come back as `GraphError` with the code classified. With the
app secret configured every call carries `appsecret_proof` (a Page requiring it refuses calls without)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from leadrelay.appsecret_proof import appsecret_proof

# Graph codes that mean "the token is no good": re-authorise (reference §3).
TOKEN_REFUSED = frozenset({102, 190})
# Throttling: back off and try later (Graph answers these with HTTP 400, no Retry-After).
RATE_LIMITED = frozenset({4, 17, 32, 341, 613, 80001, 80004, 80005})
LEAD_FIELDS = (
    "id,created_time,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,form_id,"
    "field_data,custom_disclaimer_responses,is_organic,platform"
)


class GraphError(Exception):
    def __init__(
        self, code: int, message: str, subcode: int | None = None, fbtrace_id: str = "", http_status: int = 0
    ) -> None:
        super().__init__(f"Graph error {code}{f'/{subcode}' if subcode else ''}: {message}")
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status

    @property
    def token_refused(self) -> bool:
        return self.code in TOKEN_REFUSED

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMITED

    @property
    def not_found(self) -> bool:
        """The object does not exist (any more) or the token cannot see it (code 100, subcode 33)."""
        return self.code == 100 and self.subcode == 33


@dataclass(frozen=True)
class LeadsPage:
    leads: list[dict[str, Any]]
    has_next: bool


class GraphClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, version: str, app_secret: str = "") -> None:
        self._http = http
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._app_secret = app_secret

    async def _get(self, path: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._call("GET", path, token, params)

    async def _call(self, method: str, path: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        query = {**params, "access_token": token}
        if self._app_secret:
            query["appsecret_proof"] = appsecret_proof(token, self._app_secret)
        try:
            async with self._http.request(method, f"{self._base}/{path}", params=query) as reply:
                raw = await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GraphError(2, f"Graph API unreachable: {type(exc).__name__}") from exc
        try:
            body = json.loads(raw)
        except ValueError:
            raise GraphError(
                1, f"Graph API answered HTTP {status} with a body that is not JSON", http_status=status
            ) from None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            raise GraphError(
                int(err.get("code", 1)),
                str(err.get("message", "")),
                err.get("error_subcode"),
                str(err.get("fbtrace_id", "")),
                status,
            )
        if status >= 400 or not isinstance(body, dict):
            raise GraphError(1, f"Graph API answered HTTP {status}", http_status=status)
        return body

    async def page(self, token: str, page_id: str) -> dict[str, Any]:
        return await self._get(page_id, token, {"fields": "id,name"})

    async def managed_pages(self, user_token: str) -> list[dict[str, Any]]:
        """`me/accounts`: the Pages the user manages, each with its own Page token (at most 1,000)."""
        pages: list[dict[str, Any]] = []
        params = {"fields": "id,name,access_token,tasks", "limit": "100"}
        for _ in range(10):
            body = await self._get("me/accounts", user_token, params)
            pages.extend(p for p in body.get("data", []) if isinstance(p, dict) and p.get("access_token"))
            paging = body.get("paging", {})
            if not paging.get("next"):
                break
            params = {**params, "after": paging["cursors"]["after"]}
        return pages

    async def lead_access(self, token: str, page_id: str, app_id: str) -> dict[str, Any]:
        """The Page's Leads Access verdict for our app (Leads Access Manager may leave it out)."""
        body = await self._get(page_id, token, {"fields": f"has_lead_access.app_id({app_id})"})
        return dict(body.get("has_lead_access") or {})

    async def subscribe_app(self, app_id: str, app_token: str, callback_url: str, verify_token: str) -> None:
        """The app's `page` webhook for `leadgen` (Meta checks the callback with hub.challenge)."""
        await self._call(
            "POST",
            f"{app_id}/subscriptions",
            app_token,
            {"object": "page", "callback_url": callback_url, "fields": "leadgen", "verify_token": verify_token},
        )

    async def subscribe_page(self, page_token: str, page_id: str) -> None:
        await self._call("POST", f"{page_id}/subscribed_apps", page_token, {"subscribed_fields": "leadgen"})

    async def unsubscribe_page(self, page_token: str, page_id: str) -> None:
        await self._call("DELETE", f"{page_id}/subscribed_apps", page_token, {})

    async def lead(self, token: str, lead_id: str) -> dict[str, Any]:
        return await self._get(lead_id, token, {"fields": LEAD_FIELDS})

    async def page_forms(self, token: str, page_id: str) -> list[dict[str, Any]]:
        forms: list[dict[str, Any]] = []
        # questions: the form's fields (key, label, type), recorded for the mapping screens.
        params = {"fields": "id,name,status,questions", "limit": "100"}
        while True:
            body = await self._get(f"{page_id}/leadgen_forms", token, params)
            forms.extend(body.get("data", []))
            paging = body.get("paging", {})
            if not paging.get("next"):
                return forms
            params = {**params, "after": paging["cursors"]["after"]}

    async def form_leads(
        self,
        token: str,
        form_id: str,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        fields: str = LEAD_FIELDS,
    ) -> AsyncIterator[LeadsPage]:
        """Pages of the form's leads with since <= time_created < until (Unix seconds). The end is the
        absence of `paging.next`, never a short page (reference §2)."""
        filtering = []
        if since is not None:
            filtering.append({"field": "time_created", "operator": "GREATER_THAN_OR_EQUAL", "value": since})
        if until is not None:
            filtering.append({"field": "time_created", "operator": "LESS_THAN", "value": until})
        params = {"fields": fields, "limit": str(limit)}
        if filtering:
            params["filtering"] = json.dumps(filtering)
        while True:
            body = await self._get(f"{form_id}/leads", token, params)
            paging = body.get("paging", {})
            has_next = bool(paging.get("next"))
            yield LeadsPage(list(body.get("data", [])), has_next)
            if not has_next:
                return
            params = {**params, "after": paging["cursors"]["after"]}
