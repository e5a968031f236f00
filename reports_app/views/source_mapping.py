"""A source's Mapping: the grid of its columns (in order, typed), each taking a form field (the
platform's questions, with sample answers from recent leads), a typed constant or the catch-all;
the default mapping, and per form its own mapping replacing it (or "uses the default"). Fields a
form gained since the mapping was saved are flagged; Preview applies the draft to the form's last
20 leads before anything is saved. Saving goes through SetDefaultMapping / SetFormMapping."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC
from functools import partial

import grpc
import pandas as pd
import streamlit as st

from leadrelay.v1 import ingest_pb2
from reports_app import mapping_grid, masking
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.mapping_grid import CATCH_ALL, CONSTANT, FIELD, GridError, GridRow
from reports_app.source_setup_calls import Caller
from reports_app.views.common import local, plain
from reports_app.views.setup_links import admins_only, refused

OTHER, CONST, CATCH = "\u0000other", "\u0000constant", "\u0000catch_all"
# The default mapping's fields are read from this many forms at most.
FIELD_FORMS = 10
SAMPLE_LEADS = 20


def render(db: Database, me: SignedIn, source: ingest_pb2.Source, calls: Caller) -> None:
    admins_only(me)
    forms = sorted(db.run(lambda: calls.forms(source.source_id)), key=lambda f: (f.name.lower(), f.platform_form_id))
    by_id = {f.form_id: f for f in forms}
    key = f"map_{source.source_id}"
    scopes = {"": "Default mapping (every form without its own)"} | {
        f.form_id: f"{f.name or f.platform_form_id} — {'own mapping' if f.custom_mapping else 'uses the default'}"
        for f in forms
    }
    if st.session_state.get(f"{key}_scope") not in scopes:
        st.session_state[f"{key}_scope"] = ""
    scope = st.selectbox("Mapping of", list(scopes), format_func=scopes.__getitem__, key=f"{key}_scope")
    form = by_id.get(scope)
    flash = st.session_state.pop(f"{key}_flash", None)
    if flash:
        st.success(plain(flash))
    try:
        current = db.run(lambda: calls.mapping(source.source_id, scope))
        fields = _fields(db, calls, source, forms, scope)
    except grpc.RpcError as exc:
        refused("Reading the mapping", exc)
        return
    _fields_table(me, fields, form)
    draft_key = f"{key}_{scope or 'default'}"
    if form is not None and current.is_default and draft_key not in st.session_state:
        _uses_default(me, source, calls, current, form, draft_key, key)
        return
    saved = mapping_grid.from_mapping(current.mappings) if not (form is not None and current.is_default) else []
    if draft_key not in st.session_state:
        st.session_state[draft_key] = saved or mapping_grid.starter([f.name for f in fields])
        st.session_state[f"{draft_key}_gen"] = 0
    if current.HasField("saved_at"):
        st.caption(f"Saved {local(current.saved_at.ToDatetime(tzinfo=UTC), me.zone)} ({me.zone.key}).")
    elif not current.mappings:
        st.caption(
            "No mapping saved yet: every answer becomes a column of its own name. "
            "Below is a first grid from the form's fields; save it to use it."
        )
    title = f"{form.name or form.platform_form_id}: own mapping" if form is not None else "Default mapping"
    draft = _grid(me, fields, draft_key, title)
    if draft != saved and me.is_admin:
        st.caption("Unsaved changes.")
    _actions(db, me, source, calls, form, scope, draft, saved, draft_key, key)


def _fields(
    db: Database, calls: Caller, source: ingest_pb2.Source, forms: Sequence[ingest_pb2.Form], scope: str
) -> list[ingest_pb2.FormField]:
    """The form's fields; for the default mapping, every form's (each field once, first form first)."""
    wanted = [scope] if scope else [f.form_id for f in forms[:FIELD_FORMS]]
    found: dict[str, ingest_pb2.FormField] = {}
    for form_id in wanted:
        reply = db.run(partial(calls.form_fields, source.source_id, form_id))
        for f in reply.fields:
            if f.name not in found:
                found[f.name] = f
            elif f.new_since_mapping and not found[f.name].new_since_mapping:
                found[f.name] = f
    return list(found.values())


def _fields_table(me: SignedIn, fields: Sequence[ingest_pb2.FormField], form: ingest_pb2.Form | None) -> None:
    st.subheader("Form fields")
    if not fields:
        st.caption(
            "No form fields known yet: they are listed when the platform's forms are registered, and from "
            "the answers of arriving leads. A column can take a field by its name meanwhile (Another field)."
        )
        return
    fresh = [f for f in fields if f.new_since_mapping]
    if fresh:
        names = ", ".join(f"{f.name} ({f.label})" if f.label else f.name for f in fresh)
        st.warning(plain(f"New since the mapping was saved: {names}. Each goes to not_mapped_fields until mapped."))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Field": f.name,
                    "New": "new since the save" if f.new_since_mapping else "",
                    "Question": f.label or "(only seen in leads)",
                    "Type": f.type.replace("_", " ").capitalize() if f.type else "",
                    "Sample answers": masking.HIDDEN
                    if me.masked and f.samples
                    else " | ".join(f.samples) or "(no recent answers)",
                }
                for f in fields
            ]
        ),
        hide_index=True,
        height=min(36 * (len(fields) + 1) + 3, 640),
        key=f"fields_{form.form_id if form else 'default'}",
    )


def _uses_default(
    me: SignedIn,
    source: ingest_pb2.Source,
    calls: Caller,
    current: ingest_pb2.Mapping,
    form: ingest_pb2.Form,
    draft_key: str,
    key: str,
) -> None:
    st.subheader(plain(f"{form.name or form.platform_form_id}: uses the default mapping"))
    st.info("This form uses the default mapping.")
    default = mapping_grid.from_mapping(current.mappings)
    if default:
        st.dataframe(_grid_frame(default), hide_index=True, key=f"{draft_key}_default_view")
    if st.button(
        "Give this form its own mapping",
        key=f"{draft_key}_own",
        disabled=not me.is_admin,
        help="Starts from the default; once saved it replaces the default for this form only",
    ):
        st.session_state[draft_key] = default or [GridRow("not_mapped_fields", "", CATCH_ALL)]
        st.session_state[f"{draft_key}_gen"] = 0
        st.rerun()


def _grid_frame(grid: Sequence[GridRow]) -> pd.DataFrame:
    def takes(r: GridRow) -> str:
        if r.takes == CATCH_ALL:
            return "Everything not mapped (not_mapped_fields)"
        if r.takes == CONSTANT:
            return f"Constant ({mapping_grid.CONSTANT_KINDS[r.constant_kind]}): {r.constant_value}"
        return f"Form field {r.field}"

    return pd.DataFrame(
        [
            {
                "#": n,
                "Column": r.column,
                "Type": mapping_grid.COLUMN_TYPES.get(r.column_type, "Text"),
                "Takes": takes(r),
            }
            for n, r in enumerate(grid, start=1)
        ]
    )


def _grid(me: SignedIn, fields: Sequence[ingest_pb2.FormField], draft_key: str, title: str) -> list[GridRow]:
    """The editable grid; returns the draft as the widgets now hold it."""
    st.subheader(plain(title))
    draft: list[GridRow] = st.session_state[draft_key]
    gen = st.session_state[f"{draft_key}_gen"]
    ro = not me.is_admin
    known = {f.name: f for f in fields}
    options = [*known, OTHER, CONST, CATCH]

    def label(option: str) -> str:
        if option == OTHER:
            return "Another field (type its name)"
        if option == CONST:
            return "A constant"
        if option == CATCH:
            return "Everything not mapped (not_mapped_fields)"
        f = known[option]
        return f"{option} · {f.label}" + (" (new)" if f.new_since_mapping else "") if f.label else option

    widths = [1.9, 1.6, 3.0, 1.6, 1.8, 0.9, 0.9, 0.9]
    head = st.columns(widths)
    titles = ["Column", "Type", "Takes", "Constant type", "Value / field name", "Move", "", "Remove"]
    for col, text in zip(head, titles, strict=True):
        col.caption(text)
    rows: list[GridRow] = []
    for i, row in enumerate(draft):
        k = f"{draft_key}_{gen}_{i}"
        n = i + 1
        c = st.columns(widths, vertical_alignment="center")
        column = c[0].text_input(
            f"Row {n} column", row.column, key=f"{k}_col", disabled=ro, label_visibility="collapsed"
        )
        types = list(mapping_grid.COLUMN_TYPES)
        ctype = c[1].selectbox(
            f"Row {n} type",
            types,
            index=types.index(row.column_type) if row.column_type in types else 0,
            format_func=mapping_grid.COLUMN_TYPES.__getitem__,
            key=f"{k}_type",
            disabled=ro,
            label_visibility="collapsed",
        )
        start = (
            CATCH
            if row.takes == CATCH_ALL
            else CONST
            if row.takes == CONSTANT
            else row.field
            if row.field in known
            else OTHER
        )
        takes = c[2].selectbox(
            f"Row {n} takes",
            options,
            index=options.index(start),
            format_func=label,
            key=f"{k}_takes",
            disabled=ro,
            label_visibility="collapsed",
        )
        new = GridRow(column, ctype)
        if takes == CATCH:
            new = GridRow(column, ctype, CATCH_ALL)
        elif takes == CONST:
            kinds = list(mapping_grid.CONSTANT_KINDS)
            kind = c[3].selectbox(
                f"Row {n} constant type",
                kinds,
                index=kinds.index(row.constant_kind) if row.constant_kind in kinds else 0,
                format_func=mapping_grid.CONSTANT_KINDS.__getitem__,
                key=f"{k}_kind",
                disabled=ro,
                label_visibility="collapsed",
            )
            value = c[4].text_input(
                f"Row {n} value", row.constant_value, key=f"{k}_value", disabled=ro, label_visibility="collapsed"
            )
            new = GridRow(column, ctype, CONSTANT, "", kind, value)
        elif takes == OTHER:
            name = c[4].text_input(
                f"Row {n} field name",
                row.field if row.takes == FIELD else "",
                key=f"{k}_field",
                disabled=ro,
                label_visibility="collapsed",
            )
            new = GridRow(column, ctype, FIELD, name)
        else:
            new = GridRow(column, ctype, FIELD, takes)
        rows.append(new)
        if c[5].button(":material/arrow_upward:", key=f"{k}_up", disabled=ro or i == 0):
            _restructure(draft_key, mapping_grid.moved(rows + draft[i + 1 :], i, -1))
        if c[6].button(":material/arrow_downward:", key=f"{k}_down", disabled=ro or i == len(draft) - 1):
            _restructure(draft_key, mapping_grid.moved(rows + draft[i + 1 :], i, 1))
        if c[7].button(":material/delete:", key=f"{k}_remove", disabled=ro):
            _restructure(draft_key, rows[:i] + draft[i + 1 :])
    st.session_state[draft_key] = rows
    if st.button("Add a column", key=f"{draft_key}_add", disabled=ro):
        _restructure(draft_key, [*rows, GridRow("")])
    return rows


def _restructure(draft_key: str, rows: list[GridRow]) -> None:
    """A new row order or count: fresh widgets (new keys) drawn from the draft."""
    st.session_state[draft_key] = rows
    st.session_state[f"{draft_key}_gen"] += 1
    st.rerun()


def _fingerprint(grid: Sequence[GridRow]) -> str:
    return hashlib.sha1(repr(list(grid)).encode()).hexdigest()[:12]


def _actions(
    db: Database,
    me: SignedIn,
    source: ingest_pb2.Source,
    calls: Caller,
    form: ingest_pb2.Form | None,
    scope: str,
    draft: list[GridRow],
    saved: list[GridRow],
    draft_key: str,
    key: str,
) -> None:
    cols = st.columns([2.6, 2.8, 1.8, 2.4, 1])
    what = "this form's mapping" if form else "the default mapping"
    preview = cols[0].button(f"Preview on the last {SAMPLE_LEADS} leads", key=f"{draft_key}_preview")
    save = cols[1].button(f"Save {what}", key=f"{draft_key}_save", type="primary", disabled=not me.is_admin)
    discard = cols[2].button("Discard changes", key=f"{draft_key}_discard", disabled=not me.is_admin or draft == saved)
    back = (
        cols[3].button("Go back to the default", key=f"{draft_key}_back", disabled=not me.is_admin)
        if form is not None and form.custom_mapping
        else False
    )
    if preview or save:
        try:
            rows = mapping_grid.to_mapping(draft)
        except GridError as exc:
            st.error(plain(str(exc)))
            return
        if preview:
            try:
                shown = db.run(lambda: calls.preview(source.source_id, scope, rows))
            except grpc.RpcError as exc:
                _refused_rows("Previewing", exc)
                return
            st.session_state[f"{draft_key}_preview_of"] = (_fingerprint(draft), shown)
        if save and me.is_admin:
            try:
                db.run(lambda: calls.save_mapping(source.source_id, scope, rows))
            except grpc.RpcError as exc:
                _refused_rows("Saving", exc)
                return
            st.session_state.pop(draft_key, None)
            st.session_state[f"{key}_flash"] = f"Saved {what}."
            st.rerun()
    if discard and me.is_admin:
        st.session_state.pop(draft_key, None)
        st.rerun()
    if back and me.is_admin:
        try:
            db.run(lambda: calls.save_mapping(source.source_id, scope, []))
        except grpc.RpcError as exc:
            refused("Going back to the default", exc)
            return
        st.session_state.pop(draft_key, None)
        st.session_state[f"{key}_flash"] = "This form uses the default mapping again."
        st.rerun()
    shown_for = st.session_state.get(f"{draft_key}_preview_of")
    if shown_for and shown_for[0] == _fingerprint(draft):
        _preview(me, shown_for[1], form, {r.column.strip() for r in draft if r.takes == CATCH_ALL})


def _refused_rows(what: str, exc: grpc.RpcError) -> None:
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    st.error(f"{what} did not work: {plain(mapping_grid.explain(details or 'the service did not answer'))}")


def _preview(
    me: SignedIn, shown: ingest_pb2.PreviewMappingResponse, form: ingest_pb2.Form | None, catch_all: set[str]
) -> None:
    st.subheader("Preview")
    if not shown.rows:
        st.caption("No leads yet to preview on." if form is None else "This form has no leads yet to preview on.")
        return
    st.caption(f"The draft applied to the last {len(shown.rows)} leads, newest first. Nothing is saved.")

    def shown_value(column: str, value: str) -> str:
        if not me.masked:
            return value
        return masking.HIDDEN if value and column in catch_all else str(masking.value(column, value))

    frame = pd.DataFrame(
        [
            {
                f"Received ({me.zone.key})": local(r.received_at.ToDatetime(tzinfo=UTC), me.zone),
                "Platform lead id": r.platform_lead_id,
                **{c: shown_value(c, v) for c, v in zip(shown.columns, r.values, strict=True)},
            }
            for r in shown.rows
        ]
    )
    st.dataframe(frame, hide_index=True, key="mapping_preview")
