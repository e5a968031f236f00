"""Destinations: where a source's accepted leads go. Create or edit one (address, method, body
template, write-only headers and OAuth credentials, success criteria, time-out, test leads) from a
CRM preset (HubSpot, Salesforce, Marketo, Zoho, Pipedrive, Dynamics 365) or from scratch; switch it
off and on; pause and resume it; and send a test lead now, seeing the exact request (secrets masked),
the CRM's answer and what it means, with nothing recorded as a delivery. Every change goes through
PostOutService (reports_app.destination_calls); viewers see, admins change."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import grpc
import pandas as pd
import streamlit as st

from leadrelay.v1 import validation_pb2
from reports_app import destination_calls as calls
from reports_app import destination_form, masking, setup_queries
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.views.common import local, plain
from reports_app.views.setup_common import leave_notice, notice, refused, source_picker

NEW = "new"
NO_PRESET = ""
OAUTH_GRANTS = {"client_credentials": "Client credentials", "refresh_token": "Refresh token"}
EXISTING_CONTACT = {"update": "counts as sent (the contact exists)", "reject": "counts as rejected by the CRM"}
# A preset's free-text settings, in words (label, help); an unknown one shows its name.
SETTINGS = {
    "external_id_field": (
        "External ID field on Lead",
        "The API name of the Lead field marked External ID and Unique that receives each lead's"
        " LeadRelay id, so a retry updates the lead instead of adding a second one.",
    ),
}


def render(db: Database, me: SignedIn) -> None:
    source_id = source_picker(db, me, "dest_source")
    if source_id is None:
        return
    notice("dest_notice")
    try:
        found = db.run(lambda: calls.destinations(db.settings, me.account_id, me.user.user_id, source_id))
        presets = db.run(lambda: calls.presets(db.settings, me.account_id, me.user.user_id, source_id))
    except grpc.RpcError as exc:
        refused("Reading the destinations", exc)
        return
    by_preset = {p.name: p for p in presets}
    st.subheader("Destinations of this source")
    if not found:
        st.info(
            "No destination yet: this source's accepted leads are sent nowhere."
            + (" Create one below." if me.is_admin else "")
        )
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Destination": d.name,
                        "CRM": by_preset[d.preset].title if d.preset in by_preset else "Any HTTP endpoint",
                        "Address": d.url,
                        "State": _state(d),
                        "Test leads": "Sent" if d.post_test_leads else "Not sent",
                        f"Changed ({me.zone.key})": local(d.updated_at.ToDatetime(tzinfo=UTC), me.zone),
                    }
                    for d in found
                ]
            ),
            hide_index=True,
            column_config={"Address": st.column_config.TextColumn(width="large")},
            key="dest_table",
        )
    by_id = {d.destination_id: d for d in found}
    options = [*by_id, NEW] if me.is_admin else list(by_id)
    if not options:
        return
    if st.session_state.get("dest_choose_next") in by_id:
        st.session_state[f"dest_chosen_{source_id}"] = st.session_state.pop("dest_choose_next")
    chosen = st.selectbox(
        "Destination",
        options,
        format_func=lambda i: "New destination…" if i == NEW else by_id[i].name,
        key=f"dest_chosen_{source_id}",
    )
    current = by_id.get(chosen)
    if current is not None:
        _actions(db, me, current)
    if me.is_admin:
        _edit(db, me, source_id, current, by_preset)
    elif current is not None:
        _read_only(current)
    if current is not None and me.is_admin:
        _test_send(db, me, source_id, current)


def _state(d: validation_pb2.Destination) -> str:
    return destination_form.state(
        d.enabled, d.state == validation_pb2.DESTINATION_STATE_PAUSED, d.paused_reason, d.consecutive_failures
    )


def _actions(db: Database, me: SignedIn, d: validation_pb2.Destination) -> None:
    st.text(f"{d.name}: {_state(d)}")
    if not me.is_admin:
        return
    paused = d.state == validation_pb2.DESTINATION_STATE_PAUSED
    cols = st.columns([1, 1, 4])
    try:
        if cols[0].button("Switch off" if d.enabled else "Switch on", key="dest_switch"):
            db.run(lambda: calls.switch(db.settings, me.account_id, me.user.user_id, d.destination_id, not d.enabled))
            leave_notice("dest_notice", f"“{d.name}” is switched {'off' if d.enabled else 'on'}.")
            st.rerun()
        if d.enabled and cols[1].button("Resume" if paused else "Pause", key="dest_pause"):
            action = calls.resume if paused else calls.pause
            db.run(lambda: action(db.settings, me.account_id, me.user.user_id, d.destination_id))
            leave_notice(
                "dest_notice",
                f"“{d.name}” resumed: its waiting deliveries go out now."
                if paused
                else f"“{d.name}” is paused: deliveries wait until you resume it.",
            )
            st.rerun()
    except grpc.RpcError as exc:
        refused(f"Changing “{d.name}”", exc)


def _read_only(d: validation_pb2.Destination) -> None:
    st.text(f"{d.method} {d.url}")
    if d.headers:
        st.text("Headers (values hidden): " + ", ".join(sorted(d.headers)))
    if d.body_template:
        st.code(destination_form.pretty_body(d.body_template), language="json")
    st.caption("Only admins change destinations.")


def _edit(
    db: Database,
    me: SignedIn,
    source_id: str,
    d: validation_pb2.Destination | None,
    by_preset: dict[str, validation_pb2.DestinationPreset],
) -> None:
    st.subheader("New destination" if d is None else f"Edit “{d.name}”")
    names = [NO_PRESET, *by_preset]

    def title(name: str) -> str:
        return "Any HTTP endpoint (no preset)" if name == NO_PRESET else by_preset[name].title

    if d is None:
        preset_name = st.selectbox("Start from", names, format_func=title, key="dest_new_preset")
    else:
        preset_name = d.preset
        st.text(f"CRM: {title(preset_name) if preset_name in by_preset or not preset_name else preset_name}")
    preset = by_preset.get(preset_name)
    if preset is not None:
        st.caption(plain(f"How {preset.title.split(' (')[0]} authenticates: {preset.auth}"))
    key = f"dest_form_{d.destination_id if d else 'new'}_{preset_name or 'custom'}"
    with st.form(key):
        name = st.text_input("Name", value=d.name if d else (preset.title.split(" (")[0] if preset else ""))
        url_label = "Base URL of your CRM account" if preset else "Address (URL)"
        url = st.text_input(
            url_label,
            value=d.url if d else "",
            placeholder=preset.example_base_url if preset else "https://crm.example.com/leads",
        )
        method = "POST"
        if preset is None:
            methods = ["POST", "PUT", "PATCH"]
            method = st.selectbox("Method", methods, index=methods.index(d.method) if d and d.method in methods else 0)
        else:
            path = preset.path.replace("{{lead_id}}", "‹LeadID›")
            for setting in preset.settings:
                path = path.replace(f"{{{setting}}}", f"‹{SETTINGS.get(setting, (setting,))[0]}›")
            st.text(f"Method: {preset.method} · path {path}")
        template = st.text_area(
            "Body template (JSON; {{column}} is replaced by the lead's value)",
            value=destination_form.pretty_body(
                d.body_template if d else (preset.body_template if preset else _plain_template(db, me, source_id))
            ),
            height=220,
        )
        stored = ", ".join(sorted(d.headers)) if d and d.headers else ""
        headers_text = st.text_area(
            "Headers (write-only: one “Name: value” a line)",
            placeholder="Authorization: Bearer pat-…",
            help="Stored encrypted and never shown again.",
        )
        if stored:
            st.caption(
                plain(
                    f"Stored headers: {stored} (values hidden). Leave empty to keep them;"
                    " anything typed replaces them all."
                )
            )
        options: dict[str, str] = {}
        if preset is not None and "existing_contact" in preset.options and d is None:
            options["existing_contact"] = st.radio(
                "A contact that already exists in the CRM",
                list(EXISTING_CONTACT),
                format_func=lambda o: EXISTING_CONTACT[o],
                horizontal=True,
            )
        if preset is not None and d is None:
            for setting, initial in sorted(preset.settings.items()):
                label, help_text = SETTINGS.get(setting, (setting.replace("_", " ").capitalize(), ""))
                options[setting] = st.text_input(label, value=initial, help=help_text or None).strip()
        success = d.success if d else None
        statuses, result_path, accepted, record_path = "200-299", "", "", ""
        if preset is None:
            st.text("Success: when does the CRM's answer mean the lead was taken?")
            parts = st.columns(4)
            statuses = parts[0].text_input(
                "HTTP statuses",
                value=", ".join(f"{r.min}-{r.max}" for r in success.status_ranges)
                if success and success.status_ranges
                else "200-299",
            )
            result_path = parts[1].text_input(
                "JSON path to the result (optional)",
                value=success.result_json_path if success else "",
                placeholder="$.success",
            )
            accepted = parts[2].text_input(
                "Result values meaning taken",
                value=", ".join(success.accepted_values) if success else "",
                placeholder="true",
            )
            record_path = parts[3].text_input(
                "JSON path to the record id (optional)",
                value=success.record_id_json_path if success else "",
                placeholder="$.id",
            )
        else:
            st.caption("Success is read as this CRM answers (a 200 that says it failed is never counted as sent).")
        cols = st.columns(2)
        timeout = cols[0].number_input(
            "Time-out (seconds)",
            min_value=1.0,
            max_value=120.0,
            value=(d.timeout_ms / 1000 if d and d.timeout_ms else 10.0),
            step=1.0,
        )
        test_leads = cols[1].checkbox("Send test leads too", value=d.post_test_leads if d else False)
        oauth: dict[str, str] = {}
        if preset is not None and preset.HasField("oauth"):
            with st.expander("OAuth (instead of a token header)", expanded=bool(d and d.HasField("oauth"))):
                default = d.oauth if d and d.HasField("oauth") else preset.oauth
                grants = ["", *OAUTH_GRANTS]
                has = d is not None and d.HasField("oauth") and default.grant_type in grants
                grant = st.selectbox(
                    "Grant",
                    grants,
                    index=grants.index(default.grant_type) if has else 0,
                    format_func=lambda g: OAUTH_GRANTS.get(g, "No OAuth"),
                )
                token_url = st.text_input("Token URL", value=default.token_url)
                client_id = st.text_input("Client id (write-only)", type="password")
                client_secret = st.text_input("Client secret (write-only)", type="password")
                refresh = st.text_input("Refresh token (write-only)", type="password")
                if grant:
                    oauth = {
                        "grant_type": grant,
                        "token_url": token_url,
                        "client_id": client_id,
                        "client_secret": client_secret,
                        "refresh_token": refresh,
                    }
        submitted = st.form_submit_button("Create destination" if d is None else "Save changes", type="primary")
    if not submitted:
        return
    try:
        form = calls.DestinationForm(
            name=name.strip(),
            url=url.strip(),
            preset=preset_name,
            method=method,
            body_template=_compact(template),
            headers=destination_form.parse_pairs(headers_text, "Headers"),
            timeout_seconds=float(timeout),
            post_test_leads=test_leads,
            preset_options=options,
            success_statuses=statuses,
            result_json_path=result_path.strip(),
            accepted_values=tuple(v.strip() for v in accepted.split(",") if v.strip()),
            record_id_json_path=record_path.strip(),
            oauth=oauth,
        )
        if d is None:
            saved = db.run(lambda: calls.create(db.settings, me.account_id, me.user.user_id, source_id, form))
            # Chosen on the next run, before its selectbox exists (a drawn widget's value is fixed).
            st.session_state["dest_choose_next"] = saved.destination_id
        else:
            saved = db.run(lambda: calls.update(db.settings, me.account_id, me.user.user_id, d.destination_id, form))
    except ValueError as exc:
        st.error(plain(str(exc)))
        return
    except grpc.RpcError as exc:
        refused("Saving the destination", exc)
        return
    leave_notice("dest_notice", f"Saved “{saved.name}”: accepted leads of this source now go to {saved.url}.")
    st.rerun()


def _plain_template(db: Database, me: SignedIn, source_id: str) -> str:
    columns = db.read(setup_queries.source_columns, me.account_id, source_id)
    return json.dumps({c: f"{{{{{c}}}}}" for c in columns})


def _compact(template: str) -> str:
    """The template as typed, checked by the service (which names a bad position); blank: none."""
    return template.strip()


def _test_send(db: Database, me: SignedIn, source_id: str, d: validation_pb2.Destination) -> None:
    st.subheader("Send a test lead")
    st.caption(
        "Sent now, exactly as a delivery would be. Nothing is recorded as a delivery: no lead's status, "
        "log or the destination's failure count changes."
    )
    kinds = {"made_up": "A made-up lead", "stored": "A lead of this source"}
    kind = st.radio("Send", list(kinds), format_func=lambda k: kinds[k], horizontal=True, key="dest_test_kind")
    lead_id = ""
    fields: dict[str, str] = {}
    if kind == "stored":
        recent = db.read(setup_queries.recent_leads, me.account_id, source_id)
        if not recent:
            st.info("This source has no lead yet: send a made-up one.")
            return
        by_id = {str(r["lead_id"]): r for r in recent}
        lead_id = (
            st.selectbox(
                "Lead",
                list(by_id),
                format_func=lambda i: (
                    f"{masking.email(by_id[i]['email'] or '') if me.masked else by_id[i]['email'] or 'no email'}"
                    f" · received {local(by_id[i]['received_at'], me.zone)}"
                ),
                key="dest_test_lead",
            )
            or ""
        )
    else:
        columns = db.read(setup_queries.source_columns, me.account_id, source_id)
        text = st.text_area(
            "The made-up lead (one “column: value” a line)",
            value=destination_form.synthetic_lead(columns),
            height=160,
            key=f"dest_test_fields_{source_id}",
        )
        try:
            fields = destination_form.parse_pairs(text, "The made-up lead")
        except ValueError as exc:
            st.error(plain(str(exc)))
            return
    if st.button("Send test lead", key="dest_test_send"):
        try:
            result = db.run(
                lambda: calls.send_test(
                    db.settings, me.account_id, me.user.user_id, d.destination_id, lead_id=lead_id, fields=fields
                )
            )
        except grpc.RpcError as exc:
            refused("The test send", exc)
            return
        st.session_state["dest_test_result"] = (d.destination_id, result)
    shown = st.session_state.get("dest_test_result")
    if shown and shown[0] == d.destination_id:
        _result(shown[1])


def _result(r: Any) -> None:
    level, text = destination_form.verdict(r.outcome, r.reason, r.record_id, r.status_code, r.error)
    getattr(st, level)(plain(text))
    st.text("Request (secrets masked)")
    headers = "\n".join(f"{k}: {v}" for k, v in sorted(r.request_headers.items()))
    request = f"{r.method} {r.url}\n{headers}\n\n{destination_form.pretty_body(r.request_body)}"
    st.code(request, language="http", wrap_lines=True)
    st.text(f"The CRM's answer ({r.duration_ms} ms)")
    answer = f"HTTP {r.status_code}" if r.status_code else f"No answer: {r.error}"
    st.code(f"{answer}\n\n{destination_form.pretty_body(r.response_body)}", language="http", wrap_lines=True)
