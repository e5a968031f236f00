"""Widgets the pages share: the filter bar and file downloads."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import streamlit as st

from leadrelay import dispositions
from reports_app import queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.filters import STATUSES, ReportFilter

ALL = "(all)"


def today() -> Any:
    return datetime.now(UTC).date()


def filter_bar(
    db: Database,
    user: SignedIn,
    key: str,
    *,
    forms: bool = False,
    status: bool = False,
    disposition: bool = False,
    default_days: int = 7,
) -> ReportFilter:
    srcs = db.read(queries.sources, user.account_id)
    cols = st.columns(5 if forms else 4)
    window = cols[0].date_input(
        "Received (UTC days)", value=(today() - timedelta(days=default_days - 1), today()), key=f"{key}_window"
    )
    # A range picker returns one date while the second is being chosen.
    if isinstance(window, tuple | list):
        since, until = (window[0], window[-1]) if window else (today(), today())
    else:
        since = until = window
    names = {s["source_id"]: s["name"] for s in srcs}
    source_id = cols[1].selectbox(
        "Source", [None, *names], format_func=lambda s: ALL if s is None else names[s], key=f"{key}_source"
    )
    i = 2
    form_id: UUID | None = None
    if forms:
        fms = db.read(queries.forms, user.account_id, source_id)
        fnames = {f["form_id"]: f["name"] or f["platform_form_id"] for f in fms}
        form_id = cols[i].selectbox(
            "Form", [None, *fnames], format_func=lambda f: ALL if f is None else fnames[f], key=f"{key}_form"
        )
        i += 1
    st_status = ""
    if status:
        st_status = cols[i].selectbox("Status", ["", *STATUSES], format_func=lambda s: s or ALL, key=f"{key}_status")
        i += 1
    code = ""
    if disposition:
        code = cols[i].selectbox(
            "Disposition", ["", *dispositions.CATALOGUE], format_func=lambda s: s or ALL, key=f"{key}_disposition"
        )
    return ReportFilter(since, until, source_id, form_id, st_status, code)


def filter_key(f: ReportFilter) -> str:
    return hashlib.sha1(repr(f).encode()).hexdigest()[:12]


def download(label: str, file: Any, key: str) -> None:
    st.download_button(
        label,
        data=file.data,
        file_name=file.filename,
        mime="text/csv"
        if file.format == "CSV"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=key,
    )
