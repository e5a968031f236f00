"""A stand-in MA/CRM lead endpoint, under /crm/{tenant}/leads (each test picks its own tenant). It records what
it receives, and can be told (POST /crm/_control/{tenant}) to answer 5xx, time out, reject with a reason,
answer garbage, accept with a record id, or accept with a hostile answer (a NUL byte, binary, UTF-16), at
chosen rates or as an exact sequence. Like Stripe, it honours `Idempotency-Key`: a repeat of a key it already
accepted gets the same answer and creates no second record. GET /crm/_control/{tenant} returns what it saw:
requests received and records created, per lead, so tests can count losses and doubles.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

# Outcomes a tenant can be told to produce.
ACCEPT = "accept"
FAIL = "fail"  # fail_status (503 unless set)
TIMEOUT = "timeout"  # answers after timeout_seconds (the record is created then, like a slow CRM)
REJECT = "reject"  # 200 {"status": "rejected", "reason": ...}
GARBAGE = "garbage"  # 200 with a body that is not JSON
# Hostile answers to a lead the CRM did take (it creates the record): the answer's bytes are what
# a careless or broken CRM sends, for the client to survive.
NUL = "nul"  # 201 JSON whose record id holds a NUL ("\u0000")
BINARY = "binary"  # 201 application/octet-stream: every byte value (raw NULs, invalid UTF-8)
UTF16 = "utf16"  # 201 JSON in UTF-16 (charset=utf-16)
OUTCOMES = (ACCEPT, FAIL, TIMEOUT, REJECT, GARBAGE, NUL, BINARY, UTF16)
_HOSTILE = (NUL, BINARY, UTF16)


@dataclass
class Tenant:
    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    reject_rate: float = 0.0
    garbage_rate: float = 0.0
    fail_status: int = 503
    timeout_seconds: float = 30.0
    latency_ms: float = 0.0
    reject_reason: str = "duplicate lead in CRM"
    # The body field that names the lead (falls back to the Idempotency-Key).
    lead_field: str = "lead_id"
    # Exact outcomes for the next requests, consumed first; then the rates apply.
    sequence: list[str] = field(default_factory=list)
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random)
    received: int = 0
    created: int = 0
    replayed: int = 0
    per_lead: dict[str, dict[str, int]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    # Idempotency-Key -> the accepted answer (status, body).
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def configure(self, raw: dict[str, Any]) -> None:
        for name in ("fail_rate", "timeout_rate", "reject_rate", "garbage_rate", "timeout_seconds", "latency_ms"):
            if name in raw:
                setattr(self, name, float(raw[name]))
        for name in ("reject_reason", "lead_field"):
            if name in raw:
                setattr(self, name, str(raw[name]))
        if "fail_status" in raw:
            self.fail_status = int(raw["fail_status"])
        if "sequence" in raw:
            bad = [o for o in raw["sequence"] if o not in OUTCOMES]
            if bad:
                raise web.HTTPBadRequest(text=f"unknown outcomes {bad}; use {OUTCOMES}")
            self.sequence = list(raw["sequence"])
        if "seed" in raw:
            self.seed = raw["seed"]
            self.rng = random.Random(self.seed)

    def next_outcome(self) -> str:
        if self.sequence:
            return self.sequence.pop(0)
        roll = self.rng.random()
        for outcome, rate in (
            (FAIL, self.fail_rate),
            (TIMEOUT, self.timeout_rate),
            (REJECT, self.reject_rate),
            (GARBAGE, self.garbage_rate),
        ):
            if roll < rate:
                return outcome
            roll -= rate
        return ACCEPT

    def stats(self, with_records: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "received": self.received,
            "created": self.created,
            "replayed": self.replayed,
            "leads": len(self.per_lead),
            "doubled": sorted(lead for lead, c in self.per_lead.items() if c["created"] > 1),
            "per_lead": self.per_lead,
        }
        if with_records:
            out["records"] = self.records
        return out


TENANTS = web.AppKey("crm_tenants", dict)


def tenant(app: web.Application, name: str) -> Tenant:
    return app[TENANTS].setdefault(name, Tenant())


async def receive(request: web.Request) -> web.Response:
    t = tenant(request.app, request.match_info["tenant"])
    raw = await request.read()
    body = _parse(raw, request.content_type)
    key = request.headers.get("Idempotency-Key", "")
    lead = str(body.get(t.lead_field) or key or "?") if isinstance(body, dict) else key or "?"
    t.received += 1
    counts = t.per_lead.setdefault(lead, {"received": 0, "created": 0})
    counts["received"] += 1
    outcome = t.next_outcome()
    if t.latency_ms:
        await asyncio.sleep(t.latency_ms / 1000)
    if outcome == TIMEOUT:
        # The client gives up first; the CRM still takes the lead, as slow CRMs do.
        await asyncio.sleep(t.timeout_seconds)
        outcome = ACCEPT
    # From here to storing the answer nothing awaits: two requests with one key cannot both create.
    if key and key in t.answers:
        t.replayed += 1
        status, answer = t.answers[key]
        return web.json_response(answer, status=status, headers={"Idempotent-Replayed": "true"})
    if outcome == FAIL:
        return web.json_response({"status": "error", "reason": "service unavailable"}, status=t.fail_status)
    if outcome == REJECT:
        return web.json_response({"status": "rejected", "reason": t.reject_reason})
    if outcome == GARBAGE:
        return web.Response(text="<html><body>502 upstream hiccup</body></html>", content_type="text/html")
    t.created += 1
    counts["created"] += 1
    record_id = f"crm-{len(t.records) + 1}"
    t.records.append(
        {
            "id": record_id,
            "lead": lead,
            "method": request.method,
            "content_type": request.content_type,
            "idempotency_key": key,
            "headers": {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")},
            "body": body,
        }
    )
    answer = {"status": "accepted", "id": record_id}
    if key:
        t.answers[key] = (201, answer)
    if outcome in _HOSTILE:
        return _hostile(outcome, answer)
    return web.json_response(answer, status=201)


def _hostile(outcome: str, answer: dict[str, Any]) -> web.Response:
    if outcome == NUL:
        body = json.dumps({**answer, "id": answer["id"] + "\u0000"}).encode()
        return web.Response(body=body, status=201, content_type="application/json")
    if outcome == BINARY:
        return web.Response(body=bytes(range(256)) * 4, status=201, content_type="application/octet-stream")
    body = json.dumps(answer).encode("utf-16")
    return web.Response(body=body, status=201, headers={"Content-Type": "application/json; charset=utf-16"})


def _parse(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"_raw": text}


async def control_get(request: web.Request) -> web.Response:
    t = tenant(request.app, request.match_info["tenant"])
    return web.json_response(t.stats(request.query.get("records", "1") != "0"))


async def control_set(request: web.Request) -> web.Response:
    t = tenant(request.app, request.match_info["tenant"])
    try:
        raw = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="send a JSON object") from None
    t.configure(raw)
    return web.json_response({"ok": True})


async def control_reset(request: web.Request) -> web.Response:
    request.app[TENANTS].pop(request.match_info["tenant"], None)
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app[TENANTS] = {}
    app.router.add_get("/crm/_control/{tenant}", control_get)
    app.router.add_post("/crm/_control/{tenant}", control_set)
    app.router.add_delete("/crm/_control/{tenant}", control_reset)
    for method in ("POST", "PUT", "PATCH"):
        app.router.add_route(method, "/crm/{tenant}/leads", receive)
