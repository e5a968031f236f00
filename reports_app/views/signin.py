"""Sign-in: email and password of a reports user (argon2-verified); the user's account scopes every page."""

from __future__ import annotations

import streamlit as st

from reports_app import users
from reports_app.database import Database


def render(db: Database) -> None:
    st.title("LeadRelay reports")
    with st.form("signin"):
        email = st.text_input("Email", key="signin_email")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        user = db.write(users.authenticate, email, password)
        if user is None:
            st.error("Wrong email or password.")
            return
        st.session_state["user"] = user
        st.rerun()
