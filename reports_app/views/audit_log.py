"""Audit log: every set-up change (mapping, acceptance criteria, destinations, lifecycle feedback,
users, API keys) with who made it, when and what changed. Names, never ids: the actor label
(`user:<id>`, `key:<prefix>`, the system) becomes the person's e-mail or the key's name. Details
never hold secret values (the services record names and shapes only)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

import grpc
import pandas as pd
import streamlit as st

from leadrelay import audit_store
from reports_app import api_keys, queries, users
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, today

ALL = "(all)"
AREA_WORDS = {
    "mapping": "Mapping",
    "criteria": "Acceptance criteria",
    "destination": "Destinations",
    "feedback": "Lifecycle feedback",
    "users": "Users",
    "keys": "API keys",
    "sources": "Sources",
}


def names(db: Database, me: SignedIn) -> tuple[dict[str, str], dict[str, str]]:
    """(actor label → name, subject id → name) for the account."""
    people = db.write(users.list_users, me.account_id)
    actors = {f"user:{p['user_id']}": p["email"] for p in people}
    actors[""] = "LeadRelay (automatic)"
    subjects = {str(p["user_id"]): p["email"] for p in people}
    try:
        keys = db.run(lambda: api_keys.list_keys(db.settings, me.account_id, me.user.user_id))
    except grpc.aio.AioRpcError:
        keys = []
    for k in keys:
        actors[f"key:{k.prefix}"] = f"API key “{k.name}” (lr_{k.prefix}_…)"
        subjects[k.prefix] = f"“{k.name}” (lr_{k.prefix}_…)"
    subjects.update({str(s["source_id"]): s["name"] for s in db.read(queries.sources, me.account_id)})
    subjects.update({str(k): v for k, v in db.read(queries.destination_names, me.account_id).items()})
    for f in db.read(queries.forms, me.account_id, None):
        subjects[str(f["form_id"])] = f"form {f['name'] or f['platform_form_id']}"
    return actors, subjects


def actor_name(actors: dict[str, str], label: str) -> str:
    if label in actors:
        return actors[label]
    kind, _, ident = label.partition(":")
    return {"user": "a removed user", "key": f"API key lr_{ident}_…"}.get(kind, label)


def _value(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v) or "none"
    if isinstance(v, dict):
        return " ".join(f"{k} {_value(x)}" for k, x in v.items())
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def detail_lines(detail: dict[str, Any]) -> list[str]:
    """One line per recorded field, in words (`header_names: a, b` → `header names: a, b`)."""
    return [f"{k.replace('_', ' ').capitalize()}: {_value(v)}" for k, v in detail.items()]


def render(db: Database, me: SignedIn) -> None:
    actors, subjects = names(db, me)
    cols = st.columns([1.4, 1, 1.4])
    window = cols[0].date_input(
        f"Changed (days in {me.zone.key})", (today(me.zone) - timedelta(days=29), today(me.zone)), key="audit_window"
    )
    since, until = (
        (window[0], window[-1]) if isinstance(window, tuple | list) and window else (today(me.zone), today(me.zone))
    )
    area = cols[1].selectbox("Area", ["", *AREA_WORDS], format_func=lambda a: AREA_WORDS.get(a, ALL), key="audit_area")
    seen = db.read(audit_store.actors, me.account_id)
    who = cols[2].selectbox(
        "Who", ["-", *seen], format_func=lambda a: ALL if a == "-" else actor_name(actors, a), key="audit_who"
    )
    rows = db.read(
        partial(
            audit_store.entries,
            area=area,
            actor="" if who == "-" else who,
            since=datetime.combine(since, time(), me.zone),
            until=datetime.combine(until + timedelta(days=1), time(), me.zone),
        ),
        me.account_id,
    )
    if who == "":  # the system's own changes: the filter above cannot say "only empty"
        rows = [r for r in rows if r["actor"] == ""]
    if not rows:
        st.info(
            "No set-up change in this window. Changes to mappings, criteria, destinations, feedback, users "
            "and keys appear here."
        )
        return
    table = st.dataframe(
        pd.DataFrame(
            [
                {
                    f"When ({me.zone.key})": local(r["at"], me.zone),
                    "Who": actor_name(actors, r["actor"]),
                    "Area": AREA_WORDS.get(r["area"], r["area"]),
                    "Change": r["action"],
                    "Of": subjects.get(r["subject_id"], r["subject_id"]),
                }
                for r in rows
            ]
        ),
        hide_index=True,
        key="audit_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    picked = table.selection.rows if table is not None else []
    if picked:
        r = rows[picked[0]]
        with st.container(border=True):
            st.text(f"{r['action']} · {subjects.get(r['subject_id'], r['subject_id']) or 'the account'}")
            st.text(f"by {actor_name(actors, r['actor'])} at {local(r['at'], me.zone)}")
            # Plain text: details quote names people typed.
            for line in detail_lines(r["detail"]) or ["(no details)"]:
                st.text(line)
    else:
        st.caption("Select a row to see exactly what changed.")
    st.caption(f"{len(rows)} change{'s' if len(rows) != 1 else ''}, newest first (at most 500).")
