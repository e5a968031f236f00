"""OAuth 2 authorization code with the platforms (docs/platform-oauth.md): the consent URL, the code
exchange, and renewal — Facebook's fb_exchange_token (short-lived -> long-lived user token, and
re-extension), LinkedIn's refresh_token grant. Every answer becomes `Grant` (tokens and when they
stop working) or `OAuthRefused` (the platform said no; `final` when only the user can fix it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from leadrelay.settings import Settings

FACEBOOK_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_metadata",
    "leads_retrieval",
    "ads_management",
)
LINKEDIN_SCOPES = ("r_ads", "r_marketing_leadgen_automation")
# Facebook's data access for an app expires 90 days after the user last granted it: only a new
# login renews it (Integrate reminds at day 75).
FACEBOOK_DATA_ACCESS = timedelta(days=90)


class OAuthRefused(Exception):
    """The platform refused a token call; the message says why (never a token)."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str | None
    access_expires_at: datetime | None
    reconnect_by: datetime | None


def callback_url(settings: Settings, platform: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/connect/{platform.lower()}/callback"


def authorize_url(settings: Settings, platform: str, state: str) -> str:
    if platform == "FACEBOOK":
        query = {
            "client_id": settings.facebook_app_id,
            "redirect_uri": callback_url(settings, platform),
            "state": state,
            "scope": ",".join(FACEBOOK_SCOPES),
            "response_type": "code",
        }
        base = settings.facebook_login_base_url.rstrip("/")
        return f"{base}/{settings.graph_api_version}/dialog/oauth?{urlencode(query)}"
    scopes = LINKEDIN_SCOPES + (("rw_conversions",) if settings.linkedin_conversions else ())
    query = {
        "response_type": "code",
        "client_id": settings.linkedin_client_id,
        "redirect_uri": callback_url(settings, platform),
        "state": state,
        "scope": " ".join(scopes),
    }
    return f"{settings.linkedin_oauth_base_url.rstrip('/')}/oauth/v2/authorization?{urlencode(query)}"


def missing_app(settings: Settings, platform: str) -> str:
    """The settings a connect needs that are empty ('' when none)."""
    needed = (
        {"FACEBOOK_APP_ID": settings.facebook_app_id, "FACEBOOK_APP_SECRET": settings.facebook_app_secret}
        if platform == "FACEBOOK"
        else {
            "LINKEDIN_CLIENT_ID": settings.linkedin_client_id,
            "LINKEDIN_CLIENT_SECRET": settings.linkedin_client_secret,
        }
    )
    return ", ".join(k for k, v in needed.items() if not v)


def _expiry(now: datetime, seconds: Any) -> datetime | None:
    try:
        return now + timedelta(seconds=int(seconds)) if seconds else None
    except (TypeError, ValueError):
        return None


async def _json(reply: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await reply.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


class FacebookOAuth:
    def __init__(self, http: aiohttp.ClientSession, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self._url = f"{settings.graph_api_base_url.rstrip('/')}/{settings.graph_api_version}/oauth/access_token"

    async def _token(self, params: dict[str, str]) -> dict[str, Any]:
        query = {"client_id": self._settings.facebook_app_id, "client_secret": self._settings.facebook_app_secret}
        try:
            async with self._http.get(self._url, params={**query, **params}) as reply:
                body = await _json(reply)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthRefused(f"Facebook unreachable: {type(exc).__name__}", final=False) from exc
        error = body.get("error")
        if isinstance(error, dict) or "access_token" not in body:
            err = error if isinstance(error, dict) else {}
            code = err.get("code")
            # 190: the token is dead (expired, password changed, app removed): only a new login helps.
            raise OAuthRefused(
                f"Facebook refused the token exchange: {err.get('message', 'no access_token in the answer')}"
                f" (code {code}{'/' + str(err['error_subcode']) if err.get('error_subcode') else ''})",
                final=code in (190, 100, 1),
            )
        return body

    async def exchange(self, code: str, now: datetime) -> Grant:
        """Code -> short-lived user token -> long-lived user token."""
        short = await self._token({"redirect_uri": callback_url(self._settings, "FACEBOOK"), "code": code})
        return await self.extend(str(short["access_token"]), now, granted=True)

    async def extend(self, user_token: str, now: datetime, *, granted: bool = False) -> Grant:
        """A (re-)extended long-lived user token. Data access still ends 90 days after the login."""
        body = await self._token({"grant_type": "fb_exchange_token", "fb_exchange_token": user_token})
        return Grant(
            str(body["access_token"]),
            None,
            _expiry(now, body.get("expires_in")),
            now + FACEBOOK_DATA_ACCESS if granted else None,
        )


class LinkedInOAuth:
    def __init__(self, http: aiohttp.ClientSession, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self._url = f"{settings.linkedin_oauth_base_url.rstrip('/')}/oauth/v2/accessToken"

    async def _token(self, form: dict[str, str], now: datetime) -> Grant:
        data = {
            **form,
            "client_id": self._settings.linkedin_client_id,
            "client_secret": self._settings.linkedin_client_secret,
        }
        try:
            async with self._http.post(self._url, data=data) as reply:
                body = await _json(reply)
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthRefused(f"LinkedIn unreachable: {type(exc).__name__}", final=False) from exc
        if status >= 400 or "access_token" not in body:
            raise OAuthRefused(
                f"LinkedIn refused the token request: {body.get('error', f'HTTP {status}')}"
                f" ({body.get('error_description', '')})",
                final=status in (400, 401),
            )
        refresh = body.get("refresh_token")
        return Grant(
            str(body["access_token"]),
            str(refresh) if refresh else None,
            _expiry(now, body.get("expires_in")),
            _expiry(now, body.get("refresh_token_expires_in")),
        )

    async def exchange(self, code: str, now: datetime) -> Grant:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback_url(self._settings, "LINKEDIN"),
            },
            now,
        )

    async def refresh(self, refresh_token: str, now: datetime) -> Grant:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, now)


def now_utc() -> datetime:
    return datetime.now(UTC)
