"""LinkedIn Lead Sync stand-in: lead forms with versions and questions, `leadFormResponses` (q=owner,
submittedAtTimeRange, start/count paging, total), the required headers, LinkedIn's flat error bodies,
and signed `LEAD_ACTION` notifications with the challenge handshake (reference §7-§8).

Routes under /linkedin (tests point LINKEDIN_API_BASE_URL at {sandbox}/linkedin):
  GET /linkedin/rest/leadForms?q=owner&owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A{id})
                                        (or owner=(organization:urn%3Ali%3Aorganization%3A{id}))
  GET /linkedin/rest/leadForms/{id}                  (the latest version)
  GET /linkedin/rest/leadFormResponses?q=owner&owner=...&leadType=(leadType:T)&submittedAtTimeRange=(start:ms,end:ms)
                                        &start&count
  GET /linkedin/rest/leadFormResponses/{id}
An account made with `organization: true` is an organization: its forms and responses are owned by
urn:li:organization:{id}, its leads are EVENT, COMPANY or ORGANIZATION_PRODUCT, and a finder asking an
owner for a lead type it cannot have (SPONSORED of an organization, EVENT of an ad account) is a 400.
Elements carry the submitted form version under `form` when `fields` asks for the `form:(...)`
projection (the reference lists the projection but not the response shape: our choice).
Control under /linkedin/_control/:
  POST accounts {account_id?, access_token?, organization?}          -> {account_id, access_token}
  POST forms {account_id, name?, questions?, hidden_fields?}          -> the form (version 1)
  POST forms/{form_id}/versions {questions?, hidden_fields?}           -> the form (next version)
  POST leads {account_id, form_id, version?, count, answers?, test_lead?, submitted_at?, spread_ms?,
              notify?, lead_type?, response_id?, consent?}             -> {ids}
     (response_id: the member resubmits that response, e.g. a test form the same day: new answers)
  DELETE leads/{id}?notify=true
  POST errors {status (401|429|500), count (-1 = until cleared), access_token?}; DELETE errors
  POST webhook {url, drop_rate, duplicate_rate, duplicates, delay_ms, account_id?}
  POST challenge {url} -> performs the validation GET against url and says whether it passed
  GET deliveries; POST drain; POST demo {account_id, form_id, every_seconds}
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import hmac
import itertools
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from sandbox import lead_generator
from sandbox.demo_feeds import DemoFeeds
from sandbox.webhook_delivery import WebhookDelivery

MAX_COUNT = 500


def localized(text: str, locale: str = "en_US") -> dict[str, Any]:
    return {"localized": {locale: text}}


def default_questions(base: int) -> list[dict[str, Any]]:
    """A typical sponsored form: predefined profile fields, one multiple-choice, one free-text custom."""

    def text_q(n: int, name: str, label: str, predefined: str | None) -> dict[str, Any]:
        q: dict[str, Any] = {
            "questionId": base + n,
            "name": name,
            "question": localized(label),
            "questionDetails": {"textQuestionDetails": {"maxResponseLength": 300}},
            "responseRequired": True,
            "responseEditable": predefined is None,
        }
        if predefined:
            q["predefinedField"] = predefined
        return q

    return [
        text_q(1, "firstName", "First name", "FIRST_NAME"),
        text_q(2, "lastName", "Last name", "LAST_NAME"),
        text_q(3, "email", "Email address", "EMAIL"),
        text_q(4, "phone", "Phone number", "PHONE_NUMBER"),
        text_q(5, "company", "Company name", "COMPANY_NAME"),
        text_q(6, "title", "Job title", "JOB_TITLE"),
        text_q(7, "jobFunction", "Job function", "JOB_FUNCTION"),
        text_q(8, "seniority", "Seniority", "SENIORITY"),
        {
            "questionId": base + 9,
            "name": "companySize",
            "question": localized("How many employees?"),
            "questionDetails": {
                "multipleChoiceQuestionDetails": {
                    "options": [
                        {"id": i, "text": localized(t)} for i, t in enumerate(["1-10", "11-50", "51-200", "201+"])
                    ]
                }
            },
            "responseRequired": False,
            "responseEditable": True,
        },
        text_q(10, "useCase", "What are you looking for?", None),
    ]


@dataclass
class LinkedInForm:
    form_id: str
    account_id: str
    name: str
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def latest(self) -> int:
        return max(self.versions)


@dataclass
class MemberToken:
    """A member's 3-legged token (sandbox.linkedin_oauth issues it): every ad account they can reach."""

    account_ids: set[str]
    expires_at: float


@dataclass
class ErrorRule:
    status: int
    remaining: int
    access_token: str | None = None


class LinkedInState:
    def __init__(self, client_secret: str) -> None:
        self.client_secret = client_secret
        self.accounts: dict[str, str] = {}  # sponsored account / organization id -> access token
        self.organizations: set[str] = set()  # the accounts that are organizations
        self.member_tokens: dict[str, MemberToken] = {}
        self.forms: dict[str, LinkedInForm] = {}
        self.responses: dict[str, dict[str, Any]] = {}
        # Per account, (submittedAt, id) kept sorted: ranges are bisected, paging order is stable.
        self.by_account: dict[str, list[tuple[int, str]]] = {}
        self.errors: list[ErrorRule] = []
        self.rng = random.Random(20260102)
        self._ids = itertools.count(random.Random().randrange(10**6, 9 * 10**6, 1000))
        self.delivery = WebhookDelivery(self._sign)
        self.demo = DemoFeeds(self.rng)

    def new_id(self) -> str:
        return str(next(self._ids))

    def owner(self, account_id: str) -> dict[str, str]:
        if account_id in self.organizations:
            return {"organization": f"urn:li:organization:{account_id}"}
        return {"sponsoredAccount": f"urn:li:sponsoredAccount:{account_id}"}

    def lead_types(self, account_id: str) -> tuple[str, ...]:
        return ORGANIZATION_LEAD_TYPES if account_id in self.organizations else ("SPONSORED",)

    def _sign(self, body: bytes) -> dict[str, str]:
        # Hex HMAC-SHA256 over "hmacsha256=" + body, keyed with the client secret (reference §8).
        return {
            "X-LI-Signature": hmac.new(self.client_secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()
        }

    def add_form(
        self, account_id: str, name: str, questions: list[dict[str, Any]] | None, hidden: list[dict[str, str]] | None
    ) -> LinkedInForm:
        form = LinkedInForm(self.new_id(), account_id, name)
        self.forms[form.form_id] = form
        self.add_version(form, questions, hidden)
        return form

    def add_version(
        self, form: LinkedInForm, questions: list[dict[str, Any]] | None, hidden: list[dict[str, str]] | None
    ) -> dict[str, Any]:
        version = (form.latest + 1) if form.versions else 1
        now = int(time.time() * 1000)
        body = {
            "id": int(form.form_id),
            "versionId": version,
            "name": form.name,
            "state": "PUBLISHED",
            "owner": self.owner(form.account_id),
            "creationLocale": {"country": "US", "language": "en"},
            "created": now,
            "lastModified": now,
            "hiddenFields": hidden if hidden is not None else [{"name": "utm_source", "value": "linkedin"}],
            "content": {
                "questions": questions if questions is not None else default_questions(int(form.form_id) * 100),
                "legalInfo": {
                    "legalInfoId": 1,
                    "privacyPolicyUrl": "https://example.com/privacy",
                    "legalDisclaimer": localized("We will contact you."),
                    "consents": [{"id": 0, "checkRequired": False, "consent": localized("Send me product news")}],
                },
            },
        }
        form.versions[version] = body
        return body

    def generated_answers(self, version: dict[str, Any]) -> list[dict[str, Any]]:
        p = lead_generator.person(self.rng)
        by_field = {
            "FIRST_NAME": p.first_name,
            "LAST_NAME": p.last_name,
            "EMAIL": p.email,
            "WORK_EMAIL": p.email,
            "PHONE_NUMBER": p.phone,
            "COMPANY_NAME": p.company,
            "JOB_TITLE": p.job_title,
            "JOB_FUNCTION": p.job_function,
            "SENIORITY": p.seniority,
            "COUNTRY": p.country,
            "CITY": p.city,
            "INDUSTRY": p.industry,
            "COMPANY_SIZE": p.company_size,
        }
        answers = []
        for q in version["content"]["questions"]:
            details = q.get("questionDetails", {})
            if "multipleChoiceQuestionDetails" in details:
                options = details["multipleChoiceQuestionDetails"]["options"]
                answers.append(
                    {
                        "questionId": q["questionId"],
                        "answerDetails": {"multipleChoiceAnswer": {"options": [self.rng.choice(options)["id"]]}},
                    }
                )
            else:
                text = by_field.get(q.get("predefinedField", ""), "We need a better lead workflow")
                answers.append(
                    {"questionId": q["questionId"], "answerDetails": {"textQuestionAnswer": {"answer": text}}}
                )
        return answers

    def add_response(
        self,
        form: LinkedInForm,
        version: int,
        submitted_at: int,
        *,
        test_lead: bool,
        answers: list[dict[str, Any]] | None,
        lead_type: str = "",
        response_id: str = "",
        consent: bool | None = None,
    ) -> dict[str, Any]:
        """A new response, or (response_id of one already there) the member resubmitting it: same id,
        new answers and submittedAt."""
        lead_type = lead_type or self.lead_types(form.account_id)[0]
        previous = self.responses.get(response_id) if response_id else None
        if previous is not None:
            self.by_account[form.account_id].remove((previous["submittedAt"], response_id))
        response_id = response_id or f"{uuid.uuid4()}-{version}"
        element: dict[str, Any] = {
            "id": response_id,
            "owner": self.owner(form.account_id),
            "submitter": f"urn:li:person:{uuid.uuid4().hex[:10]}",
            "leadType": lead_type,
            "versionedLeadGenFormUrn": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{form.form_id},{version})",
            "submittedAt": submitted_at,
            "testLead": test_lead,
            "formResponse": {
                "consentResponses": [
                    {"accepted": self.rng.random() < 0.6 if consent is None else consent, "consentId": 0}
                ],
                "answers": answers if answers is not None else self.generated_answers(form.versions[version]),
            },
        }
        if lead_type == "SPONSORED":
            element["leadMetadata"] = {
                "sponsoredLeadMetadata": {"campaign": f"urn:li:sponsoredCampaign:{int(form.form_id) + 7}"}
            }
            element["associatedEntity"] = {"associatedCreative": f"urn:li:sponsoredCreative:{int(form.form_id) + 11}"}
        self.responses[response_id] = element
        bisect.insort(self.by_account.setdefault(form.account_id, []), (submitted_at, response_id))
        return element

    def notify(self, element: dict[str, Any], action: str = "CREATED") -> None:
        event: dict[str, Any] = {
            "type": "LEAD_ACTION",
            "leadAction": action,
            "leadGenFormResponse": f"urn:li:leadGenFormResponse:{element['id']}",
            "leadGenForm": element["versionedLeadGenFormUrn"],
            "owner": element["owner"],
            "leadType": element["leadType"],
            "occurredAt": int(time.time() * 1000),
        }
        if "associatedEntity" in element:
            event["associatedEntity"] = {"sponsoredCreative": element["associatedEntity"]["associatedCreative"]}
        self.delivery.send(_owner_of(element), json.dumps(event).encode())

    def error(self, status: int, message: str, code: str | None = None) -> web.Response:
        body: dict[str, Any] = {
            "status": status,
            "serviceErrorCode": 101 if status == 429 else status,
            "message": message,
        }
        if code:
            body["code"] = code
        return web.json_response(body, status=status)


STATE = web.AppKey("linkedin_state", LinkedInState)
_OWNER = re.compile(r"^\((sponsoredAccount|organization):urn:li:(?:sponsoredAccount|organization):(\w+)\)$")
_LEAD_TYPE = re.compile(r"^\(leadType:(\w+)\)$")
ORGANIZATION_LEAD_TYPES = ("EVENT", "COMPANY", "ORGANIZATION_PRODUCT")
_RANGE = re.compile(r"^\(start:(\d+),end:(\d+)\)$")


def _check(state: LinkedInState, request: web.Request, account_id: str | None) -> web.Response | None:
    if not request.headers.get("LinkedIn-Version"):
        return state.error(
            400,
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            "VERSION_MISSING",
        )
    if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
        return state.error(
            400, "X-Restli-Protocol-Version 2.0.0 is required for this resource.", "PROTOCOL_VERSION_MISSING"
        )
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token:
        return state.error(401, "Empty oauth2_access_token")
    for rule in state.errors:
        if rule.access_token in (None, token) and rule.remaining != 0:
            if rule.remaining > 0:
                rule.remaining -= 1
            if rule.status == 429:
                return state.error(429, "Resource level throttle limit for calls to this resource is reached.")
            if rule.status == 401:
                return state.error(401, "The token used in the request has expired")
            return state.error(rule.status, "Internal Server Error")
    member = state.member_tokens.get(token)
    if member is not None:
        if member.expires_at <= time.time():
            return state.error(401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN")
        if account_id is not None and account_id not in member.account_ids:
            return state.error(403, f"Not enough permissions to access ad account {account_id}", "ACCESS_DENIED")
        return None
    if account_id is not None and not hmac.compare_digest(state.accounts.get(account_id, "\0"), token):
        return state.error(401, "Invalid access token")
    if account_id is None and token not in state.accounts.values():
        return state.error(401, "Invalid access token")
    return None


def _owner(state: LinkedInState, raw: str) -> str | None:
    """The account id of an owner= value, if its kind is the account's (an ad account is no organization)."""
    match = _OWNER.match(unquote(raw))
    if not match:
        return None
    account_id = match.group(2)
    return account_id if (match.group(1) == "organization") == (account_id in state.organizations) else None


def _with_form(state: LinkedInState, element: dict[str, Any], fields: str) -> dict[str, Any]:
    out = dict(element)
    if "form:(" in fields:
        form_id, version = re.findall(r"leadGenForm:(\d+),(\d+)\)", element["versionedLeadGenFormUrn"])[0]
        form = state.forms[form_id].versions[int(version)]
        out["form"] = {k: form[k] for k in ("hiddenFields", "creationLocale", "name", "id", "content", "versionId")}
    return out


async def responses(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    if q.get("q") != "owner":
        return state.error(400, "finder q=owner is required", "QUERY_PARAM_NOT_ALLOWED")
    account_id = _owner(state, q.get("owner", ""))
    if account_id is None:
        return state.error(400, f"Invalid owner {q.get('owner')!r}")
    denied = _check(state, request, account_id)
    if denied:
        return denied
    lead_type = _LEAD_TYPE.match(unquote(q.get("leadType", "")))
    if q.get("leadType") and (lead_type is None or lead_type.group(1) not in state.lead_types(account_id)):
        return state.error(400, f"leadType {q.get('leadType')!r} is not valid for owner {unquote(q['owner'])}")
    low, high = 0, 2**62
    if q.get("submittedAtTimeRange"):
        match = _RANGE.match(unquote(q["submittedAtTimeRange"]))
        if not match:
            return state.error(400, "Invalid submittedAtTimeRange")
        low, high = int(match.group(1)), int(match.group(2))
    try:
        start = max(0, int(q.get("start", "0")))
        count = min(MAX_COUNT, max(1, int(q.get("count", "10"))))
    except ValueError:
        return state.error(400, "start and count must be integers")
    test_only = q.get("limitedToTestLeads") == "true"
    index = state.by_account.get(account_id, [])
    window = index[bisect.bisect_left(index, (low, "")) : bisect.bisect_left(index, (high, ""))]
    matching = [
        e
        for e in (state.responses.get(k[1]) for k in window)
        if e is not None
        and (e["testLead"] or not test_only)
        and (lead_type is None or e["leadType"] == lead_type.group(1))
    ]
    page = [_with_form(state, e, q.get("fields", "")) for e in matching[start : start + count]]
    links = []
    if start + count < len(matching):
        links.append(
            {"rel": "next", "type": "application/json", "href": str(request.rel_url.update_query(start=start + count))}
        )
    return web.json_response(
        {"elements": page, "paging": {"start": start, "count": count, "links": links, "total": len(matching)}}
    )


async def response_by_id(request: web.Request) -> web.Response:
    state = request.app[STATE]
    element = state.responses.get(request.match_info["id"])
    denied = _check(state, request, _owner_of(element) if element else None)
    if denied:
        return denied
    if element is None:
        return state.error(404, f"Lead form response {request.match_info['id']} does not exist")
    return web.json_response(_with_form(state, element, request.query.get("fields", "form:(")))


def _owner_of(element: dict[str, Any]) -> str:
    return str(next(iter(element["owner"].values()))).rsplit(":", 1)[-1]


async def forms_by_owner(request: web.Request) -> web.Response:
    state = request.app[STATE]
    account_id = _owner(state, request.query.get("owner", ""))
    if request.query.get("q") != "owner" or account_id is None:
        return state.error(400, "finder q=owner with a sponsoredAccount or organization owner is required")
    denied = _check(state, request, account_id)
    if denied:
        return denied
    forms = [f.versions[f.latest] for f in state.forms.values() if f.account_id == account_id]
    return web.json_response({"elements": forms, "paging": {"start": 0, "count": len(forms), "total": len(forms)}})


async def form_by_id(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = state.forms.get(request.match_info["id"])
    denied = _check(state, request, form.account_id if form else None)
    if denied:
        return denied
    if form is None:
        return state.error(404, f"Lead form {request.match_info['id']} does not exist")
    return web.json_response(form.versions[form.latest])


# -- control ---------------------------------------------------------------------------------------


async def control_accounts(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    account_id = str(body.get("account_id") or state.new_id())
    state.accounts[account_id] = body.get("access_token") or state.accounts.get(account_id) or f"AQV{uuid.uuid4().hex}"
    if body.get("organization"):
        state.organizations.add(account_id)
    return web.json_response({"account_id": account_id, "access_token": state.accounts[account_id]})


async def control_forms(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    account_id = str(body["account_id"])
    if account_id not in state.accounts:
        return web.json_response({"error": f"unknown account {account_id}"}, status=404)
    form = state.add_form(
        account_id, body.get("name", "Sandbox lead form"), body.get("questions"), body.get("hidden_fields")
    )
    return web.json_response(form.versions[form.latest])


async def control_versions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    form = state.forms[request.match_info["form_id"]]
    previous = form.versions[form.latest]
    questions = body.get("questions", copy.deepcopy(previous["content"]["questions"]))
    return web.json_response(state.add_version(form, questions, body.get("hidden_fields")))


async def control_leads(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    form = state.forms.get(str(body.get("form_id", "")))
    if form is None:
        return web.json_response({"error": f"unknown form {body.get('form_id')!r}"}, status=404)
    version = int(body.get("version") or form.latest)
    if body.get("lead_type") and body["lead_type"] not in state.lead_types(form.account_id):
        return web.json_response({"error": f"lead_type {body['lead_type']!r} is not one of this owner's"}, status=400)
    count = int(body.get("count", 1))
    now = int(body.get("submitted_at") or time.time() * 1000)
    spread = int(body.get("spread_ms", 0))
    ids = []
    for n in range(count):
        at = now - (spread * (count - 1 - n) // max(1, count - 1) if spread else 0)
        element = state.add_response(
            form,
            version,
            at,
            test_lead=bool(body.get("test_lead", False)),
            answers=body.get("answers"),
            lead_type=str(body.get("lead_type") or ""),
            response_id=str(body.get("response_id") or ""),
            consent=body.get("consent"),
        )
        ids.append(element["id"])
        if body.get("notify", True):
            state.notify(element)
    return web.json_response({"ids": ids})


async def control_delete_lead(request: web.Request) -> web.Response:
    state = request.app[STATE]
    element = state.responses.pop(request.match_info["id"], None)
    if element is None:
        return web.json_response({"deleted": False}, status=404)
    if request.query.get("notify") == "true":
        state.notify(element, "DELETED")
    return web.json_response({"deleted": True})


async def control_errors(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json() if request.can_read_body else {}
    token = body.get("access_token")
    if request.method == "DELETE":
        state.errors = [r for r in state.errors if token is not None and r.access_token != token]
    else:
        state.errors.append(ErrorRule(int(body["status"]), int(body.get("count", 1)), token))
    return web.json_response({"rules": len(state.errors)})


async def control_webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    config = state.delivery.configure(
        str(body.get("account_id", "")),
        **{k: body.get(k) for k in ("url", "drop_rate", "duplicate_rate", "duplicates", "delay_ms", "max_attempts")},
    )
    return web.json_response(vars(config))


async def control_challenge(request: web.Request) -> web.Response:
    """Validates a webhook URL as LinkedIn does: GET ?challengeCode=..., expect the HMAC back in 3 s."""
    return web.json_response(await validate_webhook(request.app[STATE], (await request.json())["url"]))


async def validate_webhook(state: LinkedInState, url: str) -> dict[str, Any]:
    code = str(uuid.uuid4())
    expected = hmac.new(state.client_secret.encode(), code.encode(), hashlib.sha256).hexdigest()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session,
            session.get(url, params={"challengeCode": code}) as reply,
        ):
            status = reply.status
            body = await reply.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {"validated": False, "reason": type(exc).__name__}
    ok = status == 200 and body.get("challengeCode") == code and body.get("challengeResponse") == expected
    return {"validated": ok, "status": status}


async def control_deliveries(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].delivery.stats.as_json())


async def control_drain(request: web.Request) -> web.Response:
    await request.app[STATE].delivery.drain()
    return web.json_response(request.app[STATE].delivery.stats.as_json())


async def control_demo(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    form = state.forms[str(body["form_id"])]
    every = float(body.get("every_seconds", 5.0))

    def make_lead() -> None:
        element = state.add_response(
            form, form.latest, int(time.time() * 1000), test_lead=state.rng.random() < 0.05, answers=None
        )
        state.notify(element)

    state.demo.set(form.form_id, every, make_lead)  # every_seconds 0 stops the feed
    return web.json_response({"form_id": form.form_id, "every_seconds": max(every, 0)})


async def _cleanup(app: web.Application) -> None:
    state = app[STATE]
    await state.demo.close()
    await state.delivery.close()


def setup(app: web.Application, client_secret: str) -> None:
    """client_secret signs the webhooks (LINKEDIN_CLIENT_SECRET, so ingest can check them)."""
    app[STATE] = LinkedInState(client_secret or "sandbox-client-secret")
    app.on_cleanup.append(_cleanup)
    r = app.router
    r.add_post("/linkedin/_control/accounts", control_accounts)
    r.add_post("/linkedin/_control/forms", control_forms)
    r.add_post("/linkedin/_control/forms/{form_id}/versions", control_versions)
    r.add_post("/linkedin/_control/leads", control_leads)
    r.add_delete("/linkedin/_control/leads/{id}", control_delete_lead)
    r.add_post("/linkedin/_control/errors", control_errors)
    r.add_delete("/linkedin/_control/errors", control_errors)
    r.add_post("/linkedin/_control/webhook", control_webhook)
    r.add_post("/linkedin/_control/challenge", control_challenge)
    r.add_get("/linkedin/_control/deliveries", control_deliveries)
    r.add_post("/linkedin/_control/drain", control_drain)
    r.add_post("/linkedin/_control/demo", control_demo)
    r.add_get("/linkedin/rest/leadFormResponses", responses)
    r.add_get("/linkedin/rest/leadFormResponses/{id}", response_by_id)
    r.add_get("/linkedin/rest/leadForms", forms_by_owner)
    r.add_get("/linkedin/rest/leadForms/{id}", form_by_id)
