"""What the set-up pages share: the signed-in user's IngestService caller, links between the pages
(in this tab: the set-up flow goes back and forth) and a refusal shown in words."""

from __future__ import annotations

from html import escape

import grpc
import streamlit as st

from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.source_setup_calls import Caller
from reports_app.views.common import plain

SOURCES = "source-setup"
NEW_SOURCE = "new-source"
UPLOAD = "upload-leads"


def caller(db: Database, me: SignedIn) -> Caller:
    return Caller(db.settings, me.account_id, me.user.user_id)


def source_url(source_id: str, tab: str = "") -> str:
    return f"{SOURCES}?source={source_id}" + (f"&tab={tab}" if tab else "")


def link(label: str, href: str) -> None:
    """A link to another console page, opened in this tab (our own words and ids only, escaped)."""
    st.markdown(f'<a href="{escape(href)}" target="_self">{escape(label)}</a>', unsafe_allow_html=True)


def refused(what: str, exc: grpc.RpcError) -> None:
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    st.error(f"{what} did not work: {plain(details or 'the service did not answer')}")


def admins_only(me: SignedIn) -> None:
    if not me.is_admin:
        st.caption("You can look at everything here; only admins change sources and mappings.")
