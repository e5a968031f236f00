"""Connecting a Facebook Page / LinkedIn ad account by OAuth (docs/platform-oauth.md).

begin    -> a single-use state (only its SHA-256 stored), bound to the account and the user, valid
            LEADRELAY_CONNECT_STATE_SECONDS; the platform's consent URL.
callback -> the platform sends the browser to the ingest HTTP port; it goes on to the caller's
            return URL with code and state (nothing is exchanged there: the callback has no caller).
complete -> the state is used up by its own account and user; the code becomes tokens (Facebook's
            long-lived user token, LinkedIn's access + refresh token), kept encrypted in a grant with
            the Pages / ad accounts the user may pick.
pick     -> each picked place becomes (or reconnects) a source: its token stored encrypted, its forms
            registered, its webhooks subscribed (Facebook `subscribed_apps`, LinkedIn lead
            notifications), Leads Access checked. A subscription that fails leaves the source
            connected with the reason in its status; the pull backup still reads its leads."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from ingest_service.connectors import (
    connect_store,
    connections_store,
    platform_clients,
    platform_forms,
    platform_oauth,
    webhook_inbox,
)
from ingest_service.resources import IngestResources
from leadrelay.capture import sources_store
from leadrelay.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable

log = logging.getLogger(__name__)

# A grant's choices can be picked from for this long after the consent.
PICK_SECONDS = 1800
MAX_PICKS = 100


class NotYours(PermissionDenied):
    """A connect state or grant of another account or user (the message names the field)."""

    def __init__(self, field: str) -> None:
        Exception.__init__(self, f"{field}: this connect was begun by another account or user")
        self.kind, self.ident = field, ""


@dataclass(frozen=True)
class Choice:
    external_account_id: str
    name: str
    source_id: str
    preselected: bool


@dataclass(frozen=True)
class Choices:
    grant_id: UUID
    platform: str
    choices: list[Choice]


def state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def return_target(return_url: str, params: dict[str, str]) -> str:
    joiner = "&" if urlsplit(return_url).query else "?"
    return f"{return_url}{joiner}{urlencode(params)}"


async def begin(
    deps: IngestResources, account_id: UUID, platform: str, source_id: UUID | None, user_ref: str, return_url: str
) -> tuple[str, datetime]:
    missing = platform_oauth.missing_app(deps.settings, platform)
    if missing:
        raise FailedPrecondition(f"connecting {platform} needs the platform app's settings: set {missing}")
    parts = urlsplit(return_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument("return_url", "must be an absolute http(s) URL (the console's Connect page)")
    async with deps.pool.acquire() as con:
        if source_id is not None:
            source = await sources_store.get_source(con, account_id, source_id)
            if source["platform"] != platform:
                raise InvalidArgument("source_id", f"source {source_id} is a {source['platform']} source")
        state = secrets.token_urlsafe(32)
        expires_at = platform_oauth.now_utc() + timedelta(seconds=deps.settings.connect_state_seconds)
        await connect_store.add_state(
            con,
            state_hash(state),
            account_id,
            user_ref,
            platform,
            source_id,
            platform_oauth.callback_url(deps.settings, platform),
            return_url,
            expires_at,
        )
    log.info("connect begun", extra={"account_id": str(account_id), "platform": platform})
    return platform_oauth.authorize_url(deps.settings, platform, state), expires_at


async def callback_target(deps: IngestResources, platform: str, query: dict[str, str]) -> str | None:
    """Where the browser goes from the callback; None when the state is unknown, used or expired."""
    state = query.get("state", "")
    async with deps.pool.acquire() as con:
        row = await connect_store.state(con, state_hash(state)) if state else None
    if row is None or row["platform"] != platform or row["used_at"] is not None:
        return None
    if row["expires_at"] <= platform_oauth.now_utc():
        return None
    forwarded = {"state": state, "platform": platform.lower()}
    if query.get("code"):
        forwarded["code"] = query["code"]
    else:
        # The user cancelled, or the platform refused: say so on the console's page.
        forwarded["error"] = query.get("error", "access_denied")
        forwarded["error_description"] = query.get("error_description", "")[:300]
    return return_target(row["return_url"], forwarded)


async def _use_state(deps: IngestResources, account_id: UUID, user_ref: str, state: str) -> Any:
    async with deps.pool.acquire() as con, con.transaction():
        row = await connect_store.state(con, state_hash(state))
        if row is None:
            raise NotFound("connect state", "(the one given)")
        if row["account_id"] != account_id or row["user_ref"] != user_ref:
            raise NotYours("state")
        if row["expires_at"] <= platform_oauth.now_utc():
            raise FailedPrecondition("state: the connect expired; begin it again")
        used = await connect_store.use_state(con, state_hash(state))
        if used is None:
            raise FailedPrecondition("state: already used; begin the connect again")
        return used


async def complete(deps: IngestResources, account_id: UUID, user_ref: str, state: str, code: str) -> Choices:
    if not state:
        raise InvalidArgument("state", "the state the callback passed on is required")
    if not code:
        raise InvalidArgument("code", "the code the callback passed on is required")
    row = await _use_state(deps, account_id, user_ref, state)
    platform = row["platform"]
    now = platform_oauth.now_utc()
    box = platform_clients.box(deps)
    try:
        if platform == "FACEBOOK":
            grant = await platform_oauth.FacebookOAuth(deps.http, deps.settings).exchange(code, now)
            pages = await platform_clients.graph(deps).managed_pages(grant.access_token)
            places = [
                {"id": str(p["id"]), "name": str(p.get("name", "")), "token": box.encrypt(p["access_token"]).decode()}
                for p in pages
            ]
        else:
            grant = await platform_oauth.LinkedInOAuth(deps.http, deps.settings).exchange(code, now)
            accounts = await platform_clients.linkedin(deps).ad_accounts(grant.access_token)
            places = [{"id": a, "name": name} for a, name in accounts]
    except platform_oauth.OAuthRefused as exc:
        raise FailedPrecondition(f"code: {exc}") from None
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        if exc.rate_limited:
            raise Unavailable(f"the platform is throttling calls; try again later: {exc}") from None
        raise FailedPrecondition(f"the platform refused to list the Pages / ad accounts: {exc}") from None
    async with deps.pool.acquire() as con, con.transaction():
        existing = await sources_store.sources_for_external(con, account_id, platform, [p["id"] for p in places])
        grant_id = await connect_store.add_grant(
            con,
            account_id=account_id,
            user_ref=user_ref,
            platform=platform,
            reconnect_source_id=row["source_id"],
            access_token=box.encrypt(grant.access_token),
            refresh_token=box.encrypt(grant.refresh_token) if grant.refresh_token else None,
            access_expires_at=grant.access_expires_at,
            reconnect_by=grant.reconnect_by,
            choices=places,
        )
    choices = []
    for place in places:
        source = existing.get(place["id"])
        source_id = str(source["source_id"]) if source else ""
        choices.append(
            Choice(place["id"], place["name"], source_id, bool(source_id) and source_id == str(row["source_id"]))
        )
    log.info("connect completed", extra={"account_id": str(account_id), "platform": platform, "choices": len(choices)})
    return Choices(grant_id, platform, choices)


async def pick(
    deps: IngestResources, account_id: UUID, user_ref: str, grant_id: UUID, external_ids: list[str]
) -> list[UUID]:
    if not external_ids:
        raise InvalidArgument("external_account_ids", "pick at least one Page / ad account")
    if len(external_ids) > MAX_PICKS:
        raise InvalidArgument("external_account_ids", f"at most {MAX_PICKS} at a time")
    async with deps.pool.acquire() as con:
        grant = await connect_store.grant(con, grant_id)
    if grant is None or grant["account_id"] != account_id:
        raise NotFound("grant_id", str(grant_id))
    if grant["user_ref"] != user_ref:
        raise NotYours("grant_id")
    if grant["created_at"] + timedelta(seconds=PICK_SECONDS) <= platform_oauth.now_utc():
        raise FailedPrecondition("grant_id: the choice expired; connect again")
    places = {p["id"]: p for p in json.loads(grant["choices"])}
    for external in external_ids:
        if external not in places:
            raise InvalidArgument("external_account_ids", f"{external!r} was not among this connect's choices")
    connected = []
    for external in dict.fromkeys(external_ids):
        connected.append(await _connect_place(deps, account_id, grant, places[external]))
    return connected


async def _connect_place(deps: IngestResources, account_id: UUID, grant: Any, place: dict[str, Any]) -> UUID:
    platform = grant["platform"]
    box = platform_clients.box(deps)
    external = place["id"]
    # The source keeps its access token; the grant keeps what renews it (token_renewal).
    if platform == "FACEBOOK":
        token = box.decrypt(place["token"].encode())
        stored = place["token"].encode()
    else:
        token = box.decrypt(grant["access_token"])
        stored = bytes(grant["access_token"])
    async with deps.pool.acquire() as con:
        existing = (await sources_store.sources_for_external(con, account_id, platform, [external])).get(external)
    try:
        found = await platform_forms.listed(deps, token, platform, external)
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        raise FailedPrecondition(
            f"external_account_ids: the platform refused to list {external}'s forms: {exc}"
        ) from None
    notes = [await _leads_access(deps, token, external)] if platform == "FACEBOOK" else []
    async with deps.pool.acquire() as con, con.transaction():
        if existing is None:
            label = "Facebook" if platform == "FACEBOOK" else "LinkedIn"
            existing = await sources_store.create_source(
                con, account_id, f"{label}: {place['name'] or external}", platform, external
            )
        source_id = existing["source_id"]
        await connections_store.save_connection(con, source_id, account_id, stored, None, grant["grant_id"])
        await sources_store.set_state(con, source_id, "ACTIVE")
        await platform_forms.register(con, account_id, source_id, platform, found)
    subscription, problem = await _subscribe(deps, platform, token, external)
    notes.append(problem)
    async with deps.pool.acquire() as con:
        await connections_store.set_subscription(con, source_id, subscription)
        message = " ".join(n for n in notes if n)
        if message:
            await connections_store.record_error(con, source_id, message)
    # Notifications that came for this Page / account before it was connected become leads now.
    await webhook_inbox.redrive_ignored(deps, platform, external)
    log.info(
        "source connected by oauth",
        extra={
            "source_id": str(source_id),
            "platform": platform,
            "forms": len(found),
            "subscribed": bool(subscription),
        },
    )
    return source_id


async def _leads_access(deps: IngestResources, page_token: str, page_id: str) -> str:
    """'' when the app may download the Page's leads; otherwise what the user must do."""
    try:
        verdict = await platform_clients.graph(deps).lead_access(page_token, page_id, deps.settings.facebook_app_id)
    except platform_clients.GraphError as exc:
        log.warning("leads access check failed", extra={"page_id": page_id, "error": str(exc)})
        return ""
    if verdict.get("app_has_leads_permission", True) and verdict.get("can_access_lead", True):
        return ""
    return (
        f"Leads Access: Page {page_id} restricts which apps may download its leads, and this app "
        f"(app id {deps.settings.facebook_app_id}) is not assigned, so leads would show in Ads Manager but "
        "never arrive. In Meta Business Settings > Integrations > Leads Access, select the Page and assign "
        "this app under CRMs; then reconnect."
    )


async def _subscribe(deps: IngestResources, platform: str, token: str, external: str) -> tuple[str, str]:
    """(the subscription made, '' or why none could be made)."""
    settings = deps.settings
    try:
        if platform == "FACEBOOK":
            graph = platform_clients.graph(deps)
            await graph.subscribe_app(
                settings.facebook_app_id,
                f"{settings.facebook_app_id}|{settings.facebook_app_secret}",
                f"{settings.public_base_url.rstrip('/')}/webhooks/facebook",
                settings.facebook_verify_token,
            )
            await graph.subscribe_page(token, external)
            return "leadgen", ""
        webhook = f"{settings.public_base_url.rstrip('/')}/webhooks/linkedin"
        return await platform_clients.linkedin(deps).subscribe_leads(token, external, webhook), ""
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        log.warning("webhook subscription failed", extra={"external_account_id": external, "error": str(exc)})
        return "", f"Webhooks: the subscription failed ({exc}); leads arrive by polling until a reconnect."


async def unsubscribe(deps: IngestResources, connection: Any) -> None:
    """Removes the source's platform subscription unless another source still uses the Page / account."""
    if not connection["subscription"]:
        return
    async with deps.pool.acquire() as con:
        shared = await connections_store.connected_elsewhere(
            con, connection["platform"], connection["external_account_id"], connection["source_id"]
        )
    if shared:
        return
    token = platform_clients.token(deps, connection)
    try:
        if connection["platform"] == "FACEBOOK":
            await platform_clients.graph(deps).unsubscribe_page(token, connection["external_account_id"])
        else:
            await platform_clients.linkedin(deps).unsubscribe_leads(token, connection["subscription"])
    except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
        # The connection is deleted all the same: webhooks for it are ignored from now on.
        log.warning("unsubscribe failed", extra={"source_id": str(connection["source_id"]), "error": str(exc)})
