"""Rejections: by disposition, by source and over time; the most frequent offending values, each
with a one-click way (admins) to add it to that column's picklist value mapper."""

from __future__ import annotations

import grpc
import pandas as pd
import plotly.express as px
import streamlit as st

from leadrelay.capture import dispositions
from reports_app import actions, queries, shaping
from reports_app import report_files as files
from reports_app.database import Database
from reports_app.users import User
from reports_app.views.common import download, filter_bar


def render(db: Database, user: User) -> None:
    f = filter_bar(db, user, "rej", disposition=True)
    srcs = db.read(queries.sources, user.account_id)
    names = {s["source_id"]: s["name"] for s in srcs}
    rj = shaping.rejections(db.read(queries.rejection_counts, user.account_id, f), names)
    st.metric("Rejected", f"{rj.total:,}")
    if rj.total:
        cols = st.columns(2)
        cols[0].plotly_chart(
            px.bar(pd.DataFrame(rj.by_disposition), x="rejected", y="code", orientation="h", title="By disposition"),
            key="rej_by_code",
        )
        cols[1].plotly_chart(
            px.bar(pd.DataFrame(rj.by_source), x="rejected", y="source", orientation="h", title="By source"),
            key="rej_by_source",
        )
        st.plotly_chart(
            px.bar(pd.DataFrame(rj.over_time), x="day", y="rejected", color="code", title="Over time (UTC days)"),
            key="rej_over_time",
        )
    st.dataframe(
        pd.DataFrame(rj.by_disposition, columns=["code", "rejected"]).assign(
            meaning=lambda d: d["code"].map(dispositions.describe)
        ),
        hide_index=True,
        key="rej_table",
    )
    cols = st.columns(2)
    with cols[0]:
        download("Download CSV", db.read(files.report_file, user.account_id, "REJECTIONS", f, "CSV"), "rej_csv")
    with cols[1]:
        download("Download XLSX", db.read(files.report_file, user.account_id, "REJECTIONS", f, "XLSX"), "rej_xlsx")

    st.subheader("Most frequent offending values")
    values = shaping.offending_values(db.read(queries.rejection_reasons, user.account_id, f))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "source": names.get(v.source_id, ""),
                    "code": v.disposition_code,
                    "column": v.column,
                    "value": v.value,
                    "leads": v.count,
                    "reason": v.reason,
                }
                for v in values
            ],
            columns=["source", "code", "column", "value", "leads", "reason"],
        ),
        hide_index=True,
        key="rej_values",
    )
    mappable = [v for v in values if v.disposition_code == dispositions.INVALID_LIST_VALUE and v.column]
    if user.is_admin and mappable:
        mapper_form(db, user, mappable, names)


def mapper_form(db: Database, user: User, mappable: list[shaping.OffendingValue], names: dict) -> None:
    st.markdown(
        "**Add a value to its picklist's mapper** (a new criteria version; later leads with the "
        "value are accepted as the chosen allowed value)"
    )
    cols = st.columns(3)
    pick = cols[0].selectbox(
        "Offending value",
        range(len(mappable)),
        key="rej_map_value",
        format_func=lambda i: (
            f"{names.get(mappable[i].source_id, '')} · {mappable[i].column}: "
            f"“{mappable[i].value}” ({mappable[i].count})"
        ),
    )
    v = mappable[pick]
    try:
        allowed = db.run(lambda: actions.allowed_values(db.settings, user.account_id, v.source_id, v.column))
    except grpc.RpcError as exc:
        st.error(f"The validation service did not answer: {exc.details()}")
        return
    if not allowed:
        cols[1].info("The source's current criteria have no picklist for this column.")
        return
    target = cols[1].selectbox("Maps to", allowed, key="rej_map_target")
    if cols[2].button("Add to mapper", key="rej_map_add"):
        try:
            version = db.run(
                lambda: actions.add_to_mapper(db.settings, user.account_id, v.source_id, v.column, v.value, target)
            )
        except (grpc.RpcError, ValueError) as exc:
            st.error(str(exc.details() if isinstance(exc, grpc.RpcError) else exc))
            return
        st.success(f"“{v.value}” now maps to “{target}” in {v.column} (criteria version {version}).")
