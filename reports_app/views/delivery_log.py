"""The delivery log: every attempt to deliver a lead, filtered by source, destination, outcome and
time; each attempt's request and the CRM's answer (both truncated, secrets masked); and a replay of
a lead's failed or CRM-rejected delivery (PostOutService.RetryPostOuts). Viewers see, with personal
data masked unless the account lets them see it; admins replay."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from uuid import UUID

import grpc
import pandas as pd
import streamlit as st

from reports_app import destination_calls as calls
from reports_app import destination_form, labels, masking, queries, setup_queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import ALL, local, plain, today
from reports_app.views.setup_common import leave_notice, notice, refused

LEAD_LINK = st.column_config.LinkColumn("Lead", display_text="Open", width="small")


def render(db: Database, me: SignedIn) -> None:
    if not db.read(queries.table_exists, "post_outs"):
        st.info("Post-out is not available on this installation yet.")
        return
    notice("log_notice")
    sources = {str(s["source_id"]): s["name"] for s in db.read(queries.sources, me.account_id)}
    destinations = {str(k): v for k, v in db.read(queries.destination_names, me.account_id).items()}
    cols = st.columns([1.4, 1, 1, 1])
    window = cols[0].date_input(
        f"Attempted (days in {me.zone.key})",
        value=(today(me.zone) - timedelta(days=6), today(me.zone)),
        key="log_window",
    )
    first, last = (
        (window[0], window[-1]) if isinstance(window, tuple | list) and window else (today(me.zone), today(me.zone))
    )
    wanted = st.query_params.get("source") or ""
    source = cols[1].selectbox(
        "Source",
        ["", *sources],
        index=([*sources].index(wanted) + 1) if wanted in sources else 0,
        format_func=lambda s: sources.get(s, ALL),
        key="log_source",
    )
    destination = cols[2].selectbox(
        "Destination", ["", *destinations], format_func=lambda d: destinations.get(d, ALL), key="log_destination"
    )
    outcome = cols[3].selectbox(
        "Outcome", ["", *labels.OUTCOME], format_func=lambda o: labels.OUTCOME.get(o, ALL), key="log_outcome"
    )
    rows = db.read(
        lambda con, account: setup_queries.delivery_log(
            con,
            account,
            source_id=UUID(source) if source else None,
            destination_id=UUID(destination) if destination else None,
            outcome=outcome,
            since=datetime.combine(first, time(), me.zone),
            until=datetime.combine(last + timedelta(days=1), time(), me.zone),
        ),
        me.account_id,
    )
    if not rows:
        st.info("No delivery attempt matches. Widen the days or clear a filter; attempts appear once leads are sent.")
        return
    # A column every row shares (the source or destination filtered on) is left out: the reason,
    # the widest, keeps the room.
    shown = pd.DataFrame(
        [
            {
                f"At ({me.zone.key})": local(r["at"], me.zone),
                "Source": r["source"],
                "Destination": r["destination"],
                "Person": _person(r["email"], me),
                "Lead": f"/leads?lead={r['lead_id']}",
                "Attempt": r["attempt"],
                "HTTP status": r["status_code"] or None,
                "Outcome": labels.word(labels.OUTCOME, r["outcome"]),
                "Reason": r["reason"],
            }
            for r in rows
        ]
    ).drop(columns=[c for c, filtered in (("Source", source), ("Destination", destination)) if filtered])
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "Lead": LEAD_LINK,
            "Attempt": st.column_config.NumberColumn(width="small"),
            "HTTP status": st.column_config.NumberColumn("HTTP", width="small"),
            "Reason": st.column_config.TextColumn(width="large"),
        },
        placeholder="—",
        key="log_table",
    )
    if len(rows) == 200:
        st.caption("The newest 200 attempts are shown: narrow the filters to see older ones.")
    by_id = {r["attempt_id"]: r for r in rows}
    chosen = st.selectbox(
        "Attempt",
        list(by_id),
        format_func=lambda a: (
            f"{local(by_id[a]['at'], me.zone)} · {by_id[a]['destination']} · "
            f"{_person(by_id[a]['email'], me) or 'no email'} · attempt {by_id[a]['attempt']} · "
            f"{labels.word(labels.OUTCOME, by_id[a]['outcome'])}"
        ),
        key="log_attempt",
    )
    _detail(db, me, by_id[chosen])


def _person(email: str | None, me: SignedIn) -> str:
    return masking.email(email) if me.masked and email else (email or "")


def _detail(db: Database, me: SignedIn, r: dict) -> None:
    if me.masked:
        st.caption("The request and the CRM's answer carry personal data: ask an admin to see them.")
    else:
        st.text("Request (secrets masked, truncated)")
        kept = r["request_excerpt"] or "(not kept: the attempt is older than the log's requests)"
        st.code(destination_form.readable_excerpt(kept), language="http", wrap_lines=True)
        st.text(f"The CRM's answer (HTTP {r['status_code'] or '—'}, {r['duration_ms']} ms)")
        answer = r["response_excerpt"] or r["reason"] or "(no answer)"
        st.code(destination_form.readable_excerpt(answer), language="http", wrap_lines=True)
    if not me.is_admin:
        return
    status = r["delivery_status"] or ""
    if status == "POSTED":
        st.caption(
            "This lead is in the CRM already: sending it again could make a second record. "
            "To try the request, use Send test lead on the Destinations page."
        )
        return
    if status in ("PENDING", "RETRYING"):
        st.caption(f"This delivery is {labels.post_out(status).lower()}: it goes out on its own.")
        return
    if st.button("Send this lead again", key="log_replay"):
        try:
            n = db.run(lambda: calls.replay(db.settings, me.account_id, me.user.user_id, [str(r["lead_id"])]))
        except grpc.RpcError as exc:
            refused("Sending again", exc)
            return
        leave_notice(
            "log_notice",
            f"Queued again: {n} deliver{'y' if n == 1 else 'ies'} of the lead to {r['destination']}"
            if n
            else "Nothing to send again: the lead is no longer accepted or its delivery is under way.",
        )
        st.rerun()
    st.caption(plain(f"Last outcome of this delivery: {labels.post_out(status)}."))
