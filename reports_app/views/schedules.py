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
from reports_app import cadence, queries
from reports_app import schedules_store as store
from reports_app.database import Database
from reports_app.filters import FORMATS, REPORTS, STATUSES, stored_filters
from reports_app.users import User

NEW = "(new schedule)"


def render(db: Database, user: User) -> None:
    rows = db.write(store.list_for, user.account_id)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "name": r["name"],
                    "report": r["report"],
                    "format": r["format"],
                    "cadence": cadence.describe(cadence.Cadence(r["cadence"], r["cron"], r["timezone"])),
                    "recipients": ", ".join(r["recipients"]),
                    "paused": r["paused"],
                    "next run (UTC)": r["next_run_at"],
                    "last sent (UTC)": r["last_sent_at"],
                }
                for r in rows
            ],
            columns=[
                "name",
                "report",
                "format",
                "cadence",
                "recipients",
                "paused",
                "next run (UTC)",
                "last sent (UTC)",
            ],
        ),
        hide_index=True,
        key="sch_table",
    )
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


def editor(db: Database, user: User, current: dict[str, Any] | None) -> None:
    srcs = db.read(queries.sources, user.account_id)
    names = {str(s["source_id"]): s["name"] for s in srcs}
    filters = (current or {}).get("filters") or {"days": 7}
    k = str(current["schedule_id"]) if current else "new"
    with st.form(f"sch_form_{k}"):
        name = st.text_input("Name", value=(current or {}).get("name", ""), key=f"sch_name_{k}")
        cols: Sequence[DeltaGenerator] = st.columns(3)
        report = cols[0].selectbox(
            "Report", REPORTS, index=REPORTS.index((current or {}).get("report", "LEADS")), key=f"sch_report_{k}"
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
            format_func=lambda s: s or "(all)",
            index=status_opts.index(filters.get("status", "")),
            key=f"sch_status_{k}",
        )
        cols = st.columns(4)
        kinds = list(cadence.CADENCES)
        kind = cols[0].selectbox(
            "Cadence", kinds, index=kinds.index((current or {}).get("cadence", "DAILY")), key=f"sch_cadence_{k}"
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
        tz = st.text_input("Time zone", value=(current or {}).get("timezone", "UTC"), key=f"sch_tz_{k}")
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
        st.error(str(exc))
        return
    st.success(f"Saved “{spec.name}”: {cadence.describe(spec.cadence)}.")
    st.rerun()


def controls(db: Database, user: User, current: dict[str, Any]) -> None:
    cols = st.columns(3)
    sid = current["schedule_id"]
    if cols[0].button("Resume" if current["paused"] else "Pause", key="sch_pause"):
        db.write(store.set_paused, user.account_id, sid, not current["paused"], datetime.now(UTC))
        st.rerun()
    if cols[1].button("Run now", key="sch_run_now"):
        db.write(store.run_now, user.account_id, sid)
        st.success("Queued: the scheduler sends it within its next poll.")
    if cols[2].button("Delete", key="sch_delete"):
        db.write(store.delete, user.account_id, sid)
        st.session_state.pop("sch_choice", None)
        st.rerun()


def history(db: Database, user: User, current: dict[str, Any]) -> None:
    st.subheader("Delivery history")
    runs = db.write(store.history, user.account_id, current["schedule_id"])
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "slot (UTC)": r["scheduled_for"],
                    "run now": r["manual"],
                    "status": r["status"],
                    "attempts": r["attempts"],
                    "file": r["filename"],
                    "rows": r["rows"],
                    "last error": r["error"],
                    "deliveries": "; ".join(f"{d['status']} {d['at'][:19]} {d['detail']}" for d in r["deliveries"]),
                }
                for r in runs
            ],
            columns=["slot (UTC)", "run now", "status", "attempts", "file", "rows", "last error", "deliveries"],
        ),
        hide_index=True,
        key="sch_history",
    )
