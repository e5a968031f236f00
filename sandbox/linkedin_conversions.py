"""Stand-in for LinkedIn's Conversions API: POST /linkedin/rest/conversionEvents (batch create).

It checks a request strictly against the wire format in docs/linkedin-conversions-api.md and refuses
the WHOLE request, with LinkedIn's error body `{"status", "serviceErrorCode", "code", "message"}`, for
any problem: headers `LinkedIn-Version` (YYYYMM), `X-Restli-Protocol-Version: 2.0.0`,
`X-RestLi-Method: BATCH_CREATE`, a Bearer token; a JSON body `{"elements": [...]}` of 1-5,000
events; per element only the documented fields — `conversion` a conversion rule URN the token may
use, `conversionHappenedAt` epoch milliseconds neither older than 90 days nor in the future (60 s of
skew), `user.userIds` a list (required, may be empty) of `{idType, idValue}` with a known idType and,
for SHA256_EMAIL, 64 lowercase hex characters, `user.lead` a form response URN, `eventId` a string;
and at least one way to match the member. Success: HTTP 200 `{"elements": [{"status": 201}, ...]}`.

Control (tests, benchmarks); state is kept per access token, so tests that each use their own token
never see each other:
- POST   /linkedin/_control/conversions/rules {"access_token", "rules": [urn, ...]}: rules this token
         may send to (a rule no token registered is refused as LinkedIn refuses an unknown rule)
- POST   /linkedin/_control/conversions/errors {"access_token", "status": 500|429|401, "count"}: the next
         `count` requests with that token fail that way
- POST   /linkedin/_control/conversions/count_only {"access_token"}: keep only counts (benchmarks)
- GET    /linkedin/_control/conversions?access_token=…: {"events", "requests": [{"events", "status"}],
         "received"}
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_EVENTS = 5000
WINDOW_MS = 90 * 24 * 3600 * 1000
FUTURE_SKEW_MS = 60 * 1000

_VERSION = re.compile(r"20\d{4}(\.\d{2})?")
_RULE = re.compile(r"urn:lla:llaPartnerConversion:\d+")
_LEAD = re.compile(r"urn:li:leadGenFormResponse:[^\s]+")
_HASH = re.compile(r"[0-9a-f]{64}")
_ID_TYPES = frozenset({"SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID"})
_ELEMENT_FIELDS = frozenset({"conversion", "conversionHappenedAt", "conversionValue", "user", "eventId"})
_USER_FIELDS = frozenset({"userIds", "userInfo", "lead", "externalIds"})


@dataclass
class Advertiser:
    rules: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: deque[int] = field(default_factory=deque)
    count_only: bool = False
    received: int = 0


@dataclass
class ConversionsState:
    by_token: defaultdict[str, Advertiser] = field(default_factory=lambda: defaultdict(Advertiser))


STATE = web.AppKey("linkedin_conversions_state", ConversionsState)


def error(status: int, message: str, code: str = "") -> web.Response:
    body: dict[str, Any] = {"status": status, "serviceErrorCode": 100 if status < 500 else status, "message": message}
    if code:
        body["code"] = code
    return web.json_response(body, status=status)


def _header_problem(request: web.Request) -> web.Response | None:
    if not _VERSION.fullmatch(request.headers.get("LinkedIn-Version", "")):
        return error(400, "A valid LinkedIn-Version header (YYYYMM) is required.", "VERSION_MISSING")
    if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
        return error(400, "X-Restli-Protocol-Version 2.0.0 is required for this resource.")
    if request.headers.get("X-RestLi-Method", "").upper() != "BATCH_CREATE":
        return error(400, "X-RestLi-Method must be BATCH_CREATE to create several conversion events.")
    return None


def element_problem(index: int, element: Any, now_ms: int, rules: set[str]) -> str | None:
    """Why LinkedIn would refuse this element (named by index), or None."""
    where = f"/elements/{index}"
    if not isinstance(element, dict):
        return f"{where} is not an object"
    unknown = set(element) - _ELEMENT_FIELDS
    if unknown:
        return f"{where}: unrecognized field(s) {sorted(unknown)}"
    conversion = element.get("conversion")
    if not isinstance(conversion, str) or not _RULE.fullmatch(conversion):
        return f"{where}/conversion {conversion!r} is not a conversion rule URN (urn:lla:llaPartnerConversion:<id>)"
    if conversion not in rules:
        return f"{where}/conversion {conversion} does not exist or is not accessible with this token"
    happened = element.get("conversionHappenedAt")
    if isinstance(happened, bool) or not isinstance(happened, int) or happened < 10**12:
        return f"{where}/conversionHappenedAt must be an epoch timestamp in milliseconds"
    if happened < now_ms - WINDOW_MS:
        return f"{where}/conversionHappenedAt is more than 90 days in the past"
    if happened > now_ms + FUTURE_SKEW_MS:
        return f"{where}/conversionHappenedAt is in the future"
    if "eventId" in element and not isinstance(element["eventId"], str):
        return f"{where}/eventId must be a string"
    return _user_problem(f"{where}/user", element.get("user"))


def _user_problem(where: str, user: Any) -> str | None:
    if not isinstance(user, dict):
        return f"{where} is required"
    unknown = set(user) - _USER_FIELDS
    if unknown:
        return f"{where}: unrecognized field(s) {sorted(unknown)}"
    ids = user.get("userIds")
    if not isinstance(ids, list):
        return f"{where}/userIds is required (an empty list when no id is sent)"
    for j, item in enumerate(ids):
        if not isinstance(item, dict) or set(item) != {"idType", "idValue"}:
            return f"{where}/userIds/{j} must be {{idType, idValue}}"
        if item["idType"] not in _ID_TYPES:
            return f"{where}/userIds/{j}/idType {item['idType']!r} is not a known id type"
        if item["idType"] == "SHA256_EMAIL" and not (
            isinstance(item["idValue"], str) and _HASH.fullmatch(item["idValue"])
        ):
            return f"{where}/userIds/{j}/idValue must be a SHA-256 hex digest of the email"
    lead = user.get("lead")
    if lead is not None and not (isinstance(lead, str) and _LEAD.fullmatch(lead)):
        return f"{where}/lead {lead!r} is not a lead form response URN"
    if not ids and lead is None and not user.get("userInfo"):
        return f"{where}: no user id, lead or userInfo to match the member with"
    return None


async def post_conversion_events(request: web.Request) -> web.Response:
    state = request.app[STATE]
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    advertiser = state.by_token[token]
    record: dict[str, Any] = {"events": 0, "status": 0}
    advertiser.requests.append(record)
    response = await _answer(request, token, advertiser, record)
    record["status"] = response.status
    return response


async def _answer(request: web.Request, token: str, advertiser: Advertiser, record: dict[str, Any]) -> web.Response:
    problem = _header_problem(request)
    if problem is not None:
        return problem
    if not token:
        return error(401, "Empty oauth2_access_token")
    if advertiser.failures:
        status = advertiser.failures.popleft()
        if status == 429:
            return error(429, "Resource level throttle limit for calls to this resource is reached.")
        if status == 401:
            return error(401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN")
        return error(status, "Internal Server Error")
    if request.content_type != "application/json":
        return error(415, "Content-Type must be application/json")
    try:
        body = json.loads(await request.read())
    except ValueError:
        return error(400, "The request body is not JSON")
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list) or not elements:
        return error(400, "/elements is required: a non-empty array of conversion events")
    record["events"] = len(elements)
    if len(elements) > MAX_EVENTS:
        return error(400, f"{len(elements)} conversion events in one request; at most {MAX_EVENTS}")
    now_ms = int(time.time() * 1000)
    for index, element in enumerate(elements):
        problem_text = element_problem(index, element, now_ms, advertiser.rules)
        if problem_text:
            return error(422, problem_text, "UNPROCESSABLE_ENTITY")
    advertiser.received += len(elements)
    if not advertiser.count_only:
        advertiser.events.extend(elements)
    return web.json_response({"elements": [{"status": 201} for _ in elements]})


async def control_rules(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE].by_token[str(body["access_token"])].rules.update(str(r) for r in body["rules"])
    return web.json_response({"ok": True})


async def control_errors(request: web.Request) -> web.Response:
    body = await request.json()
    status = int(body.get("status") or 500)
    if status not in (401, 429, 500, 503):
        return web.json_response({"error": "status must be 401, 429, 500 or 503"}, status=400)
    advertiser = request.app[STATE].by_token[str(body["access_token"])]
    advertiser.failures.extend([status] * int(body.get("count", 1)))
    return web.json_response({"queued": len(advertiser.failures)})


async def control_count_only(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE].by_token[str(body["access_token"])].count_only = bool(body.get("count_only", True))
    return web.json_response({"ok": True})


async def control_record(request: web.Request) -> web.Response:
    advertiser = request.app[STATE].by_token.get(request.query.get("access_token", "")) or Advertiser()
    return web.json_response(
        {"events": advertiser.events, "requests": advertiser.requests, "received": advertiser.received}
    )


def setup(app: web.Application) -> None:
    app[STATE] = ConversionsState()
    r = app.router
    r.add_post("/linkedin/_control/conversions/rules", control_rules)
    r.add_post("/linkedin/_control/conversions/errors", control_errors)
    r.add_post("/linkedin/_control/conversions/count_only", control_count_only)
    r.add_get("/linkedin/_control/conversions", control_record)
    r.add_post("/linkedin/rest/conversionEvents", post_conversion_events)
