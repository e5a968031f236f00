"""Source Report: one row per source with its counts, one column per disposition code, posted,
post-failed and the platform's own count."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reports_app import render as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import download, filter_bar


def render(db: Database, user: SignedIn) -> None:
    f = filter_bar(db, user, "src")
    header, rows = db.read(files.table, user.account_id, "SOURCE", f)
    st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, key="source_table")
    cols = st.columns(2)
    with cols[0]:
        download("Download CSV", db.read(files.report_file, user.account_id, "SOURCE", f, "CSV"), "src_csv")
    with cols[1]:
        download("Download XLSX", db.read(files.report_file, user.account_id, "SOURCE", f, "XLSX"), "src_xlsx")
