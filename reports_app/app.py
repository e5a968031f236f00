"""Streamlit entry point: `streamlit run reports_app/app.py`."""

from __future__ import annotations

import streamlit as st

from leadrelay.settings import Settings
from reports_app.database import Database


@st.cache_resource
def database() -> Database:
    return Database(Settings.from_env())


st.set_page_config(page_title="LeadRelay", layout="wide")
st.title("LeadRelay")
rows = database().fetch("SELECT status, count(*) AS n FROM leads GROUP BY status ORDER BY status")
counts = {r["status"]: r["n"] for r in rows}
cols = st.columns(4)
cols[0].metric("Received", sum(counts.values()))
cols[1].metric("Accepted", counts.get("ACCEPTED", 0))
cols[2].metric("Rejected", counts.get("REJECTED", 0))
cols[3].metric("Processing", counts.get("PROCESSING", 0))
