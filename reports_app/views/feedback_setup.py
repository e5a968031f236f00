"""Lifecycle feedback: what LeadRelay tells Meta (and LinkedIn) about each lead's CRM stage. The Meta
dataset, its token (write-only) and the CRM's name, when to send (immediately, or daily at an hour
of a time zone), Limited Data Use; the stage mapping as a grid of every CRM stage ever received
(unmapped first) to Meta's seven stages; Flush now; Backfill up to 60 days with progress; and
LinkedIn's conversions settings. Every change goes through FeedbackService
(reports_app.feedback_calls); viewers see, admins change."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import grpc
import pandas as pd
import streamlit as st

from leadrelay.v1 import feedback_pb2
from reports_app import labels, setup_queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.feedback_calls import Feedback
from reports_app.progress_stream import follow
from reports_app.views.common import local, plain
from reports_app.views.setup_common import leave_notice, notice, refused

NOT_MAPPED = ""
MODES = {feedback_pb2.DISPATCH_MODE_IMMEDIATE: "As each stage changes", feedback_pb2.DISPATCH_MODE_DAILY: "Once a day"}
BACKFILL_DAYS = 60


@lru_cache(maxsize=1)
def _zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def render(db: Database, me: SignedIn) -> None:
    notice("fb_notice")
    client = Feedback(db.settings, me.account_id, me.user.user_id)
    try:
        config, mapping, status, linkedin = db.run(client.state)
    except grpc.RpcError as exc:
        refused("Reading the lifecycle feedback settings", exc)
        return
    received = db.read(setup_queries.stages_received, me.account_id)
    _status(status, me)
    _meta(db, me, client, config)
    _stages(db, me, client, mapping, received)
    if me.is_admin:
        _send_now(db, client)
    _linkedin(db, me, client, linkedin, mapping, received)


def _status(status: Any, me: SignedIn) -> None:
    if status.paused:
        st.error(plain(f"Sending to Meta is paused: {status.paused_reason}. Save a new token to resume."))
    if status.linkedin_paused:
        st.error(plain(f"Sending to LinkedIn is paused: {status.linkedin_paused_reason}. Save a new token to resume."))
    counts = {
        labels.word(
            labels.DISPATCH, feedback_pb2.FeedbackEventStatus.Name(c.status).removeprefix("FEEDBACK_EVENT_STATUS_")
        ): c.count
        for c in status.by_status
        if c.count
    }
    if counts:
        last = (
            local(status.last_sent_at.ToDatetime(tzinfo=UTC), me.zone) if status.HasField("last_sent_at") else "never"
        )
        st.caption(plain(" · ".join(f"{k}: {v:,}" for k, v in counts.items()) + f" · last sent to Meta: {last}"))


def _meta(db: Database, me: SignedIn, client: Feedback, config: Any) -> None:
    st.subheader("Meta Conversions API")
    if not me.is_admin:
        if not config.dataset_id:
            st.info("Not set up yet: an admin adds the Meta dataset here.")
            return
        st.text(
            f"Dataset {config.dataset_id} · CRM name “{config.lead_event_source}” · "
            f"{MODES.get(config.mode, 'As each stage changes')}"
            + (
                f" at {config.daily_hour}:00 {config.time_zone}"
                if config.mode == feedback_pb2.DISPATCH_MODE_DAILY
                else ""
            )
            + f" · token {'stored' if config.has_access_token else 'missing'}"
        )
        return
    zones = _zones()
    zone_now = config.time_zone or me.zone.key
    with st.form("fb_meta"):
        cols = st.columns(2)
        dataset = cols[0].text_input("Dataset (pixel) id", value=config.dataset_id, placeholder="123456789012345")
        token = cols[1].text_input(
            "Access token (write-only)",
            type="password",
            placeholder="A token is stored: leave empty to keep it" if config.has_access_token else "EAAB…",
        )
        cols = st.columns(2)
        source = cols[0].text_input(
            "Your CRM's name (sent as lead_event_source)", value=config.lead_event_source, placeholder="HubSpot"
        )
        test_code = cols[1].text_input("Test event code (optional)", value=config.test_event_code)
        when = st.columns(3)
        modes = list(MODES)
        mode = when[0].radio(
            "Send",
            modes,
            index=modes.index(config.mode) if config.mode in modes else 0,
            format_func=lambda m: MODES[m],
        )
        hour = when[1].number_input("At hour (once a day)", min_value=0, max_value=23, value=int(config.daily_hour))
        zone = when[2].selectbox("Time zone", zones, index=zones.index(zone_now) if zone_now in zones else 0)
        region = st.columns(2)[0].text_input(
            "Country of phone numbers written without a country code", value=config.phone_region or "US", max_chars=2
        )
        st.text("Limited Data Use (US state privacy laws)")
        ldu_all = st.checkbox("Send every event with Limited Data Use", value=config.limited_data_use.all_events)
        ldu_columns = st.text_input(
            "Columns whose “yes” means the person opted out of sale (comma-separated; empty: the usual names)",
            value=", ".join(config.limited_data_use.opt_out_columns),
        )
        saved = st.form_submit_button("Save Meta settings", type="primary")
    if saved:
        request = feedback_pb2.FeedbackConfig(
            dataset_id=dataset.strip(),
            access_token=token.strip(),
            lead_event_source=source.strip(),
            mode=mode,
            test_event_code=test_code.strip(),
            daily_hour=int(hour),
            time_zone=zone,
            phone_region=region.strip().upper(),
            identifier_columns=list(config.identifier_columns),  # kept as they are
            limited_data_use=feedback_pb2.LimitedDataUse(
                all_events=ldu_all, opt_out_columns=[c.strip() for c in ldu_columns.split(",") if c.strip()]
            ),
        )
        try:
            db.run(lambda: client.save_config(request))
        except grpc.RpcError as exc:
            refused("Saving the Meta settings", exc)
            return
        leave_notice("fb_notice", "Saved the Meta settings.")
        st.rerun()


def _stages(db: Database, me: SignedIn, client: Feedback, mapping: dict[str, str], received: list[dict]) -> None:
    st.subheader("Stage mapping")
    seen = {r["crm_stage"]: r for r in received}
    names = sorted(seen, key=lambda s: (s in mapping, s.lower())) + sorted(
        (s for s in mapping if s not in seen), key=str.lower
    )
    if not names:
        st.info(
            "No CRM stage received yet. Once your CRM reports its leads' stages to LeadRelay they are listed here;"
            + (" you can map stage names in advance below." if me.is_admin else " an admin maps them here.")
        )
    unmapped = [s for s in names if s not in mapping]
    if unmapped:
        st.warning(
            plain(
                f"{len(unmapped)} CRM stage{'s' if len(unmapped) != 1 else ''} without a Meta stage: "
                + ", ".join(f"“{s}”" for s in unmapped)
                + ". Their events go to Meta as not assigned."
            )
        )
    if not me.is_admin:
        if names:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "CRM stage": s,
                            "Meta stage": labels.stage(mapping.get(s)) or "Not mapped",
                            "Changes received": seen[s]["changes"] if s in seen else 0,
                        }
                        for s in names
                    ]
                ),
                hide_index=True,
                key="fb_mapping_view",
            )
        return
    choices = [NOT_MAPPED, *labels.STAGE]
    picked: dict[str, str] = {}
    with st.form("fb_stages"):
        head = st.columns([2, 1, 2])
        head[0].text("CRM stage")
        head[1].text("Changes received")
        head[2].text("Meta stage")
        for i, name in enumerate(names):
            row = st.columns([2, 1, 2])
            row[0].text(name)
            row[1].text(f"{seen[name]['changes']:,}" if name in seen else "—")
            picked[name] = row[2].selectbox(
                f"Meta stage for {name}",
                choices,
                index=choices.index(mapping.get(name, NOT_MAPPED)),
                format_func=lambda c: labels.stage(c) if c else "Not mapped yet",
                label_visibility="collapsed",
                key=f"fb_stage_{i}_{name}",
            )
        row = st.columns([2, 1, 2])
        extra = row[0].text_input("Another CRM stage (not received yet)", placeholder="e.g. Demo booked")
        extra_stage = row[2].selectbox(
            "Its Meta stage", choices, format_func=lambda c: labels.stage(c) if c else "Not mapped yet"
        )
        saved = st.form_submit_button("Save stage mapping", type="primary")
    if saved:
        stages = {k: v for k, v in picked.items() if v}
        if extra.strip() and extra_stage:
            stages[extra.strip()] = extra_stage
        try:
            db.run(lambda: client.save_mapping(stages))
        except grpc.RpcError as exc:
            refused("Saving the stage mapping", exc)
            return
        leave_notice("fb_notice", f"Saved the stage mapping ({len(stages)} CRM stages mapped).")
        st.rerun()


def _send_now(db: Database, client: Feedback) -> None:
    st.subheader("Send now")
    cols = st.columns([1, 3])
    cols[1].caption("Sends every waiting stage change to Meta and LinkedIn now, without waiting for the schedule.")
    if cols[0].button("Flush now", key="fb_flush"):
        try:
            sent = db.run(client.flush)
        except grpc.RpcError as exc:
            refused("Sending now", exc)
        else:  # the rerun shows the counts as they are now
            leave_notice(
                "fb_notice",
                f"Sent now: {sent.sent:,} · failed {sent.failed:,} · too old to send {sent.expired:,} · "
                f"cannot be sent {sent.not_sendable:,}.",
            )
            st.rerun()
    st.subheader("Backfill")
    cols = st.columns([2, 1, 2])
    days = cols[0].slider("Days back (at most 60)", min_value=1, max_value=BACKFILL_DAYS, value=30, key="fb_days")
    cols[2].caption("Records each lead of that period at its first stage (Lead) and sends what Meta still takes.")
    if cols[1].button("Backfill", key="fb_backfill"):
        line = st.empty()
        bar = st.progress(0.0)
        since = datetime.now(UTC) - timedelta(days=days)

        def show(p: Any) -> None:
            done = p.events_sent + p.events_expired + p.events_failed + p.events_not_sendable + p.events_pending
            bar.progress(1.0 if p.done else min(done / p.events_recorded, 0.99) if p.events_recorded else 0.0)
            line.text(
                f"Leads seen {p.leads_seen:,} · recorded {p.events_recorded:,} · sent {p.events_sent:,} · "
                f"waiting {p.events_pending:,} · too old {p.events_expired:,} · failed {p.events_failed:,}"
            )

        try:
            last = follow(db, lambda: client.backfill(since), show)
        except grpc.RpcError as exc:
            refused("The backfill", exc)
            return
        bar.progress(1.0)
        if last is not None:
            st.success(plain(f"Backfill of the last {days} days done. {last.message}".strip()))


def _linkedin(
    db: Database, me: SignedIn, client: Feedback, config: Any, mapping: dict[str, str], received: list[dict]
) -> None:
    st.subheader("LinkedIn conversions")
    names = sorted({*mapping, *(r["crm_stage"] for r in received), *config.conversion_rules}, key=str.lower)
    if not me.is_admin:
        n = len(config.conversion_rules)
        st.text(
            f"Token {'stored' if config.has_access_token else 'missing'} · "
            f"{n} stage{'s' if n != 1 else ''} with a conversion rule"
        )
        return
    with st.form("fb_linkedin"):
        token = st.text_input(
            "Access token with the rw_conversions scope (write-only)",
            type="password",
            placeholder="A token is stored: leave empty to keep it" if config.has_access_token else "",
        )
        rules: dict[str, str] = {}
        if names:
            st.text("Conversion rule of each CRM stage (a stage without one is not sent to LinkedIn)")
        for i, name in enumerate(names):
            rules[name] = st.text_input(
                f"Rule for “{name}”",
                value=config.conversion_rules.get(name, ""),
                placeholder="urn:lla:llaPartnerConversion:123",
                key=f"fb_li_{i}_{name}",
            )
        saved = st.form_submit_button("Save LinkedIn settings")
    if saved:
        try:
            db.run(lambda: client.save_linkedin(token.strip(), {k: v.strip() for k, v in rules.items() if v.strip()}))
        except grpc.RpcError as exc:
            refused("Saving the LinkedIn settings", exc)
            return
        leave_notice("fb_notice", "Saved the LinkedIn settings.")
        st.rerun()
