"""Upload leads: the fixed file back in (IngestService.ReuploadLeads). Preview first -- a dry run:
each row's changes old → new, the refused rows and why, the changes that look like spreadsheet
damage (applied only when the manager says so) -- then Apply, with a progress bar fed by the
stream, the result, and the rows still to fix as a file in the same format. The run belongs to the
console's worker (file_jobs), so it finishes when the page is closed; the history shows every
upload of the account (or of the source chosen), with who did it, and lists each one's leads."""

from __future__ import annotations

from uuid import UUID

import pandas as pd
import streamlit as st

from reports_app import file_jobs, imports_queries, labels, masking, queries
from reports_app import upload_files as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views import run_widgets
from reports_app.views.common import from_url, local

KEY = "up"
# Changed cells the preview table shows (a longer list is a download).
SHOWN = 2000


def render(db: Database, me: SignedIn) -> None:
    srcs = db.read(queries.sources, me.account_id)
    names = {str(s["source_id"]): s["name"] for s in srcs}
    from_url(f"{KEY}_source", "source", lambda s: s or "", "", names)
    source = st.selectbox(
        "Source",
        ["", *names],
        format_func=lambda s: names.get(s, "All sources"),
        key=f"{KEY}_source",
        help="The upload takes the leads of any source (rows are matched by LeadID); the history shows this source's.",
    )
    if source:
        st.query_params["source"] = source
    elif "source" in st.query_params:
        del st.query_params["source"]
    source_id = UUID(source) if source else None

    running = False
    if not me.is_admin:
        st.info("Uploading a file changes leads: an admin of your account can do it. You can follow the uploads below.")
    else:
        job = run_widgets.url_job(db, me, "run")
        if job is not None and job.kind == file_jobs.REUPLOAD and not job.dry_run:
            running = not job.finished
            applied(db, me, job)
        else:
            upload_and_preview(db, me)

    st.subheader("Upload history")
    rows = run_widgets.history(
        db,
        me,
        file_jobs.REUPLOAD,
        source_id,
        empty="No upload yet"
        + (f" for {names[source]}" if source else "")
        + ". Download the rejected leads on the Rejections page, fix them, and upload the file here.",
        live=running,
    )
    if rows:
        leads_of_upload(db, me, rows)


def upload_and_preview(db: Database, me: SignedIn) -> None:
    st.caption(
        "Upload the rejected leads you downloaded (Rejections → Download) once you fixed them: CSV or XLSX, "
        "rows matched by LeadID. Nothing changes until you apply the preview."
    )
    generation = st.session_state.get(f"{KEY}_generation", 0)
    uploaded = st.file_uploader("Fixed file", type=["csv", "xlsx"], key=f"{KEY}_file_{generation}")
    if uploaded is None:
        st.session_state.pop(f"{KEY}_preview", None)
        return
    data = uploaded.getvalue()
    fingerprint = f"{uploaded.name}:{len(data)}:{hash(data)}"
    if st.session_state.get(f"{KEY}_for") != fingerprint:  # another file: its own preview
        st.session_state[f"{KEY}_for"] = fingerprint
        st.session_state.pop(f"{KEY}_preview", None)
    jobs = run_widgets.worker(db)
    preview_id = st.session_state.get(f"{KEY}_preview")
    preview = jobs.get(preview_id, me.account_id) if preview_id else None
    if preview is None:
        if st.button("Preview changes", type="primary", key=f"{KEY}_preview_button"):
            spec = _spec(uploaded.name, data, dry_run=True)
            preview = jobs.start(file_jobs.REUPLOAD, me.account_id, me.user.user_id, uploaded.name, data, spec)
            st.session_state[f"{KEY}_preview"] = preview.job_id
        else:
            return
    if not preview.finished:
        run_widgets.progress(preview, "Checking the file")
        return
    if preview.error:
        run_widgets.error(preview)
        return
    show_preview(me, preview)
    held = preview.progress.rows_held
    accept = False
    if held:
        accept = st.checkbox(
            f"Apply the {held:,} flagged row{'s' if held != 1 else ''} anyway (the values in the file are right)",
            key=f"{KEY}_accept_damage",
        )
    to_apply = preview.progress.rows_updated + (held if accept else 0)
    if not to_apply:
        st.info("Nothing to apply: no row changes a lead that can still be fixed.")
        return
    # Started in the click's callback, so the rerun goes straight to the run (the preview is not drawn again).
    st.button(
        f"Apply {to_apply:,} row{'s' if to_apply != 1 else ''}",
        type="primary",
        key=f"{KEY}_apply",
        on_click=_apply,
        args=(db, me, uploaded.name, data, accept, generation),
    )


def _apply(db: Database, me: SignedIn, name: str, data: bytes, accept: bool, generation: int) -> None:
    spec = _spec(name, data, dry_run=False, accept_damage=accept)
    job = run_widgets.worker(db).start(file_jobs.REUPLOAD, me.account_id, me.user.user_id, name, data, spec)
    st.session_state[f"{KEY}_data_{job.job_id}"] = data  # for the rows still to fix
    st.session_state[f"{KEY}_generation"] = generation + 1
    st.session_state.pop(f"{KEY}_preview", None)
    st.query_params["run"] = job.job_id


def _spec(name: str, data: bytes, *, dry_run: bool, accept_damage: bool = False) -> file_jobs.ingest_pb2.ImportSpec:
    return file_jobs.ingest_pb2.ImportSpec(
        file_name=name, format=file_jobs.file_format(name, data), dry_run=dry_run, accept_damage=accept_damage
    )


def show_preview(me: SignedIn, job: file_jobs.Job) -> None:
    p = job.progress
    changing = sum(1 for r in job.changed if not r.held)
    run_widgets.metrics(
        [
            ("Rows in the file", p.rows_read),
            ("Will change", changing),
            ("Unchanged (checked again)", p.rows_updated - changing),
            ("Flagged as spreadsheet damage", p.rows_held),
            ("Refused", p.rows_errored),
            ("Already accepted (left alone)", p.rows_skipped),
        ]
    )
    changes = [
        {
            "Row": r.row,
            "Column": c.column,
            "Now": _shown(me, c.column, c.old_value),
            "In the file": _shown(me, c.column, c.new_value),
            "LeadID": r.lead_id,
        }
        for r in job.changed
        if not r.held
        for c in r.changes
    ]
    st.subheader("Changes")
    if changes:
        if len(changes) > SHOWN:
            st.caption(f"The first {SHOWN:,} of {len(changes):,} changed cells; the download has them all.")
        st.dataframe(pd.DataFrame(changes[:SHOWN]), hide_index=True, key=f"{KEY}_changes")
        if len(changes) > SHOWN:
            header = list(changes[0])
            st.download_button(
                f"Download all {len(changes):,} changes (CSV)",
                data=files.rows_file(header, [list(c.values()) for c in changes], xlsx=False),
                file_name="changes.csv",
                mime="text/csv",
                key=f"{KEY}_changes_download",
                on_click="ignore",
            )
    else:
        st.caption("No row changes a lead.")
    damaged = [
        {
            "Row": r.row,
            "Column": c.column,
            "Stored value": _shown(me, c.column, c.old_value),
            "File value": _shown(me, c.column, c.new_value),
            "What it looks like": c.damage_reason,
        }
        for r in job.changed
        if r.held
        for c in r.changes
        if c.damage
    ]
    if damaged:
        st.subheader("Flagged as spreadsheet damage (not applied unless you say so)")
        st.dataframe(pd.DataFrame(damaged), hide_index=True, key=f"{KEY}_damage")
    refused = [
        {"Row": f.row, "Why": f.reason, "LeadID": f.lead_id}
        for f in job.failed
        if not f.disposition_code and not f.reason.startswith("held:")
    ]
    if refused:
        st.subheader("Refused rows (left as they are)")
        st.dataframe(pd.DataFrame(refused), hide_index=True, key=f"{KEY}_refused")


def _shown(me: SignedIn, column: str, value: str) -> str:
    return masking.value(column, value) if me.masked else value


def applied(db: Database, me: SignedIn, job: file_jobs.Job) -> None:
    st.text(f"Upload of {job.file_name}")
    if not job.finished:
        run_widgets.progress(job, "Applying")
        return
    if job.error:
        run_widgets.error(job)
    else:
        p = job.progress
        run_widgets.metrics(
            [
                ("Accepted now", p.rows_accepted),
                ("Still rejected", p.rows_rejected),
                ("Refused", p.rows_errored),
                ("Already accepted (skipped)", p.rows_skipped),
                ("Held (spreadsheet damage)", p.rows_held),
                ("Waiting to be checked", p.rows_waiting),
            ]
        )
        if p.rows_waiting:
            st.info("Some leads could not be checked yet (the checking service was busy): they are checked shortly.")
        failed = [
            {
                "Row": f.row,
                "Result": labels.disposition(f.disposition_code) if f.disposition_code else _refusal_word(f.reason),
                "Reason": masking.reason(f.reason) if me.masked else f.reason,
                "LeadID": f.lead_id,
            }
            for f in job.failed
        ]
        if failed:
            st.subheader("Rows still to fix")
            st.dataframe(pd.DataFrame(failed), hide_index=True, key=f"{KEY}_failed")
            data = st.session_state.get(f"{KEY}_data_{job.job_id}")
            if data is not None and not me.masked:
                reasons = {f.row: (f.disposition_code, f.reason) for f in job.failed}
                content, name = files.still_to_fix(data, reasons, job.file_name)
                st.download_button(
                    f"Download the {len(reasons):,} row{'s' if len(reasons) != 1 else ''} to fix ({name})",
                    data=content,
                    file_name=name,
                    mime="text/csv" if name.endswith(".csv") else files.XLSX_MIME,
                    key=f"{KEY}_to_fix",
                    on_click="ignore",
                )
        else:
            st.success("Every row of the file was applied.")
    if st.button("Upload another file", key=f"{KEY}_another"):
        del st.query_params["run"]
        st.rerun()


def _refusal_word(reason: str) -> str:
    if reason.startswith("held:"):
        return "Held (spreadsheet damage)"
    if "is ACCEPTED" in reason:
        return "Already accepted"
    return "Refused"


def leads_of_upload(db: Database, me: SignedIn, rows: list[dict]) -> None:
    choices = {str(r["import_id"]): r for r in rows}
    picked = st.selectbox(
        "List the leads an upload changed",
        ["", *choices],
        format_func=lambda i: (
            "Choose an upload"
            if not i
            else f"{local(choices[i]['started_at'], me.zone)} · {choices[i]['file_name'] or 'no file name'}"
        ),
        key=f"{KEY}_history_pick",
    )
    if not picked:
        return
    leads = db.read(imports_queries.reupload_leads, me.account_id, UUID(picked))
    if not leads:
        st.info("This upload changed no lead.")
        return

    def field(lead: dict, name: str) -> str:
        value = (lead["fields"] or {}).get(name, "")
        return str(masking.value(name, value) if me.masked else value)

    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Row": lead["file_row"],
                    "Email": field(lead, "email"),
                    "Status": labels.status(lead["status"]),
                    "Disposition": labels.disposition(lead["disposition_code"]),
                    "Reason": masking.reason(lead["custom_reason"]) if me.masked else lead["custom_reason"],
                    "Sent to the CRM": labels.post_out(lead["post_out_status"]),
                    "Open": f"/leads?lead={lead['lead_id']}",
                }
                for lead in leads
            ]
        ),
        hide_index=True,
        column_config={"Open": st.column_config.LinkColumn("Lead", display_text="Open")},
        key=f"{KEY}_upload_leads",
    )
