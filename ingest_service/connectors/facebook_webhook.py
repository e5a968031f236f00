"""The Facebook Lead Ads webhook (ingest HTTP port, /webhooks/facebook).

GET: the hub.challenge handshake, checked against FACEBOOK_VERIFY_TOKEN.
POST: X-Hub-Signature-256 checked over the raw bytes with FACEBOOK_APP_SECRET (constant time); a
forged or missing signature is 403, logged, nothing stored. Each `leadgen` change of each entry is
one inbox row (repeats of a leadgen_id are one row) stored before the 200; then the lead is fetched
with the source's Page token, mapped and judged. A body we cannot read is stored with its reason."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import asyncpg
from aiohttp import web

from ingest_service.capture import intake
from ingest_service.connectors import (
    connections_store,
    facebook_leads,
    platform_clients,
    webhook_body,
    webhook_inbox,
)
from ingest_service.connectors.webhook_inbox import Done, Retry
from ingest_service.resources import IngestResources

log = logging.getLogger(__name__)

PATH = "/webhooks/facebook"
PLATFORM = "FACEBOOK"


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    algo, _, digest = header.partition("=")
    if algo != "sha256" or not digest or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def changes(body: Any) -> tuple[list[tuple[str, str, str, dict[str, Any]]], list[str]]:
    """Inbox rows (leadgen_id, page_id, form_id, change value) and a reason per unusable change."""
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        return [], ["not a webhook notification: no `entry` list"]
    rows, problems = [], []
    for e, entry in enumerate(body["entry"]):
        entry_changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(entry_changes, list):
            problems.append(f"entry[{e}]: no `changes` list")
            continue
        for c, change in enumerate(entry_changes):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(change, dict) or change.get("field") != "leadgen":
                name = change.get("field") if isinstance(change, dict) else None
                problems.append(f"entry[{e}].changes[{c}]: field {name!r} is not leadgen")
            elif not isinstance(value, dict) or not value.get("leadgen_id"):
                problems.append(f"entry[{e}].changes[{c}]: no leadgen_id")
            else:
                # Ids as strings: 16-digit ids do not survive a double (reference §1).
                page_id = str(value.get("page_id") or entry.get("id") or "")
                rows.append((str(value["leadgen_id"]), page_id, str(value.get("form_id") or ""), value))
    return rows, problems


def setup(
    app: web.Application, deps: IngestResources, spawner: webhook_inbox.Spawner, bodies: webhook_body.BodyReader
) -> None:
    async def verify(request: web.Request) -> web.Response:
        q = request.query
        token = deps.settings.facebook_verify_token
        if q.get("hub.mode") == "subscribe" and token and hmac.compare_digest(q.get("hub.verify_token", ""), token):
            return web.Response(text=q.get("hub.challenge", ""))
        log.warning("facebook webhook verification refused", extra={"mode": q.get("hub.mode", "")})
        return web.Response(status=403, text="verification token mismatch")

    async def receive(request: web.Request) -> web.Response:
        raw = await bodies.read(request)
        if not signature_ok(deps.settings.facebook_app_secret, raw, request.headers.get("X-Hub-Signature-256", "")):
            log.warning(
                "facebook webhook refused: missing or wrong X-Hub-Signature-256",
                extra={"bytes": len(raw), "remote": request.remote or ""},
            )
            return web.Response(status=403, text="invalid signature")
        body, reason = webhook_body.parse(raw)
        rows, problems = changes(body) if not reason else ([], [reason])
        ids = await webhook_inbox.store(deps, PLATFORM, rows, problems, raw)
        if ids:
            spawner.spawn(webhook_inbox.process(deps, PLATFORM, ids))
        return web.Response(text="EVENT_RECEIVED")

    app.router.add_get(PATH, verify)
    app.router.add_post(PATH, receive)


async def process_row(deps: IngestResources, row: asyncpg.Record) -> Done | Retry:
    leadgen_id, page_id = row["dedupe_key"], row["external_account_id"]
    async with deps.pool.acquire() as con:
        connections = await connections_store.for_external_account(con, PLATFORM, page_id)
    if not connections:
        log.warning("facebook lead for a Page no source is connected to", extra={"page_id": page_id})
        return Done("IGNORED", f"no connected Facebook source for Page {page_id}")
    client = platform_clients.graph(deps)
    reasons: list[str] = []
    stored = 0
    for connection in connections:
        try:
            lead = await client.lead(platform_clients.token(deps, connection), leadgen_id)
        except platform_clients.GraphError as exc:
            if exc.not_found:
                reasons.append(
                    f"lead {leadgen_id} no longer exists on Facebook (deleted, or not visible to the Page token): {exc}"
                )
                log.warning("facebook lead gone", extra={"leadgen_id": leadgen_id, "fbtrace_id": exc.fbtrace_id})
                continue
            message = await platform_clients.refused(deps, connection, exc, doing=f"fetching lead {leadgen_id}")
            if exc.token_refused:
                # The pull backup re-reads from the watermark once the source is reconnected.
                reasons.append(message)
                continue
            return Retry(min(900.0, 5.0 * 2 ** row["attempts"]), message)
        if str(lead.get("form_id") or "") != row["platform_form_id"] and row["platform_form_id"]:
            reasons.append(f"webhook named form {row['platform_form_id']}, the lead is on form {lead.get('form_id')}")
        incoming = facebook_leads.to_incoming(connection["source_id"], page_id, lead)
        await intake.submit(deps, connection["account_id"], [incoming], via="webhook")
        stored += 1
    if stored:
        return Done("DONE", "; ".join(reasons))
    return Done("FAILED", "; ".join(reasons))


webhook_inbox.register(PLATFORM, process_row)
