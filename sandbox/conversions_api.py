"""Stand-in for Meta's Conversions API (CRM events): POST /graph/{version}/{dataset_id}/events.

It checks a request as Meta does (reference §4) and refuses the WHOLE request for one bad event, with
the Graph error envelope: at most 1,000 events; event_time neither older than 7 days nor in the future
(60 s of clock skew allowed); action_source `system_generated`; event_name; user_data.lead_id a 15-16
digit integer (or digit string); em/ph/fn/ln/ct/st/zp/country 64-character lowercase hex;
custom_data.event_source `crm` and a lead_event_source; Limited Data Use fields as Meta accepts them
(`data_processing_options` [] or ["LDU"], country 0 or 1, a state Meta knows or 0, a country only with a
state); an access token, and — when the sandbox has an app secret (FACEBOOK_APP_SECRET) — its
`appsecret_proof`. Success: `{"events_received": n, "messages": [], "fbtrace_id"}`.

Parameters come as Meta's Business SDKs send them — a form-encoded body whose `data` is a JSON array
of JSON-encoded event strings, `access_token`/`appsecret_proof` in the query string — or as a JSON body.

Control (tests, benchmarks), under /graph/_control/capi/ — state is kept per dataset id, so tests
that each use their own dataset never see each other:
- POST   /graph/_control/capi/errors {"dataset_id", "kind": "server"|"rate_limit"|"token", "code", "count"}
         the next `count` requests to that dataset fail that way (server: HTTP 500 code 2; rate_limit:
         HTTP 400 with code 4/17/613/80004; token: HTTP 400 code 190 until `count` runs out)
- POST   /graph/_control/capi/expired_tokens {"token"}: that token is refused with code 190 from now on
- POST   /graph/_control/capi/unknown_leads {"dataset_id", "lead_ids": [...]}: Meta does not know these
         lead ids — a request with any of them is refused (code 100), as Meta rejects an invalid lead_id
- GET    /graph/_control/capi/events?dataset_id=…: {"events": [accepted events], "requests": [{"events",
         "status", "test_event_code"}]} — every request with its size and answer, in order
- DELETE /graph/_control/capi/events?dataset_id=…: forget that dataset's record
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from sandbox import appsecret_proofs

MAX_EVENTS = 1000
WINDOW_SECONDS = 7 * 24 * 3600
FUTURE_SKEW_SECONDS = 60

_LEAD_ID = re.compile(r"[1-9]\d{14,15}")
_HASH = re.compile(r"[0-9a-f]{64}")
_HASHED_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country")
# data_processing_options_state values Meta accepts (1000 California ... 1013 Rhode Island; 0 geolocate).
_LDU_STATES = frozenset({0, *range(1000, 1014)})
_ACTION_SOURCES = {
    "email",
    "website",
    "app",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
}


@dataclass
class Dataset:
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Injected failures, consumed one per request: (kind, code).
    failures: deque[tuple[str, int]] = field(default_factory=deque)
    unknown_leads: set[str] = field(default_factory=set)
    # When set, keep only counts (benchmarks send 100,000 events).
    count_only: bool = False
    received: int = 0


@dataclass
class CapiState:
    datasets: defaultdict[str, Dataset] = field(default_factory=lambda: defaultdict(Dataset))
    expired_tokens: set[str] = field(default_factory=set)
    # When set, every call must carry appsecret_proof = HMAC-SHA256(access_token, key=app_secret).
    app_secret: str = ""


STATE = web.AppKey("capi_state", CapiState)


def _trace() -> str:
    return "A" + secrets.token_urlsafe(8)


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    user_title: str = "",
    user_msg: str = "",
    transient: bool | None = None,
) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": _trace()}
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    if transient is not None:
        error["is_transient"] = transient
    return web.json_response({"error": error}, status=status)


def _invalid(user_msg: str, title: str = "Invalid parameter") -> web.Response:
    return graph_error(400, 100, "Invalid parameter", user_title=title, user_msg=user_msg)


def event_problem(index: int, event: Any, now: float, unknown_leads: Collection[str] = ()) -> str | None:
    """Why Meta would refuse this event (the message names it by index), or None."""
    where = f"data[{index}]"
    if not isinstance(event, dict):
        return f"{where} is not an object"
    if not isinstance(event.get("event_name"), str) or not event["event_name"].strip():
        return f"{where}.event_name is required"
    event_time = event.get("event_time")
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        return f"{where}.event_time must be a Unix timestamp in seconds"
    if event_time < now - WINDOW_SECONDS:
        return (
            f"{where}.event_time: the timestamp for this event is more than 7 days in the past; "
            "events must be sent within 7 days of when they occurred"
        )
    if event_time > now + FUTURE_SKEW_SECONDS:
        return f"{where}.event_time is in the future"
    source = event.get("action_source")
    if source not in _ACTION_SOURCES:
        return f"{where}.action_source {source!r} is not a valid action source"
    if source != "system_generated":
        return f"{where}.action_source must be system_generated for CRM events"
    user_data = event.get("user_data")
    if not isinstance(user_data, dict):
        return f"{where}.user_data is required"
    lead_id = user_data.get("lead_id")
    if isinstance(lead_id, bool) or not isinstance(lead_id, int | str) or not _LEAD_ID.fullmatch(str(lead_id)):
        return f"{where}.user_data.lead_id {lead_id!r} is not a valid lead ID (15 or 16 digits)"
    if str(lead_id) in unknown_leads:
        return f"{where}.user_data.lead_id {lead_id} does not match any lead of this business"
    for key in _HASHED_KEYS:
        if key not in user_data:
            continue
        values = user_data[key] if isinstance(user_data[key], list) else [user_data[key]]
        for value in values:
            if not isinstance(value, str) or not _HASH.fullmatch(value):
                return f"{where}.user_data.{key} must be SHA-256 hashed (64 lowercase hex characters)"
    custom = event.get("custom_data")
    if not isinstance(custom, dict):
        return f"{where}.custom_data is required for CRM events"
    if custom.get("event_source") != "crm":
        return f"{where}.custom_data.event_source must be crm"
    if not isinstance(custom.get("lead_event_source"), str) or not custom["lead_event_source"].strip():
        return f"{where}.custom_data.lead_event_source is required"
    return _ldu_problem(where, event)


def _ldu_problem(where: str, event: dict[str, Any]) -> str | None:
    options = event.get("data_processing_options")
    if options is None:
        return None
    if not isinstance(options, list) or any(o != "LDU" for o in options):
        return f'{where}.data_processing_options must be [] or ["LDU"]'
    country = event.get("data_processing_options_country")
    state = event.get("data_processing_options_state")
    if country is not None and (isinstance(country, bool) or country not in (0, 1)):
        return f"{where}.data_processing_options_country must be 1 (USA) or 0 (geolocate)"
    if state is not None and (isinstance(state, bool) or state not in _LDU_STATES):
        return f"{where}.data_processing_options_state {state!r} is not a state Meta accepts (1000-1013, or 0)"
    if country is not None and state is None:
        return f"{where}.data_processing_options_state is required with data_processing_options_country"
    return None


async def _params(request: web.Request) -> dict[str, Any]:
    """Graph takes parameters as a JSON body, a form body, or the query string (data as JSON text)."""
    params: dict[str, Any] = {k: v for k, v in request.query.items()}
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            params.update(body)
        else:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
    if isinstance(params.get("data"), str):
        params["data"] = json.loads(params["data"])
    if isinstance(params.get("data"), list):
        # The Business SDKs send each event JSON-encoded on its own inside the array.
        params["data"] = [json.loads(e) if isinstance(e, str) else e for e in params["data"]]
    return params


async def post_events(request: web.Request) -> web.Response:
    state = request.app[STATE]
    dataset_id = request.match_info["dataset_id"]
    data = state.datasets[dataset_id]
    record: dict[str, Any] = {"events": 0, "status": 0, "test_event_code": ""}
    data.requests.append(record)
    response = await _answer(request, state, data, record)
    record["status"] = response.status
    return response


async def _answer(request: web.Request, state: CapiState, data: Dataset, record: dict[str, Any]) -> web.Response:
    try:
        params = await _params(request)
    except ValueError as exc:
        return _invalid(f"could not parse the request: {exc}")
    events = params.get("data")
    record["events"] = len(events) if isinstance(events, list) else 0
    record["test_event_code"] = params.get("test_event_code") or ""
    if data.failures:
        kind, code = data.failures.popleft()
        if kind == "server":
            return graph_error(
                500, code or 2, "An unexpected error has occurred. Please retry your request later.", transient=True
            )
        if kind == "rate_limit":
            return graph_error(400, code or 4, f"(#{code or 4}) Application request limit reached", transient=True)
        if kind == "token":
            return graph_error(400, 190, "Error validating access token: Session has expired.", subcode=463)
    token = params.get("access_token")
    if not token:
        return graph_error(
            400, 2500, "An active access token must be used to query information about the current user."
        )
    if token in state.expired_tokens:
        return graph_error(400, 190, "Error validating access token: Session has expired.", subcode=463)
    refused = appsecret_proofs.refusal(state.app_secret, str(token), params.get("appsecret_proof"), required=True)
    if refused:
        return graph_error(400, 100, refused, kind="GraphMethodException")
    if not request.match_info["dataset_id"].isdigit():
        return graph_error(
            400,
            100,
            f"Unsupported post request. Object with ID '{request.match_info['dataset_id']}' does not exist",
            kind="GraphMethodException",
            subcode=33,
        )
    if not isinstance(events, list) or not events:
        return _invalid("The parameter data is required and must be a non-empty array of events")
    if len(events) > MAX_EVENTS:
        return _invalid(f"{len(events)} events in one request; a request can have at most {MAX_EVENTS} events")
    now = time.time()
    for index, event in enumerate(events):
        problem = event_problem(index, event, now, data.unknown_leads)
        if problem:
            return _invalid(problem)
    data.received += len(events)
    if not data.count_only:
        data.events.extend(events)
    return web.json_response({"events_received": len(events), "messages": [], "fbtrace_id": _trace()})


async def control_errors(request: web.Request) -> web.Response:
    body = await request.json()
    kind = body.get("kind")
    if kind not in {"server", "rate_limit", "token"}:
        return web.json_response({"error": "kind must be server, rate_limit or token"}, status=400)
    code = int(body.get("code") or {"server": 2, "rate_limit": 4, "token": 190}[kind])
    data = request.app[STATE].datasets[str(body["dataset_id"])]
    data.failures.extend([(kind, code)] * int(body.get("count", 1)))
    return web.json_response({"queued": len(data.failures)})


async def control_expired_tokens(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE].expired_tokens.add(str(body["token"]))
    return web.json_response({"ok": True})


async def control_events(request: web.Request) -> web.Response:
    state = request.app[STATE]
    dataset_id = request.query.get("dataset_id", "")
    if request.method == "DELETE":
        state.datasets.pop(dataset_id, None)
        return web.json_response({"ok": True})
    data = state.datasets.get(dataset_id) or Dataset()
    return web.json_response({"events": data.events, "requests": data.requests, "received": data.received})


async def control_unknown_leads(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE].datasets[str(body["dataset_id"])].unknown_leads.update(str(x) for x in body["lead_ids"])
    return web.json_response({"ok": True})


async def control_count_only(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE].datasets[str(body["dataset_id"])].count_only = bool(body.get("count_only", True))
    return web.json_response({"ok": True})


def setup(app: web.Application, app_secret: str) -> None:
    app[STATE] = CapiState(app_secret=app_secret)
    r = app.router
    r.add_post("/graph/_control/capi/errors", control_errors)
    r.add_post("/graph/_control/capi/expired_tokens", control_expired_tokens)
    r.add_get("/graph/_control/capi/events", control_events)
    r.add_delete("/graph/_control/capi/events", control_events)
    r.add_post("/graph/_control/capi/count_only", control_count_only)
    r.add_post("/graph/_control/capi/unknown_leads", control_unknown_leads)
    r.add_post(r"/graph/{version:v\d+\.\d+}/{dataset_id}/events", post_events)
