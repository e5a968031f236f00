"""Import leads, a wizard over IngestService.ImportLeads: choose the source (or let the file name it
in a source_id / flow_id column), upload a CSV or XLSX, say whether it has a header row; review the
mapping -- every file column with sample values and what the service matched it to, a dropdown to
change it, ignore it or send it to the catch-all, the unknown columns all at once; validate (a dry
run, with a progress bar) for the complete report of failing rows; then import, with a summary.
The import runs on the console's worker (file_jobs), so it finishes when the page is closed; the
import history shows it."""

from __future__ import annotations

from uuid import UUID

import pandas as pd
import streamlit as st

from reports_app import file_jobs, imports_queries, labels, masking, queries
from reports_app import upload_files as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views import run_widgets
from reports_app.views.common import from_url, plain

KEY = "imp"
FROM_FILE = "file"  # the "source" choice: each row names its source
CATCH_ALL = "catch_all"
IGNORE = "ignore"
SPLIT = "split"  # the service splits a full name into first and last name
SOURCE_COLUMN = "source"  # multi-source: the column naming each row's source
SAMPLE_ROWS = 200
ingest_pb2 = file_jobs.ingest_pb2


def render(db: Database, me: SignedIn) -> None:
    job = run_widgets.url_job(db, me, "run")
    running = job is not None and not job.finished
    if job is not None and job.kind == file_jobs.IMPORT and not job.dry_run:
        summary(me, job)
    elif not me.is_admin:
        st.info("Importing leads adds leads to a source: an admin of your account can do it. The history is below.")
    else:
        wizard(db, me)
    st.subheader("Import history")
    run_widgets.history(
        db,
        me,
        file_jobs.IMPORT,
        None,
        empty="No import yet. Choose a source, upload a CSV or XLSX file and review its columns to start one.",
        live=running,
    )


def _reset(keep_file: bool = False) -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{KEY}_")]:
        if key.startswith((f"{KEY}_map_", f"{KEY}_saved_")) or key in (
            f"{KEY}_probe",
            f"{KEY}_validate",
            f"{KEY}_step",
        ):
            del st.session_state[key]
    if not keep_file:
        st.session_state[f"{KEY}_generation"] = st.session_state.get(f"{KEY}_generation", 0) + 1


def wizard(db: Database, me: SignedIn) -> None:
    srcs = db.read(queries.sources, me.account_id)
    names = {str(s["source_id"]): s["name"] for s in srcs}
    if not names:
        st.info("No source yet: create a file source (Settings) first, then import its leads here.")
        return
    step = st.session_state.get(f"{KEY}_step", "file")
    from_url(f"{KEY}_source", "source", lambda s: s or "", "", {**names, FROM_FILE: ""})
    cols = st.columns([2, 3, 1.3])
    source = cols[0].selectbox(
        "Source",
        ["", *names, FROM_FILE],
        format_func=lambda s: (
            "Choose a source" if not s else names.get(s, "The file names the source (source_id column)")
        ),
        key=f"{KEY}_source",
        disabled=step != "file",
    )
    generation = st.session_state.get(f"{KEY}_generation", 0)
    uploaded = cols[1].file_uploader(
        "File (CSV or XLSX)", type=["csv", "xlsx"], key=f"{KEY}_file_{generation}", disabled=step != "file"
    )
    has_header = cols[2].toggle("First row is a header", value=True, key=f"{KEY}_header", disabled=step != "file")
    if source and source != FROM_FILE:
        st.query_params["source"] = source
    if not source or uploaded is None:
        st.caption("Choose the source the leads belong to and upload the file: its columns are matched next.")
        return
    data = uploaded.getvalue()
    if step == "file":
        if st.button("Review the mapping", type="primary", key=f"{KEY}_review"):
            spec = _spec(uploaded.name, data, source, has_header, dry_run=True)
            started = run_widgets.worker(db).start(
                file_jobs.IMPORT, me.account_id, me.user.user_id, uploaded.name, data, spec, first_only=True
            )
            st.session_state[f"{KEY}_probe"] = started.job_id
            st.session_state[f"{KEY}_step"] = "review"
            st.rerun()
        return
    probe = run_widgets.worker(db).get(st.session_state.get(f"{KEY}_probe", ""), me.account_id)
    if probe is None:
        _reset(keep_file=True)
        st.rerun()
    assert probe is not None
    if probe.future is not None:
        probe.future.result(timeout=120)  # the file's first message: read and matched, nothing judged
    if probe.error:
        st.error(plain(probe.error))
        if st.button("Back", key=f"{KEY}_back_error"):
            _reset(keep_file=True)
            st.rerun()
        return
    if step == "review":
        table = files.read(data, has_header=has_header, max_rows=SAMPLE_ROWS)
        overrides, unmatched = mapping_review(db, me, table, probe, source, has_header)
        back, go = st.columns([1, 6])
        if back.button("Back", key=f"{KEY}_back"):
            _reset(keep_file=True)
            st.rerun()
        if go.button("Validate", type="primary", key=f"{KEY}_validate_button"):
            spec = _spec(
                uploaded.name, data, source, has_header, dry_run=True, overrides=overrides, unmatched=unmatched
            )
            job = run_widgets.worker(db).start(
                file_jobs.IMPORT, me.account_id, me.user.user_id, uploaded.name, data, spec
            )
            st.session_state[f"{KEY}_validate"] = job.job_id
            st.session_state[f"{KEY}_step"] = "validate"
            for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{KEY}_map_")]:
                st.session_state[f"{KEY}_saved_{key.rsplit('_', 1)[1]}"] = st.session_state[key]
            st.rerun()
        return
    check = run_widgets.worker(db).get(st.session_state.get(f"{KEY}_validate", ""), me.account_id)
    if check is None:
        st.session_state[f"{KEY}_step"] = "review"
        st.rerun()
    assert check is not None
    if not check.finished:
        run_widgets.progress(check, "Validating")
        return
    if check.error:
        st.error(plain(check.error))
    else:
        report(me, check, "Validation", would=True)
    back, go = st.columns([2, 5])
    if back.button("Back to the mapping", key=f"{KEY}_back_mapping"):
        st.session_state[f"{KEY}_step"] = "review"
        st.session_state.pop(f"{KEY}_validate", None)
        st.rerun()
    rows = check.progress.rows_read
    if not check.error and go.button(f"Import {rows:,} rows", type="primary", key=f"{KEY}_import"):
        spec = ingest_pb2.ImportSpec()
        spec.CopyFrom(check.spec)  # exactly what was validated
        spec.dry_run = False
        job = run_widgets.worker(db).start(file_jobs.IMPORT, me.account_id, me.user.user_id, uploaded.name, data, spec)
        _reset()
        st.query_params["run"] = job.job_id
        st.rerun()


def _spec(
    name: str,
    data: bytes,
    source: str,
    has_header: bool,
    *,
    dry_run: bool,
    overrides: list[ingest_pb2.ColumnMapping] | None = None,
    unmatched: ingest_pb2.UnmatchedColumns.ValueType = ingest_pb2.UNMATCHED_COLUMNS_CATCH_ALL,
) -> ingest_pb2.ImportSpec:
    return ingest_pb2.ImportSpec(
        source_id="" if source == FROM_FILE else source,
        multi_source=source == FROM_FILE,
        has_header=has_header,
        format=file_jobs.file_format(name, data),
        dry_run=dry_run,
        file_name=name,
        columns=overrides or [],
        unmatched_columns=unmatched,
    )


def _source_ids(table: files.Table, source: str) -> list[UUID]:
    if source != FROM_FILE:
        return [UUID(source)]
    index = next((i for i, h in enumerate(table.headers) if h.strip().lower() in ("source_id", "flow_id")), None)
    found: list[UUID] = []
    if index is None:
        return found
    for _, cells in table.rows:
        try:
            sid = UUID(files.text(cells[index]).strip())
        except (ValueError, IndexError):
            continue
        if sid not in found:
            found.append(sid)
    return found


def mapping_review(
    db: Database, me: SignedIn, table: files.Table, probe: file_jobs.Job, source: str, has_header: bool
) -> tuple[list[ingest_pb2.ColumnMapping], ingest_pb2.UnmatchedColumns.ValueType]:
    """The review step: every file column, its samples and a dropdown. Returns the overrides to send
    (only the columns whose choice differs from the service's own match, and every column of a file
    without a header) and what unknown columns do."""
    targets = db.read(imports_queries.fillable_columns, me.account_id, _source_ids(table, source))
    options: list[str] = []
    for t in targets.values():
        options += [c for c in t.columns if f"col:{c}" not in options]
    for use in probe.columns_matched:  # a source without a mapping: the file's own column names
        if use.use not in options:
            options.append(use.use)
    options = [f"col:{c}" for c in options]
    unmapped_source = any(not t.mapped for t in targets.values())
    has_catch_all = any(t.catch_all for t in targets.values()) or unmapped_source
    letters = {files.letter(i): i for i in range(len(table.headers))}
    defaults: dict[int, str] = {}
    for use in probe.columns_matched:
        if use.column in letters:
            defaults[letters[use.column]] = f"col:{use.use}"
    for use in probe.columns_outside:
        if use.column not in letters:
            continue
        value = use.use if use.use in (CATCH_ALL, IGNORE) else f"use:{use.use}"
        if use.use.startswith("split into"):
            value = SPLIT
        defaults[letters[use.column]] = value
    if not has_header:
        fillable = [o for o in options]
        defaults = {i: fillable[i] if i < len(fillable) else IGNORE for i in range(len(table.headers))}
    source_index = next(
        (
            i
            for i, h in enumerate(table.headers)
            if source == FROM_FILE and h.strip().lower() in ("source_id", "flow_id")
        ),
        None,
    )
    unknown = [
        i for i, v in defaults.items() if v in (CATCH_ALL, IGNORE) and i != source_index and table.headers[i].strip()
    ]
    st.subheader("Review the mapping")
    if unmapped_source:
        st.caption("The source has no mapping yet: each file column becomes a column of its own name.")
    unmatched: ingest_pb2.UnmatchedColumns.ValueType = ingest_pb2.UNMATCHED_COLUMNS_CATCH_ALL
    if unknown and has_header:
        listed = ", ".join(f"{files.letter(i)} ({table.headers[i]})" for i in unknown)
        st.warning(
            plain(f"{len(unknown)} column{'s' if len(unknown) != 1 else ''} match no column of the source: {listed}.")
        )
        choice = st.radio(
            "Columns that match no source column",
            [CATCH_ALL, IGNORE] if has_catch_all else [IGNORE],
            format_func=lambda u: "Keep them in the catch-all (not_mapped_fields)" if u == CATCH_ALL else "Ignore them",
            horizontal=True,
            key=f"{KEY}_unknown",
        )
        for i in unknown:
            defaults[i] = choice
        if choice == IGNORE:
            unmatched = ingest_pb2.UNMATCHED_COLUMNS_IGNORE
    choices = [*options]
    if has_catch_all and has_header:
        choices.append(CATCH_ALL)
    choices.append(IGNORE)
    if has_header:
        choices += [f"use:{u}" for u in labels.COLUMN_USE if u not in (CATCH_ALL, IGNORE)]

    def word(value: str) -> str:
        if value.startswith("col:"):
            return value[4:]
        if value == SPLIT:
            return "Split into first and last name"
        return labels.COLUMN_USE.get(value.removeprefix("use:"), value)

    head = st.columns([0.8, 2, 3, 3])
    head[0].caption("Column")
    head[1].caption("Header in the file")
    head[2].caption("Sample values")
    head[3].caption("Goes to")
    overrides: list[ingest_pb2.ColumnMapping] = []
    for i, header in enumerate(table.headers):
        row = st.columns([0.8, 2, 3, 3], vertical_alignment="center")
        row[0].text(files.letter(i))
        row[1].text(header if has_header else "(no header)")
        sample = files.samples(table, i)
        shown = [str(masking.value(header, v)) if me.masked else v for v in sample]
        row[2].text(" · ".join(shown) if shown else "(empty)")
        if i == source_index:
            row[3].text("Names the row's source")
            continue
        default = defaults.get(i, IGNORE)
        column_choices = choices if default in choices else [default, *choices]
        key = f"{KEY}_map_{i}"
        if key not in st.session_state or st.session_state[key] not in column_choices:
            saved = st.session_state.get(f"{KEY}_saved_{i}")  # the choice made before validating
            st.session_state[key] = saved if saved in column_choices else default
        picked = row[3].selectbox(
            # The header is file data, shown as text beside it; a label would render it as Markdown.
            f"Column {files.letter(i)} goes to",
            column_choices,
            format_func=word,
            key=key,
            label_visibility="collapsed",
        )
        if picked == default and has_header:
            continue
        if picked == SPLIT:
            continue
        overrides.append(
            ingest_pb2.ColumnMapping(
                position=i + 1,
                column=picked[4:] if picked.startswith(("col:", "use:")) else "",
                catch_all=picked == CATCH_ALL,
            )
        )
    return overrides, unmatched


def report(me: SignedIn, job: file_jobs.Job, what: str, *, would: bool) -> None:
    p = job.progress
    run_widgets.metrics(
        [
            ("Rows", p.rows_read),
            ("Would be accepted" if would else "Accepted", p.rows_accepted),
            ("Would be rejected" if would else "Rejected", p.rows_rejected),
            ("Cannot be imported", p.rows_errored),
        ],
        per_row=4,
    )
    if not would and p.rows_waiting:
        st.info(f"{p.rows_waiting:,} leads are stored and wait to be checked (the checking service was busy).")
    failed = job.failed
    if not failed:
        st.success(f"{what}: every row passes." if would else "Every row was imported and accepted.")
        return
    st.subheader(f"Failing rows ({len(failed):,})")
    rows = [
        {
            "Row": f.row,
            "Disposition": labels.disposition(f.disposition_code) if f.disposition_code else "Cannot be imported",
            "Reason": masking.reason(f.reason) if me.masked else f.reason,
        }
        for f in failed
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{KEY}_{what}_failed")
    stem = job.file_name.rsplit(".", 1)[0] if job.file_name else "import"
    header = ["Row", "Disposition", "DispositionCode", "Reason"]
    body = [[f.row, r["Disposition"], f.disposition_code, r["Reason"]] for f, r in zip(failed, rows, strict=True)]
    fmt = st.radio("Format", ["CSV", "XLSX"], horizontal=True, key=f"{KEY}_{what}_format")
    name = f"{stem}-{what.lower()}-failures.{fmt.lower()}"
    st.download_button(
        f"Download the failing rows ({name})",
        data=files.rows_file(header, body, fmt == "XLSX"),
        file_name=name,
        mime="text/csv" if fmt == "CSV" else files.XLSX_MIME,
        key=f"{KEY}_{what}_download",
        on_click="ignore",
    )


def summary(me: SignedIn, job: file_jobs.Job) -> None:
    st.text(f"Import of {job.file_name}")
    if not job.finished:
        run_widgets.progress(job, "Importing")
        return
    if job.error:
        st.error(plain(job.error))
    else:
        st.subheader("Summary")
        report(me, job, "Import", would=False)
    if st.button("Import another file", key=f"{KEY}_another"):
        del st.query_params["run"]
        st.rerun()
