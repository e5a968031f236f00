"""The console's script (Streamlit runs it for every page and interaction; `streamlit run
reports_app/server.py` serves it behind the sign-in). Each run first checks the session and the
user; then the pages, grouped by job, each reading only the signed-in user's account."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from leadrelay.settings import Settings
from reports_app import console, sessions
from reports_app.database import Database

HERE = Path(__file__).parent


@st.cache_resource
def database(settings: Settings) -> Database:
    return Database(settings)


def page(script: str, title: str, url_path: str, *, default: bool = False) -> st.Page:
    return st.Page(HERE / "page_scripts" / f"{script}.py", title=title, url_path=url_path, default=default)


st.set_page_config(page_title="LeadRelay", layout="wide")
db = database(Settings.from_env())
me = console.sign_in(db)
if me is None:
    st.title("You are signed out")
    st.info("Your session ended (signed out, idle too long, or the account was disabled).")
    st.link_button("Sign in", sessions.SIGN_IN_PATH)
    st.stop()

# Upload leads, Import leads and Leads search join as a "Work" section; set-up pages join Settings.
nav = st.navigation(
    {
        "Reports": [
            page("overview", "Overview", "overview", default=True),
            page("leads", "Leads", "leads"),
            page("sources", "Source report", "sources"),
            page("rejections", "Rejections", "rejections"),
            page("post_outs", "Post-outs", "post-outs"),
            page("lifecycle", "Lifecycle", "lifecycle"),
        ],
        "Settings": [
            page("source_setup", "Sources", "source-setup"),
            page("new_source", "New source", "new-source"),
            page("connect", "Connect a platform", "connect"),
            page("schedules", "Schedules", "schedules"),
        ],
    }
)
with st.sidebar:
    st.text(f"{me.user.account_name}\n{me.user.email} · {me.user.role}")
    if st.button("Sign out", key="signout"):
        console.sign_out(db, me)
        st.rerun()
st.title(nav.title)
nav.run()
