"""Connect: link Facebook Pages and LinkedIn ad accounts by OAuth (admins), and see every platform
source's state. Connect / Reconnect -> the platform's consent page -> back here with code and state
-> pick the Pages / ad accounts -> sources connected, forms registered, webhooks subscribed. Every
change goes through IngestService (reports_app.platform_connect)."""

from __future__ import annotations

import grpc
import pandas as pd
import streamlit as st

from leadrelay.v1 import ingest_pb2
from reports_app import platform_connect as connect
from reports_app.database import Database
from reports_app.users import User
from reports_app.views.setup_links import link

STATES = {
    ingest_pb2.SOURCE_STATE_ACTIVE: "active",
    ingest_pb2.SOURCE_STATE_NEEDS_RECONNECT: "needs reconnect",
    ingest_pb2.SOURCE_STATE_DISCONNECTED: "disconnected",
}
PLATFORM_NAMES = {v: k for k, v in connect.PLATFORMS.items()}


def render(db: Database, user: User) -> None:
    _returned(db, user)
    flash = st.session_state.pop("connect_flash", None)
    if flash:
        st.success(flash[0])
        for name, status in flash[1]:
            st.warning(f"{name} needs attention:")
            st.text(status)
    if "connect_choices" in st.session_state:
        _pick(db, user)
    sources = db.run(lambda: connect.platform_sources(db.settings, user.account_id, user.user_id))
    st.subheader("Platform sources")
    if sources:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "source": s.name,
                        "platform": PLATFORM_NAMES.get(s.platform, ""),
                        "Page / ad account": s.external_account_id,
                        "state": STATES.get(s.state, ""),
                        "connected": s.connected,
                        "status": s.last_error,
                    }
                    for s in sources
                ]
            ),
            hide_index=True,
            key="connect_sources",
        )
    else:
        st.caption("No Facebook or LinkedIn source yet.")
    if not user.is_admin:
        st.caption("Only admins connect sources.")
        return
    st.subheader("Connect a platform")
    platform = st.radio("Platform", list(connect.PLATFORMS), horizontal=True, key="connect_platform")
    if st.button("Connect", key="connect_begin", type="primary"):
        _begin(db, user, platform, "")
    _continue_link("")
    if sources:
        st.subheader("Reconnect a source")
        by_id = {s.source_id: s for s in sources}
        chosen = st.selectbox(
            "Source",
            list(by_id),
            format_func=lambda i: f"{by_id[i].name} ({STATES.get(by_id[i].state, '')})",
            key="connect_reconnect_source",
        )
        if st.button("Reconnect", key="connect_reconnect") and chosen:
            _begin(db, user, PLATFORM_NAMES[by_id[chosen].platform], chosen)
        _continue_link(chosen or "")


def _begin(db: Database, user: User, platform: str, source_id: str) -> None:
    try:
        url = db.run(lambda: connect.begin(db.settings, user.account_id, user.user_id, platform, source_id))
    except grpc.aio.AioRpcError as exc:
        _failed(f"Connecting {platform}", exc)
        return
    st.session_state["connect_url"] = (source_id, platform, url)


def _continue_link(source_id: str) -> None:
    """The begun connect's link, under the button that began it: in this tab (not a new one), as the
    platform sends the browser back to this page."""
    begun = st.session_state.get("connect_url")
    if begun and begun[0] == source_id:
        link(f"Continue to {begun[1]} →", begun[2])


def _returned(db: Database, user: User) -> None:
    """Back from the consent page: ?state=…&code=… (or ?error=…)."""
    query = st.query_params
    state, code, error = query.get("state"), query.get("code"), query.get("error")
    if not state:
        return
    platform = (query.get("platform") or "").capitalize().replace("Linkedin", "LinkedIn")
    st.query_params.clear()
    st.session_state.pop("connect_url", None)
    if error or not code:
        st.error(f"{platform or 'The platform'} did not connect: the consent was cancelled or refused.")
        st.text(query.get("error_description") or error or "")
        return
    if not user.is_admin:
        st.error("Only admins connect sources.")
        return
    try:
        choices = db.run(lambda: connect.complete(db.settings, user.account_id, user.user_id, state, code))
    except grpc.aio.AioRpcError as exc:
        _failed(f"Connecting {platform}", exc)
        return
    st.session_state["connect_choices"] = choices


def _pick(db: Database, user: User) -> None:
    choices = st.session_state["connect_choices"]
    platform = PLATFORM_NAMES.get(choices.platform, "")
    what = "Pages" if platform == "Facebook" else "ad accounts"
    st.subheader(f"Pick the {platform} {what} to connect")
    if not choices.choices:
        st.warning(f"This {platform} login reaches no {what}.")
        if st.button("Close", key="connect_close"):
            del st.session_state["connect_choices"]
            st.rerun()
        return
    labels = {
        c.external_account_id: f"{c.name or c.external_account_id} ({c.external_account_id})" for c in choices.choices
    }
    picked = st.multiselect(
        what.capitalize(),
        list(labels),
        default=[c.external_account_id for c in choices.choices if c.preselected],
        format_func=lambda i: labels[i],
        key="connect_picked",
    )
    if st.button("Connect selected", key="connect_pick", type="primary", disabled=not picked):
        try:
            sources = db.run(lambda: connect.pick(db.settings, user.account_id, user.user_id, choices.grant_id, picked))
        except grpc.aio.AioRpcError as exc:
            _failed("Connecting", exc)
            return
        del st.session_state["connect_choices"]
        st.session_state["connect_flash"] = (
            f"Connected {', '.join(s.name for s in sources)}: leads now arrive by webhook.",
            [(s.name, s.last_error) for s in sources if s.last_error],
        )
        st.rerun()


def _failed(what: str, exc: grpc.aio.AioRpcError) -> None:
    st.error(f"{what} failed.")
    st.text(exc.details() or "")
