"""Post-outs: delivery status by destination (admins resume one the circuit breaker paused), recent
attempts with the CRM's answers, and the deliveries that failed or that the CRM rejected, which
admins can send again (PostOutService.RetryPostOuts)."""

from __future__ import annotations

import grpc
import pandas as pd
import streamlit as st

from reports_app import actions, labels, masking, queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, plain

LEAD_LINK = st.column_config.LinkColumn("Lead", display_text="Open", help="Opens the lead", width="small")


def _lead_link(lead_id: object) -> str:
    return f"/leads?lead={lead_id}"


def _person(row: dict[str, object], user: SignedIn) -> str:
    """Who the lead is: its email (masked for viewers who may not see personal data)."""
    email = str(row["email"] or "")
    return masking.email(email) if user.masked and email else email


def render(db: Database, user: SignedIn) -> None:
    if not db.read(queries.table_exists, "post_outs"):
        st.info("Post-out is not available on this installation yet.")
        return
    if "po_notice" in st.session_state:  # set before the rerun that shows the destination resumed
        st.success(plain(st.session_state.pop("po_notice")))
    destinations = db.read(queries.destination_status, user.account_id)
    st.subheader("By destination")
    if not destinations:
        st.info("No destination yet: leads are accepted but sent nowhere. Add a destination to a source.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Destination": d["name"],
                        "Source": d["source"],
                        "State": "Paused after failures"
                        if d["paused"]
                        else ("Switched off" if not d["enabled"] else "Sending"),
                        "Waiting": d["pending"],
                        "Retrying": d["retrying"],
                        "Sent": d["posted"],
                        "Rejected by the CRM": d["rejected_by_destination"],
                        "Failed": d["failed"],
                    }
                    for d in destinations
                ]
            ),
            hide_index=True,
            column_config={"Source": st.column_config.TextColumn(width="medium")},
            key="po_destinations",
        )
    paused = [d for d in destinations if d["paused"]]
    if paused and user.is_admin:
        resume(db, user, paused)

    st.subheader("Recent attempts")
    attempts = db.read(queries.recent_attempts, user.account_id)
    if not attempts:
        st.info("No delivery attempts yet.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        f"At ({user.zone.key})": local(a["at"], user.zone),
                        "Destination": a["destination"],
                        "Person": _person(a, user),
                        "Lead": _lead_link(a["lead_id"]),
                        "Attempt": a["attempt"],
                        "HTTP status": a["status_code"] or None,
                        "Outcome": labels.word(labels.OUTCOME, a["outcome"]),
                        "Reason": a["reason"],
                        "CRM's answer": a["response_excerpt"],
                    }
                    for a in attempts
                ]
            ),
            hide_index=True,
            column_config={"Lead": LEAD_LINK},
            placeholder="—",
            key="po_attempts",
        )

    st.subheader("Failed or rejected by the CRM")
    failed = db.read(queries.failed_post_outs, user.account_id)
    names = {s["source_id"]: s["name"] for s in db.read(queries.sources, user.account_id)}
    if not failed:
        st.success("No delivery failed or was rejected by the CRM.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Person": _person(r, user),
                    "Lead": _lead_link(r["lead_id"]),
                    "Source": names.get(r["source_id"], ""),
                    "Destination": r["destination"],
                    "Status": labels.post_out(r["status"]),
                    "Attempts": r["attempts"],
                    "HTTP status": r["last_status_code"] or None,
                    "Last error": r["last_error"],
                    f"Updated ({user.zone.key})": local(r["updated_at"], user.zone),
                }
                for r in failed
            ]
        ),
        hide_index=True,
        column_config={"Lead": LEAD_LINK, "Source": st.column_config.TextColumn(width="medium")},
        placeholder="—",
        key="po_failed",
    )
    if user.is_admin:
        retry(db, user, failed)


def resume(db: Database, user: SignedIn, paused: list[dict]) -> None:
    cols = st.columns([3, 2])
    by_id = {d["destination_id"]: d for d in paused}
    pick = cols[0].selectbox(
        "Paused destination", list(by_id), format_func=lambda i: by_id[i]["name"], key="po_resume_choice"
    )
    if cols[1].button("Resume sending", key="po_resume"):
        try:
            db.run(
                lambda: actions.resume_destination(db.settings, user.account_id, pick, actor_user_id=user.user.user_id)
            )
        except grpc.RpcError as exc:
            st.error(plain(f"The post-out service refused: {exc.details()}"))
            return
        st.session_state["po_notice"] = f"“{by_id[pick]['name']}” resumed: its waiting deliveries go out now."
        st.rerun()


def retry(db: Database, user: SignedIn, failed: list[dict]) -> None:
    ids = sorted({str(r["lead_id"]) for r in failed})
    chosen = st.multiselect("Leads to send again", ids, placeholder="Choose leads by LeadID", key="po_retry_leads")
    cols = st.columns(2)
    try:
        if cols[0].button("Send the selected again", disabled=not chosen, key="po_retry_selected"):
            n = db.run(
                lambda: actions.retry_post_outs(
                    db.settings, user.account_id, lead_ids=chosen, actor_user_id=user.user.user_id
                )
            )
            st.session_state["po_retry_notice"] = f"{n} deliveries queued to be sent again."
        if cols[1].button(f"Send all {len(ids)} again", key="po_retry_all"):
            # By lead: the retry then covers deliveries the CRM rejected as well as failed ones.
            n = db.run(
                lambda: actions.retry_post_outs(
                    db.settings, user.account_id, lead_ids=ids, actor_user_id=user.user.user_id
                )
            )
            st.session_state["po_retry_notice"] = f"{n} deliveries queued to be sent again."
    except grpc.RpcError as exc:
        st.error(plain(f"The post-out service refused: {exc.details()}"))
    if "po_retry_notice" in st.session_state:
        st.success(plain(st.session_state["po_retry_notice"]))
