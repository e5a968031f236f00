"""Users: everyone who signs in to the account's console. Admins invite people by e-mail (a
one-time link to set a password), change roles, disable and enable users and send password-reset
links; an account always keeps one admin who can sign in. Viewers see the list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from leadrelay import mail
from reports_app import people_mail, users
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, plain

ROLE_WORDS = {users.ADMIN: "Admin", users.VIEWER: "Viewer"}
STATE_WORDS = {"active": "Active", "invited": "Invited (no password yet)", "disabled": "Disabled"}


def render(db: Database, me: SignedIn) -> None:
    for kind, text in st.session_state.pop("people_flash", []):
        (st.success if kind == "ok" else st.error)(plain(text))
    people = db.write(users.list_users, me.account_id)
    table(people, me)
    if not me.is_admin:
        st.caption("Only admins invite and change users.")
        return
    invite_form(db, me)
    change_user(db, me, people)


def table(people: list[dict[str, Any]], me: SignedIn) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Email": p["email"],
                    "Role": ROLE_WORDS.get(p["role"], p["role"]),
                    "State": STATE_WORDS.get(p["state"], p["state"]),
                    "Receives system messages": "Yes" if p["notify"] else "",
                    f"Last seen ({me.zone.key})": local(p["last_seen_at"], me.zone),
                }
                for p in people
            ]
        ),
        hide_index=True,
        key="people_table",
    )


def _send(db: Database, msg: Any) -> str:
    """'' when sent, else why not."""
    try:
        db.run(lambda: mail.send(db.settings, msg))
    except mail.SendFailed as exc:
        return str(exc)
    return ""


def invite_form(db: Database, me: SignedIn) -> None:
    st.subheader("Invite a user")
    with st.form("people_invite", clear_on_submit=True):
        cols = st.columns([3, 1])
        email = cols[0].text_input("Email", key="people_invite_email")
        role = cols[1].selectbox("Role", users.ROLES, format_func=lambda r: ROLE_WORDS[r], key="people_invite_role")
        sent = st.form_submit_button("Send invitation")
    if not sent:
        return
    now = datetime.now(UTC)
    try:
        _, token = db.write(users.invite, me.user, email, role, now)
    except users.Refused as exc:
        st.error(plain(str(exc)))
        return
    address = email.strip()
    msg = people_mail.invitation(
        db.settings.smtp_from,
        address,
        me.user.account_name,
        me.user.email,
        users.link_url(db.settings.console_url, token),
        users.INVITE_LIFETIME,
    )
    failed = _send(db, msg)
    st.session_state["people_flash"] = [
        ("error", f"{address} was added, but the e-mail could not be sent ({failed}). Try Send password link.")
        if failed
        else ("ok", f"Invitation sent to {address}: the link works for 3 days.")
    ]
    st.rerun()


def change_user(db: Database, me: SignedIn, people: list[dict[str, Any]]) -> None:
    st.subheader("Change a user")
    by_id = {str(p["user_id"]): p for p in people}
    choice = st.selectbox(
        "User",
        list(by_id),
        format_func=lambda i: by_id[i]["email"],
        index=None,
        key="people_choice",
        placeholder="Choose a user",
    )
    if choice is None:
        return
    person = by_id[choice]
    user_id = UUID(choice)
    cols = st.columns([3, 1, 1, 1.4], vertical_alignment="bottom")
    role = cols[0].selectbox(
        "Role of this user",
        users.ROLES,
        index=users.ROLES.index(person["role"]),
        format_func=lambda r: ROLE_WORDS[r],
        # A new key after each change: the box then shows the stored role (a refused change is not left on
        # screen; clearing the old key's state does not redraw the box).
        key=f"people_role_{choice}_{st.session_state.get('people_rev', 0)}",
    )
    flash: list[tuple[str, str]] = []
    if cols[1].button("Save role", key="people_save_role", disabled=role == person["role"]):
        flash = _apply(db, users.set_role, me, user_id, role, f"{person['email']} is now {ROLE_WORDS[role].lower()}.")
    disabled = person["state"] == "disabled"
    if cols[2].button("Enable" if disabled else "Disable", key="people_disable"):
        word = "enabled" if disabled else "disabled: their sessions ended"
        flash = _apply(db, users.set_disabled, me, user_id, not disabled, f"{person['email']} is {word}.")
    if cols[3].button("Send password link", key="people_link", disabled=disabled):
        flash = _link(db, me, user_id)
    if flash:
        st.session_state["people_flash"] = flash
        st.session_state["people_rev"] = st.session_state.get("people_rev", 0) + 1
        st.rerun()


def _apply(db: Database, change: Any, me: SignedIn, user_id: UUID, value: Any, done: str) -> list[tuple[str, str]]:
    try:
        db.write(change, me.user, user_id, value)
    except users.Refused as exc:
        return [("error", str(exc))]
    return [("ok", done)]


def _link(db: Database, me: SignedIn, user_id: UUID) -> list[tuple[str, str]]:
    try:
        email, purpose, token = db.write(users.password_link, me.user, user_id, datetime.now(UTC))
    except users.Refused as exc:
        return [("error", str(exc))]
    url = users.link_url(db.settings.console_url, token)
    account, sender = me.user.account_name, db.settings.smtp_from
    if purpose == "invite":
        msg = people_mail.invitation(sender, email, account, me.user.email, url, users.INVITE_LIFETIME)
    else:
        msg = people_mail.reset(sender, email, account, me.user.email, url, users.RESET_LIFETIME)
    failed = _send(db, msg)
    if failed:
        return [("error", f"The e-mail to {email} could not be sent ({failed}).")]
    return [("ok", f"A link to set a password was sent to {email}.")]
