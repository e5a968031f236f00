"""Schedules: scheduled exports (admins create, edit, pause, delete and run them now; everyone sees
them and their delivery history)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from leadrelay.errors import LeadRelayError
from reports_app import cadence, labels, queries
from reports_app import schedules_store as store
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.filters import FORMATS, REPORTS, STATUSES, stored_filters
from reports_app.views.common import local, plain

NEW = "(new schedule)"


def render(db: Database, user: SignedIn) -> None:
    if "sch_notice" in st.session_state:
        st.success(plain(st.session_state.pop("sch_notice")))
    rows = db.write(store.list_for, user.account_id)
    if not rows:
        st.info(
            "No scheduled report yet. "
            + ("Fill in the form below to email a report on a schedule." if user.is_admin else "An admin can add one.")
        )
    else:
        overview(rows, user)
    by_id = {str(r["schedule_id"]): r for r in rows}
    choice = st.selectbox(
        "Schedule",
        [NEW, *by_id] if user.is_admin else list(by_id),
        format_func=lambda i: i if i == NEW else by_id[i]["name"],
        key="sch_choice",
    )
    current = by_id.get(choice) if choice else None
    if user.is_admin:
        editor(db, user, current)
    if current is not None:
        if user.is_admin:
            controls(db, user, current)
        history(db, user, current)


def overview(rows: list[dict[str, Any]], user: SignedIn) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Name": r["name"],
                    "Report": labels.word(labels.REPORT, r["report"]),
                    "Format": r["format"],
                    "Cadence": cadence.describe(cadence.Cadence(r["cadence"], r["cron"], r["timezone"])),
                    "Recipients": ", ".join(r["recipients"]),
                    "Paused": r["paused"],
                    f"Next run ({user.zone.key})": local(r["next_run_at"], user.zone),
                    f"Last sent ({user.zone.key})": local(r["last_sent_at"], user.zone),
                }
                for r in rows
            ],
            columns=[
                "Name",
                "Report",
                "Format",
                "Cadence",
                "Recipients",
                "Paused",
                f"Next run ({user.zone.key})",
                f"Last sent ({user.zone.key})",
            ],
        ),
        hide_index=True,
        key="sch_table",
    )


def editor(db: Database, user: SignedIn, current: dict[str, Any] | None) -> None:
    srcs = db.read(queries.sources, user.account_id)
    names = {str(s["source_id"]): s["name"] for s in srcs}
    filters = (current or {}).get("filters") or {"days": 7}
    k = str(current["schedule_id"]) if current else "new"
    with st.form(f"sch_form_{k}"):
        name = st.text_input("Name", value=(current or {}).get("name", ""), key=f"sch_name_{k}")
        cols: Sequence[DeltaGenerator] = st.columns(3)
        report = cols[0].selectbox(
            "Report",
            REPORTS,
            format_func=lambda r: labels.word(labels.REPORT, r),
            index=REPORTS.index((current or {}).get("report", "LEADS")),
            key=f"sch_report_{k}",
        )
        fmt = cols[1].selectbox(
            "Format", FORMATS, index=FORMATS.index((current or {}).get("format", "CSV")), key=f"sch_format_{k}"
        )
        days = cols[2].number_input(
            "Days covered (up to today)", 1, 366, int(filters.get("days", 7)), key=f"sch_days_{k}"
        )
        cols = st.columns(2)
        src_opts = ["", *names]
        source = cols[0].selectbox(
            "Source",
            src_opts,
            format_func=lambda s: names.get(s, "(all)"),
            index=src_opts.index(filters.get("source_id", "")) if filters.get("source_id", "") in src_opts else 0,
            key=f"sch_source_{k}",
        )
        status_opts = ["", *STATUSES]
        status = cols[1].selectbox(
            "Status (Leads report)",
            status_opts,
            format_func=lambda s: labels.status(s) if s else "(all)",
            index=status_opts.index(filters.get("status", "")),
            key=f"sch_status_{k}",
        )
        cols = st.columns(4)
        kinds = list(cadence.CADENCES)
        kind = cols[0].selectbox(
            "Cadence",
            kinds,
            format_func=lambda c: {"CRON": "Cron expression"}.get(c, c.title()),
            index=kinds.index((current or {}).get("cadence", "DAILY")),
            key=f"sch_cadence_{k}",
        )
        minute, hour, _, _, dow = ((current or {}).get("cron") or "0 8 * * 1").split()
        at = cols[1].text_input(
            "At (HH:MM, daily/weekly)",
            value=f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else "08:00",
            key=f"sch_at_{k}",
        )
        weekday = cols[2].selectbox(
            "Weekday (weekly)",
            range(7),
            format_func=lambda d: cadence.WEEKDAYS[d],
            index=(int(dow) - 1) % 7 if dow.isdigit() else 0,
            key=f"sch_weekday_{k}",
        )
        cron = cols[3].text_input("Cron (cron cadence)", value=(current or {}).get("cron", ""), key=f"sch_cron_{k}")
        tz = st.text_input("Time zone", value=(current or {}).get("timezone", user.zone.key), key=f"sch_tz_{k}")
        recipients = st.text_area(
            "Recipients (comma-separated)",
            value=", ".join((current or {}).get("recipients", [])),
            key=f"sch_recipients_{k}",
        )
        saved = st.form_submit_button("Save schedule")
    if not saved:
        return
    try:
        spec = store.ScheduleSpec(
            name,
            report,
            stored_filters(int(days), source or None, status),
            fmt,
            cadence.cadence(kind, tz.strip(), at=at.strip(), weekday=weekday, cron=cron),
            store.parse_recipients(recipients),
        )
        now = datetime.now(UTC)
        if current is None:
            db.write(store.create, user.account_id, spec, now)
        else:
            db.write(store.update, user.account_id, current["schedule_id"], spec, now)
    except (LeadRelayError, ValueError) as exc:
        st.error(plain(str(exc)))
        return
    # Shown after the rerun too (the table above must show the saved schedule).
    st.session_state["sch_notice"] = f"Saved “{spec.name}”: {cadence.describe(spec.cadence)}."
    st.rerun()


def controls(db: Database, user: SignedIn, current: dict[str, Any]) -> None:
    cols = st.columns(3)
    sid = current["schedule_id"]
    if cols[0].button("Resume" if current["paused"] else "Pause", key="sch_pause"):
        db.write(store.set_paused, user.account_id, sid, not current["paused"], datetime.now(UTC))
        st.rerun()
    if cols[1].button("Run now", key="sch_run_now"):
        db.write(store.run_now, user.account_id, sid)
        st.session_state["sch_notice"] = "Queued: the scheduler sends it within its next poll."
    if cols[2].button("Delete…", key="sch_delete"):
        st.session_state["sch_confirm_delete"] = str(sid)
    if st.session_state.get("sch_confirm_delete") == str(sid):
        st.warning(plain(f"Delete “{current['name']}” and its delivery history? This cannot be undone."))
        confirm = st.columns(4)
        if confirm[0].button("Yes, delete it", type="primary", key="sch_delete_yes"):
            db.write(store.delete, user.account_id, sid)
            st.session_state.pop("sch_choice", None)
            st.session_state.pop("sch_confirm_delete", None)
            st.session_state["sch_notice"] = f"Deleted “{current['name']}”."
            st.rerun()
        if confirm[1].button("Keep it", key="sch_delete_no"):
            st.session_state.pop("sch_confirm_delete", None)
            st.rerun()


RUN_STATUS = {"PENDING": "Sending", "SENT": "Sent", "FAILED": "Failed"}


def history(db: Database, user: SignedIn, current: dict[str, Any]) -> None:
    st.subheader("Delivery history")
    runs = db.write(store.history, user.account_id, current["schedule_id"])
    if not runs:
        st.caption("Nothing sent yet: the first report goes out at the next run (or now, with Run now).")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    f"Slot ({user.zone.key})": local(r["scheduled_for"], user.zone),
                    "Run now": r["manual"],
                    "Status": labels.word(RUN_STATUS, r["status"]),
                    "Attempts": r["attempts"],
                    "File": r["filename"],
                    "Rows": r["rows"],
                    "Last error": r["error"],
                    "Deliveries": "; ".join(
                        f"{labels.word(RUN_STATUS, d['status'])} {d['at'][:16]} {d['detail']}" for d in r["deliveries"]
                    ),
                }
                for r in runs
            ]
        ),
        hide_index=True,
        key="sch_history",
    )
