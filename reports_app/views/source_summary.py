"""A source's Summary: its leads by status, Download Leads (status, CSV or XLSX), a link to Upload
Leads, Sync leads for a calendar period of the last 90 days (every form or one) with progress, its
forms with their on/off switches, enable / disable, and disconnect (confirmed first). Every change is
an IngestService call as the signed-in admin; viewers see the same page with nothing to press."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import partial

import grpc
import pandas as pd
import streamlit as st

from leadrelay.v1 import common_pb2, ingest_pb2
from reports_app import labels, source_setup_queries, source_status
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.source_setup_calls import Caller
from reports_app.views.common import download, plain
from reports_app.views.setup_links import UPLOAD, admins_only, link, refused

SYNC_DAYS = 90
SOCIAL = (common_pb2.PLATFORM_FACEBOOK, common_pb2.PLATFORM_LINKEDIN)
STATE_WORDS = {
    ingest_pb2.SOURCE_STATE_ACTIVE: "Active",
    ingest_pb2.SOURCE_STATE_NEEDS_RECONNECT: "Needs reconnect",
    ingest_pb2.SOURCE_STATE_DISCONNECTED: "Disconnected",
}
DOWNLOAD_STATUSES = {"": "Every lead", "ACCEPTED": "Accepted", "REJECTED": "Rejected", "PROCESSING": "Being checked"}


class _File:
    """A prepared download, as views.common.download takes it."""

    def __init__(self, filename: str, data: bytes, fmt: str) -> None:
        self.filename, self.data, self.format = filename, data, fmt


def render(db: Database, me: SignedIn, source: ingest_pb2.Source, calls: Caller) -> None:
    admins_only(me)
    key = f"sum_{source.source_id}"
    platform = labels.platform(common_pb2.Platform.Name(source.platform).removeprefix("PLATFORM_"))
    social = source.platform in SOCIAL
    state = "Disabled" if not source.enabled else STATE_WORDS.get(source.state, "Active")
    if social and source.enabled and source.state == ingest_pb2.SOURCE_STATE_ACTIVE and not source.connected:
        state = f"Not connected to {platform}"
    st.text(f"{platform} · {state}" + (f" · {source.external_account_id}" if source.external_account_id else ""))
    if source.last_error:
        st.warning(f"{platform} said:")
        st.text(source.last_error)
    flash = st.session_state.pop(f"{key}_flash", None)
    if flash:
        st.success(plain(flash))

    counts = db.read(source_setup_queries.status_counts, me.account_id, source.source_id)
    cols = st.columns(4)
    cols[0].metric("Leads", f"{sum(counts.values()):,}")
    for col, status in zip(cols[1:], ("ACCEPTED", "REJECTED", "PROCESSING"), strict=True):
        col.metric(labels.status(status), f"{counts[status]:,}")

    _download(me, source, calls, key)
    st.subheader("Upload leads")
    st.caption("Fixed rejected leads, or leads from an event or a vendor, from a CSV or XLSX file.")
    link("Upload leads for this source →", f"{UPLOAD}?source={source.source_id}")
    forms = sorted(db.run(lambda: calls.forms(source.source_id)), key=lambda f: (f.name.lower(), f.platform_form_id))
    if social:
        _sync(me, source, calls, forms, key)
        _count_check(db, me, source, calls, key, platform)
    _forms(db, me, source, calls, forms, key)
    _switches(db, me, source, calls, key, social)


def _download(me: SignedIn, source: ingest_pb2.Source, calls: Caller, key: str) -> None:
    st.subheader("Download leads")
    if me.masked:
        st.caption("Lead files hold personal data, which your account shows viewers masked: ask an admin.")
        return
    cols = st.columns([2, 2, 2, 4], vertical_alignment="bottom")
    status = cols[0].selectbox(
        "Status", list(DOWNLOAD_STATUSES), format_func=DOWNLOAD_STATUSES.__getitem__, key=f"{key}_dl_status"
    )
    fmt = cols[1].radio("Format", ["CSV", "XLSX"], horizontal=True, key=f"{key}_dl_format")
    wanted = f"{status}:{fmt}"
    if st.session_state.get(f"{key}_dl_for") != wanted:
        st.session_state.pop(f"{key}_dl_file", None)
    if cols[2].button("Prepare file", key=f"{key}_dl_prepare"):
        try:
            with st.spinner("Preparing the file…"):
                name, data = calls.export(source.source_id, status, fmt)
        except grpc.RpcError as exc:
            refused("Preparing the file", exc)
        else:
            st.session_state[f"{key}_dl_file"] = _File(name, data, fmt)
            st.session_state[f"{key}_dl_for"] = wanted
    prepared = st.session_state.get(f"{key}_dl_file")
    if prepared is not None:
        with cols[3]:
            download(f"Download {prepared.filename}", prepared, f"{key}_dl_download")


def _sync(me: SignedIn, source: ingest_pb2.Source, calls: Caller, forms: list[ingest_pb2.Form], key: str) -> None:
    st.subheader("Sync leads")
    st.caption(
        f"Fetch the leads of a period (within the last {SYNC_DAYS} days) from the platform; leads "
        "LeadRelay already has are not taken twice."
    )
    today = datetime.now(UTC).date()
    first = today - timedelta(days=SYNC_DAYS - 1)
    if f"{key}_sync_window" not in st.session_state:
        st.session_state[f"{key}_sync_window"] = (today - timedelta(days=6), today)
    cols = st.columns([2, 2, 1], vertical_alignment="bottom")
    window = cols[0].date_input(
        "Period (UTC days)", min_value=first, max_value=today, key=f"{key}_sync_window", disabled=not me.is_admin
    )
    names = {f.form_id: f.name or f.platform_form_id for f in forms}
    scope = cols[1].selectbox(
        "Forms",
        ["", *names],
        format_func=lambda f: names.get(f, "Every form (the whole account)"),
        key=f"{key}_sync_form",
        disabled=not me.is_admin,
    )
    ready = source.connected and source.enabled and source.state == ingest_pb2.SOURCE_STATE_ACTIVE
    if not ready:
        st.caption("Sync needs the source connected, active and enabled.")
    if cols[2].button("Sync leads", key=f"{key}_sync", disabled=not (me.is_admin and ready)):
        days = tuple(window) if isinstance(window, tuple | list) else (window,)
        since_day: date = days[0]
        until_day: date = days[-1]
        since = datetime.combine(since_day, time(), UTC)
        until = min(datetime.combine(until_day + timedelta(days=1), time(), UTC), datetime.now(UTC))
        bar = st.progress(0.0, text="Asking the platform…")
        last = None
        try:
            for p in calls.sync(source.source_id, scope, since, until):
                last = p
                done = p.synced_until.ToDatetime(tzinfo=UTC) if p.HasField("synced_until") else since
                share = 1.0 if p.done else max(0.0, min(1.0, (done - since) / (until - since)))
                note = f" — {p.message}" if p.message and not p.done else ""
                bar.progress(
                    share,
                    text=f"{share:.0%} of the period · {p.leads_seen:,} leads read: {p.leads_new:,} new, "
                    f"{p.leads_known:,} already here{note}",
                )
        except grpc.RpcError as exc:
            refused("Syncing", exc)
            return
        if last is not None:
            st.session_state[f"{key}_flash"] = (
                f"Sync finished: {last.leads_seen:,} leads read from {since_day:%d %b} to {until_day:%d %b %Y}, "
                f"{last.leads_new:,} new, {last.leads_known:,} already in LeadRelay."
            )
        st.rerun()


def _count_check(db: Database, me: SignedIn, source: ingest_pb2.Source, calls: Caller, key: str, platform: str) -> None:
    """The latest whole-day comparison of the platform's count with ours; a new one for yesterday."""
    st.subheader("Platform count check")
    today = datetime.now(UTC).date()
    row = next(
        (
            r
            for r in db.read(source_setup_queries.sources, me.account_id, today)
            if str(r["source_id"]) == source.source_id
        ),
        None,
    )
    st.text(f"Latest: {source_status.count_check(row)}" if row else "Latest: not checked yet")
    ready = source.connected and source.state == ingest_pb2.SOURCE_STATE_ACTIVE
    if st.button(f"Ask {platform} about yesterday", key=f"{key}_count", disabled=not ready):
        start = datetime.combine(today - timedelta(days=1), time(), UTC)
        try:
            counted = db.run(partial(calls.counts, source.source_id, start, start + timedelta(days=1)))
        except grpc.RpcError as exc:
            refused("Counting", exc)
            return
        if counted.platform_reported < 0:
            st.session_state[f"{key}_flash"] = f"{platform} could not be asked now; see the source's status."
        else:
            st.session_state[f"{key}_flash"] = (
                f"Yesterday (UTC): {platform} counted {counted.platform_reported:,} leads, "
                f"LeadRelay {counted.received:,}."
            )
        st.rerun()


def _forms(
    db: Database,
    me: SignedIn,
    source: ingest_pb2.Source,
    calls: Caller,
    forms: list[ingest_pb2.Form],
    key: str,
) -> None:
    st.subheader("Forms")
    if not forms:
        if source.platform in SOCIAL:
            st.caption("No forms yet: they are registered when the source is connected, or with Refresh forms.")
        else:
            st.caption("This source has no forms: its leads come from files or the API.")
    else:
        st.caption("A form switched off keeps its leads, rejected as switched off; switching it on judges them again.")
    for form in forms:
        label = f"{form.name or form.platform_form_id} ({form.platform_form_id})"
        mapping = "own mapping" if form.custom_mapping else "uses the default mapping"
        on = st.toggle(
            plain(f"{label} · {mapping}"),
            value=form.enabled,
            key=f"{key}_form_{form.form_id}",
            disabled=not me.is_admin,
        )
        if me.is_admin and on != form.enabled:
            try:
                db.run(partial(calls.set_form_enabled, source.source_id, form.form_id, on))
            except grpc.RpcError as exc:
                refused("Switching the form", exc)
                return
            st.session_state[f"{key}_flash"] = f"{label} switched {'on' if on else 'off'}."
            st.rerun()
    if (
        source.platform in SOCIAL
        and source.connected
        and me.is_admin
        and st.button(
            "Refresh forms", key=f"{key}_refresh", help="Ask the platform for this source's forms and questions now"
        )
    ):
        try:
            found = db.run(lambda: calls.refresh_forms(source.source_id))
        except grpc.RpcError as exc:
            refused("Refreshing the forms", exc)
            return
        st.session_state[f"{key}_flash"] = f"{len(found)} forms registered."
        st.rerun()
    if forms:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Form": f.name or f.platform_form_id,
                        "Platform's form id": f.platform_form_id,
                        "On": "on" if f.enabled else "off",
                        "Mapping": "own" if f.custom_mapping else "uses the default",
                    }
                    for f in forms
                ]
            ),
            hide_index=True,
            key=f"{key}_forms_table",
        )


def _switches(db: Database, me: SignedIn, source: ingest_pb2.Source, calls: Caller, key: str, social: bool) -> None:
    st.subheader("Source")
    cols = st.columns([2, 2, 6])
    if source.enabled:
        st.caption("Enabled: leads are judged and delivered.")
        if cols[0].button("Disable source", key=f"{key}_disable", disabled=not me.is_admin):
            _set_enabled(db, source, calls, key, False)
    else:
        st.caption("Disabled: leads are still kept, rejected as switched off; enabling judges them again.")
        if cols[0].button("Enable source", key=f"{key}_enable", disabled=not me.is_admin, type="primary"):
            _set_enabled(db, source, calls, key, True)
    if not (social and source.connected):
        if social:
            st.caption("Not connected: reconnect it on Settings → Connect a platform.")
        return
    if cols[1].button("Disconnect…", key=f"{key}_disconnect", disabled=not me.is_admin):
        st.session_state[f"{key}_confirm"] = True
    if me.is_admin and st.session_state.get(f"{key}_confirm"):
        st.warning(
            "Disconnect this source? Its token is deleted and the platform's webhooks stop; leads already "
            "here stay. Connecting it again needs the platform's consent."
        )
        yes, no, _ = st.columns([2, 1, 6])
        if yes.button("Yes, disconnect", key=f"{key}_disconnect_yes", type="primary"):
            try:
                db.run(lambda: calls.disconnect(source.source_id))
            except grpc.RpcError as exc:
                refused("Disconnecting", exc)
                return
            st.session_state.pop(f"{key}_confirm", None)
            st.session_state[f"{key}_flash"] = f"{source.name} is disconnected."
            st.rerun()
        if no.button("Cancel", key=f"{key}_disconnect_no"):
            st.session_state.pop(f"{key}_confirm", None)
            st.rerun()


def _set_enabled(db: Database, source: ingest_pb2.Source, calls: Caller, key: str, enabled: bool) -> None:
    try:
        db.run(lambda: calls.set_enabled(source.source_id, enabled))
    except grpc.RpcError as exc:
        refused("Changing the source", exc)
        return
    st.session_state[f"{key}_flash"] = f"{source.name} is {'enabled' if enabled else 'disabled'}."
    st.rerun()
