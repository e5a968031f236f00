"""Keeps OAuth-connected sources' tokens alive (every LEADRELAY_TOKEN_CHECK_SECONDS): LinkedIn's
access token is refreshed with the refresh token, Facebook's long-lived user token re-extended,
LEADRELAY_TOKEN_RENEW_BEFORE_DAYS before they expire. When renewal became impossible every source of
that authorisation is NEEDS_RECONNECT with the reason. Telling people is the console's notifier's
job (reports_app/notifications: the notification role is e-mailed LEADRELAY_RECONNECT_REMIND_DAYS
before only a reconnect helps, and when a source needs reconnecting); here a reminder is only marked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from ingest_service.connectors import connect_store, connections_store, platform_clients, platform_oauth
from ingest_service.connectors.token_lifetimes import Lifetime, Step, steps
from ingest_service.resources import IngestResources
from leadrelay.background import every

log = logging.getLogger(__name__)

LABELS = {"FACEBOOK": "Facebook", "LINKEDIN": "LinkedIn"}


async def check_all(deps: IngestResources, now: datetime | None = None) -> None:
    now = now or platform_oauth.now_utc()
    async with deps.pool.acquire() as con:
        grants = await connect_store.in_use(con)
    for grant in grants:
        try:
            await check_grant(deps, grant, now)
        except Exception:
            log.exception("token check failed", extra={"grant_id": str(grant["grant_id"])})


async def check_grant(deps: IngestResources, grant: Any, now: datetime) -> None:
    settings = deps.settings
    life = Lifetime(grant["access_expires_at"], grant["reconnect_by"], grant["reminded_at"] is not None)
    label = LABELS[grant["platform"]]
    for step in steps(
        life, now, timedelta(days=settings.token_renew_before_days), timedelta(days=settings.reconnect_remind_days)
    ):
        if step is Step.EXPIRED:
            await _give_up(deps, grant, f"the {label} authorisation ran out on {_day(grant['reconnect_by'])}")
            return
        if step is Step.RENEW and not await _renew(deps, grant, now, label):
            return
        if step is Step.REMIND:
            await _remind(deps, grant, now, label)


async def _renew(deps: IngestResources, grant: Any, now: datetime, label: str) -> bool:
    """True when renewed (or worth another try later); False when renewal is impossible."""
    box = platform_clients.box(deps)
    try:
        if grant["platform"] == "LINKEDIN":
            if not grant["refresh_token"]:
                await _give_up(deps, grant, "LinkedIn gave no refresh token: only a reconnect renews the access")
                return False
            fresh = await platform_oauth.LinkedInOAuth(deps.http, deps.settings).refresh(
                box.decrypt(grant["refresh_token"]), now
            )
        else:
            fresh = await platform_oauth.FacebookOAuth(deps.http, deps.settings).extend(
                box.decrypt(grant["access_token"]), now
            )
    except platform_oauth.OAuthRefused as exc:
        if exc.final:
            await _give_up(deps, grant, f"renewing the {label} token failed: {exc}")
            return False
        log.warning(
            "token renewal failed; retrying later", extra={"grant_id": str(grant["grant_id"]), "error": str(exc)}
        )
        return True
    token = box.encrypt(fresh.access_token)
    async with deps.pool.acquire() as con, con.transaction():
        await connect_store.renewed(
            con,
            grant["grant_id"],
            token,
            box.encrypt(fresh.refresh_token) if fresh.refresh_token else None,
            fresh.access_expires_at,
        )
        if grant["platform"] == "LINKEDIN":
            # One member token serves every ad account picked with it.
            await connections_store.replace_grant_token(con, grant["grant_id"], token)
    log.info("token renewed", extra={"grant_id": str(grant["grant_id"]), "platform": grant["platform"]})
    return True


async def _remind(deps: IngestResources, grant: Any, now: datetime, label: str) -> None:
    # The notifier reads reconnect_by itself; the mark keeps this step from repeating.
    async with deps.pool.acquire() as con:
        await connect_store.reminded(con, grant["grant_id"])
    log.info("reconnect due soon", extra={"grant_id": str(grant["grant_id"]), "platform": label})


async def _give_up(deps: IngestResources, grant: Any, reason: str) -> None:
    message = f"{reason}; reconnect the source"
    async with deps.pool.acquire() as con, con.transaction():
        if not await connect_store.failed(con, grant["grant_id"], reason):
            return
        sources = await connections_store.grant_connections(con, grant["grant_id"])
        for source in sources:
            await connections_store.mark_needs_reconnect(con, source["source_id"], message)
    log.warning("token renewal impossible: sources need reconnect", extra={"grant_id": str(grant["grant_id"])})


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "an unknown date"


def loop(deps: IngestResources) -> Awaitable[None]:
    return every(deps.settings.token_check_seconds, lambda: check_all(deps), name="token-renewal")
