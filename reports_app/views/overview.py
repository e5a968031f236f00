"""Overview: received / accepted / rejected and what became of the accepted ones (sent, waiting,
not sent, failed or rejected by the CRM) for today, 7 and 30 days, so the numbers add up; the
30-day trend; and what needs attention."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from reports_app import queries, shaping
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import today


def render(db: Database, user: SignedIn) -> None:
    day = today(user.zone)
    rows = db.read(queries.daily_counts, user.account_id, day - timedelta(days=29), day)
    ov = shaping.overview(rows, day)
    st.subheader("Alerts")
    alerts = db.read(queries.alerts, user.account_id)
    if not alerts:
        st.success("Nothing needs attention.")
    else:
        # Plain text: alerts quote source and stage names, which never render as Markdown.
        with st.container(border=True):
            for a in alerts:
                st.text(f"⚠ {a}")
    tabs = st.tabs(list(ov.windows))
    for tab, t in zip(tabs, ov.windows.values(), strict=True):
        with tab:
            cols = st.columns(4)
            cols[0].metric("Received", f"{t.received:,}")
            cols[1].metric("Accepted", f"{t.accepted:,}")
            cols[2].metric("Rejected", f"{t.rejected:,}")
            cols[3].metric("Being checked", f"{t.processing:,}")
            cols = st.columns(4)
            cols[0].metric("Sent to the CRM", f"{t.posted:,}")
            cols[1].metric("Waiting to be sent", f"{t.pending:,}")
            cols[2].metric("Not sent (no destination takes them)", f"{t.not_posted:,}")
            cols[3].metric("Failed or rejected by the CRM", f"{t.post_failed:,}")
            st.caption(
                "Received = accepted + rejected + being checked. "
                "Accepted = sent + waiting + not sent + failed or rejected by the CRM."
            )
    trend = pd.DataFrame(ov.trend).rename(
        columns={
            "received": "Received",
            "accepted": "Accepted",
            "rejected": "Rejected",
            "posted": "Sent to the CRM",
            "post_failed": "Failed or rejected by the CRM",
        }
    )
    fig = px.line(
        trend,
        x="day",
        y=["Received", "Accepted", "Rejected", "Sent to the CRM", "Failed or rejected by the CRM"],
        title=f"Last 30 days (days in {user.zone.key})",
        labels={"day": "", "value": "Leads", "variable": ""},
    )
    st.plotly_chart(fig, key="overview_trend")
