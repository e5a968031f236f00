"""Who is signed in, checked on every page run: the session (the browser's HttpOnly cookie) must be
live and its user still enabled, or the page shows nothing. Also what every page is given: the user,
the account's time zone and whether personal data is masked for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from reports_app import queries, sessions
from reports_app.database import Database
from reports_app.users import VIEWER, User

# Where a run finds the session token when no cookie comes with it (AppTest drives the app without
# a browser); the token still has to name a live session.
TOKEN_KEY: Final = "session_token"
_SIGNED_IN: Final = "signed_in"
_DATABASE: Final = "database"


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    zone: ZoneInfo
    # Viewers see email, phone, names and answers masked unless the account lets them see them.
    masked: bool

    @property
    def account_id(self) -> UUID:
        return self.user.account_id

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def sign_in(db: Database) -> SignedIn | None:
    """This run's signed-in user, or None (no session, session over, or user disabled)."""
    cookie = st.context.cookies.get(sessions.COOKIE)
    token = cookie if isinstance(cookie, str) and cookie else st.session_state.get(TOKEN_KEY, "")
    if not token:
        return None
    idle = timedelta(hours=db.settings.reports_session_idle_hours)
    user = db.write(sessions.signed_in_user, token, idle)
    if user is None:
        return None
    account = db.read(queries.account_settings, user.account_id)
    me = SignedIn(
        user, token, zone(account["time_zone"]), user.role == VIEWER and not account["viewers_see_personal_data"]
    )
    st.session_state[_SIGNED_IN] = me
    st.session_state[_DATABASE] = db
    return me


def current() -> tuple[Database, SignedIn]:
    """For a page script: what the entry script checked at the start of this run."""
    return st.session_state[_DATABASE], st.session_state[_SIGNED_IN]


def sign_out(db: Database, me: SignedIn) -> None:
    db.write(sessions.revoke, me.token)
    st.session_state.clear()
