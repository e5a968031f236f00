"""What the Upload leads and Import leads pages share: the worker's job of this page (kept in the URL,
so a reload shows it again), its progress bar fed by the service's stream, and the history of runs
(who, when, file, source, counts, status while running)."""

from __future__ import annotations

from uuid import UUID

import pandas as pd
import streamlit as st

from reports_app import file_jobs, imports_queries, labels, users
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, plain


def worker(db: Database) -> file_jobs.Jobs:
    return file_jobs.jobs(db.settings)


def url_job(db: Database, me: SignedIn, param: str) -> file_jobs.Job | None:
    """The run the URL names (`?run=`), if this console still holds it for the account."""
    job_id = st.query_params.get(param)
    return worker(db).get(job_id, me.account_id) if job_id else None


def progress(job: file_jobs.Job, what: str) -> None:
    """A progress bar that follows the run every half second and reruns the page once it ends."""

    @st.fragment(run_every=0.5)
    def follow() -> None:
        if job.finished:
            st.rerun(scope="app")
        p = job.progress
        total = job.rows_total
        done = f"{p.rows_read:,} of {total:,} rows" if total else "reading the file"
        st.progress(job.fraction, text=f"{what}: {done}")
        if not job.dry_run:
            st.caption("This goes on to the end if you close the page; the history below shows it.")

    follow()


def metrics(values: list[tuple[str, int]], per_row: int = 3) -> None:
    """Counts as metrics, `per_row` to a row so no label is cut."""
    for start in range(0, len(values), per_row):
        cols = st.columns(per_row)
        for col, (label, value) in zip(cols, values[start : start + per_row], strict=False):
            col.metric(label, f"{value:,}")


def error(job: file_jobs.Job) -> None:
    st.error(plain(job.error))


def history(
    db: Database, me: SignedIn, kind: str, source_id: UUID | None, *, empty: str, live: bool = False
) -> list[dict]:
    """The runs of `kind` (for one source or all), newest first; while one runs (or `live`: this
    page's own run is starting), the table follows them every two seconds. Returns the rows shown."""
    rows = db.read(imports_queries.runs, me.account_id, kind, source_id)
    emails = db.write(users.emails_by_id, me.account_id)

    def draw(rows: list[dict]) -> None:
        if rows:
            st.dataframe(
                _frame(rows, kind, me, emails),
                hide_index=True,
                key=f"{kind}_history",
                column_config={
                    "By": st.column_config.TextColumn(width="medium"),
                    **{n: st.column_config.NumberColumn(width="small") for n in NUMBERS},
                },
            )
        else:
            st.info(plain(empty))

    if live or any(r["status"] == "running" for r in rows):

        @st.fragment(run_every=2)
        def follow() -> None:
            now = db.read(imports_queries.runs, me.account_id, kind, source_id)
            if not live and not any(r["status"] == "running" for r in now):
                st.rerun(scope="app")  # the last run ended: the whole page shows its end
            draw(now)

        follow()
    else:
        draw(rows)
    return rows


NUMBERS = ("Rows", "Accepted", "Rejected", "Refused", "Skipped", "Waiting")


def _frame(rows: list[dict], kind: str, me: SignedIn, emails: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                f"Started ({me.zone.key})": local(r["started_at"], me.zone),
                "By": labels.actor(r["actor"], emails),
                "File": r["file_name"],
                "Source": r["source_name"] or ("Several sources" if kind == file_jobs.REUPLOAD else ""),
                "Status": labels.run_status(r["status"]),
                "Rows": r["rows_read"],
                "Accepted": r["rows_accepted"],
                "Rejected": r["rows_rejected"],
                "Refused": r["rows_errored"],
                # Leads already accepted: a re-upload leaves them alone.
                **({"Skipped": r["rows_skipped"]} if kind == file_jobs.REUPLOAD else {}),
                **({"Waiting": r["rows_waiting"]} if r["rows_waiting"] else {}),
            }
            for r in rows
        ]
    )
