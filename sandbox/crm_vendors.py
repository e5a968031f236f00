"""Strict stand-ins of the CRM APIs the post-out presets target: HubSpot, Salesforce, Marketo, Zoho CRM,
Pipedrive and Dynamics 365, each under /vendors/{vendor}/{org} (the org's base URL).

Each checks the request as the vendor does (path, method, auth scheme, body shape, required fields,
batch limits), answers in the vendor's own shapes (record-level failures inside a 200 included),
issues OAuth tokens at its token endpoint and lets them expire on a timer or on demand. Records are
keyed by email, de-duplicated where the vendor does (Marketo createOrUpdate, Zoho upsert, HubSpot's
unique email) and not where it does not (a Salesforce, Pipedrive or Dynamics create makes a second
record). Salesforce's upsert by external id (single and sObject collections) and Dynamics' upsert by
primary key (PATCH leads(<guid>)) update the record their key names; Pipedrive's persons search finds
a person by exact email; a Pipedrive lead needs the id of a person that exists.

Control (per org): GET /vendors/_control/{vendor}/{org} shows what arrived; POST sets behaviour:
    {"token_lifetime_seconds": 3600, "expire_tokens": true, "credentials": {"client_id": ...,
     "client_secret": ..., "refresh_token": ...}, "static_token": "pat-...", "fail_rate": 0.2,
     "timeout_rate": 0.05, "expire_rate": 0.02, "timeout_seconds": 30, "latency_ms": 0,
     "latency_per_record_ms": 0, "sequence": ["fail", "timeout", "expire", "accept"], "seed": 7}
A "timeout" does the work, then answers only after timeout_seconds (the client has given up by then):
the record exists but the client never learns it. An email at the domain invalid.test is refused at
record level, with the vendor's own error.
DELETE forgets the org.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import random
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

VENDORS = ("hubspot", "salesforce", "marketo", "zoho", "pipedrive", "dynamics")
OUTCOMES = ("accept", "fail", "timeout", "expire")
INVALID_DOMAIN = "@invalid.test"
DEFAULT_CREDENTIALS = {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "refresh-token"}
_ids = itertools.count(1001)


@dataclass
class Org:
    vendor: str
    token_lifetime_seconds: float = 3600.0
    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CREDENTIALS))
    static_token: str = ""  # HubSpot private-app token, Pipedrive api_token
    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    expire_rate: float = 0.0
    timeout_seconds: float = 30.0
    # A vendor's round trip: each call waits latency_ms, and a call carrying records waits
    # latency_per_record_ms more for each (a batch takes longer than one record, as at the vendors).
    latency_ms: float = 0.0
    latency_per_record_ms: float = 0.0
    sequence: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (monotonic)
    tokens_issued: int = 0
    calls: int = 0
    records_per_call: list[int] = field(default_factory=list)  # of the calls that got as far as records
    token_refusals: int = 0
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> record
    by_email: dict[str, str] = field(default_factory=dict)  # email -> id of its first record
    emails: dict[str, list[str]] = field(default_factory=dict)  # email -> ids of all its records
    leads_of: dict[str, list[str]] = field(default_factory=dict)  # Pipedrive: person id -> lead ids
    per_lead: dict[str, dict[str, int]] = field(default_factory=dict)  # email -> received/created/updated
    by_key: dict[str, str] = field(default_factory=dict)  # upsert key (external id, primary key) -> id
    external_id_fields: tuple[str, ...] = ("LeadRelay_Lead_ID__c",)  # Salesforce Lead fields marked External ID
    lookups: int = 0  # Pipedrive persons searches and leads lists
    leads_made: dict[str, int] = field(default_factory=dict)  # Pipedrive: "person id/title" -> leads made

    def configure(self, raw: dict[str, Any]) -> None:
        for name in ("token_lifetime_seconds", "fail_rate", "timeout_rate", "expire_rate", "timeout_seconds"):
            if name in raw:
                setattr(self, name, float(raw[name]))
        for name in ("latency_ms", "latency_per_record_ms"):
            if name in raw:
                setattr(self, name, float(raw[name]))
        if "credentials" in raw:
            self.credentials = {**DEFAULT_CREDENTIALS, **raw["credentials"]}
            self.tokens.clear()
        if "external_id_fields" in raw:
            self.external_id_fields = tuple(raw["external_id_fields"])
        if "static_token" in raw:
            self.static_token = str(raw["static_token"])
        if raw.get("expire_tokens"):
            self.expire_tokens()
        if "sequence" in raw:
            bad = [o for o in raw["sequence"] if o not in OUTCOMES]
            if bad:
                raise web.HTTPBadRequest(text=f"unknown outcomes {bad}; use {OUTCOMES}")
            self.sequence = list(raw["sequence"])
        if "seed" in raw:
            self.rng = random.Random(raw["seed"])

    def next_outcome(self) -> str:
        if self.sequence:
            return self.sequence.pop(0)
        roll = self.rng.random()
        for outcome, rate in (("fail", self.fail_rate), ("timeout", self.timeout_rate), ("expire", self.expire_rate)):
            if roll < rate:
                return outcome
            roll -= rate
        return "accept"

    def expire_tokens(self) -> None:
        """Every token issued so far lapses now, as at the end of a session."""
        now = time.monotonic()
        self.tokens = {t: min(at, now) for t, at in self.tokens.items()}

    def issue_token(self) -> str:
        now = time.monotonic()
        # Long-lapsed tokens are forgotten (then read as invalid rather than expired): bounded memory.
        self.tokens = {t: at for t, at in self.tokens.items() if at > now - 600}
        token = f"{self.vendor}-{secrets.token_hex(12)}"
        self.tokens[token] = now + self.token_lifetime_seconds
        self.tokens_issued += 1
        return token

    def token_state(self, token: str) -> str:
        """valid, expired or invalid."""
        if token and token == self.static_token:
            return "valid"
        expires = self.tokens.get(token)
        if expires is None:
            return "invalid"
        if time.monotonic() >= expires:
            return "expired"
        return "valid"

    def find(self, email: str) -> tuple[str, dict[str, Any]] | None:
        record_id = self.by_email.get(email) if email else None
        return None if record_id is None else (record_id, self.records[record_id])

    def create(self, email: str, fields: dict[str, Any], record_id: str = "") -> str:
        record_id = record_id or str(next(_ids))
        self.records[record_id] = {"_email": email, **fields}
        self.by_email.setdefault(email, record_id)
        self.emails.setdefault(email, []).append(record_id)
        self._count(email, "created")
        return record_id

    def upsert(self, key: str, email: str, fields: dict[str, Any], record_id: str = "") -> tuple[str, bool]:
        """The record the key names, updated, or a new one under it: (id, created)."""
        found = self.by_key.get(key)
        if found is not None:
            self.update(self.records[found], fields)
            return found, False
        self.by_key[key] = self.create(email, fields, record_id)
        return self.by_key[key], True

    def update(self, record: dict[str, Any], fields: dict[str, Any]) -> None:
        record.update(fields)
        self._count(record["_email"], "updated")

    def receive(self, email: str) -> None:
        self._count(email, "received")

    def _count(self, email: str, what: str) -> None:
        counts = self.per_lead.setdefault(email or "?", {"received": 0, "created": 0, "updated": 0})
        counts[what] += 1

    def stats(self, with_records: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "calls": self.calls,
            "records_per_call": self.records_per_call[-1000:],
            "tokens_issued": self.tokens_issued,
            "token_refusals": self.token_refusals,
            "created": sum(c["created"] for c in self.per_lead.values()),
            "updated": sum(c["updated"] for c in self.per_lead.values()),
            "received": sum(c["received"] for c in self.per_lead.values()),
            "doubled": sorted(e for e, c in self.per_lead.items() if c["created"] > 1),
            "lookups": self.lookups,
            "leads_created": sum(self.leads_made.values()),
            "leads_doubled": sorted(k for k, n in self.leads_made.items() if n > 1),
            "leads_created_for": sorted(self.leads_made),
            "per_lead": self.per_lead,
        }
        if with_records:
            out["records"] = {k: {f: v for f, v in r.items() if f != "_email"} for k, r in self.records.items()}
        return out


ORGS = web.AppKey("crm_vendor_orgs", dict)


def org(request: web.Request) -> Org:
    vendor = request.match_info["vendor"]
    if vendor not in VENDORS:
        raise web.HTTPNotFound(text=f"no stand-in for {vendor!r}; one of {VENDORS}")
    return request.app[ORGS].setdefault((vendor, request.match_info["org"]), Org(vendor))


# ---- shared request handling ---------------------------------------------------------------------


class Refusal(Exception):
    """An answer other than the happy one, to send as is."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response


def _json(body: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json", headers=headers)


async def _body(request: web.Request, bad: Callable[[str], web.Response]) -> Any:
    if request.content_type != "application/json":
        raise Refusal(bad(f"Content-Type must be application/json, not {request.content_type!r}"))
    try:
        return json.loads(await request.text())
    except ValueError as exc:
        raise Refusal(bad(f"body is not valid JSON: {exc}")) from None


def _bearer(request: web.Request, scheme: str = "Bearer") -> str:
    header = request.headers.get("Authorization", "")
    prefix = f"{scheme} "
    return header[len(prefix) :] if header.startswith(prefix) else ""


def _email(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip().lower() if isinstance(value, str) else ""


# Set by _behave for the request being handled: how long to hold its answer back (a timeout).
_HOLD = contextvars.ContextVar[float]("hold_answer_seconds", default=0.0)


async def _behave(o: Org) -> str:
    """Applies latency and the next injected outcome; returns it. A timeout lets the handler do the
    work and holds the answer back (_guarded): the record exists, the client gives up first."""
    o.calls += 1
    outcome = o.next_outcome()
    if o.latency_ms:
        await asyncio.sleep(o.latency_ms / 1000)
    if outcome == "expire":
        o.expire_tokens()
    if outcome == "timeout":
        _HOLD.set(o.timeout_seconds)
    return outcome


async def _records_arrived(o: Org, count: int) -> None:
    """Counts a call's records and waits the vendor's time for them."""
    o.records_per_call.append(count)
    await _record_time(o, count)


async def _record_time(o: Org, count: int) -> None:
    if o.latency_per_record_ms:
        await asyncio.sleep(o.latency_per_record_ms * count / 1000)


# ---- token endpoints -----------------------------------------------------------------------------


async def token(request: web.Request) -> web.Response:
    o = org(request)
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    grant = params.get("grant_type", "")
    valid_client = params.get("client_id") == o.credentials["client_id"] and (
        params.get("client_secret") == o.credentials["client_secret"]
    )
    refresh_ok = grant == "refresh_token" and params.get("refresh_token") == o.credentials["refresh_token"]
    granted = valid_client and (grant == "client_credentials" or refresh_ok)
    if o.vendor == "marketo" and grant != "client_credentials":
        granted = False
    if o.vendor == "dynamics" and not params.get("scope", "").endswith("/.default"):
        return _json({"error": "invalid_scope", "error_description": "AADSTS70011: scope must end in /.default"}, 400)
    if not granted:
        o.token_refusals += 1
        if o.vendor == "zoho":  # Zoho answers 200 with the error
            return _json({"error": "invalid_code"})
        if o.vendor == "marketo":
            return _json({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        return _json({"error": "invalid_grant", "error_description": "authentication failure"}, 400)
    value = o.issue_token()
    if o.vendor == "salesforce":  # no expires_in: the session times out on the org's setting
        return _json(
            {
                "access_token": value,
                "instance_url": str(request.url.origin()),
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            }
        )
    answer: dict[str, Any] = {
        "access_token": value,
        "token_type": "bearer" if o.vendor == "marketo" else "Bearer",
        "expires_in": int(o.token_lifetime_seconds),
    }
    if o.vendor == "zoho":
        answer["api_domain"] = str(request.url.origin())
    return _json(answer)


# ---- HubSpot ---------------------------------------------------------------------------------------


def _hubspot_error(message: str, category: str, status: int) -> web.Response:
    return _json(
        {"status": "error", "message": message, "correlationId": secrets.token_hex(8), "category": category}, status
    )


def _hubspot_invalid(message: str) -> web.Response:
    return _hubspot_error(message, "VALIDATION_ERROR", 400)


async def _hubspot_body(o: Org, request: web.Request) -> Any:
    """The body, once a lapsed or unknown token or an injected failure has not refused the call."""
    outcome = await _behave(o)
    state = o.token_state(_bearer(request))
    if state != "valid":
        if state == "expired" or outcome == "expire":
            raise Refusal(
                _hubspot_error("The OAuth token used to make this call expired.", "EXPIRED_AUTHENTICATION", 401)
            )
        raise Refusal(_hubspot_error("Authentication credentials not found.", "INVALID_AUTHENTICATION", 401))
    if outcome == "fail":
        raise Refusal(_hubspot_error("internal error", "INTERNAL_ERROR", 502))
    return await _body(request, _hubspot_invalid)


async def hubspot_contact(request: web.Request) -> web.Response:
    o = org(request)
    body = await _hubspot_body(o, request)
    await _record_time(o, 1)
    bad = _hubspot_invalid
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return bad("Invalid input JSON: 'properties' must be an object")
    if set(body) - {"properties", "associations"}:
        return bad(f"Invalid input JSON: unrecognized field(s) {sorted(set(body) - {'properties', 'associations'})}")
    props = body["properties"]
    bad_types = [k for k, v in props.items() if not (v is None or isinstance(v, (str, int, float, bool)))]
    if bad_types:
        return bad(f"Property values were not valid: {bad_types} must be strings")
    email = _email(props, "email")
    o.receive(email)
    if email.endswith(INVALID_DOMAIN):
        return bad(f"Property values were not valid: Email address {email} is invalid")
    existing = o.find(email)
    if existing is not None:
        return _hubspot_error(f"Contact already exists. Existing ID: {existing[0]}", "CONFLICT", 409)
    record_id = o.create(email, props)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return _json({"id": record_id, "properties": props, "createdAt": now, "updatedAt": now, "archived": False}, 201)


async def hubspot_batch_create(request: web.Request) -> web.Response:
    o = org(request)
    body = await _hubspot_body(o, request)
    bad = _hubspot_invalid
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        return bad("Invalid input JSON: 'inputs' must be a non-empty array")
    if len(inputs) > 100:
        return bad(f"Batch input of {len(inputs)} exceeds the limit of 100 inputs")
    if not all(isinstance(i, dict) and isinstance(i.get("properties"), dict) for i in inputs):
        return bad("Invalid input JSON: every input needs a 'properties' object")
    await _records_arrived(o, len(inputs))
    started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in inputs:
        props, trace = item["properties"], item.get("objectWriteTraceId")
        context = {"objectWriteTraceId": [trace]} if trace else {}
        email = _email(props, "email")
        o.receive(email)
        existing = o.find(email)
        if email.endswith(INVALID_DOMAIN):
            message = f"Property values were not valid: Email address {email} is invalid"
            errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": message, "context": context})
        elif existing is not None:
            message = f"Contact already exists. Existing ID: {existing[0]}"
            errors.append({"status": "error", "category": "CONFLICT", "message": message, "context": context})
        else:
            result = {"id": o.create(email, props), "properties": props, "createdAt": started, "archived": False}
            results.append({**result, **({"objectWriteTraceId": trace} if trace else {})})
    # HubSpot does not promise the inputs' order: answer in reverse, so only trace ids match them up.
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results[::-1], "startedAt": started}
    if errors:
        answer.update(errors=errors[::-1], numErrors=len(errors))
    return _json(answer, 207 if errors else 201)


# ---- Salesforce ------------------------------------------------------------------------------------

_LEAD_FIELDS = frozenset(
    {
        "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Company", "Title", "Country", "City",
        "State", "PostalCode", "Street", "LeadSource", "Status", "Description", "Industry", "Website",
    }
)  # fmt: skip


def _sf_error(message: str, code: str, status: int = 400, fields: list[str] | None = None) -> web.Response:
    return _json([{"message": message, "errorCode": code, "fields": fields or []}], status)


def _sf_check(record: dict[str, Any], external: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The Salesforce error for one Lead record, or None."""
    unknown = sorted(set(record) - _LEAD_FIELDS - {"attributes", *external})
    if unknown:
        return {"statusCode": "INVALID_FIELD", "message": f"No such column '{unknown[0]}' on sobject of type Lead"}
    missing = [f for f in ("LastName", "Company") if not record.get(f)]
    if missing:
        return {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": f"Required fields are missing: [{', '.join(missing)}]",
            "fields": missing,
        }
    if _email(record, "Email").endswith(INVALID_DOMAIN):
        return {"statusCode": "INVALID_EMAIL_ADDRESS", "message": f"Email: invalid email address: {record['Email']}"}
    return None


async def _sf_auth(request: web.Request, o: Org, outcome: str) -> None:
    if o.token_state(_bearer(request)) != "valid":
        raise Refusal(_sf_error("Session expired or invalid", "INVALID_SESSION_ID", 401))
    if outcome == "fail":
        raise Refusal(_sf_error("An unexpected error occurred", "UNKNOWN_EXCEPTION", 503))


async def salesforce_lead(request: web.Request) -> web.Response:
    o = org(request)
    await _sf_auth(request, o, await _behave(o))
    body = await _body(request, lambda m: _sf_error(m, "JSON_PARSER_ERROR"))
    await _record_time(o, 1)
    if not isinstance(body, dict):
        return _sf_error("Can not deserialize SObject out of START_ARRAY token", "JSON_PARSER_ERROR")
    email = _email(body, "Email")
    o.receive(email)
    error = _sf_check(body)
    if error:
        return _sf_error(error["message"], error["statusCode"], fields=error.get("fields"))
    return _json({"id": "00Q" + o.create(email, body), "success": True, "errors": []}, 201)


async def salesforce_composite(request: web.Request) -> web.Response:
    o = org(request)
    await _sf_auth(request, o, await _behave(o))
    body = await _body(request, lambda m: _sf_error(m, "JSON_PARSER_ERROR"))
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return _sf_error("records: a non-empty array is required", "INVALID_FIELD")
    if len(records) > 200:
        return _sf_error("Number of records in the request exceeds the limit of 200", "EXCEEDED_MAX_SIZE_REQUEST")
    await _records_arrived(o, len(records))
    answers = []
    for record in records:
        if not isinstance(record, dict) or (record.get("attributes") or {}).get("type") != "Lead":
            answers.append(
                {
                    "success": False,
                    "errors": [{"statusCode": "INVALID_TYPE", "message": "attributes.type", "fields": []}],
                }
            )
            continue
        email = _email(record, "Email")
        o.receive(email)
        error = _sf_check(record)
        if error:
            answers.append({"success": False, "errors": [{"fields": [], **error}]})
        else:
            fields = {k: v for k, v in record.items() if k != "attributes"}
            answers.append({"id": "00Q" + o.create(email, fields), "success": True, "errors": []})
    return _json(answers)


def _sf_external_field(o: Org, request: web.Request) -> str:
    name = request.match_info["field"]
    if name not in o.external_id_fields:
        message = f"Provided external ID field does not exist or is not accessible: {name}"
        raise Refusal(_sf_error(message, "NOT_FOUND", 404))
    return name


async def salesforce_upsert(request: web.Request) -> web.Response:
    """PATCH sobjects/Lead/<external id field>/<value>: 201 created, 200 updated."""
    o = org(request)
    await _sf_auth(request, o, await _behave(o))
    name = _sf_external_field(o, request)
    body = await _body(request, lambda m: _sf_error(m, "JSON_PARSER_ERROR"))
    if not isinstance(body, dict):
        return _sf_error("Can not deserialize SObject out of START_ARRAY token", "JSON_PARSER_ERROR")
    if name in body or "Id" in body:  # as Salesforce: the key goes in the URL only
        return _sf_error(f"The field {name} is the key in the URL: leave it out of the body", "INVALID_FIELD")
    email = _email(body, "Email")
    o.receive(email)
    error = _sf_check(body)
    if error:
        return _sf_error(error["message"], error["statusCode"], fields=error.get("fields"))
    value = request.match_info["value"]
    record_id, created = o.upsert(f"{name}={value}", email, {**body, name: value}, "00Q" + str(next(_ids)))
    return _json({"id": record_id, "success": True, "errors": [], "created": created}, 201 if created else 200)


async def salesforce_composite_upsert(request: web.Request) -> web.Response:
    """PATCH composite/sobjects/Lead/<external id field>: each record carries its key; answers in order."""
    o = org(request)
    await _sf_auth(request, o, await _behave(o))
    name = _sf_external_field(o, request)
    body = await _body(request, lambda m: _sf_error(m, "JSON_PARSER_ERROR"))
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return _sf_error("records: a non-empty array is required", "INVALID_FIELD")
    if len(records) > 200:
        return _sf_error("Number of records in the request exceeds the limit of 200", "EXCEEDED_MAX_SIZE_REQUEST")
    o.records_per_call.append(len(records))
    answers: list[dict[str, Any]] = []
    for record in records:
        if not isinstance(record, dict) or (record.get("attributes") or {}).get("type") != "Lead":
            error: dict[str, Any] | None = {"statusCode": "INVALID_TYPE", "message": "attributes.type"}
        elif not record.get(name):
            error = {"statusCode": "MISSING_ARGUMENT", "message": f"{name} not specified"}
        else:
            error = None
        email = _email(record, "Email") if isinstance(record, dict) else ""
        o.receive(email)
        error = error or _sf_check(record, (name,))
        if error:
            answers.append({"success": False, "errors": [{"fields": [], **error}]})
            continue
        fields = {k: v for k, v in record.items() if k != "attributes"}
        record_id, created = o.upsert(f"{name}={record[name]}", email, fields, "00Q" + str(next(_ids)))
        answers.append({"id": record_id, "success": True, "errors": [], "created": created})
    return _json(answers)


# ---- Marketo ---------------------------------------------------------------------------------------

_MARKETO_ACTIONS = ("createOnly", "updateOnly", "createOrUpdate", "createDuplicate")


def _mkto(result: list[Any] | None = None, errors: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"requestId": f"{secrets.token_hex(2)}#{secrets.token_hex(6)}"}
    if errors:
        body.update(success=False, errors=errors)
    else:
        body.update(result=result or [], success=True)
    return _json(body)  # always 200, as Marketo does


async def marketo_leads(request: web.Request) -> web.Response:
    o = org(request)
    outcome = await _behave(o)
    if "access_token" in request.query:
        return _mkto(errors=[{"code": "601", "message": "Access token invalid (query parameter no longer accepted)"}])
    state = o.token_state(_bearer(request))
    if state == "expired" or (state == "valid" and outcome == "expire"):
        return _mkto(errors=[{"code": "602", "message": "Access token expired"}])
    if state != "valid":
        return _mkto(errors=[{"code": "601", "message": "Access token invalid"}])
    if outcome == "fail":
        return _mkto(errors=[{"code": "611", "message": "System error"}])
    body = await _body(request, lambda m: _mkto(errors=[{"code": "609", "message": f"Invalid JSON: {m}"}]))
    if not isinstance(body, dict) or not isinstance(body.get("input"), list) or not body["input"]:
        return _mkto(errors=[{"code": "1001", "message": "Invalid value for 'input'"}])
    if len(body["input"]) > 300:
        return _mkto(errors=[{"code": "1003", "message": "Too many records: at most 300 per call"}])
    action = body.get("action", "createOrUpdate")
    lookup = body.get("lookupField", "email")
    if action not in _MARKETO_ACTIONS:
        return _mkto(errors=[{"code": "1003", "message": f"Invalid action '{action}'"}])
    await _records_arrived(o, len(body["input"]))
    results = []
    for i, lead in enumerate(body["input"]):
        if not isinstance(lead, dict):
            results.append({"seq": i, "status": "skipped", "reasons": [{"code": "1003", "message": "not an object"}]})
            continue
        email = _email(lead, "email")
        o.receive(email)
        if lookup == "email" and not email:
            results.append(
                {"seq": i, "status": "skipped", "reasons": [{"code": "1006", "message": "Field 'email' not found"}]}
            )
            continue
        if email.endswith(INVALID_DOMAIN):
            reason = {"code": "1003", "message": f"Value for field 'email' invalid: {email}"}
            results.append({"seq": i, "status": "skipped", "reasons": [reason]})
            continue
        existing = o.find(email) if action != "createDuplicate" else None
        if existing is not None:
            if action == "createOnly":
                results.append(
                    {"seq": i, "status": "skipped", "reasons": [{"code": "1005", "message": "Lead already exists"}]}
                )
                continue
            o.update(existing[1], lead)
            results.append({"seq": i, "id": int(existing[0]), "status": "updated"})
        elif action == "updateOnly":
            results.append({"seq": i, "status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]})
        else:
            results.append({"seq": i, "id": int(o.create(email, lead)), "status": "created"})
    return _mkto(results)


# ---- Zoho CRM --------------------------------------------------------------------------------------


async def zoho_upsert(request: web.Request) -> web.Response:
    o = org(request)
    outcome = await _behave(o)
    invalid_token = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    if "Authorization" in request.headers and not request.headers["Authorization"].startswith("Zoho-oauthtoken "):
        return _json({**invalid_token, "message": "use the Zoho-oauthtoken scheme"}, 401)
    if o.token_state(_bearer(request, "Zoho-oauthtoken")) != "valid":
        return _json(invalid_token, 401)
    if outcome == "fail":
        return _json({"code": "INTERNAL_ERROR", "details": {}, "message": "internal error", "status": "error"}, 500)
    body = await _body(
        request, lambda m: _json({"code": "INVALID_DATA", "details": {}, "message": m, "status": "error"}, 400)
    )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data:
        return _json(
            {"code": "INVALID_DATA", "details": {"api_name": "data"}, "message": "invalid data", "status": "error"}, 400
        )
    if len(data) > 100:
        return _json(
            {"code": "LIMIT_EXCEEDED", "details": {"limit": 100}, "message": "too many records", "status": "error"}, 400
        )
    check = body.get("duplicate_check_fields") or ["Email"]
    await _records_arrived(o, len(data))
    answers = []
    for record in data:
        email = _email(record, "Email") if isinstance(record, dict) else ""
        o.receive(email)
        if not isinstance(record, dict) or not record.get("Last_Name"):
            answers.append(
                {
                    "code": "MANDATORY_NOT_FOUND",
                    "details": {"api_name": "Last_Name"},
                    "message": "required field not found",
                    "status": "error",
                }
            )
            continue
        if email.endswith(INVALID_DOMAIN):
            answers.append(
                {"code": "INVALID_DATA", "details": {"api_name": "Email"}, "message": "invalid data", "status": "error"}
            )
            continue
        existing = o.find(email) if "Email" in check else None
        if existing is not None:
            o.update(existing[1], record)
            answers.append(_zoho_ok(existing[0], "update", "Email"))
        else:
            answers.append(_zoho_ok(o.create(email, record), "insert", None))
    ok = sum(1 for a in answers if a["status"] == "success")
    status = 200 if ok == len(answers) else (400 if ok == 0 else 207)
    return _json({"data": answers}, status)


def _zoho_ok(record_id: str, action: str, duplicate_field: str | None) -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "duplicate_field": duplicate_field,
        "action": action,
        "details": {"id": record_id},
        "message": "record updated" if action == "update" else "record added",
        "status": "success",
    }


# ---- Pipedrive -------------------------------------------------------------------------------------


async def pipedrive_persons(request: web.Request) -> web.Response:
    o = org(request)
    refusal = _pd_refusal(o, request, await _behave(o))
    if refusal is not None:
        return refusal
    await _record_time(o, 1)
    body = await _body(request, lambda m: _json({"success": False, "error": m, "errorCode": 400}, 400))
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        return _json({"success": False, "error": "Name must be given.", "errorCode": 400, "error_info": ""}, 400)
    emails = body.get("email") or []
    if isinstance(emails, str):
        emails = [{"value": emails, "primary": True}]
    if not isinstance(emails, list) or not all(isinstance(e, dict) and "value" in e for e in emails):
        return _json({"success": False, "error": "email: expected objects with a 'value'", "errorCode": 400}, 400)
    email = (emails[0]["value"] or "").strip().lower() if emails else ""
    o.receive(email)
    if email.endswith(INVALID_DOMAIN):
        return _json({"success": False, "error": f"Invalid email: {email}", "errorCode": 400}, 400)
    record_id = o.create(email, body)
    return _json({"success": True, "data": {"id": int(record_id), "name": body["name"]}}, 201)


def _pd_refusal(o: Org, request: web.Request, outcome: str) -> web.Response | None:
    if not o.static_token or request.query.get("api_token") != o.static_token:
        return _json({"success": False, "error": "unauthorized access", "errorCode": 401, "error_info": ""}, 401)
    if outcome == "fail":
        return _json({"success": False, "error": "Service unavailable", "errorCode": 503}, 503)
    return None


async def pipedrive_persons_search(request: web.Request) -> web.Response:
    """GET persons/search?term=&fields=email&exact_match=true: the persons whose email is the term."""
    o = org(request)
    refusal = _pd_refusal(o, request, await _behave(o))
    if refusal is not None:
        return refusal
    term = request.query.get("term", "").strip().lower()
    exact = request.query.get("exact_match") in ("true", "1")
    if not term or (len(term) < 2 and not exact):
        return _json({"success": False, "error": "term must be at least 2 characters", "errorCode": 400}, 400)
    o.lookups += 1
    fields = request.query.get("fields", "email").split(",")
    items = []
    # An exact email is an index look-up (a fault run makes thousands of them); else a scan.
    if exact:
        candidates = [(i, o.records[i]) for i in o.emails.get(term, ())]
    else:
        candidates = [(i, r) for i, r in o.records.items() if term in r.get("_email", "")]
    for record_id, record in candidates:
        if "_lead" in record or "email" not in fields:
            continue
        given = record.get("email") or []
        emails = [given] if isinstance(given, str) else [e["value"] for e in given if isinstance(e, dict)]
        person = {"id": int(record_id), "type": "person", "name": record.get("name"), "emails": emails}
        items.append({"result_score": 1.0, "item": person})
    pagination = {"start": 0, "limit": 100, "more_items_in_collection": False}
    return _json({"success": True, "data": {"items": items}, "additional_data": {"pagination": pagination}})


async def pipedrive_leads(request: web.Request) -> web.Response:
    """POST leads: a title and the id of an existing person (or organization); ids are UUIDs."""
    o = org(request)
    refusal = _pd_refusal(o, request, await _behave(o))
    if refusal is not None:
        return refusal
    body = await _body(request, lambda m: _json({"success": False, "error": m, "errorCode": 400}, 400))
    if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"].strip():
        return _json({"success": False, "error": "title is required", "errorCode": 400}, 400)
    person_id = body.get("person_id")
    person = o.records.get(str(person_id)) if isinstance(person_id, int) and not isinstance(person_id, bool) else None
    if person is None or "_lead" in person:
        return _json({"success": False, "error": "A lead must be linked to an existing person", "errorCode": 400}, 400)
    lead_id = str(uuid.uuid4())
    o.records[lead_id] = {"_email": "", "_lead": True, **body}
    o.leads_of.setdefault(str(person_id), []).append(lead_id)
    # Counted per person and title: the same lead made twice for a person is a double.
    o.leads_made[f"{person_id}/{body['title']}"] = o.leads_made.get(f"{person_id}/{body['title']}", 0) + 1
    return _json({"success": True, "data": {"id": lead_id, "title": body["title"], "person_id": person_id}}, 201)


async def pipedrive_leads_list(request: web.Request) -> web.Response:
    """GET leads?person_id=: the person's leads."""
    o = org(request)
    refusal = _pd_refusal(o, request, await _behave(o))
    if refusal is not None:
        return refusal
    o.lookups += 1
    person = request.query.get("person_id", "")
    ids = o.leads_of.get(person, []) if person else [k for k, r in o.records.items() if "_lead" in r]
    leads = [{"id": k, "title": o.records[k].get("title"), "person_id": o.records[k].get("person_id")} for k in ids]
    return _json({"success": True, "data": leads, "additional_data": {"start": 0, "limit": 100}})


# ---- Dynamics 365 ----------------------------------------------------------------------------------


def _odata_error(message: str, code: str = "0x80040203", status: int = 400) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


async def dynamics_leads(request: web.Request) -> web.Response:
    o = org(request)
    outcome = await _behave(o)
    if o.token_state(_bearer(request)) != "valid":
        return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if outcome == "fail":
        return _odata_error("Service unavailable", "0x80040216", 503)
    await _record_time(o, 1)
    if request.headers.get("OData-Version", "4.0") != "4.0":
        return _odata_error("OData-Version must be 4.0")
    body = await _body(request, _odata_error)
    if not isinstance(body, dict):
        return _odata_error("An object was expected")
    if not body.get("lastname") and not body.get("companyname"):
        return _odata_error("lastname or companyname is required")
    email = _email(body, "emailaddress1")
    o.receive(email)
    if email.endswith(INVALID_DOMAIN):
        return _odata_error(f"Invalid e-mail address: {email}")
    lead_id = f"{secrets.token_hex(4)}-0000-0000-0000-{o.create(email, body):0>12}"
    return _dynamics_answer(request, lead_id, body, True)


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


async def dynamics_lead_upsert(request: web.Request) -> web.Response:
    """PATCH leads(<guid>): updates the row with that primary key, or creates it under that key."""
    o = org(request)
    outcome = await _behave(o)
    if o.token_state(_bearer(request)) != "valid":
        return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if outcome == "fail":
        return _odata_error("Service unavailable", "0x80040216", 503)
    key = request.match_info["key"]
    if not _GUID.match(key):
        return _odata_error(f"Bad Request - Error in query syntax: leads({key})", "0x80060888")
    body = await _body(request, _odata_error)
    if not isinstance(body, dict):
        return _odata_error("An object was expected")
    if body.get("leadid", key).lower() != key.lower():
        return _odata_error("leadid in the body differs from the key in the URL")
    email = _email(body, "emailaddress1")
    o.receive(email)
    if email.endswith(INVALID_DOMAIN):
        return _odata_error(f"Invalid e-mail address: {email}")
    exists = key.lower() in o.by_key
    if not exists and not body.get("lastname") and not body.get("companyname"):
        return _odata_error("lastname or companyname is required")
    _, created = o.upsert(key.lower(), email, body, key.lower())
    return _dynamics_answer(request, key.lower(), o.records[key.lower()], created, request.path[: -len(key) - 2])


def _dynamics_answer(
    request: web.Request, lead_id: str, body: dict[str, Any], created: bool, collection: str = ""
) -> web.Response:
    entity = f"{request.url.origin()}{collection or request.path}({lead_id})"
    fields = {k: v for k, v in body.items() if not k.startswith("_")}
    if "return=representation" in request.headers.get("Prefer", ""):
        answer = {"@odata.etag": 'W/"1"', **fields, "leadid": lead_id}
        return _json(answer, 201 if created else 200, **{"OData-EntityId": entity})
    return web.Response(status=204, headers={"OData-EntityId": entity})


# ---- wiring --------------------------------------------------------------------------------------


def _guarded(handler: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[..., Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        _HOLD.set(0.0)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except Refusal as refusal:
            response = refusal.response
        except ConnectionResetError:  # the client hung up mid-request (gave up, or was killed)
            return web.Response(status=400, text="connection lost")
        if _HOLD.get():
            await asyncio.sleep(_HOLD.get())
        return response

    return run


async def control_get(request: web.Request) -> web.Response:
    return _json(org(request).stats(request.query.get("records", "1") != "0"))


async def control_set(request: web.Request) -> web.Response:
    try:
        raw = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="send a JSON object") from None
    org(request).configure(raw)
    return _json({"ok": True})


async def control_reset(request: web.Request) -> web.Response:
    request.app[ORGS].pop((request.match_info["vendor"], request.match_info["org"]), None)
    return _json({"ok": True})


def setup(app: web.Application) -> None:
    app[ORGS] = {}
    control = "/vendors/_control/{vendor}/{org}"
    app.router.add_get(control, control_get)
    app.router.add_post(control, control_set)
    app.router.add_delete(control, control_reset)
    token_paths = {
        "hubspot": "/oauth/v1/token",
        "salesforce": "/services/oauth2/token",
        "zoho": "/oauth/v2/token",
        "dynamics": "/oauth2/v2.0/token",
    }
    for vendor, path in token_paths.items():
        app.router.add_post(f"/vendors/{{vendor:{vendor}}}/{{org}}{path}", token)
    app.router.add_route("*", "/vendors/{vendor:marketo}/{org}/identity/oauth/token", token)  # GET or POST
    routes = {
        ("hubspot", "/crm/v3/objects/contacts"): hubspot_contact,
        ("hubspot", "/crm/v3/objects/contacts/batch/create"): hubspot_batch_create,
        ("salesforce", "/services/data/v60.0/sobjects/Lead"): salesforce_lead,
        ("salesforce", "/services/data/v60.0/composite/sobjects"): salesforce_composite,
        ("marketo", "/rest/v1/leads.json"): marketo_leads,
        ("zoho", "/crm/v7/Leads/upsert"): zoho_upsert,
        ("pipedrive", "/api/v1/persons"): pipedrive_persons,
        ("dynamics", "/api/data/v9.2/leads"): dynamics_leads,
    }
    for (vendor, path), handler in routes.items():
        app.router.add_post(f"/vendors/{{vendor:{vendor}}}/{{org}}{path}", _guarded(handler))
    added = {
        ("PATCH", "salesforce", "/services/data/v60.0/sobjects/Lead/{field}/{value}"): salesforce_upsert,
        ("PATCH", "salesforce", "/services/data/v60.0/composite/sobjects/Lead/{field}"): salesforce_composite_upsert,
        ("GET", "pipedrive", "/api/v1/persons/search"): pipedrive_persons_search,
        ("POST", "pipedrive", "/api/v1/leads"): pipedrive_leads,
        ("GET", "pipedrive", "/api/v1/leads"): pipedrive_leads_list,
        ("PATCH", "dynamics", "/api/data/v9.2/leads({key})"): dynamics_lead_upsert,
    }
    for (method, vendor, path), handler in added.items():
        app.router.add_route(method, f"/vendors/{{vendor:{vendor}}}/{{org}}{path}", _guarded(handler))
