"""Settings → New source: a Facebook Page, a LinkedIn ad account, a CSV source or an API source.
The social ones connect first (the Connect page's OAuth flow, coming back here): Connect → the
platform's consent page → pick the Page / ad account among those the platform user can reach →
the source exists, connected, with its forms registered; then on to its mapping."""

from __future__ import annotations

from functools import partial

import grpc
import streamlit as st

from leadrelay.v1 import common_pb2, ingest_pb2
from reports_app import platform_connect
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import plain
from reports_app.views.setup_links import NEW_SOURCE, caller, link, refused, source_url

KINDS = {
    "FACEBOOK": "Facebook Page",
    "LINKEDIN": "LinkedIn ad account",
    "CSV": "CSV files (events, vendors)",
    "API": "API (your own systems)",
}
SOCIAL = {"FACEBOOK": "Facebook", "LINKEDIN": "LinkedIn"}
PLATFORM_NAMES = {common_pb2.PLATFORM_FACEBOOK: "Facebook", common_pb2.PLATFORM_LINKEDIN: "LinkedIn"}


def render(db: Database, me: SignedIn) -> None:
    if not me.is_admin:
        st.info("Only admins add sources. Settings → Sources shows every source there is.")
        return
    _returned(db, me)
    done = st.session_state.get("ns_done")
    if done:
        _connected(db, me, done)
        return
    if "ns_choices" in st.session_state:
        _pick(db, me)
        return
    kind = st.radio("What kind of source?", list(KINDS), format_func=KINDS.__getitem__, key="ns_kind")
    if kind in SOCIAL:
        _connect(db, me, kind)
    else:
        _plain(db, me, kind)


def _plain(db: Database, me: SignedIn, kind: str) -> None:
    st.caption(
        "Leads arrive from files you upload (CSV or XLSX)."
        if kind == "CSV"
        else "Leads arrive through SubmitLead(s) with an API key."
    )
    name = st.text_input("Name", key="ns_name", placeholder="Spring trade fair 2027")
    if st.button("Create source", key="ns_create", type="primary", disabled=not name.strip()):
        calls = caller(db, me)
        try:
            made = db.run(lambda: calls.create_source(name.strip(), kind))
        except grpc.RpcError as exc:
            refused("Creating the source", exc)
            return
        st.session_state["ns_done"] = ([made.source_id], "")
        st.rerun()


def _connect(db: Database, me: SignedIn, kind: str) -> None:
    platform = SOCIAL[kind]
    what = "Page" if kind == "FACEBOOK" else "ad account"
    st.caption(
        f"Sign in to {platform} on its own page and allow LeadRelay; then pick the {what}. "
        "The source gets the name of the Page or ad account, its forms are registered and leads arrive by webhook."
    )
    if st.button(f"Connect with {platform}", key="ns_begin", type="primary"):
        try:
            url = db.run(
                partial(platform_connect.begin, db.settings, me.account_id, me.user.user_id, platform, "", NEW_SOURCE)
            )
        except grpc.RpcError as exc:
            refused(f"Connecting {platform}", exc)
            return
        st.session_state["ns_url"] = (platform, url)
    begun = st.session_state.get("ns_url")
    if begun and begun[0] == platform:
        link(f"Continue to {platform} →", begun[1])


def _returned(db: Database, me: SignedIn) -> None:
    """Back from the consent page: ?state=…&code=… (or ?error=…)."""
    query = st.query_params
    state, code, error = query.get("state"), query.get("code"), query.get("error")
    if not state:
        return
    description = query.get("error_description") or error or ""
    st.query_params.clear()
    st.session_state.pop("ns_url", None)
    st.session_state.pop("ns_done", None)
    if error or not code:
        st.error("The platform did not connect: the consent was cancelled or refused.")
        st.text(description)
        return
    try:
        choices = db.run(partial(platform_connect.complete, db.settings, me.account_id, me.user.user_id, state, code))
    except grpc.RpcError as exc:
        refused("Connecting", exc)
        return
    st.session_state["ns_choices"] = choices


def _pick(db: Database, me: SignedIn) -> None:
    choices: ingest_pb2.ConnectChoices = st.session_state["ns_choices"]
    platform = PLATFORM_NAMES.get(choices.platform, "the platform")
    what = "Page" if choices.platform == common_pb2.PLATFORM_FACEBOOK else "ad account"
    st.subheader(f"Pick the {platform} {what}")
    if not choices.choices:
        st.warning(f"This {platform} login reaches no {what}: sign in as someone who manages one.")
        if st.button("Start again", key="ns_again"):
            del st.session_state["ns_choices"]
            st.rerun()
        return
    # Radio options render Markdown: the platform's names are shown literally.
    labels = {
        c.external_account_id: plain(f"{c.name or c.external_account_id} ({c.external_account_id})")
        + (" — already a source: picking it reconnects it" if c.source_id else "")
        for c in choices.choices
    }
    picked = st.radio(
        f"The {what}s this {platform} login can reach", list(labels), format_func=labels.__getitem__, key="ns_picked"
    )
    cols = st.columns([2, 1, 6])
    if cols[0].button(f"Connect this {what}", key="ns_pick", type="primary", disabled=not picked):
        try:
            with st.spinner("Connecting and registering its forms…"):
                made = db.run(
                    partial(
                        platform_connect.pick, db.settings, me.account_id, me.user.user_id, choices.grant_id, [picked]
                    )
                )
        except grpc.RpcError as exc:
            refused("Connecting", exc)
            return
        del st.session_state["ns_choices"]
        st.session_state["ns_done"] = (
            [s.source_id for s in made],
            "\n".join(s.last_error for s in made if s.last_error),
        )
        st.rerun()
    if cols[1].button("Cancel", key="ns_cancel"):
        del st.session_state["ns_choices"]
        st.rerun()


def _connected(db: Database, me: SignedIn, done: tuple[list[str], str]) -> None:
    source_ids, problems = done
    calls = caller(db, me)
    for source_id in source_ids:
        try:
            source = db.run(partial(calls.source, source_id))
            forms = sorted(db.run(partial(calls.forms, source_id)), key=lambda f: (f.name.lower(), f.platform_form_id))
        except grpc.RpcError as exc:
            refused("Reading the new source", exc)
            continue
        st.success(plain(f"{source.name} is ready."))
        if forms:
            st.text(f"{len(forms)} forms registered: " + ", ".join(f.name or f.platform_form_id for f in forms))
        elif source.platform in PLATFORM_NAMES:
            st.text("No forms yet: forms made later register when their first lead arrives.")
        link("Map its fields →", source_url(source_id, "mapping"))
        link("Open its summary →", source_url(source_id))
    if problems:
        st.warning("The platform needs something from you:")
        st.text(problems)
    if st.button("Add another source", key="ns_another"):
        for k in ("ns_done", "ns_kind", "ns_name"):
            st.session_state.pop(k, None)
        st.rerun()
