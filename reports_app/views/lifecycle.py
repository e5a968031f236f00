"""Lifecycle: the funnel by Meta stage, dispatch status, expired and failed events with their
reasons, and CRM stages without a Meta stage."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from reports_app import queries
from reports_app.console import SignedIn
from reports_app.database import Database

FUNNEL = ("LEAD", "MARKETING_QUALIFIED_LEAD", "SALES_OPPORTUNITY", "CONVERTED")
OTHER = ("DISQUALIFIED", "LOST", "NOT_ASSIGNED")


def render(db: Database, user: SignedIn) -> None:
    if not db.read(queries.table_exists, "feedback_events"):
        st.info("Lifecycle feedback is not available on this installation yet.")
        return
    stages = {r["meta_stage"]: r for r in db.read(queries.stage_funnel, user.account_id)}
    funnel = pd.DataFrame([{"stage": s, "leads": stages[s]["leads"] if s in stages else 0} for s in FUNNEL])
    st.plotly_chart(px.funnel(funnel, x="leads", y="stage", title="Leads by Meta stage"), key="lc_funnel")
    st.dataframe(
        pd.DataFrame([{"stage": s, "leads": stages[s]["leads"] if s in stages else 0} for s in OTHER]),
        hide_index=True,
        key="lc_other",
    )
    st.subheader("Dispatch status")
    st.dataframe(
        pd.DataFrame(db.read(queries.dispatch_status, user.account_id), columns=["status", "events"]),
        hide_index=True,
        key="lc_status",
    )
    st.subheader("Expired and failed events")
    st.dataframe(pd.DataFrame(db.read(queries.problem_events, user.account_id)), hide_index=True, key="lc_problems")
    unmapped = db.read(queries.unmapped_stages, user.account_id)
    if unmapped:
        st.subheader("CRM stages without a Meta stage")
        st.dataframe(pd.DataFrame(unmapped), hide_index=True, key="lc_unmapped")
