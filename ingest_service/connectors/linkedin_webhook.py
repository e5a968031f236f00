"""The LinkedIn lead notification webhook (ingest HTTP port, /webhooks/linkedin).

GET ?challengeCode=…: answered with {challengeCode, challengeResponse = hex HMAC-SHA256(client secret,
challengeCode)} (LinkedIn validates the URL this way, and again every few hours).
POST: X-LI-Signature = hex HMAC-SHA256(client secret, "hmacsha256=" + raw body), constant-time; forged
or missing is 403, logged, nothing stored. Each LEAD_ACTION is an inbox row (response id + action +
occurredAt dedupes repeats) stored before the 200; CREATED is then fetched with the source's token, joined to its
form version and judged; DELETED (the member deleted it: a privacy request) erases the lead's
personal data (leadrelay.capture.erasure_store)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web

from ingest_service.capture import intake, validation_client
from ingest_service.connectors import (
    connections_store,
    linkedin_answers,
    linkedin_owners,
    platform_clients,
    webhook_body,
    webhook_inbox,
)
from ingest_service.connectors.webhook_inbox import Done, Retry
from ingest_service.resources import IngestResources
from leadrelay.capture import erasure_store
from leadrelay.errors import Unavailable

log = logging.getLogger(__name__)

PATH = "/webhooks/linkedin"
PLATFORM = "LINKEDIN"


def challenge_response(secret: str, code: str) -> str:
    return hmac.new(secret.encode(), code.encode(), hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header:
        return False
    expected = hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip().lower())


def events(body: Any) -> tuple[list[tuple[str, str, str, dict[str, Any]]], list[str]]:
    """Inbox rows (response id:action, owner key, form id, event) and unusable events. The owner is a
    sponsored account (SPONSORED leads) or an organization (EVENT, COMPANY, ORGANIZATION_PRODUCT)."""
    items = body if isinstance(body, list) else [body]
    rows, problems = [], []
    for n, event in enumerate(items):
        if not isinstance(event, dict) or event.get("type") != "LEAD_ACTION":
            problems.append(f"event[{n}]: not a LEAD_ACTION notification")
            continue
        response_id = linkedin_answers.urn_id(str(event.get("leadGenFormResponse") or ""))
        owner = linkedin_owners.of_notification(event.get("owner"))
        if not response_id or owner is None:
            problems.append(f"event[{n}]: no leadGenFormResponse or owner (sponsoredAccount or organization)")
            continue
        form = linkedin_answers.form_version(str(event.get("leadGenForm") or ""))
        # occurredAt tells a resubmission (a test form sent again the same day keeps its response id)
        # from a redelivery of the same notification, which repeats it.
        occurred = event.get("occurredAt")
        rows.append(
            (
                f"{response_id}:{event.get('leadAction', 'CREATED')}"
                + (f":{occurred}" if isinstance(occurred, int) else ""),
                owner.key,
                form[0] if form else "",
                event,
            )
        )
    return rows, problems


def setup(
    app: web.Application, deps: IngestResources, spawner: webhook_inbox.Spawner, bodies: webhook_body.BodyReader
) -> None:
    async def validate(request: web.Request) -> web.Response:
        code = request.query.get("challengeCode", "")
        if not code or not deps.settings.linkedin_client_secret:
            return web.json_response({"error": "challengeCode is required"}, status=400)
        return web.json_response(
            {"challengeCode": code, "challengeResponse": challenge_response(deps.settings.linkedin_client_secret, code)}
        )

    async def receive(request: web.Request) -> web.Response:
        raw = await bodies.read(request)
        if not signature_ok(deps.settings.linkedin_client_secret, raw, request.headers.get("X-LI-Signature", "")):
            log.warning(
                "linkedin webhook refused: missing or wrong X-LI-Signature",
                extra={"bytes": len(raw), "remote": request.remote or ""},
            )
            return web.Response(status=403, text="invalid signature")
        body, reason = webhook_body.parse(raw)
        rows, problems = events(body) if not reason else ([], [reason])
        ids = await webhook_inbox.store(deps, PLATFORM, rows, problems, raw)
        if ids:
            spawner.spawn(webhook_inbox.process(deps, PLATFORM, ids))
        return web.Response(status=200)

    app.router.add_get(PATH, validate)
    app.router.add_post(PATH, receive)


async def process_row(deps: IngestResources, row: asyncpg.Record) -> Done | Retry:
    response_id, _, rest = row["dedupe_key"].partition(":")
    action = rest.partition(":")[0]
    account_id = row["external_account_id"]
    if action == "DELETED":
        return await erase(deps, account_id, response_id)
    async with deps.pool.acquire() as con:
        connections = await connections_store.for_external_account(con, PLATFORM, account_id)
    if not connections:
        log.warning("linkedin lead for an owner no source is connected to", extra={"account": account_id})
        return Done("IGNORED", f"no connected LinkedIn source for {linkedin_owners.of_source(account_id).urn}")
    reasons, stored = [], 0
    for connection in connections:
        outcome = await fetch_and_submit(deps, connection, response_id, via="webhook")
        if isinstance(outcome, Retry):
            return outcome
        if outcome:
            reasons.append(outcome)
        else:
            stored += 1
    return Done("DONE" if stored else "FAILED", "; ".join(reasons))


async def erase(deps: IngestResources, owner_key: str, response_id: str) -> Done | Retry:
    """A member deleting their response is a privacy request: the lead's personal data is erased in
    every account that captured it, whether or not the source is still connected, and the validation
    service forgets what it kept of it (duplicate keys, delivery answers). Retried until both are done;
    a retry erases nothing twice."""
    async with deps.pool.acquire() as con:
        async with con.transaction():
            erased = await erasure_store.erase_platform_lead(
                con,
                PLATFORM,
                owner_key,
                response_id,
                "the member deleted the response on LinkedIn: personal data erased",
            )
        held = await erasure_store.erased_platform_leads(con, PLATFORM, owner_key, response_id)
    log.info("linkedin member deleted a lead", extra={"response_id": response_id, "leads_erased": len(erased)})
    by_account: dict[UUID, list[UUID]] = {}
    for account_id, lead_id in held:
        by_account.setdefault(account_id, []).append(lead_id)
    try:
        for account_id, lead_ids in by_account.items():
            await validation_client.forget(deps, account_id, lead_ids)
    except Unavailable as exc:
        return Retry(30.0, f"lead(s) of response {response_id} erased; {exc}")
    if not held:
        return Done("DONE", f"the member deleted response {response_id} on LinkedIn; no lead held its data")
    return Done("DONE", f"the member deleted response {response_id} on LinkedIn; {len(held)} lead(s) erased")


async def fetch_and_submit(
    deps: IngestResources, connection: asyncpg.Record, response_id: str, *, via: str
) -> str | Retry:
    """ "" when stored; a reason when it cannot be (deleted, token refused); Retry when throttled."""
    client = platform_clients.linkedin(deps)
    try:
        response = await client.response(platform_clients.token(deps, connection), response_id)
    except platform_clients.LinkedInError as exc:
        if exc.not_found:
            log.warning("linkedin response gone", extra={"response_id": response_id})
            return f"response {response_id} no longer exists on LinkedIn (deleted): {exc}"
        message = await platform_clients.refused(deps, connection, exc, doing=f"fetching response {response_id}")
        if exc.token_refused:
            return message
        return Retry(30.0, message)
    form = response.get("form")
    if not isinstance(form, dict):
        return f"response {response_id} came without its form version; cannot join its answers"
    incoming = linkedin_answers.to_incoming(connection["source_id"], response, form)
    if incoming.platform_context.get("join_problems"):
        log.warning(
            "linkedin answers joined with problems",
            extra={"response_id": response_id, "problems": incoming.platform_context["join_problems"]},
        )
    await intake.submit(deps, connection["account_id"], [incoming], via=via, resubmissions=True)
    return ""


webhook_inbox.register(PLATFORM, process_row)
