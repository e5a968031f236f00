"""Lifecycle: the funnel by Meta stage, dispatch status, expired and failed events with their
reasons, and CRM stages without a Meta stage."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from reports_app import labels, queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local

FUNNEL = ("LEAD", "MARKETING_QUALIFIED_LEAD", "SALES_OPPORTUNITY", "CONVERTED")
OTHER = ("DISQUALIFIED", "LOST", "NOT_ASSIGNED")


def render(db: Database, user: SignedIn) -> None:
    if not db.read(queries.table_exists, "feedback_events"):
        st.info("Lifecycle feedback is not available on this installation yet.")
        return
    stages = {r["meta_stage"]: r for r in db.read(queries.stage_funnel, user.account_id)}
    if not stages:
        st.info(
            "No lifecycle stage has come back from the CRM yet. Once your CRM reports stage changes "
            "(RecordStageChanges), the funnel shows here."
        )
        return

    def count(stage: str) -> int:
        return stages[stage]["leads"] if stage in stages else 0

    funnel = pd.DataFrame([{"Stage": labels.stage(s), "Leads": count(s)} for s in FUNNEL])
    st.plotly_chart(px.funnel(funnel, x="Leads", y="Stage", title="Leads by stage"), key="lc_funnel")
    st.dataframe(
        pd.DataFrame([{"Stage": labels.stage(s), "Leads": count(s)} for s in OTHER]),
        hide_index=True,
        key="lc_other",
    )
    st.subheader("Sent to the platforms")
    st.dataframe(
        pd.DataFrame(
            [
                {"Status": labels.word(labels.DISPATCH, r["status"]), "Events": r["events"]}
                for r in db.read(queries.dispatch_status, user.account_id)
            ],
            columns=["Status", "Events"],
        ),
        hide_index=True,
        key="lc_status",
    )
    st.subheader("Expired and failed events")
    problems = db.read(queries.problem_events, user.account_id)
    if not problems:
        st.success("No event expired or failed.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        f"Changed ({user.zone.key})": local(p["changed_at"], user.zone),
                        "Lead": f"/leads?lead={p['lead_id']}",
                        "CRM stage": p["crm_stage"],
                        "Stage": labels.stage(p["meta_stage"]),
                        "Status": labels.word(labels.DISPATCH, p["status"]),
                        "Reason": p["reason"],
                        "Attempts": p["attempts"],
                    }
                    for p in problems
                ]
            ),
            hide_index=True,
            column_config={
                "Lead": st.column_config.LinkColumn("Lead", display_text="Open", help="Opens the lead", width="small")
            },
            key="lc_problems",
        )
    unmapped = db.read(queries.unmapped_stages, user.account_id)
    if unmapped:
        st.subheader("CRM stages without a stage mapped")
        st.dataframe(
            pd.DataFrame([{"CRM stage": u["crm_stage"], "Events": u["events"]} for u in unmapped]),
            hide_index=True,
            key="lc_unmapped",
        )
