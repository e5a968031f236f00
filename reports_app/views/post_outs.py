"""Post-outs: delivery status by destination, recent attempts with the CRM's reasons, and (admins)
retry of failed deliveries through PostOutService.RetryPostOuts."""

from __future__ import annotations

import grpc
import pandas as pd
import streamlit as st

from reports_app import actions, queries
from reports_app.database import Database
from reports_app.users import User


def render(db: Database, user: User) -> None:
    if not db.read(queries.table_exists, "post_outs"):
        st.info("Post-out is not available on this installation yet.")
        return
    st.subheader("By destination")
    st.dataframe(
        pd.DataFrame(db.read(queries.destination_status, user.account_id)), hide_index=True, key="po_destinations"
    )
    st.subheader("Recent attempts")
    st.dataframe(pd.DataFrame(db.read(queries.recent_attempts, user.account_id)), hide_index=True, key="po_attempts")
    st.subheader("Failed deliveries")
    failed = db.read(queries.failed_post_outs, user.account_id)
    st.dataframe(pd.DataFrame(failed), hide_index=True, key="po_failed")
    if not (user.is_admin and failed):
        return
    chosen = st.multiselect("Leads to retry", sorted({str(r["lead_id"]) for r in failed}), key="po_retry_leads")
    cols = st.columns(2)
    try:
        if cols[0].button("Retry selected", disabled=not chosen, key="po_retry_selected"):
            n = db.run(lambda: actions.retry_post_outs(db.settings, user.account_id, lead_ids=chosen))
            st.success(f"{n} deliveries requeued.")
        if cols[1].button("Retry every failed delivery", key="po_retry_all"):
            n = 0
            for source_id in sorted({r["source_id"] for r in failed}, key=str):
                n += db.run(lambda s=source_id: actions.retry_post_outs(db.settings, user.account_id, source_id=s))  # type: ignore[misc]  # the default binds the loop variable
            st.success(f"{n} deliveries requeued.")
    except grpc.RpcError as exc:
        st.error(f"The post-out service refused: {exc.details()}")
