"""Leads: filters, a table that pages through millions of leads (keyset paging), one lead's detail
(mapped fields, raw answers, audit trail, deliveries) with its own link (?lead=<id>), and the
ExportLeads-format download.

Lead data comes from anyone who can fill in a form or send a file: it is shown only through
dataframes and st.text, never as Markdown or HTML."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from reports_app import labels, masking, queries
from reports_app import report_files as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import filter_bar, filter_key, local, prepared_download

PAGE_SIZE = 50
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def named(text: str, names: dict[str, str]) -> str:
    """Ids in an event's detail replaced by the names they stand for (destinations, sources)."""
    return _UUID.sub(lambda m: f"“{names[m.group(0)]}”" if m.group(0) in names else m.group(0), text)


def render(db: Database, user: SignedIn) -> None:
    f = filter_bar(db, user, "leads", forms=True, status=True, disposition=True)
    fk = filter_key(f)
    if st.session_state.get("leads_filter") != fk:  # a new filter starts at the first page
        st.session_state["leads_filter"] = fk
        st.session_state["leads_cursors"] = [None]
    cursors: list = st.session_state["leads_cursors"]
    total = db.read(queries.matching_count, user.account_id, f)
    rows = db.read(queries.leads_page, user.account_id, f, cursors[-1], PAGE_SIZE)
    first = (len(cursors) - 1) * PAGE_SIZE
    st.caption(
        f"{total:,} lead{'' if total == 1 else 's'}"
        f"{' in the chosen sources (form filter not counted)' if f.form_id else ''} · "
        f"showing {first + 1 if rows else 0:,}–{first + len(rows):,} · times in {user.zone.key}"
    )
    if not rows:
        st.info("No leads match these filters. Widen the received days or clear a filter.")
    names = {s["source_id"]: s["name"] for s in db.read(queries.sources, user.account_id)}
    table = pd.DataFrame(
        [
            {
                "Received": local(r["received_at"], user.zone),
                "Source": names.get(r["source_id"], ""),
                "Status": labels.status(r["status"]),
                "Disposition": labels.disposition(r["disposition_code"]),
                "Reason": masking.reason(r["custom_reason"]) if user.masked else r["custom_reason"],
                "Post-out": labels.post_out(r["post_out_status"]),
                "LeadID": str(r["lead_id"]),
            }
            for r in rows
        ],
        columns=["Received", "Source", "Status", "Disposition", "Reason", "Post-out", "LeadID"],
    )
    st.session_state["leads_ids"] = [str(r["lead_id"]) for r in rows]
    if rows:
        st.caption("Click a row to open the lead.")
        st.dataframe(
            table,
            hide_index=True,
            key="leads_table",
            on_select=_open_selected,
            selection_mode="single-row",
            column_config={
                "Source": st.column_config.TextColumn(width="medium"),
                "Reason": st.column_config.TextColumn(width="medium"),
            },
        )
    nav = st.columns(6)
    if nav[0].button("◀ Newer", disabled=len(cursors) == 1, key="leads_newer"):
        cursors.pop()
        st.rerun()
    if nav[1].button("Older ▶", disabled=len(rows) < PAGE_SIZE, key="leads_older"):
        cursors.append((rows[-1]["received_at"], rows[-1]["lead_id"]))
        st.rerun()

    lead_id = _lead_in_url()
    if lead_id is not None:
        detail(db, user, lead_id)

    st.subheader("Download")
    if user.masked:
        st.info("Lead files carry personal data: an admin of your account can download them.")
    else:
        prepared_download(
            "leads",
            "leads",
            lambda fmt: db.read(files.report_file, user.account_id, "LEADS", f, fmt),
            fk,
            fix_loop=True,
        )


def _open_selected() -> None:
    picked = st.session_state["leads_table"].selection.rows
    ids = st.session_state.get("leads_ids", [])
    if picked and picked[0] < len(ids):
        st.query_params["lead"] = ids[picked[0]]
    elif "lead" in st.query_params:
        del st.query_params["lead"]


def _lead_in_url() -> UUID | None:
    try:
        return UUID(st.query_params.get("lead", ""))
    except ValueError:
        return None


def detail(db: Database, user: SignedIn, lead_id: UUID) -> None:
    lead = db.read(queries.lead_detail, user.account_id, lead_id)
    st.subheader("Lead")
    if lead is None:
        st.error("No such lead in this account.")
        return
    if st.button("Close the lead", key="lead_close"):
        del st.query_params["lead"]
        st.rerun()
    reason = lead["custom_reason"] or ""
    summary = [
        ("Status", labels.status(lead["status"])),
        ("Disposition", labels.disposition(lead["disposition_code"]) or "—"),
        ("Reason", (masking.reason(reason) if user.masked else reason) or "—"),
        ("Post-out", labels.post_out(lead["post_out_status"])),
        ("Source", f"{lead['source_name']} ({labels.platform(lead['platform'])})"),
        ("Form", lead["form_name"] or "—"),
        ("Platform lead id", lead["platform_lead_id"] or "—"),
        ("Received", f"{local(lead['received_at'], user.zone)} ({user.zone.key})"),
        ("LeadID", str(lead["lead_id"])),
    ]
    st.dataframe(pd.DataFrame(summary, columns=["", "Value"]), hide_index=True, key="lead_summary")
    cols = st.columns(2)
    fields = [
        {"Column": k, "Value": masking.value(k, v) if user.masked else _text(v)}
        for k, v in (lead["fields"] or {}).items()
    ]
    cols[0].text("Mapped fields")
    cols[0].dataframe(pd.DataFrame(fields, columns=["Column", "Value"]), hide_index=True, key="lead_fields")
    cols[1].text("Raw answers (as the platform sent them)")
    answers = [
        {
            "Question": a.get("name", ""),
            "Answer": masking.HIDDEN if user.masked else ", ".join(str(v) for v in a.get("values", [])),
        }
        for a in lead["answers"] or []
        if isinstance(a, dict)
    ]
    cols[1].dataframe(pd.DataFrame(answers, columns=["Question", "Answer"]), hide_index=True, key="lead_answers")
    names = {str(k): v for k, v in lead["names"].items()}
    st.text("Audit trail")
    if not lead["events"]:
        st.caption("No event recorded for this lead yet.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "At": local(e["at"], user.zone),
                        "What": labels.word(labels.EVENT, e["type"]),
                        "Detail": masking.reason(named(e["detail"], names))
                        if user.masked
                        else named(e["detail"], names),
                    }
                    for e in lead["events"]
                ],
                columns=["At", "What", "Detail"],
            ),
            hide_index=True,
            key="lead_events",
        )
    if lead["post_outs"]:
        st.text("Deliveries")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Destination": p["destination"],
                        "Status": labels.post_out(p["status"]),
                        "Attempts": p["attempts"],
                        "Last HTTP status": p["last_status_code"] or "",
                        "Last error": p["last_error"],
                        "Posted": local(p["posted_at"], user.zone),
                    }
                    for p in lead["post_outs"]
                ]
            ),
            hide_index=True,
            key="lead_post_outs",
        )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
