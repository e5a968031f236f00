"""Facebook Login and Page subscriptions stand-in (docs/platform-oauth.md): the Login dialog's consent
page, the code and fb_exchange_token exchanges, `me/accounts`, the app's webhook subscription, a
Page's `subscribed_apps` (which points the Page's `leadgen` webhooks at the app's callback URL).
`has_lead_access` is sandbox.graph_api's. Pages, forms and leads are sandbox.graph_api's.

  GET  /facebook/{version}/dialog/oauth?client_id&redirect_uri&state&scope&response_type=code
  POST /facebook/{version}/dialog/oauth            (the consent form: Allow / Cancel)
  GET  /graph/{version}/oauth/access_token          code exchange, or grant_type=fb_exchange_token
  GET  /graph/{version}/me/accounts                 the signed-in user's Pages with their Page tokens
  POST /graph/{version}/{app_id}/subscriptions      object=page, callback_url, fields, verify_token
  POST|DELETE|GET /graph/{version}/{page_id}/subscribed_apps   subscribed_fields=leadgen
Control under /graph/_control/:
  POST login {page_ids, name?}      who is signed in to "Facebook" and which Pages they manage
  POST tokens {access_token, expires_in?, extendable?}   a user token's expiry, on demand
  POST leads_access {page_id, restricted}                the Page's Leads Access Manager
  GET  subscriptions                                     {page_id: [fields]} and the app callback
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from sandbox import consent_page, graph_api

CODE_SECONDS = 600
SHORT_LIVED_SECONDS = 2 * 3600
LONG_LIVED_SECONDS = 60 * 24 * 3600
SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_metadata", "leads_retrieval", "ads_management")


@dataclass
class UserToken:
    user_id: str
    page_ids: list[str]
    expires_at: float
    long_lived: bool = False
    # False: Facebook refuses to extend it (the user must log in again).
    extendable: bool = True


@dataclass
class LoginState:
    user_name: str = "Sandbox User"
    user_id: str = "10000001"
    page_ids: list[str] = field(default_factory=list)
    # code -> (redirect_uri, client_id, page_ids, expires_at)
    codes: dict[str, tuple[str, str, list[str], float]] = field(default_factory=dict)
    tokens: dict[str, UserToken] = field(default_factory=dict)
    app_callback: str = ""
    subscribed: dict[str, list[str]] = field(default_factory=dict)


LOGIN = web.AppKey("facebook_login", LoginState)


def _graph(request: web.Request) -> graph_api.GraphState:
    return request.app[graph_api.STATE]


def _oauth_error(request: web.Request, message: str, code: int = 100, subcode: int | None = None) -> web.Response:
    return _graph(request).error(code, message, subcode)


async def dialog(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    graph = _graph(request)
    q = request.query
    if q.get("response_type", "code") != "code" or not q.get("client_id") or not q.get("redirect_uri"):
        return web.Response(status=400, text="client_id, redirect_uri and response_type=code are required")
    scopes = [s for s in q.get("scope", "").split(",") if s]
    pages = [f"{graph.pages[p].name} ({p})" for p in login.page_ids if p in graph.pages]
    return consent_page.render(
        platform="Facebook",
        app_name=f"App {q['client_id']}",
        person=login.user_name,
        scopes=scopes,
        places_label="Pages you manage that it may use",
        places=pages,
        action=str(request.rel_url.path),
        hidden={k: q.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")},
    )


async def dialog_decision(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    form = await request.post()
    redirect_uri, state = str(form.get("redirect_uri", "")), str(form.get("state", ""))
    if form.get("decision") != "allow":
        query = {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
            "state": state,
        }
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(query)}")
    code = secrets.token_urlsafe(24)
    login.codes[code] = (redirect_uri, str(form.get("client_id", "")), list(login.page_ids), time.time() + CODE_SECONDS)
    raise web.HTTPFound(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")


def _issue(login: LoginState, page_ids: list[str], seconds: float, long_lived: bool) -> dict[str, Any]:
    token = f"EAAU{secrets.token_urlsafe(24)}"
    login.tokens[token] = UserToken(login.user_id, page_ids, time.time() + seconds, long_lived)
    return {"access_token": token, "token_type": "bearer", "expires_in": int(seconds)}


async def access_token(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    graph = _graph(request)
    q = request.query
    if not secrets.compare_digest(q.get("client_secret", ""), graph.app_secret):
        return _oauth_error(request, "Error validating client secret.", 1)
    if q.get("grant_type") == "fb_exchange_token":
        user = login.tokens.get(q.get("fb_exchange_token", ""))
        if user is None:
            return _oauth_error(request, "Invalid OAuth access token - Cannot parse access token", 190)
        if user.expires_at <= time.time():
            return _oauth_error(request, "Error validating access token: Session has expired.", 190, 463)
        if not user.extendable:
            return _oauth_error(
                request,
                "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons.",
                190,
                460,
            )
        return web.json_response(_issue(login, user.page_ids, LONG_LIVED_SECONDS, True))
    found = login.codes.pop(q.get("code", ""), None)
    if found is None or found[3] <= time.time():
        return _oauth_error(request, "This authorization code has been used or has expired.", 100, 36007)
    redirect_uri, client_id, page_ids, _ = found
    if q.get("redirect_uri") != redirect_uri or q.get("client_id") != client_id:
        return _oauth_error(
            request, "Error validating verification code. Please make sure your redirect_uri is identical.", 100
        )
    return web.json_response(_issue(login, page_ids, SHORT_LIVED_SECONDS, False))


def _user(request: web.Request) -> UserToken | web.Response:
    login = request.app[LOGIN]
    user = login.tokens.get(graph_api._token(request))
    if user is None:
        return _oauth_error(request, "Invalid OAuth access token - Cannot parse access token", 190)
    if user.expires_at <= time.time():
        return _oauth_error(request, "Error validating access token: Session has expired.", 190, 463)
    return user


async def me_accounts(request: web.Request) -> web.Response:
    user = _user(request)
    if isinstance(user, web.Response):
        return user
    graph = _graph(request)
    data = [
        {
            "id": p,
            "name": graph.pages[p].name,
            "access_token": graph.pages[p].token,
            "category": "Business",
            "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
        }
        for p in user.page_ids
        if p in graph.pages
    ]
    return web.json_response({"data": data, "paging": {"cursors": {"before": "", "after": ""}}})


async def app_subscriptions(request: web.Request) -> web.Response:
    """The app's webhook: Facebook checks the callback with the hub.challenge handshake first."""
    login = request.app[LOGIN]
    graph = _graph(request)
    form = await request.post()
    params = {**request.query, **{k: str(v) for k, v in form.items()}}
    app_token = params.get("access_token", "")
    if not secrets.compare_digest(app_token, f"{request.match_info['node']}|{graph.app_secret}"):
        return _oauth_error(request, "Invalid OAuth access token - an app access token is required", 190)
    if params.get("object") != "page" or "leadgen" not in params.get("fields", "").split(","):
        return _oauth_error(request, "(#100) object=page and fields including leadgen are required", 100)
    challenge = secrets.token_hex(8)
    query = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": params.get("verify_token", "")}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(params.get("callback_url", ""), params=query) as reply,
        ):
            answer = await reply.text()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        answer = ""
    if answer != challenge:
        return _oauth_error(
            request, "(#2200) callback verification failed: the callback URL did not echo hub.challenge", 2200
        )
    login.app_callback = params["callback_url"]
    for page_id in login.subscribed:
        graph.delivery.configure(page_id, url=login.app_callback)
    return web.json_response({"success": True})


async def subscribed_apps(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    graph = _graph(request)
    page_id = request.match_info["node"]
    denied = graph_api._check(graph, request, page_id)
    if denied:
        return denied
    if request.method == "GET":
        fields = login.subscribed.get(page_id)
        data = [{"id": "app", "name": "LeadRelay", "subscribed_fields": fields}] if fields else []
        return web.json_response({"data": data})
    if request.method == "DELETE":
        login.subscribed.pop(page_id, None)
        graph.delivery.configure(page_id, url="")
        return web.json_response({"success": True})
    form = await request.post()
    fields = str(request.query.get("subscribed_fields") or form.get("subscribed_fields", "")).split(",")
    if not [f for f in fields if f]:
        return _oauth_error(request, "(#100) The parameter subscribed_fields is required.", 100)
    login.subscribed[page_id] = [f for f in fields if f]
    if "leadgen" in fields and login.app_callback:
        graph.delivery.configure(page_id, url=login.app_callback)
    return web.json_response({"success": True})


# -- control ---------------------------------------------------------------------------------------


async def control_login(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    body = await request.json()
    login.page_ids = [str(p) for p in body.get("page_ids", [])]
    login.user_name = str(body.get("name", login.user_name))
    return web.json_response({"user_id": login.user_id, "page_ids": login.page_ids})


async def control_tokens(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    body = await request.json()
    user = login.tokens.get(str(body.get("access_token", "")))
    if user is None:
        return web.json_response({"error": "unknown user token"}, status=404)
    if "expires_in" in body:
        user.expires_at = time.time() + float(body["expires_in"])
    if "extendable" in body:
        user.extendable = bool(body["extendable"])
    return web.json_response({"expires_at": user.expires_at, "extendable": user.extendable})


async def control_leads_access(request: web.Request) -> web.Response:
    graph = _graph(request)
    body = await request.json()
    page = graph.pages.get(str(body.get("page_id", "")))
    if page is None:
        return web.json_response({"error": f"unknown page {body.get('page_id')!r}"}, status=404)
    page.leads_access_restricted = bool(body.get("restricted", True))
    return web.json_response({"page_id": page.page_id, "restricted": page.leads_access_restricted})


async def control_subscriptions(request: web.Request) -> web.Response:
    login = request.app[LOGIN]
    return web.json_response({"app_callback": login.app_callback, "pages": login.subscribed})


def setup(app: web.Application) -> None:
    """After graph_api.setup (its state holds the Pages)."""
    app[LOGIN] = LoginState()
    r = app.router
    version = r"{version:v\d+\.\d+}"
    r.add_get(f"/facebook/{version}/dialog/oauth", dialog)
    r.add_post(f"/facebook/{version}/dialog/oauth", dialog_decision)
    r.add_get(f"/graph/{version}/oauth/access_token", access_token)
    r.add_get(f"/graph/{version}/me/accounts", me_accounts)
    r.add_post(f"/graph/{version}/{{node:\\d+}}/subscriptions", app_subscriptions)
    r.add_route("*", f"/graph/{version}/{{node:\\d+}}/subscribed_apps", subscribed_apps)
    r.add_post("/graph/_control/login", control_login)
    r.add_post("/graph/_control/tokens", control_tokens)
    r.add_post("/graph/_control/leads_access", control_leads_access)
    r.add_get("/graph/_control/subscriptions", control_subscriptions)
