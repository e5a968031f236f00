"""API keys: the keys programs use to call LeadRelay's services for this account. Admins create one
(its secret is shown once, here, and never again: only a hash is stored) and revoke them; everyone
sees each key's name, prefix, creation and last use. Through AccountService (reports_app.api_keys)."""

from __future__ import annotations

import grpc
import pandas as pd
import streamlit as st

from leadrelay.protoconv import from_timestamp
from reports_app import api_keys
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, plain


def render(db: Database, me: SignedIn) -> None:
    created = st.session_state.pop("keys_created", None)
    if created is not None:
        name, secret = created
        st.success(plain(f"Key “{name}” created. Copy it now: it is shown only this once."))
        st.code(secret, language=None)
    if "keys_notice" in st.session_state:
        st.success(plain(st.session_state.pop("keys_notice")))
    keys = db.run(lambda: api_keys.list_keys(db.settings, me.account_id, me.user.user_id))
    if not keys:
        st.info(
            "No API key yet. "
            + ("Create one below for a program that sends leads or reads results." if me.is_admin else "")
        )
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": k.name,
                        "Key": f"lr_{k.prefix}_…",
                        f"Created ({me.zone.key})": local(from_timestamp(k.created_at), me.zone),
                        f"Last used ({me.zone.key})": local(from_timestamp(k.last_used_at), me.zone) or "Never",
                        "State": "Revoked " + local(from_timestamp(k.revoked_at), me.zone)
                        if k.HasField("revoked_at")
                        else "Works",
                    }
                    for k in keys
                ]
            ),
            hide_index=True,
            key="keys_table",
        )
        st.caption("“Last used” is updated at most every 5 minutes.")
    if not me.is_admin:
        st.caption("Only admins create and revoke keys.")
        return
    create(db, me)
    revoke(db, me, [k for k in keys if not k.HasField("revoked_at")])


def create(db: Database, me: SignedIn) -> None:
    st.subheader("Create a key")
    with st.form("keys_create", clear_on_submit=True):
        name = st.text_input("Name (what will use it)", key="keys_name", max_chars=100)
        go = st.form_submit_button("Create key")
    if not go:
        return
    try:
        made = db.run(lambda: api_keys.create_key(db.settings, me.account_id, me.user.user_id, name))
    except grpc.aio.AioRpcError as exc:
        st.error(plain(exc.details() or "The key could not be created."))
        return
    st.session_state["keys_created"] = (made.key.name, made.secret)
    st.rerun()


def revoke(db: Database, me: SignedIn, working: list) -> None:
    if not working:
        return
    st.subheader("Revoke a key")
    by_id = {k.key_id: k for k in working}
    choice = st.selectbox(
        "Key",
        list(by_id),
        index=None,
        format_func=lambda i: f"{by_id[i].name} (lr_{by_id[i].prefix}_…)",
        placeholder="Choose a key",
        key="keys_choice",
    )
    if choice is None:
        return
    st.warning(plain(f"Programs using “{by_id[choice].name}” stop working within a minute. This cannot be undone."))
    if st.button("Revoke key", type="primary", key="keys_revoke"):
        try:
            gone = db.run(lambda: api_keys.revoke_key(db.settings, me.account_id, me.user.user_id, choice))
        except grpc.aio.AioRpcError as exc:
            st.error(plain(exc.details() or "The key could not be revoked."))
            return
        st.session_state.pop("keys_choice", None)
        st.session_state["keys_notice"] = f"Revoked “{gone.name}” (lr_{gone.prefix}_…)."
        st.rerun()
