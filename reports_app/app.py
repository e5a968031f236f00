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

# Pages grouped by job: what happened (Reports), the daily work (Work), how it is set up (Settings).
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
        "Work": [
            page("upload_leads", "Upload leads", "upload-leads"),
            page("import_leads", "Import leads", "import-leads"),
            page("delivery_log", "Delivery log", "delivery-log"),
        ],
        "Settings": [
            page("source_setup", "Sources", "source-setup"),
            page("new_source", "New source", "new-source"),
            page("connect", "Connect a platform", "connect"),
            page("criteria", "Acceptance criteria", "criteria"),
            page("destinations", "Destinations", "destinations"),
            page("feedback_setup", "Lifecycle feedback", "feedback"),
            page("schedules", "Schedules", "schedules"),
            page("people", "Users", "users"),
            page("api_keys", "API keys", "api-keys"),
            page("notifications", "Notifications", "notifications"),
            page("audit_log", "Audit log", "audit-log"),
        ],
    },
    expanded=True,  # every page listed: collapsed, the sidebar hides pages behind "View more"
)
with st.sidebar:
    st.text(f"{me.user.account_name}\n{me.user.email} · {me.user.role}")
    if st.button("Sign out", key="signout"):
        console.sign_out(db, me)
        st.rerun()
st.title(nav.title)
nav.run()
