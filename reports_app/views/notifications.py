"""Notifications: what needs attention now, who receives the integration's system messages (admins
choose; while nobody is chosen the admins receive them), and the history of every message: each
condition once when it started and once when it cleared, and each import, upload, sync or lifecycle
backfill that ended."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from reports_app import users
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.notifications import store
from reports_app.notifications.conditions import KINDS
from reports_app.views.common import local, plain

ALL = "(all)"
MAIL_WORDS = {"PENDING": "Sending", "SENT": "Sent", "FAILED": "Not sent"}


def render(db: Database, me: SignedIn) -> None:
    if "notify_notice" in st.session_state:
        st.success(plain(st.session_state.pop("notify_notice")))
    open_now(db, me)
    recipients(db, me)
    history(db, me)


def open_now(db: Database, me: SignedIn) -> None:
    st.subheader("Needs attention now")
    alerts = db.read(partial(store.history, open_only=True), me.account_id)
    if not alerts:
        st.success("Nothing needs attention.")
        return
    with st.container(border=True):
        for a in alerts:
            # Plain text: titles quote source, destination and stage names.
            st.text(f"⚠ {a['title']} (since {local(a['started_at'], me.zone)})")


def recipients(db: Database, me: SignedIn) -> None:
    st.subheader("Who receives system messages")
    people = [p for p in db.write(users.list_users, me.account_id) if p["state"] != "disabled"]
    chosen = [p for p in people if p["notify"]]
    if not me.is_admin:
        names = ", ".join(p["email"] for p in chosen)
        st.text(names or "Nobody is chosen: the account's admins receive them.")
        st.caption("Only admins choose who receives them.")
        return
    emails = {str(p["user_id"]): p["email"] for p in people}
    with st.form("notify_role"):
        picked = st.multiselect(
            "Users who receive e-mails about sources, tokens, destinations, rejections, counts, CRM stages and jobs",
            list(emails),
            default=[str(p["user_id"]) for p in chosen],
            format_func=lambda i: emails[i],
            placeholder="Nobody: the admins receive them",
            key="notify_role_pick",
        )
        saved = st.form_submit_button("Save recipients")
    if saved:
        try:
            db.write(users.set_notified, me.user, {UUID(i) for i in picked})
        except users.Refused as exc:
            st.error(plain(str(exc)))
            return
        st.session_state["notify_notice"] = (
            f"Saved: {len(picked)} recipient{'s' if len(picked) != 1 else ''}."
            if picked
            else "Saved: nobody is chosen, so the admins receive the messages."
        )
        st.rerun()
    if not chosen:
        st.caption("Nobody is chosen yet: the account's admins receive the messages.")


def _mails(mails: list[dict[str, Any]]) -> str:
    parts = []
    for m in mails:
        what = "Started" if m["event"] == "started" else "Cleared"
        if m["status"] == "SENT":
            parts.append(f"{what}: sent to {', '.join(m['recipients'])}")
        elif m["status"] == "FAILED":
            parts.append(f"{what}: not sent ({m['error']})")
        else:
            parts.append(f"{what}: sending" + (f" (last try: {m['error']})" if m["error"] else ""))
    return "; ".join(parts)


def history(db: Database, me: SignedIn) -> None:
    st.subheader("History")
    kinds = ["", *KINDS]
    kind = st.selectbox("What", kinds, format_func=lambda k: KINDS.get(k, ALL), key="notify_kind")
    rows = db.read(partial(store.history, kind=kind), me.account_id)
    if not rows:
        st.caption("No message yet. Each condition above is told once when it starts and once when it clears.")
        return
    table = st.dataframe(
        pd.DataFrame(
            [
                {
                    f"Started ({me.zone.key})": local(r["started_at"], me.zone),
                    f"Cleared ({me.zone.key})": _cleared(r, me),
                    "Message": r["title"],
                    "E-mails": _mail_summary(r["mails"]),
                }
                for r in rows
            ]
        ),
        hide_index=True,
        key="notify_history",
        on_select="rerun",
        selection_mode="single-row",
    )
    picked = table.selection.rows if table is not None else []
    if not picked:
        st.caption("Select a row for the whole message and who received it.")
        return
    r = rows[picked[0]]
    with st.container(border=True):
        # Plain text: messages quote source, destination and stage names.
        st.text(f"{KINDS.get(r['kind'], r['kind'])}: {r['title']}")
        st.text(r["message"])
        st.text(_mails(r["mails"]).replace("; ", "\n"))


def _cleared(r: dict[str, Any], me: SignedIn) -> str:
    if r["cleared_at"] is None:
        return "Still holds"
    # An ended job is one message: it clears as it starts.
    return "—" if r["cleared_at"] == r["started_at"] else local(r["cleared_at"], me.zone)


def _mail_summary(mails: list[dict[str, Any]]) -> str:
    words = {"SENT": "sent", "FAILED": "not sent", "PENDING": "sending"}
    return "; ".join(
        f"{'Start' if m['event'] == 'started' else 'Clear'}: {words.get(m['status'], m['status'])}" for m in mails
    )
