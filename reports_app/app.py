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
            page("sources", "Sources", "sources"),
            page("rejections", "Rejections", "rejections"),
            page("post_outs", "Post-outs", "post-outs"),
            page("lifecycle", "Lifecycle", "lifecycle"),
        ],
        "Work": [
            page("upload_leads", "Upload leads", "upload-leads"),
            page("import_leads", "Import leads", "import-leads"),
        ],
        "Settings": [
            page("connect", "Connect a platform", "connect"),
            page("schedules", "Schedules", "schedules"),
            page("criteria", "Acceptance criteria", "criteria"),
            page("destinations", "Destinations", "destinations"),
            page("delivery_log", "Delivery log", "delivery-log"),
            page("feedback_setup", "Lifecycle feedback", "feedback"),
            page("people", "Users", "users"),
            page("api_keys", "API keys", "api-keys"),
            page("notifications", "Notifications", "notifications"),
            page("audit_log", "Audit log", "audit-log"),
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
