"""Widgets the pages share: the filter bar (kept in the URL, so a view can be bookmarked, reloaded
and sent to a colleague), file downloads, and times in the account's zone."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import streamlit as st

from reports_app import labels, queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.filters import POST_OUTS, STATUSES, ReportFilter

ALL = "(all)"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str) -> str:
    """Text for a Markdown-rendering element (st.error, st.success, st.warning) shown literally:
    names and values that came from outside never turn into links, images or HTML."""
    # A word joiner after "scheme:" keeps an address from turning into a link.
    return _MARKDOWN.sub(r"\\\1", text).replace("\\://", "\\:\u2060//")


def today(zone: ZoneInfo) -> date:
    """Today in the account's zone: its reports count by its own days."""
    return datetime.now(UTC).astimezone(zone).date()


def local(at: datetime | None, zone: ZoneInfo) -> str:
    """A moment as the account reads it: its own zone, to the minute."""
    return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _uuid(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def from_url(key: str, param: str, parse: Callable[[str | None], Any], default: Any, allowed: Any = None) -> None:
    """Seeds a widget's state from the URL the first time the page renders it (a fresh session on a
    bookmarked or shared link); afterwards the widget owns it."""
    if key in st.session_state:
        return
    value = parse(st.query_params.get(param))
    if value is None or (allowed is not None and value not in allowed):
        value = default
    st.session_state[key] = value


def to_url(values: dict[str, str]) -> None:
    """The page's current filters into the URL (empty ones left out)."""
    for param, value in values.items():
        if value:
            if st.query_params.get(param) != value:
                st.query_params[param] = value
        elif param in st.query_params:
            del st.query_params[param]


def filter_bar(
    db: Database,
    user: SignedIn,
    key: str,
    *,
    forms: bool = False,
    status: bool = False,
    disposition: bool = False,
    post_out: bool = False,
    default_days: int = 7,
) -> ReportFilter:
    srcs = db.read(queries.sources, user.account_id)
    names = {s["source_id"]: s["name"] for s in srcs}
    cols = st.columns([1.4, 1, 1, 1, *([1] if forms else []), *([1] if post_out else [])])
    first, last = _day(st.query_params.get("since")), _day(st.query_params.get("until"))
    if f"{key}_window" not in st.session_state:
        now = today(user.zone)
        default = (now - timedelta(days=default_days - 1), now)
        st.session_state[f"{key}_window"] = (first, last) if first and last and first <= last else default
    window = cols[0].date_input(f"Received (days in {user.zone.key})", key=f"{key}_window")
    # A range picker returns one date while the second is being chosen.
    if isinstance(window, tuple | list):
        since, until = (window[0], window[-1]) if window else (today(user.zone),) * 2
    else:
        since = until = window
    # Options are id strings, "" for all: a None value would show as "no choice" instead of "(all)".
    source_names = {str(k): v for k, v in names.items()}
    from_url(f"{key}_source", "source", lambda s: s or "", "", source_names)
    source = cols[1].selectbox(
        "Source", ["", *source_names], format_func=lambda s: source_names.get(s, ALL), key=f"{key}_source"
    )
    source_id = _uuid(source)
    i = 2
    form_id: UUID | None = None
    if forms:
        fms = db.read(queries.forms, user.account_id, source_id)
        fnames = {str(f["form_id"]): f["name"] or f["platform_form_id"] for f in fms}
        from_url(f"{key}_form", "form", lambda s: s or "", "", fnames)
        if st.session_state[f"{key}_form"] not in ("", *fnames):  # the source changed under it
            st.session_state[f"{key}_form"] = ""
        form = cols[i].selectbox("Form", ["", *fnames], format_func=lambda f: fnames.get(f, ALL), key=f"{key}_form")
        form_id = _uuid(form)
        i += 1
    st_status = ""
    if status:
        from_url(f"{key}_status", "status", lambda s: s, "", STATUSES)
        st_status = cols[i].selectbox(
            "Status", ["", *STATUSES], format_func=lambda s: labels.status(s) if s else ALL, key=f"{key}_status"
        )
        i += 1
    code = ""
    if disposition:
        from_url(f"{key}_disposition", "disposition", lambda s: s, "", labels.DISPOSITION)
        code = cols[i].selectbox(
            "Disposition",
            ["", *labels.DISPOSITION],
            format_func=lambda s: labels.disposition(s) if s else ALL,
            key=f"{key}_disposition",
        )
        i += 1
    delivery = ""
    if post_out:
        from_url(f"{key}_post_out", "post_out", lambda s: s, "", POST_OUTS)
        delivery = cols[i].selectbox(
            "Post-out",
            ["", *POST_OUTS],
            format_func=lambda s: labels.POST_OUT_FILTER.get(s, ALL),
            key=f"{key}_post_out",
        )
    to_url(
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "source": str(source_id or ""),
            "form": str(form_id or ""),
            "status": st_status,
            "disposition": code,
            "post_out": delivery,
        }
    )
    return ReportFilter(since, until, source_id, form_id, st_status, code, zone=user.zone.key, post_out_status=delivery)


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
        on_click="ignore",
    )


# Next to lead downloads: the fix-and-upload loop goes through XLSX (issue 17's round trips).
FIX_IN_XLSX = (
    "To fix leads in a spreadsheet and upload them again, choose XLSX: it keeps every value as it is. "
    "A spreadsheet opening a CSV drops leading zeros and rounds long numbers, whatever the file holds."
)


def prepared_download(
    label: str,
    key: str,
    make: Callable[[str], Any],
    fingerprint: str,
    *,
    formats: tuple[str, ...] = ("CSV", "XLSX"),
    fix_loop: bool = False,
) -> None:
    """A format choice, a Prepare button and the prepared file's download. The prepared file belongs
    to the filter and format it was made for: change either and it is gone, never offered stale.
    `fix_loop` (lead files): XLSX first, and a line saying why."""
    if fix_loop:
        formats = ("XLSX", *(f for f in formats if f != "XLSX"))
        st.caption(FIX_IN_XLSX)
    cols = st.columns([2, 2, 5])
    fmt = cols[0].radio("Format", formats, horizontal=True, key=f"{key}_format")
    current = f"{fingerprint}:{fmt}"
    if st.session_state.get(f"{key}_for") != current:
        st.session_state.pop(f"{key}_file", None)
    if cols[1].button("Prepare file", key=f"{key}_prepare"):
        st.session_state[f"{key}_file"] = make(fmt)
        st.session_state[f"{key}_for"] = current
    prepared = st.session_state.get(f"{key}_file")
    if prepared is not None:
        with cols[2]:
            download(f"Download {prepared.filename} ({prepared.rows:,} {label})", prepared, f"{key}_download")
