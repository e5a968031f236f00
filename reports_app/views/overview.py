"""Overview: received / accepted / rejected / posted / post-failed for today, 7 and 30 days, the
30-day trend, and what needs attention."""

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
    day = today()
    rows = db.read(queries.daily_counts, user.account_id, day - timedelta(days=29), day)
    ov = shaping.overview(rows, day)
    for name, t in ov.windows.items():
        st.subheader(name)
        cols = st.columns(5)
        cols[0].metric("Received", f"{t.received:,}")
        cols[1].metric("Accepted", f"{t.accepted:,}")
        cols[2].metric("Rejected", f"{t.rejected:,}")
        cols[3].metric("Posted", f"{t.posted:,}")
        cols[4].metric("Post-failed", f"{t.post_failed:,}")
    trend = pd.DataFrame(ov.trend)
    fig = px.line(
        trend, x="day", y=["received", "accepted", "rejected", "posted", "post_failed"], title="Last 30 days (UTC)"
    )
    st.plotly_chart(fig, key="overview_trend")
    st.subheader("Alerts")
    alerts = db.read(queries.alerts, user.account_id)
    if not alerts:
        st.success("Nothing needs attention.")
    for a in alerts:
        st.warning(a)
