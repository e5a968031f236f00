"""Leads Report: filters, a table that pages through millions of leads (keyset paging), one lead's
detail (answers, mapped fields, audit trail, deliveries), and the ExportLeads-format download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reports_app import queries
from reports_app import report_files as files
from reports_app.database import Database
from reports_app.users import User
from reports_app.views.common import download, filter_bar, filter_key

PAGE_SIZE = 50


def render(db: Database, user: User) -> None:
    f = filter_bar(db, user, "leads", forms=True, status=True, disposition=True)
    fk = filter_key(f)
    if st.session_state.get("leads_filter") != fk:  # a new filter starts at the first page
        st.session_state["leads_filter"] = fk
        st.session_state["leads_cursors"] = [None]
        st.session_state.pop("leads_file", None)
    cursors: list = st.session_state["leads_cursors"]
    total = db.read(queries.matching_count, user.account_id, f)
    rows = db.read(queries.leads_page, user.account_id, f, cursors[-1], PAGE_SIZE)
    first = (len(cursors) - 1) * PAGE_SIZE
    st.caption(
        f"{total:,} leads{' in the chosen sources (form filter not counted)' if f.form_id else ''} · "
        f"showing {first + 1 if rows else 0:,}–{first + len(rows):,}"
    )
    names = {s["source_id"]: s["name"] for s in db.read(queries.sources, user.account_id)}
    table = pd.DataFrame(
        [
            {
                "LeadID": str(r["lead_id"]),
                "Received": r["received_at"],
                "Source": names.get(r["source_id"], ""),
                "Status": r["status"],
                "Disposition": r["disposition_code"],
                "Reason": r["custom_reason"],
                "PostOut": r["post_out_status"],
            }
            for r in rows
        ],
        columns=["LeadID", "Received", "Source", "Status", "Disposition", "Reason", "PostOut"],
    )
    st.dataframe(table, hide_index=True, key="leads_table")
    nav = st.columns(6)
    if nav[0].button("◀ Newer", disabled=len(cursors) == 1, key="leads_newer"):
        cursors.pop()
        st.rerun()
    if nav[1].button("Older ▶", disabled=len(rows) < PAGE_SIZE, key="leads_older"):
        cursors.append((rows[-1]["received_at"], rows[-1]["lead_id"]))
        st.rerun()

    st.subheader("Download")
    cols = st.columns(3)
    fmt = cols[0].radio("Format", ["CSV", "XLSX"], horizontal=True, key="leads_format")
    if cols[1].button("Prepare file", key="leads_prepare"):
        st.session_state["leads_file"] = db.read(files.report_file, user.account_id, "LEADS", f, fmt)
    prepared = st.session_state.get("leads_file")
    if prepared is not None:
        with cols[2]:
            download(f"Download {prepared.filename} ({prepared.rows:,} leads)", prepared, "leads_download")

    st.subheader("Lead detail")
    choice = st.selectbox(
        "Lead",
        [None, *(r["lead_id"] for r in rows)],
        format_func=lambda i: "(choose a lead on this page)" if i is None else str(i),
        key="leads_detail",
    )
    if choice is not None:
        detail(db, user, choice)


def detail(db: Database, user: User, lead_id) -> None:
    lead = db.read(queries.lead_detail, user.account_id, lead_id)
    if lead is None:
        st.error("No such lead in this account.")
        return
    st.markdown(
        f"**{lead['status']}** {lead['disposition_code']} — {lead['custom_reason'] or ''}  \n"
        f"Source {lead['source_name']} ({lead['platform']}), form {lead['form_name'] or '—'}, "
        f"platform lead {lead['platform_lead_id']}, received {lead['received_at']:%Y-%m-%d %H:%M:%S} UTC"
    )
    cols = st.columns(2)
    cols[0].markdown("Mapped fields")
    cols[0].dataframe(
        pd.DataFrame(
            [{"column": k, "value": v} for k, v in (lead["fields"] or {}).items()], columns=["column", "value"]
        ),
        hide_index=True,
        key="lead_fields",
    )
    cols[1].markdown("Answers")
    cols[1].dataframe(
        pd.DataFrame(
            [{"name": a.get("name", ""), "values": ", ".join(a.get("values", []))} for a in lead["answers"] or []],
            columns=["name", "values"],
        ),
        hide_index=True,
        key="lead_answers",
    )
    st.markdown("Audit trail")
    st.dataframe(pd.DataFrame(lead["events"], columns=["type", "at", "detail"]), hide_index=True, key="lead_events")
    if lead["post_outs"]:
        st.markdown("Deliveries")
        st.dataframe(pd.DataFrame(lead["post_outs"]), hide_index=True, key="lead_post_outs")
