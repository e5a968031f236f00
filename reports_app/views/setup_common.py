"""What the set-up pages share: the source picker (kept in the URL as ?source=<id>, the link other
pages use), a service's refusal said plainly, and a notice that survives the rerun after a change."""

from __future__ import annotations

import grpc
import streamlit as st

from reports_app import queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import plain


def source_picker(db: Database, me: SignedIn, key: str) -> str | None:
    """The chosen source's id (text), or None when the account has no source yet (then the page
    says where to add one)."""
    sources = db.read(queries.sources, me.account_id)
    if not sources:
        st.info("No source yet. Add one on the Sources page (or connect a platform), then set it up here.")
        return None
    names = {str(s["source_id"]): s["name"] for s in sources}
    wanted = st.query_params.get("source")
    if key not in st.session_state or (wanted in names and st.session_state.get(f"{key}_url") != wanted):
        st.session_state[key] = wanted if wanted in names else next(iter(names))
        st.session_state[f"{key}_url"] = wanted
    chosen = st.selectbox("Source", list(names), format_func=lambda s: names[s], key=key)
    if st.query_params.get("source") != chosen:
        st.query_params["source"] = chosen
    st.session_state[f"{key}_url"] = chosen
    return str(chosen)


def refused(what: str, exc: grpc.RpcError) -> None:
    """A service's refusal: what failed, and the service's own words (which name the field)."""
    details = exc.details() if isinstance(exc, grpc.aio.AioRpcError | grpc.Call) else str(exc)
    st.error(plain(f"{what} failed: {details}"))


def notice(key: str) -> None:
    """Shows (once) the notice a change left for the rerun that follows it."""
    text = st.session_state.pop(key, None)
    if text:
        st.success(plain(text))


def leave_notice(key: str, text: str) -> None:
    st.session_state[key] = text
