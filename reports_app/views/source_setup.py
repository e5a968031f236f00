"""Settings → Sources: every source with its state in words (active, disabled, needs reconnect,
paused by the platform's rate limit, with the platform's last error), today's and the last 7 days'
counts, its last lead and the platform's count check; `?source=<id>` opens one source's Summary
(`&tab=mapping`: its Mapping)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pandas as pd
import streamlit as st

from reports_app import labels, source_setup_queries, source_status
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views import source_mapping, source_summary
from reports_app.views.common import plain
from reports_app.views.setup_links import NEW_SOURCE, SOURCES, caller, link, refused

TABS = {"summary": "Summary", "mapping": "Mapping"}


def render(db: Database, me: SignedIn) -> None:
    chosen = st.query_params.get("source")
    if chosen:
        _one(db, me, chosen)
        return
    rows = db.read(source_setup_queries.sources, me.account_id, datetime.now(UTC).astimezone(me.zone).date())
    if not rows:
        st.info(
            "No sources yet. Add one with New source: connect a Facebook Page or a LinkedIn ad account, "
            "or make a source for CSV files or the API."
        )
        if me.is_admin:
            link("New source →", NEW_SOURCE)
        return
    table = pd.DataFrame(
        [
            {
                "Source": r["name"],
                "Platform": labels.platform(r["platform"]),
                "Status": source_status.status(r, me.zone),
                "Today": _counts(r, "today"),
                "7 days": _counts(r, "week"),
                f"Last lead ({me.zone.key})": source_status.when(r["last_lead_at"], me.zone),
                "Count check": source_status.count_check(r),
            }
            for r in rows
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        key="setup_sources_table",
        column_config={"Source": st.column_config.TextColumn(pinned=True, width="medium")},
    )
    for r in rows:
        if r["last_error"]:
            st.warning(plain(f"{r['name']}: what {labels.platform(r['platform'])} last said"))
            st.text(r["last_error"])
    st.caption(
        "Today and 7 days: leads received / accepted / rejected on those days (your account's time zone). "
        "The count check compares the platform's count of a whole day "
        "with LeadRelay's (Reports → Source report asks the platforms again)."
    )
    names = {str(r["source_id"]): r["name"] for r in rows}
    cols = st.columns([3, 1, 3], vertical_alignment="bottom")
    picked = cols[0].selectbox("Open a source", list(names), format_func=lambda i: names[i], key="setup_open_pick")
    if cols[1].button("Open", key="setup_open") and picked:
        st.query_params["source"] = picked
        st.rerun()
    if me.is_admin:
        with cols[2]:
            link("New source →", NEW_SOURCE)


def _counts(row: dict[str, Any], window: str) -> str:
    return " / ".join(f"{row[f'{what}_{window}']:,}" for what in ("received", "accepted", "rejected"))


def _one(db: Database, me: SignedIn, source_id: str) -> None:
    calls = caller(db, me)
    try:
        source = db.run(lambda: calls.source(source_id))
    except grpc.RpcError as exc:
        refused("Opening the source", exc)
        link("← All sources", SOURCES)
        return
    link("← All sources", SOURCES)
    st.subheader(plain(source.name))
    tab = st.query_params.get("tab", "summary")
    if st.session_state.get("setup_tab_for") != source_id or st.session_state.get("setup_tab") not in TABS:
        st.session_state["setup_tab"] = tab if tab in TABS else "summary"
        st.session_state["setup_tab_for"] = source_id
    tab = (
        st.segmented_control(
            "View", list(TABS), format_func=TABS.__getitem__, key="setup_tab", label_visibility="collapsed"
        )
        or "summary"
    )
    if st.query_params.get("tab", "summary") != tab:
        st.query_params["tab"] = tab
    if tab == "mapping":
        source_mapping.render(db, me, source, calls)
    else:
        source_summary.render(db, me, source, calls)
