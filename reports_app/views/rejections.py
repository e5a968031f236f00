"""Rejections: by disposition, by source and over time; the rejected leads as a file to fix and
upload again (the aggregate as a second download); the most frequent offending values, each with a
one-click way (admins) to add it to that column's picklist value mapper."""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import grpc
import pandas as pd
import plotly.express as px
import streamlit as st

from leadrelay.capture import dispositions
from reports_app import actions, labels, masking, queries, shaping
from reports_app import report_files as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.filters import ReportFilter
from reports_app.views.common import filter_bar, filter_key, plain, prepared_download


def render(db: Database, user: SignedIn) -> None:
    f = filter_bar(db, user, "rej", disposition=True)
    srcs = db.read(queries.sources, user.account_id)
    names = {s["source_id"]: s["name"] for s in srcs}
    rj = shaping.rejections(db.read(queries.rejection_counts, user.account_id, f), names)
    st.metric("Rejected", f"{rj.total:,}")
    if not rj.total:
        if "rej_notice" in st.session_state:
            st.success(plain(st.session_state["rej_notice"]))
        st.success("No lead was rejected in these days. Widen the received days to look further back.")
        return
    by_code = [{"Disposition": labels.disposition(r["code"]), "Rejected": r["rejected"]} for r in rj.by_disposition]
    cols = st.columns(2)
    cols[0].plotly_chart(
        px.bar(pd.DataFrame(by_code), x="Rejected", y="Disposition", orientation="h", title="By disposition"),
        key="rej_by_code",
    )
    cols[1].plotly_chart(
        px.bar(
            pd.DataFrame(
                # Long names would squeeze the bars: the axis shows the first 30 characters, never as markup.
                [{"Source": _short(r["source"]), "Rejected": r["rejected"]} for r in rj.by_source]
            ),
            x="Rejected",
            y="Source",
            orientation="h",
            title="By source",
        ),
        key="rej_by_source",
    )
    st.plotly_chart(
        px.bar(
            pd.DataFrame(
                [
                    {
                        "Day": r["day"].isoformat(),
                        "Disposition": labels.disposition(r["code"]),
                        "Rejected": r["rejected"],
                    }
                    for r in rj.over_time
                ]
            ),
            x="Day",
            y="Rejected",
            color="Disposition",
            title=f"Over time (days in {user.zone.key})",
        ).update_xaxes(type="category"),
        key="rej_over_time",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Disposition": labels.disposition(r["code"]),
                    "Rejected": r["rejected"],
                    "Meaning": dispositions.describe(r["code"]),
                    "Code": r["code"],
                }
                for r in rj.by_disposition
            ],
            columns=["Disposition", "Rejected", "Meaning", "Code"],
        ),
        hide_index=True,
        key="rej_table",
    )

    st.subheader("Download")
    rejected = replace(f, status="REJECTED")
    if user.masked:
        st.info("Rejected leads carry personal data: an admin of your account can download them to fix.")
    else:
        st.caption("The rejected leads, to fix and upload again (every column, with the reason of each).")
        prepared_download(
            "rejected leads",
            "rej_leads",
            lambda fmt: db.read(files.report_file, user.account_id, "LEADS", rejected, fmt),
            filter_key(f),
            fix_loop=True,
        )
    with st.expander("Counts by source and disposition (for a report)"):
        prepared_download(
            "rows",
            "rej_counts",
            lambda fmt: db.read(files.report_file, user.account_id, "REJECTIONS", f, fmt),
            filter_key(f),
        )

    st.subheader("Most frequent offending values")
    values = shaping.offending_values(db.read(queries.rejection_reasons, user.account_id, f))

    def shown(v: shaping.OffendingValue) -> str:
        return masking.HIDDEN if user.masked and masking.is_personal(v.column) else v.value

    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Source": names.get(v.source_id, ""),
                    "Disposition": labels.disposition(v.disposition_code),
                    "Column": v.column,
                    "Value": shown(v),
                    "Leads": v.count,
                    "Reason": masking.reason(v.reason) if user.masked else v.reason,
                }
                for v in values
            ],
            columns=["Source", "Disposition", "Column", "Value", "Leads", "Reason"],
        ),
        hide_index=True,
        column_config={"Source": st.column_config.TextColumn(width="medium")},
        key="rej_values",
    )
    mappable = [v for v in values if v.disposition_code == dispositions.INVALID_LIST_VALUE and v.column]
    if user.is_admin and mappable:
        mapper_form(db, user, f, mappable, names)
    # After the form: a fixed value leaves the list (and the form with it), the confirmation stays.
    if "rej_notice" in st.session_state:
        st.success(plain(st.session_state["rej_notice"]))


def _short(name: str, limit: int = 30) -> str:
    """A name for a chart axis: shortened, and escaped because Plotly reads tags (<a>, <b>) in labels."""
    return html.escape(name if len(name) <= limit else name[: limit - 1] + "…")


def mapper_form(
    db: Database, user: SignedIn, f: ReportFilter, mappable: list[shaping.OffendingValue], names: dict
) -> None:
    st.subheader("Fix a picklist value")
    st.caption(
        "Map the value to one of the picklist's allowed values (a new criteria version: later leads with it are "
        "accepted), and re-judge the leads already rejected with it."
    )
    cols = st.columns([3, 2])
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
    me = user.user.user_id
    try:
        rule, version = db.run(
            lambda: actions.picklist(db.settings, user.account_id, v.source_id, v.column, actor_user_id=me)
        )
    except grpc.RpcError as exc:
        st.error(plain(f"The validation service did not answer: {exc.details()}"))
        return
    if rule is None or not rule.picklist.allowed:
        cols[1].info("The source's current criteria have no picklist for this column.")
        return
    leads = f"{v.count:,} lead{'' if v.count == 1 else 's'}"
    already = actions.mapped_to(rule, v.value)
    if already is not None:
        # Never re-mapped silently: say what it maps to, and offer what is left to do.
        cols[1].info(plain(f"“{v.value}” is already mapped to “{already}” (criteria version {version})."))
        if st.button(f"Re-judge the {leads} rejected with it now", key="rej_rejudge", type="primary"):
            _rejudge(db, user, f, v)
    else:
        target = cols[1].selectbox(
            "Maps to",
            list(rule.picklist.allowed),
            index=None,
            placeholder="Choose the allowed value",
            key="rej_map_target",
        )
        again = st.checkbox(f"and re-judge the {leads} rejected with this value now", value=True, key="rej_again")
        if st.button("Add to mapper", key="rej_map_add", disabled=target is None, type="primary") and target:
            try:
                version = db.run(
                    lambda: actions.add_to_mapper(
                        db.settings, user.account_id, v.source_id, v.column, v.value, target, actor_user_id=me
                    )
                )
            except (grpc.RpcError, ValueError) as exc:
                st.error(plain(str(exc.details() if isinstance(exc, grpc.RpcError) else exc)))
                return
            st.session_state["rej_notice"] = (
                f"“{v.value}” now maps to “{target}” in {v.column} (criteria version {version})."
            )
            if again:
                _rejudge(db, user, f, v)


def _rejudge(db: Database, user: SignedIn, f: ReportFilter, v: shaping.OffendingValue) -> None:
    """The leads of the window rejected with the value, re-judged under the current criteria
    (RevalidateLeads: the accepted ones are posted out); the outcome kept for the next run."""
    try:
        with st.spinner("Re-judging…"):
            done = db.run(
                lambda: actions.revalidate(
                    db.settings,
                    user.account_id,
                    actor_user_id=user.user.user_id,
                    source_id=v.source_id,
                    disposition_code=v.disposition_code,
                    column=v.column,
                    value=v.value,
                    since=f.start,
                    until=f.end,
                )
            )
    except grpc.RpcError as exc:
        st.error(plain(f"The leads were not re-judged: {exc.details()}"))
        return
    notice = st.session_state.get("rej_notice", "")
    st.session_state["rej_notice"] = (notice + " " if notice else "") + rejudged(done)
    st.rerun()  # the counts and the offending values change: draw them again


def rejudged(done: Any) -> str:
    """A re-judging's outcome in words (from RevalidateLeads' last message)."""
    text = (
        f"Re-judged {done.leads_judged:,} lead{'' if done.leads_judged == 1 else 's'}: "
        f"{done.leads_accepted:,} accepted (sent on to the CRM), {done.leads_rejected:,} still rejected"
    )
    if done.leads_left_alone:
        text += f", {done.leads_left_alone:,} left alone (accepted meanwhile)"
    return text + "."
