"""LinkedIn 3-legged OAuth and Lead Sync subscriptions stand-in (docs/platform-oauth.md): the
authorization page, the token endpoint (authorization_code and refresh_token grants), the ad
accounts a member can reach, and lead notification subscriptions (which validate the webhook with
the challenge handshake, then point the ad account's notifications at it). Forms and leads are
sandbox.linkedin_api's.

  GET  /linkedin/oauth/v2/authorization?response_type=code&client_id&redirect_uri&state&scope
  POST /linkedin/oauth/v2/authorization              (the consent form: Allow / Cancel)
  POST /linkedin/oauth/v2/accessToken                grant_type=authorization_code | refresh_token
  GET  /linkedin/rest/adAccountUsers?q=authenticatedUser
  GET  /linkedin/rest/adAccounts/{id}
  POST /linkedin/rest/leadNotifications {webhook, owner: {sponsoredAccount}, leadType}  -> 201, x-restli-id
  DELETE /linkedin/rest/leadNotifications/{id}
Control under /linkedin/_control/:
  POST member {account_ids, name?}      who is signed in and which ad accounts they reach
  POST tokens {access_token?, expires_in?} {refresh_token?, revoked?}   expiry on demand
  GET  subscriptions
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox import consent_page, linkedin_api

CODE_SECONDS = 1800
ACCESS_SECONDS = 60 * 24 * 3600
REFRESH_SECONDS = 365 * 24 * 3600


@dataclass
class Refresh:
    account_ids: set[str]
    expires_at: float
    revoked: bool = False


@dataclass
class MemberState:
    name: str = "Sandbox Member"
    person: str = "urn:li:person:sandbox01"
    account_ids: list[str] = field(default_factory=list)
    # code -> (redirect_uri, client_id, account ids, expires_at)
    codes: dict[str, tuple[str, str, list[str], float]] = field(default_factory=dict)
    refresh: dict[str, Refresh] = field(default_factory=dict)
    # subscription id -> (account id, webhook)
    subscriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(7001))


MEMBER = web.AppKey("linkedin_member", MemberState)


def _li(request: web.Request) -> linkedin_api.LinkedInState:
    return request.app[linkedin_api.STATE]


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


async def authorization(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    q = request.query
    if q.get("response_type") != "code" or not q.get("client_id") or not q.get("redirect_uri"):
        return web.Response(status=400, text="response_type=code, client_id and redirect_uri are required")
    return consent_page.render(
        platform="LinkedIn",
        app_name=f"App {q['client_id']}",
        person=member.name,
        scopes=[s for s in q.get("scope", "").split(" ") if s],
        places_label="Ad accounts you can reach",
        places=[f"Ad account {a}" for a in member.account_ids],
        action=str(request.rel_url.path),
        hidden={k: q.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")},
    )


async def authorization_decision(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    form = await request.post()
    redirect_uri, state = str(form.get("redirect_uri", "")), str(form.get("state", ""))
    if form.get("decision") != "allow":
        query = {
            "error": "user_cancelled_authorize",
            "error_description": "The user cancelled the authorization",
            "state": state,
        }
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(query)}")
    code = secrets.token_urlsafe(24)
    member.codes[code] = (
        redirect_uri,
        str(form.get("client_id", "")),
        list(member.account_ids),
        time.time() + CODE_SECONDS,
    )
    raise web.HTTPFound(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")


def _issue(li: linkedin_api.LinkedInState, account_ids: set[str]) -> str:
    token = f"AQX{secrets.token_urlsafe(32)}"
    li.member_tokens[token] = linkedin_api.MemberToken(set(account_ids), time.time() + ACCESS_SECONDS)
    return token


async def access_token(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    li = _li(request)
    form = await request.post()
    if form.get("client_secret") != li.client_secret or not form.get("client_id"):
        return _oauth_error("invalid_client", "Client authentication failed", 401)
    if form.get("grant_type") == "refresh_token":
        refresh = member.refresh.get(str(form.get("refresh_token", "")))
        if refresh is None or refresh.revoked or refresh.expires_at <= time.time():
            return _oauth_error("invalid_grant", "The provided refresh token is invalid, expired or revoked")
        return web.json_response(
            {
                "access_token": _issue(li, refresh.account_ids),
                "expires_in": ACCESS_SECONDS,
                "refresh_token": form["refresh_token"],
                "refresh_token_expires_in": int(refresh.expires_at - time.time()),
            }
        )
    if form.get("grant_type") != "authorization_code":
        return _oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
    found = member.codes.pop(str(form.get("code", "")), None)
    if found is None or found[3] <= time.time():
        return _oauth_error("invalid_request", "Unable to retrieve access token: authorization code not found")
    redirect_uri, client_id, account_ids, _ = found
    if form.get("redirect_uri") != redirect_uri or form.get("client_id") != client_id:
        return _oauth_error("invalid_request", "Unable to retrieve access token: appid/redirect uri/code mismatch")
    refresh_token = f"AQW{secrets.token_urlsafe(32)}"
    member.refresh[refresh_token] = Refresh(set(account_ids), time.time() + REFRESH_SECONDS)
    return web.json_response(
        {
            "access_token": _issue(li, set(account_ids)),
            "expires_in": ACCESS_SECONDS,
            "refresh_token": refresh_token,
            "refresh_token_expires_in": REFRESH_SECONDS,
            "scope": str(form.get("scope", "")),
        }
    )


def _member_token(request: web.Request) -> tuple[str, linkedin_api.MemberToken | None]:
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    return token, _li(request).member_tokens.get(token)


async def ad_account_users(request: web.Request) -> web.Response:
    li = _li(request)
    denied = linkedin_api._check(li, request, None)
    if denied:
        return denied
    _, member = _member_token(request)
    if member is None:
        return li.error(403, "adAccountUsers needs a member's 3-legged token", "ACCESS_DENIED")
    if request.query.get("q") != "authenticatedUser":
        return li.error(400, "q=authenticatedUser is the supported finder", "ILLEGAL_ARGUMENT")
    person = request.app[MEMBER].person
    elements = [
        {"account": f"urn:li:sponsoredAccount:{a}", "role": "ACCOUNT_MANAGER", "user": person}
        for a in sorted(member.account_ids)
    ]
    return web.json_response({"elements": elements, "paging": {"start": 0, "count": 100, "total": len(elements)}})


async def ad_account(request: web.Request) -> web.Response:
    li = _li(request)
    account_id = request.match_info["id"]
    denied = linkedin_api._check(li, request, account_id)
    if denied:
        return denied
    return web.json_response(
        {
            "id": int(account_id),
            "name": f"Sandbox ad account {account_id}",
            "status": "ACTIVE",
            "type": "BUSINESS",
            "currency": "USD",
            "reference": "urn:li:organization:2414183",
        }
    )


async def create_subscription(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    li = _li(request)
    body = await request.json()
    owner = str((body.get("owner") or {}).get("sponsoredAccount", ""))
    account_id = owner.rsplit(":", 1)[-1] if owner.startswith("urn:li:sponsoredAccount:") else ""
    if not account_id or not body.get("webhook") or body.get("leadType") != "SPONSORED":
        return li.error(
            422, "webhook, owner.sponsoredAccount and leadType SPONSORED are required", "UNPROCESSABLE_ENTITY"
        )
    denied = linkedin_api._check(li, request, account_id)
    if denied:
        return denied
    # Since March 2026 notifications go only to validated webhooks: validate before subscribing.
    checked = await linkedin_api.validate_webhook(li, str(body["webhook"]))
    if not checked.get("validated"):
        return li.error(400, f"The webhook {body['webhook']} failed validation", "WEBHOOK_VALIDATION_FAILED")
    subscription_id = str(next(member.ids))
    member.subscriptions[subscription_id] = (account_id, str(body["webhook"]))
    li.delivery.configure(account_id, url=str(body["webhook"]))
    return web.json_response({}, status=201, headers={"x-restli-id": subscription_id})


async def delete_subscription(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    li = _li(request)
    found = member.subscriptions.get(request.match_info["id"])
    if found is None:
        return li.error(404, f"No lead notification subscription {request.match_info['id']}", "NOT_FOUND")
    denied = linkedin_api._check(li, request, found[0])
    if denied:
        return denied
    member.subscriptions.pop(request.match_info["id"])
    if not any(a == found[0] for a, _ in member.subscriptions.values()):
        li.delivery.configure(found[0], url="")
    return web.Response(status=204)


# -- control ---------------------------------------------------------------------------------------


async def control_member(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    body = await request.json()
    member.account_ids = [str(a) for a in body.get("account_ids", [])]
    member.name = str(body.get("name", member.name))
    return web.json_response({"person": member.person, "account_ids": member.account_ids})


async def control_tokens(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    li = _li(request)
    body = await request.json()
    out: dict[str, Any] = {}
    if body.get("access_token"):
        token = li.member_tokens.get(str(body["access_token"]))
        if token is None:
            return web.json_response({"error": "unknown access token"}, status=404)
        token.expires_at = time.time() + float(body.get("expires_in", 0))
        out["access_expires_at"] = token.expires_at
    if body.get("refresh_token"):
        refresh = member.refresh.get(str(body["refresh_token"]))
        if refresh is None:
            return web.json_response({"error": "unknown refresh token"}, status=404)
        refresh.revoked = bool(body.get("revoked", refresh.revoked))
        if "refresh_expires_in" in body:
            refresh.expires_at = time.time() + float(body["refresh_expires_in"])
        out["refresh_revoked"] = refresh.revoked
    return web.json_response(out)


async def control_subscriptions(request: web.Request) -> web.Response:
    member = request.app[MEMBER]
    return web.json_response({sid: {"account_id": a, "webhook": w} for sid, (a, w) in member.subscriptions.items()})


def setup(app: web.Application) -> None:
    """After linkedin_api.setup (its state holds the ad accounts, forms and deliveries)."""
    app[MEMBER] = MemberState()
    r = app.router
    r.add_get("/linkedin/oauth/v2/authorization", authorization)
    r.add_post("/linkedin/oauth/v2/authorization", authorization_decision)
    r.add_post("/linkedin/oauth/v2/accessToken", access_token)
    r.add_get("/linkedin/rest/adAccountUsers", ad_account_users)
    r.add_get("/linkedin/rest/adAccounts/{id}", ad_account)
    r.add_post("/linkedin/rest/leadNotifications", create_subscription)
    r.add_delete("/linkedin/rest/leadNotifications/{id}", delete_subscription)
    r.add_post("/linkedin/_control/member", control_member)
    r.add_post("/linkedin/_control/tokens", control_tokens)
    r.add_get("/linkedin/_control/subscriptions", control_subscriptions)
