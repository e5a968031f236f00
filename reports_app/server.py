"""The console's web server: Streamlit's own ASGI app (st.App, run by `streamlit run
reports_app/server.py`) with a sign-in route and a session guard in front of it.

Sign-in is a plain HTML form posted to /api/sign-in (and /api/set-password serves the e-mailed
one-time links that set an invited user's password, or reset one): the password is checked there (argon2 off the
event loop, behind the sign-in throttle), and a good one sets an HttpOnly, SameSite=Strict cookie
holding a random session token (the database keeps its hash). The guard sends a browser without a
live session to the form (and back to the page it asked for afterwards), and refuses downloads
(/media/...) to any request without one. The pages re-check the session and the user on every run."""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from leadrelay.db import create_pool, resolve_dsn
from leadrelay.log import setup_logging
from leadrelay.settings import Settings
from reports_app import sessions, sign_in_throttle, users

log = logging.getLogger("reports_app.sign_in")

SIGN_IN = sessions.SIGN_IN_PATH
_OPEN = ("/_stcore/", "/static/", "/component/", "/api/", "/favicon")


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site, never another site (`//host`, `\\host`)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n"):
        return "/"
    return target


_STYLE = """
 body { font-family: system-ui, sans-serif; background: #f6f7f9; margin: 0; }
 main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: .5rem;
        box-shadow: 0 1px 3px #0002; }
 h1 { font-size: 1.4rem; margin: 0 0 1.2rem; }
 label { display: block; margin: .8rem 0 .3rem; }
 input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
 button { margin-top: 1.2rem; width: 100%; padding: .6rem; font-size: 1rem; background: #ff4b4b;
          color: #fff; border: 0; border-radius: .3rem; cursor: pointer; }
 .error { color: #b00020; }
 .notice { color: #0b6b2b; }
 a { color: #b00020; }
"""


def _form(message: str = "", next_path: str = "/", email: str = "", *, notice: str = "") -> str:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    if notice:
        note += f'<p class="notice" role="status">{html.escape(notice)}</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · LeadRelay</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style></head>
<body><main><h1>LeadRelay console</h1>{note}
<form method="post" action="{SIGN_IN}">
 <input type="hidden" name="next" value="{html.escape(next_path)}">
 <label for="email">Email</label>
 <input id="email" name="email" type="email" autocomplete="username" required value="{html.escape(email)}">
 <label for="password">Password</label>
 <input id="password" name="password" type="password" autocomplete="current-password" required>
 <button type="submit">Sign in</button>
</form></main></body></html>"""


def _password_page(token: str, email: str, purpose: str, message: str = "") -> str:
    """The page an e-mailed link opens: a new password, twice. The token rides in a hidden field;
    same-origin referrers keep it from leaking to another site (no-referrer would make the browser send
    "Origin: null" with the form, which the origin check refuses)."""
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    heading = "Welcome to LeadRelay" if purpose == "invite" else "Choose a new password"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set your password · LeadRelay</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin">
<style>{_STYLE}</style></head>
<body><main><h1>{heading}</h1><p>Set the password for {html.escape(email)}.</p>{note}
<form method="post" action="{users.SET_PASSWORD_PATH}">
 <input type="hidden" name="token" value="{html.escape(token)}">
 <label for="password">New password (at least 8 characters)</label>
 <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8">
 <label for="again">The same password again</label>
 <input id="again" name="again" type="password" autocomplete="new-password" required minlength="8">
 <button type="submit">Set password</button>
</form></main></body></html>"""


_LINK_GONE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link expired · LeadRelay</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin">
<style>{style}</style></head>
<body><main><h1>This link no longer works</h1>
<p>It was already used, it expired, or a newer e-mail replaced it. Ask an admin of your account to send
you a new one from the console's Users page.</p><p><a href="{sign_in}">Go to sign-in</a></p></main></body></html>"""

# Pages holding a link's token are never cached.
_NO_STORE = {"Cache-Control": "no-store"}


class Console:
    """The sign-in route and the session guard, sharing one pool on the server's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.idle = timedelta(hours=settings.reports_session_idle_hours)
        self.pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        self.pool = await create_pool(resolve_dsn(self.settings), settings=self.settings, min_size=1, max_size=4)
        try:
            yield
        finally:
            await self.pool.close()

    async def live_user(self, token: str) -> users.User | None:
        assert self.pool is not None
        async with self.pool.acquire() as con:
            return await sessions.signed_in_user(con, token, self.idle)

    async def sign_in(self, request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_form(next_path=safe_next(request.query_params.get("next", "/"))))
        # A form posted from another site is refused (login CSRF); browsers always send Origin on POST.
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return PlainTextResponse("Sign-in is only accepted from this site's own form.", 403)
        form = await request.form()
        email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1024]
        next_path = safe_next(str(form.get("next", "/")))
        address = request.client.host if request.client else ""
        keys = [
            sign_in_throttle.email_key(self.settings.secret_key, email),
            sign_in_throttle.address_key(self.settings.secret_key, address),
        ]
        assert self.pool is not None
        now = datetime.now(UTC)
        async with self.pool.acquire() as con:
            until = await sign_in_throttle.locked_until(con, keys, now)
            if until is not None:
                log.warning("sign-in refused: throttled", extra={"email_key": keys[0].label, "client": address})
                wait = max(1, round((until - now).total_seconds()))
                return HTMLResponse(
                    _form(f"Too many failed sign-ins. Try again in {wait} seconds.", next_path, email),
                    429,
                    headers={"Retry-After": str(wait)},
                )
            user = await users.authenticate(con, email, password)
            if user is None:
                failures = await sign_in_throttle.record_failure(con, keys, now)
                log.warning(
                    "sign-in failed",
                    extra={"email_key": keys[0].label, "client": address, "failures": failures},
                )
                return HTMLResponse(_form("Wrong email or password.", next_path, email), 401)
            await sign_in_throttle.clear(con, keys[0])
            token = await sessions.create(con, user.user_id)
        log.info("signed in", extra={"user_id": str(user.user_id), "client": address})
        reply = RedirectResponse(next_path, 303)
        reply.set_cookie(
            sessions.COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return reply

    async def set_password(self, request: Request) -> Response:
        """GET shows the form for a live link (nothing is used up: mail scanners open links too);
        POST sets the password, uses the link up, and shows the sign-in form."""
        assert self.pool is not None
        now = datetime.now(UTC)
        gone = HTMLResponse(_LINK_GONE.format(style=_STYLE, sign_in=SIGN_IN), 410, headers=_NO_STORE)
        if request.method == "GET":
            token = request.query_params.get("token", "")[:200]
            async with self.pool.acquire() as con:
                holder = await users.link_holder(con, token, now) if token else None
            if holder is None:
                return gone
            return HTMLResponse(_password_page(token, holder["email"], holder["purpose"]), headers=_NO_STORE)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return PlainTextResponse("Passwords are only set from this site's own form.", 403)
        form = await request.form()
        token, password, again = (str(form.get(k, ""))[:1024] for k in ("token", "password", "again"))
        async with self.pool.acquire() as con:
            holder = await users.link_holder(con, token, now) if token else None
            if holder is None:
                return gone
            if password != again:
                page = _password_page(token, holder["email"], holder["purpose"], "The two passwords differ.")
                return HTMLResponse(page, 400, headers=_NO_STORE)
            try:
                async with con.transaction():
                    email = await users.use_link(con, token, password, now)
            except users.Refused as exc:
                page = _password_page(token, holder["email"], holder["purpose"], str(exc))
                return HTMLResponse(page, 400, headers=_NO_STORE)
        if email is None:
            return gone
        log.info("password set by link", extra={"client": request.client.host if request.client else ""})
        return HTMLResponse(_form(email=email, notice="Your password is set. Sign in with it now."), headers=_NO_STORE)


class SessionGuard:
    """Lets a request through to Streamlit only with a live session, except Streamlit's own assets,
    websocket and health, and the sign-in route (the pages re-check the session on every run)."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        if await self.console.live_user(Request(scope).cookies.get(sessions.COOKIE, "")) is not None:
            await self.app(scope, receive, send)
            return
        if path.startswith("/media/"):
            reply: Response = PlainTextResponse("Sign in to download this file.", 403)
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            reply = RedirectResponse(f"{SIGN_IN}?{urlencode({'next': path + (f'?{query}' if query else '')})}", 303)
        await reply(scope, receive, send)


settings = Settings.from_env()
setup_logging(settings.log_level, settings.log_format)
console = Console(settings)
# A literal `app = st.App(...)`: `streamlit run` finds the ASGI app by reading this file.
app = st.App(
    Path(__file__).with_name("app.py"),
    lifespan=console.lifespan,
    routes=[
        Route(SIGN_IN, console.sign_in, methods=["GET", "POST"]),
        Route(users.SET_PASSWORD_PATH, console.set_password, methods=["GET", "POST"]),
    ],
    middleware=[Middleware(SessionGuard, console=console)],
)
