"""Streamlit entry point: `streamlit run reports_app/app.py`. Sign-in first; then the pages, each
reading only the signed-in user's account."""

from __future__ import annotations

import streamlit as st

from leadrelay.settings import Settings
from reports_app.database import Database
from reports_app.views import connect, leads, lifecycle, overview, post_outs, rejections, schedules, signin, sources

PAGES = {
    "Overview": overview.render,
    "Leads Report": leads.render,
    "Source Report": sources.render,
    "Rejections": rejections.render,
    "Post-outs": post_outs.render,
    "Lifecycle": lifecycle.render,
    "Schedules": schedules.render,
    "Connect": connect.render,
}


@st.cache_resource
def database(settings: Settings) -> Database:
    return Database(settings)


st.set_page_config(page_title="LeadRelay reports", layout="wide")
db = database(Settings.from_env())
user = st.session_state.get("user")
if user is None:
    signin.render(db)
    st.stop()

st.sidebar.markdown(f"**{user.account_name}**  \n{user.email} · {user.role}")
if st.sidebar.button("Sign out", key="signout"):
    st.session_state.clear()
    st.rerun()
if st.query_params.get("page") in PAGES:  # back from a platform's consent page
    st.session_state.setdefault("page", st.query_params["page"])
page = st.sidebar.radio("Page", list(PAGES), key="page")
st.title(page)
PAGES[page](db, user)
