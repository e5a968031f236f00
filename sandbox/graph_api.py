"""Graph API stand-in (Lead Ads): lead nodes, the form `leads` edge with `filtering` and cursor paging,
test leads, Graph error bodies on demand, and signed `leadgen` webhooks (reference §1-§3). A present
`appsecret_proof` is checked against the app secret (the one signing the webhooks) on every call; a
Page made with require_appsecret_proof refuses calls without one.

Routes live under /graph (tests point GRAPH_API_BASE_URL at {sandbox}/graph):
  GET  /graph/{version}/{lead_id}            a lead (Page token)
  GET  /graph/{version}/{page_id}            a Page ({id, name}; fields=has_lead_access... adds Leads Access)
  GET  /graph/{version}/{page_id}/leadgen_forms   fields=questions adds each form's [{key, label, type, id}]
  GET  /graph/{version}/{form_id}/leads      filtering=[{field:time_created,...}], limit, after
  POST /graph/{version}/{form_id}/test_leads
Control (tests, benchmarks, the demo), under /graph/_control/:
  POST pages {page_id?, access_token?, name?, forms?: n, require_appsecret_proof?}
                                                               -> {page_id, access_token, form_ids}
  POST leads {form_id, count, created_time?, spread_seconds?, deliver?, batch_size?, organic?,
              field_data?, custom_disclaimer_responses?}       -> {ids}
  DELETE leads/{lead_id}                                       (the platform no longer has it)
  POST forms/{form_id}/questions {questions: [{key, label, type}]}   the form's questions from now on
  POST errors {code, count (-1 = until cleared), subcode?, access_token?}; DELETE errors {access_token?}
  POST webhook {url, drop_rate, duplicate_rate, duplicates, delay_ms, page_id?, app_secret?}
  GET  deliveries; POST drain
  POST demo {page_id, form_id, every_seconds}                  a lead every few seconds, webhooks on
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox import appsecret_proofs, lead_generator
from sandbox.demo_feeds import DemoFeeds
from sandbox.webhook_delivery import WebhookDelivery

RATE_LIMIT_MESSAGES = {
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    613: "Calls to this api have exceeded the rate limit.",
    80004: "There have been too many calls to this ad-account. Wait a bit and try again.",
    80005: "There have been too many leadgen api calls to this Page account. Wait a bit and try again.",
}
DEFAULT_LEAD_FIELDS = ("created_time", "id", "ad_id", "form_id", "field_data")
MAX_LIMIT = 500


@dataclass
class Page:
    page_id: str
    name: str
    token: str
    form_ids: list[str] = field(default_factory=list)
    # Meta's "Require App Secret": calls for this Page without appsecret_proof are refused.
    require_proof: bool = False
    # The Page's Leads Access Manager leaves our app out (sandbox.facebook_login's control sets it).
    leads_access_restricted: bool = False


@dataclass
class Form:
    form_id: str
    page_id: str
    name: str
    # (created_time, lead_id), kept sorted: the leads edge reads newest first.
    index: list[tuple[int, str]] = field(default_factory=list)
    test_lead_id: str = ""
    # [{key, label, type}]: what leads' field_data names (lead_generator's fields by default).
    questions: list[dict[str, str]] = field(default_factory=lambda: list(lead_generator.FACEBOOK_QUESTIONS))


@dataclass
class ErrorRule:
    code: int
    remaining: int
    subcode: int | None = None
    access_token: str | None = None


class GraphState:
    def __init__(self, app_secret: str) -> None:
        self.app_secret = app_secret
        self.pages: dict[str, Page] = {}
        self.forms: dict[str, Form] = {}
        self.leads: dict[str, dict[str, Any]] = {}
        self.errors: list[ErrorRule] = []
        self.rng = random.Random(20260101)
        self._ids = itertools.count(random.Random().randrange(10**15, 9 * 10**15, 10**6))
        self.delivery = WebhookDelivery(self._sign)
        self.demo = DemoFeeds(self.rng)

    def new_id(self) -> str:
        return str(next(self._ids))

    def _sign(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}

    # -- data -------------------------------------------------------------------------------------

    def add_page(self, page_id: str | None, token: str | None, name: str, forms: int) -> Page:
        page = self.pages.get(page_id or "")
        if page is None:
            page = Page(page_id or self.new_id(), name, token or f"EAAB{self.new_id()}")
            self.pages[page.page_id] = page
        elif token:
            page.token = token
        while len(page.form_ids) < forms:
            form = Form(self.new_id(), page.page_id, f"{name} form {len(page.form_ids) + 1}")
            self.forms[form.form_id] = form
            page.form_ids.append(form.form_id)
        return page

    def add_lead(
        self,
        form: Form,
        created: int,
        *,
        organic: bool = False,
        field_data: list[dict[str, Any]] | None = None,
        disclaimers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        lead_id = self.new_id()
        person = lead_generator.person(self.rng)
        lead: dict[str, Any] = {
            "id": lead_id,
            "created_time": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "form_id": form.form_id,
            "field_data": field_data
            if field_data is not None
            else lead_generator.facebook_field_data(person, self.rng),
            "custom_disclaimer_responses": disclaimers
            if disclaimers is not None
            else lead_generator.facebook_disclaimers(self.rng),
            "is_organic": organic,
            # Allowed values are undocumented (reference §10.10): "fb" / "ig" is our choice.
            "platform": "ig" if self.rng.random() < 0.3 else "fb",
            "_page_id": form.page_id,
            "_created": created,
        }
        if not organic:
            n = int(lead_id) % 7
            lead.update(
                ad_id=f"2385{n:011d}",
                ad_name=f"Spring promo ad {n}",
                adset_id=f"2384{n:011d}",
                adset_name=f"Adset {n}",
                campaign_id=f"2383{n % 3:011d}",
                campaign_name=f"Campaign {n % 3}",
            )
        self.leads[lead_id] = lead
        bisect.insort(form.index, (created, lead_id))
        return lead

    def notify(self, leads: list[dict[str, Any]], batch_size: int = 1) -> None:
        """`leadgen` changes, `batch_size` per POST, grouped into one entry per Page."""
        for start in range(0, len(leads), max(1, batch_size)):
            batch = leads[start : start + max(1, batch_size)]
            entries: dict[str, dict[str, Any]] = {}
            for lead in batch:
                page_id = lead["_page_id"]
                entry = entries.setdefault(page_id, {"id": page_id, "time": int(time.time()), "changes": []})
                # Bare JSON numbers, as in the official example and real captures.
                entry["changes"].append(
                    {
                        "field": "leadgen",
                        "value": {
                            "leadgen_id": int(lead["id"]),
                            "page_id": int(page_id),
                            "form_id": int(lead["form_id"]),
                            "adgroup_id": int(lead.get("ad_id", 0)),
                            "ad_id": int(lead.get("ad_id", 0)),
                            "created_time": lead["_created"],
                        },
                    }
                )
            body = json.dumps({"object": "page", "entry": list(entries.values())}).encode()
            self.delivery.send(batch[0]["_page_id"], body)

    # -- errors -----------------------------------------------------------------------------------

    def injected_error(self, token: str) -> web.Response | None:
        for rule in self.errors:
            if rule.access_token not in (None, token) or rule.remaining == 0:
                continue
            if rule.remaining > 0:
                rule.remaining -= 1
            return self.error(
                rule.code,
                RATE_LIMIT_MESSAGES.get(rule.code, "Error validating access token: Session has expired."),
                rule.subcode,
            )
        return None

    def error(self, code: int, message: str, subcode: int | None = None, status: int = 400) -> web.Response:
        body: dict[str, Any] = {
            "message": message,
            "type": "OAuthException" if code in (190, 102) else "GraphMethodException",
            "code": code,
            "fbtrace_id": base64.b64encode(self.rng.randbytes(8)).decode().rstrip("="),
        }
        if subcode is not None:
            body["error_subcode"] = subcode
        return web.json_response({"error": body}, status=status)


STATE = web.AppKey("graph_state", GraphState)


def _token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query.get("access_token", "")


def _check(state: GraphState, request: web.Request, page_id: str) -> web.Response | None:
    token = _token(request)
    if not token:
        return state.error(104, "An access token is required to request this resource.")
    injected = state.injected_error(token)
    if injected is not None:
        return injected
    page = state.pages.get(page_id)
    if page is None or not hmac.compare_digest(page.token, token):
        return state.error(190, "Invalid OAuth access token - Cannot parse access token")
    refused = appsecret_proofs.refusal(
        state.app_secret, token, request.query.get("appsecret_proof"), required=page.require_proof
    )
    if refused:
        return state.error(100, refused)
    return None


def _not_found(state: GraphState, node: str) -> web.Response:
    return state.error(
        100,
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        33,
    )


def lead_access(page: Page) -> dict[str, Any]:
    """`has_lead_access` of a Page for the calling app (fields=has_lead_access.app_id(...))."""
    restricted = page.leads_access_restricted
    out: dict[str, Any] = {
        "enabled_lead_access_manager": restricted,
        "app_has_leads_permission": not restricted,
        "can_access_lead": not restricted,
        "is_page_admin": True,
        "user_has_leads_permission": True,
    }
    if restricted:
        out["failure_reason"] = "The app is not assigned in the Page's Leads Access Manager."
        out["failure_resolution"] = (
            "In Meta Business Settings > Integrations > Leads Access, select the Page and assign the CRM."
        )
    return out


def _public(lead: dict[str, Any], fields: str | None) -> dict[str, Any]:
    wanted = [f.strip() for f in fields.split(",")] if fields else list(DEFAULT_LEAD_FIELDS)
    return {k: lead[k] for k in wanted if k in lead and not k.startswith("_")}


async def get_node(request: web.Request) -> web.Response:
    state = request.app[STATE]
    node = request.match_info["node"]
    if node in state.pages:
        denied = _check(state, request, node)
        if denied:
            return denied
        body: dict[str, Any] = {"id": node, "name": state.pages[node].name}
        if "has_lead_access" in request.query.get("fields", ""):
            body["has_lead_access"] = lead_access(state.pages[node])
        return web.json_response(body)
    lead = state.leads.get(node)
    if lead is None:
        # Without a known lead there is no Page to check the token against: the token still has to be valid.
        token = _token(request)
        injected = state.injected_error(token)
        if injected is not None:
            return injected
        if not any(hmac.compare_digest(p.token, token) for p in state.pages.values()):
            return state.error(190, "Invalid OAuth access token - Cannot parse access token")
        return _not_found(state, node)
    denied = _check(state, request, lead["_page_id"])
    return denied or web.json_response(_public(lead, request.query.get("fields")))


async def page_forms(request: web.Request) -> web.Response:
    state = request.app[STATE]
    page = state.pages.get(request.match_info["node"])
    if page is None:
        return _not_found(state, request.match_info["node"])
    denied = _check(state, request, page.page_id)
    if denied:
        return denied
    data: list[dict[str, Any]] = [{"id": f, "name": state.forms[f].name, "status": "ACTIVE"} for f in page.form_ids]
    if "questions" in request.query.get("fields", ""):
        for form in data:
            form["questions"] = [{**q, "id": str(9000 + i)} for i, q in enumerate(state.forms[form["id"]].questions)]
    return web.json_response({"data": data, "paging": {"cursors": {"before": "", "after": ""}}})


def _bounds(raw: str | None) -> tuple[float, float]:
    """`filtering` on time_created -> (low, high) half-open-ish bounds in seconds."""
    low, high = float("-inf"), float("inf")
    for rule in json.loads(raw) if raw else []:
        if rule.get("field") != "time_created":
            raise ValueError(f"filtering on {rule.get('field')!r} is not supported by this edge")
        value = int(rule["value"])
        op = rule.get("operator")
        if op == "GREATER_THAN":
            low = max(low, value + 1)
        elif op == "GREATER_THAN_OR_EQUAL":
            low = max(low, value)
        elif op == "LESS_THAN":
            high = min(high, value - 1)
        else:
            raise ValueError(f"operator {op!r} is not supported")
    return low, high


def _cursor(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode()).decode()


def _uncursor(raw: str) -> tuple[int, str]:
    created, _, lead_id = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
    return int(created), lead_id


async def form_leads(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = state.forms.get(request.match_info["node"])
    if form is None:
        return _not_found(state, request.match_info["node"])
    denied = _check(state, request, form.page_id)
    if denied:
        return denied
    try:
        low, high = _bounds(request.query.get("filtering"))
        limit = min(MAX_LIMIT, max(1, int(request.query.get("limit", "25"))))
        after = _uncursor(request.query["after"]) if request.query.get("after") else None
    except (ValueError, KeyError, TypeError) as exc:
        return state.error(100, f"Invalid parameter: {exc}")
    # Newest first; the cursor is the position of the last lead handed out.
    hi_key = (int(min(high, 2**62)), "\uffff") if after is None else after
    lo_key = (int(max(low, -(2**62))), "")
    lo = bisect.bisect_left(form.index, lo_key)
    hi = bisect.bisect_left(form.index, hi_key) if after else bisect.bisect_right(form.index, hi_key)
    keys = form.index[max(lo, hi - limit) : hi][::-1]
    data = [_public(state.leads[k[1]], request.query.get("fields")) for k in keys]
    paging: dict[str, Any] = {
        "cursors": {"before": _cursor(keys[0]) if keys else "", "after": _cursor(keys[-1]) if keys else ""}
    }
    if keys and hi - limit > lo:
        nxt = request.url.update_query(after=_cursor(keys[-1]))
        paging["next"] = str(nxt)
    return web.json_response({"data": data, "paging": paging})


async def test_leads(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = state.forms.get(request.match_info["node"])
    if form is None:
        return _not_found(state, request.match_info["node"])
    denied = _check(state, request, form.page_id)
    if denied:
        return denied
    if form.test_lead_id in state.leads:
        return state.error(100, "A test lead already exists for this form: delete it before creating another.")
    body = await _form_or_json(request)
    field_data = body.get("field_data")
    if isinstance(field_data, str):
        field_data = json.loads(field_data)
    disclaimers = body.get("custom_disclaimer_responses")
    if isinstance(disclaimers, str):
        disclaimers = json.loads(disclaimers)
    lead = state.add_lead(
        form,
        int(time.time()),
        organic=True,
        field_data=field_data or lead_generator.test_lead_field_data(["full_name", "email", "phone_number"]),
        disclaimers=disclaimers or [],
    )
    form.test_lead_id = lead["id"]
    state.notify([lead])
    return web.json_response({"id": lead["id"]})


async def _form_or_json(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    return dict(await request.post()) if request.can_read_body else {}


# -- control ---------------------------------------------------------------------------------------


async def control_pages(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    page = state.add_page(
        body.get("page_id"), body.get("access_token"), body.get("name", "Sandbox Page"), int(body.get("forms", 1))
    )
    if "require_appsecret_proof" in body:
        page.require_proof = bool(body["require_appsecret_proof"])
    return web.json_response({"page_id": page.page_id, "access_token": page.token, "form_ids": page.form_ids})


async def control_leads(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    form = state.forms.get(str(body.get("form_id", "")))
    if form is None:
        return web.json_response({"error": f"unknown form {body.get('form_id')!r}"}, status=404)
    count = int(body.get("count", 1))
    now = int(body.get("created_time") or time.time())
    spread = int(body.get("spread_seconds", 0))
    leads = []
    for n in range(count):
        created = now - (spread * (count - 1 - n) // max(1, count - 1) if spread else 0)
        leads.append(
            state.add_lead(
                form,
                created,
                organic=bool(body.get("organic", False)),
                field_data=body.get("field_data"),
                disclaimers=body.get("custom_disclaimer_responses"),
            )
        )
    if body.get("deliver", True):
        state.notify(leads, int(body.get("batch_size", 1)))
    return web.json_response({"ids": [lead["id"] for lead in leads]})


async def control_questions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = state.forms.get(request.match_info["form_id"])
    if form is None:
        return web.json_response({"error": f"unknown form {request.match_info['form_id']!r}"}, status=404)
    body = await request.json()
    form.questions = [
        {"key": str(q["key"]), "label": str(q.get("label", "")), "type": str(q.get("type", "CUSTOM"))}
        for q in body.get("questions", [])
    ]
    return web.json_response({"form_id": form.form_id, "questions": form.questions})


async def control_delete_lead(request: web.Request) -> web.Response:
    state = request.app[STATE]
    lead = state.leads.pop(request.match_info["lead_id"], None)
    if lead is None:
        return web.json_response({"deleted": False}, status=404)
    form = state.forms[lead["form_id"]]
    form.index.remove((lead["_created"], lead["id"]))
    return web.json_response({"deleted": True})


async def control_errors(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json() if request.can_read_body else {}
    token = body.get("access_token")
    if request.method == "DELETE":
        state.errors = [r for r in state.errors if token is not None and r.access_token != token]
        return web.json_response({"rules": len(state.errors)})
    state.errors.append(ErrorRule(int(body["code"]), int(body.get("count", 1)), body.get("subcode"), token))
    return web.json_response({"rules": len(state.errors)})


async def control_webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    if body.get("app_secret"):
        state.app_secret = body["app_secret"]
    config = state.delivery.configure(
        str(body.get("page_id", "")),
        **{k: body.get(k) for k in ("url", "drop_rate", "duplicate_rate", "duplicates", "delay_ms", "max_attempts")},
    )
    return web.json_response(vars(config))


async def control_deliveries(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].delivery.stats.as_json())


async def control_drain(request: web.Request) -> web.Response:
    await request.app[STATE].delivery.drain()
    return web.json_response(request.app[STATE].delivery.stats.as_json())


async def control_demo(request: web.Request) -> web.Response:
    """A lead every `every_seconds` on the form, with its webhook (the `make run` demo)."""
    state = request.app[STATE]
    body = await request.json()
    form = state.forms[str(body["form_id"])]
    every = float(body.get("every_seconds", 5.0))

    def make_lead() -> None:
        state.notify([state.add_lead(form, int(time.time()), organic=state.rng.random() < 0.1)])

    state.demo.set(form.form_id, every, make_lead)  # every_seconds 0 stops the feed
    return web.json_response({"form_id": form.form_id, "every_seconds": max(every, 0)})


async def _cleanup(app: web.Application) -> None:
    state = app[STATE]
    await state.demo.close()
    await state.delivery.close()


def setup(app: web.Application, app_secret: str) -> None:
    """app_secret signs the webhooks (FACEBOOK_APP_SECRET, so ingest can check them)."""
    app[STATE] = GraphState(app_secret or "sandbox-app-secret")
    app.on_cleanup.append(_cleanup)
    r = app.router
    r.add_post("/graph/_control/pages", control_pages)
    r.add_post("/graph/_control/leads", control_leads)
    r.add_delete("/graph/_control/leads/{lead_id}", control_delete_lead)
    r.add_post("/graph/_control/forms/{form_id}/questions", control_questions)
    r.add_post("/graph/_control/errors", control_errors)
    r.add_delete("/graph/_control/errors", control_errors)
    r.add_post("/graph/_control/webhook", control_webhook)
    r.add_get("/graph/_control/deliveries", control_deliveries)
    r.add_post("/graph/_control/drain", control_drain)
    r.add_post("/graph/_control/demo", control_demo)
    version = r"{version:v\d+\.\d+}"
    r.add_get(f"/graph/{version}/{{node:\\d+}}/leadgen_forms", page_forms)
    r.add_get(f"/graph/{version}/{{node:\\d+}}/leads", form_leads)
    r.add_post(f"/graph/{version}/{{node:\\d+}}/test_leads", test_leads)
    r.add_get(f"/graph/{version}/{{node:\\d+}}", get_node)
