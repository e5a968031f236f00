"""Acceptance criteria: a source's rules as a list a person edits (kind, column, parameters, code and
reason), tried against the source's last leads before saving (EvaluateLeads: what would flip each
way, with examples), saved as a new version (optionally re-judging the rejected leads, with
progress), and the versions: who saved each, what changed between two, and rolling back to one.
Every change goes through ValidationService (reports_app.criteria_calls); viewers see, admins change."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
import pandas as pd
import streamlit as st

from reports_app import criteria_calls as calls
from reports_app import criteria_draft as draft_rules
from reports_app import labels, setup_queries, users
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.progress_stream import follow
from reports_app.views.common import local, plain
from reports_app.views.setup_common import leave_notice, notice, refused, source_picker

USUAL_CODE = ""
TRY_SIZES = (20, 100, 500, 1000)


def render(db: Database, me: SignedIn) -> None:
    source_id = source_picker(db, me, "crit_source")
    if source_id is None:
        return
    notice("crit_notice")
    columns = db.read(setup_queries.source_columns, me.account_id, source_id)
    try:
        versions = db.run(lambda: calls.versions(db.settings, me.account_id, me.user.user_id, source_id))
    except grpc.RpcError as exc:
        refused("Reading the criteria", exc)
        return
    names = db.write(users.emails_by_id, me.account_id)  # report_users is not the reader's
    current = versions[0] if versions else None
    _current_caption(current, names, me)
    draft = _draft(source_id, current)
    st.subheader("Rules")
    if not draft:
        st.info("No rules: every lead of this source is accepted." + (" Add a rule below." if me.is_admin else ""))
    for index, rule in enumerate(list(draft)):
        _rule_card(source_id, draft, index, rule, columns, me.is_admin)
    if me.is_admin:
        _add_rule(source_id, draft, columns)
        changes = draft_rules.diff(current["rules"] if current else [], _clean(draft))
        _try_draft(db, me, source_id, draft, changes)
        _save(db, me, source_id, draft, changes, current)
    _versions(db, me, source_id, versions, names)


def _current_caption(current: dict[str, Any] | None, names: dict[str, str], me: SignedIn) -> None:
    if current is None:
        st.caption("No criteria saved yet for this source.")
        return
    who = draft_rules.who(current["actor"], names)
    when = local(current["created_at"], me.zone)
    note = f" — {current['note']}" if current["note"] else ""
    # st.text: an email in Markdown becomes a mail link, even escaped.
    st.text(f"In force: version {current['version']}, saved by {who} on {when}{note}.")


def _generation(name: str) -> int:
    """Part of a widget's key: a new number gives a fresh, empty widget (Streamlit keeps a widget's
    value for as long as its key lives)."""
    return int(st.session_state.get(f"{name}_generation", 0))


def _renew(name: str) -> None:
    st.session_state[f"{name}_generation"] = _generation(name) + 1


# ---- the draft -----------------------------------------------------------------------------------


def _draft(source_id: str, current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rules being edited (the version in force until changed), each with an id of its own
    that keys its widgets (so removing a rule leaves the others' widgets with them)."""
    key, base_key = f"crit_draft_{source_id}", f"crit_base_{source_id}"
    base = current["version"] if current else 0
    if key not in st.session_state or st.session_state.get(base_key) != base:
        _reset(source_id, current["rules"] if current else [], base)
    draft: list[dict[str, Any]] = st.session_state[key]
    return draft


def _reset(source_id: str, rules: list[dict[str, Any]], base: int) -> None:
    st.session_state[f"crit_draft_{source_id}"] = [{**r, "_id": secrets.token_hex(4)} for r in rules]
    st.session_state[f"crit_base_{source_id}"] = base


def _clean(draft: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "_id"} for r in draft]


def _rule_card(
    source_id: str, draft: list[dict[str, Any]], index: int, rule: dict[str, Any], columns: list[str], admin: bool
) -> None:
    rid = rule["_id"]
    with st.container(border=True):
        head = st.columns([6, 1])
        head[0].markdown(f"**{index + 1}. {plain(draft_rules.title(rule))}**")
        st.text(draft_rules.describe(rule))
        if not admin:
            _read_only_parameters(rule)
            return
        if head[1].button("Remove", key=f"crit_{rid}_remove"):
            draft.pop(index)
            st.rerun()
        cols = st.columns([1.2, 1.2, 1.4, 2])
        kinds = list(draft_rules.KINDS)
        kind = cols[0].selectbox(
            "Kind",
            kinds,
            index=kinds.index(rule["kind"]),
            format_func=lambda k: draft_rules.KINDS[k],
            key=f"crit_{rid}_kind",
        )
        if kind != rule["kind"]:
            fresh = draft_rules.new_rule(kind, rule.get("column", ""))
            draft[index] = {**fresh, "_id": rid}
            st.rerun()
        if kind not in ("duplicate", "reject_test_leads"):
            options = list(dict.fromkeys([*columns, rule["column"]] if rule["column"] else columns))
            rule["column"] = (
                cols[1].selectbox(
                    "Column",
                    options,
                    index=options.index(rule["column"]) if rule["column"] in options else None,
                    placeholder="Choose a column",
                    key=f"crit_{rid}_column",
                )
                or ""
            )
        codes = [USUAL_CODE, *labels.DISPOSITION]
        rule["disposition_code"] = cols[2].selectbox(
            "Disposition code",
            codes,
            index=codes.index(rule.get("disposition_code", "")) if rule.get("disposition_code", "") in codes else 0,
            format_func=lambda c: "The rule's usual code" if c == USUAL_CODE else labels.disposition(c),
            key=f"crit_{rid}_code",
        )
        rule["custom_reason"] = cols[3].text_input(
            "Custom reason (optional)",
            value=rule.get("custom_reason", ""),
            placeholder="Leave empty for the generated reason",
            key=f"crit_{rid}_reason",
        )
        _parameters(rule, columns)


def _read_only_parameters(rule: dict[str, Any]) -> None:
    p = rule.get("params") or {}
    if rule["kind"] == "picklist" and p.get("mapper"):
        st.dataframe(_mapper_frame(p["mapper"]), hide_index=True, key=f"crit_view_{rule['_id']}_mapper")
    if rule.get("disposition_code") or rule.get("custom_reason"):
        st.text(
            f"Code: {labels.disposition(rule.get('disposition_code')) or 'the usual one'}"
            + (f" · Reason: {rule['custom_reason']}" if rule.get("custom_reason") else "")
        )


def _mapper_frame(mapper: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"Incoming value": k, "Becomes": v} for k, v in sorted(mapper.items())], columns=["Incoming value", "Becomes"]
    )


def _parameters(rule: dict[str, Any], columns: list[str]) -> None:
    rid, kind, p = rule["_id"], rule["kind"], rule["params"]
    if kind == "email":
        p["check_deliverability"] = st.checkbox(
            "Also check that the domain receives mail",
            value=bool(p.get("check_deliverability")),
            key=f"crit_{rid}_mx",
        )
    elif kind == "phone":
        p["default_region"] = (
            st.text_input(
                "Country for numbers without a country code (two letters, e.g. US, DE)",
                value=p.get("default_region", ""),
                max_chars=2,
                key=f"crit_{rid}_region",
            )
            .strip()
            .upper()
        )
    elif kind == "max_length":
        p["max"] = int(
            st.number_input(
                "Most characters", min_value=1, max_value=100_000, value=int(p.get("max") or 255), key=f"crit_{rid}_max"
            )
        )
    elif kind == "pattern":
        p["regex"] = st.text_input(
            "Pattern (a regular expression the whole value must match)",
            value=p.get("regex", ""),
            placeholder=r"e.g. [A-Z]{2}-\d{4}",
            key=f"crit_{rid}_regex",
        )
    elif kind == "duplicate":
        cols = st.columns([2, 1, 1.4])
        p["columns"] = cols[0].multiselect(
            "Columns that make a lead the same lead",
            list(dict.fromkeys([*columns, *p.get("columns", [])])),
            default=p.get("columns", []),
            key=f"crit_{rid}_dupcols",
        )
        p["window_days"] = int(
            cols[1].number_input(
                "Within (days)",
                min_value=1,
                max_value=3650,
                value=int(p.get("window_days") or 30),
                key=f"crit_{rid}_days",
            )
        )
        scopes = {"source": "This source", "account": "Every source of the account"}
        p["scope"] = cols[2].radio(
            "Compared with leads of",
            list(scopes),
            index=list(scopes).index(p.get("scope", "source")),
            format_func=lambda s: scopes[s],
            key=f"crit_{rid}_scope",
        )
    elif kind == "picklist":
        _picklist(rule)


def _picklist(rule: dict[str, Any]) -> None:
    rid, p = rule["_id"], rule["params"]
    cols = st.columns([1, 1.6])
    with cols[0]:
        text = st.text_area(
            "Allowed values (one a line)",
            value="\n".join(p.get("allowed") or []),
            height=150,
            key=f"crit_{rid}_allowed",
        )
        p["allowed"] = draft_rules.parse_lines(text)
        p["case_insensitive"] = st.checkbox(
            "Ignore upper and lower case", value=bool(p.get("case_insensitive")), key=f"crit_{rid}_case"
        )
    with cols[1]:
        st.text("Mapper: incoming variants rewritten to an allowed value before the check")
        mapper: dict[str, str] = p.setdefault("mapper", {})
        if mapper:
            st.dataframe(_mapper_frame(mapper), hide_index=True, key=f"crit_{rid}_mapper_table")
        else:
            st.caption("No variants mapped yet.")
        add = st.columns([1.2, 1.2, 1])
        fresh = _generation(f"crit_{rid}_add")  # a new pair of inputs once a variant is added
        variant = add[0].text_input("Incoming value", key=f"crit_{rid}_variant_{fresh}")
        target = add[1].selectbox(
            "Becomes", p["allowed"], index=None, placeholder="An allowed value", key=f"crit_{rid}_target_{fresh}"
        )
        add[2].markdown("&nbsp;")
        if add[2].button("Add to mapper", key=f"crit_{rid}_map_add", disabled=not p["allowed"]):
            if variant.strip() and target:
                mapper[variant.strip()] = target
                _renew(f"crit_{rid}_add")
                st.rerun()
            st.warning("Type the incoming value and choose the allowed value it becomes.")
        if mapper:
            drop = st.columns([2.4, 0.8])
            gone = drop[0].selectbox(
                "Variant to remove", sorted(mapper), index=None, placeholder="Choose a variant", key=f"crit_{rid}_drop"
            )
            drop[1].markdown("&nbsp;")
            if drop[1].button("Remove variant", key=f"crit_{rid}_map_drop", disabled=gone is None):
                if gone is not None:
                    mapper.pop(gone, None)
                st.rerun()


def _add_rule(source_id: str, draft: list[dict[str, Any]], columns: list[str]) -> None:
    cols = st.columns([1.2, 1.2, 1, 2])
    kind = cols[0].selectbox(
        "New rule", list(draft_rules.KINDS), format_func=lambda k: draft_rules.KINDS[k], key="crit_new_kind"
    )
    column = ""
    if kind not in ("reject_test_leads",):
        column = (
            cols[1].selectbox("On column", columns, index=None, placeholder="Choose a column", key="crit_new_column")
            or ""
        )
    cols[2].markdown("&nbsp;")
    if cols[2].button("Add rule", key="crit_add"):
        if kind != "reject_test_leads" and not column:
            st.warning("Choose the column the rule checks.")
            return
        draft.append({**draft_rules.new_rule(kind, column), "_id": secrets.token_hex(4)})
        st.rerun()


# ---- try, save, versions ---------------------------------------------------------------------------


def _try_draft(db: Database, me: SignedIn, source_id: str, draft: list[dict[str, Any]], changes: list[str]) -> None:
    st.subheader("Test before saving")
    if changes:
        st.text("The draft changes:\n" + "\n".join(f"• {line}" for line in changes))
    else:
        st.caption("The draft is the version in force. Change a rule, then test it here.")
    cols = st.columns([1, 1, 3])
    size = cols[0].selectbox(
        "Leads to test on", TRY_SIZES, index=1, format_func=lambda n: f"The last {n}", key="crit_try_n"
    )
    cols[1].markdown("&nbsp;")
    if cols[1].button("Test the draft", key="crit_try"):
        try:
            judged = db.run(
                lambda: calls.try_draft(db.settings, me.account_id, me.user.user_id, source_id, _clean(draft), size)
            )
        except grpc.RpcError as exc:
            refused("Testing the draft", exc)
            return
        st.session_state[f"crit_tried_{source_id}"] = (_clean(draft), judged)
    tried = st.session_state.get(f"crit_tried_{source_id}")
    if not tried:
        return
    if tried[0] != _clean(draft):
        st.caption("The draft changed since this test: test it again.")
    result = draft_rules.flips(tried[1])
    if not result.judged:
        st.info("This source has no leads yet to test the draft on.")
        return
    metrics = st.columns(4)
    metrics[0].metric("Leads tested", result.judged)
    metrics[1].metric("Rejected now, accepted by the draft", len(result.to_accepted))
    metrics[2].metric("Accepted now, rejected by the draft", len(result.to_rejected))
    metrics[3].metric("Still rejected, for another reason", result.reason_changed)
    for title, rows, key in (
        ("Would be accepted (examples)", result.to_accepted, "crit_flip_acc"),
        ("Would be rejected (examples)", result.to_rejected, "crit_flip_rej"),
    ):
        if rows:
            st.text(title)
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "Lead": f"/leads?lead={r['lead_id']}",
                            "Now": labels.status(r["stored_status"])
                            + (f": {labels.disposition(r['stored_code'])}" if r["stored_code"] else ""),
                            "With the draft": labels.status(r["status"])
                            + (f": {labels.disposition(r['code'])}" if r["code"] else ""),
                            "Rejection reason": r["reason"] or r["stored_reason"],
                        }
                        for r in rows[:10]
                    ]
                ),
                hide_index=True,
                column_config={"Lead": st.column_config.LinkColumn("Lead", display_text="Open", width="small")},
                key=key,
            )


def _save(
    db: Database,
    me: SignedIn,
    source_id: str,
    draft: list[dict[str, Any]],
    changes: list[str],
    current: dict[str, Any] | None,
) -> None:
    st.subheader("Save")
    next_version = (current["version"] if current else 0) + 1
    fresh = _generation("crit_save")  # empty inputs again after a save
    note = st.text_input("Note for the version history (optional)", max_chars=200, key=f"crit_note_{fresh}")
    rejudge = st.checkbox(
        "Then re-judge this source's rejected leads under the new rules (accepted ones are sent on)",
        key=f"crit_rejudge_{fresh}",
    )
    if st.button(f"Save as version {next_version}", type="primary", disabled=not changes, key="crit_save"):
        _save_and_rejudge(db, me, source_id, _clean(draft), note, rejudge)


def _save_and_rejudge(
    db: Database, me: SignedIn, source_id: str, rules: list[dict[str, Any]], note: str, rejudge: bool
) -> None:
    try:
        version = db.run(lambda: calls.save(db.settings, me.account_id, me.user.user_id, source_id, rules, note))
    except grpc.RpcError as exc:
        refused("Saving the criteria", exc)
        return
    text = f"Saved version {version}."
    if rejudge:
        bar = st.progress(0.0, text="Re-judging the rejected leads…")

        def show(p: Any) -> None:
            share = p.leads_judged / p.leads_selected if p.leads_selected else 1.0
            bar.progress(min(share, 1.0), text=f"Re-judged {p.leads_judged:,} of {p.leads_selected:,} leads")

        try:
            last = follow(db, lambda: calls.rejudge(db.settings, me.account_id, me.user.user_id, source_id), show)
        except grpc.RpcError as exc:
            refused(f"Version {version} is saved, but re-judging", exc)
            return
        if last is not None:
            text += (
                f" Re-judged {last.leads_judged:,} leads: {last.leads_accepted:,} now accepted,"
                f" {last.leads_rejected:,} still rejected."
            )
    st.session_state.pop(f"crit_tried_{source_id}", None)
    _renew("crit_save")
    leave_notice("crit_notice", text)
    st.rerun()


def _versions(
    db: Database, me: SignedIn, source_id: str, versions: list[dict[str, Any]], names: dict[str, str]
) -> None:
    st.subheader("Versions")
    if not versions:
        st.caption("No version saved yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Version": v["version"],
                    f"Saved ({me.zone.key})": local(v["created_at"], me.zone),
                    "By": draft_rules.who(v["actor"], names),
                    "Rules": len(v["rules"]),
                    "Note": v["note"],
                }
                for v in versions
            ]
        ),
        hide_index=True,
        key="crit_versions",
    )
    if len(versions) < 2:
        return
    by_number = {v["version"]: v for v in versions}
    numbers = list(by_number)
    cols = st.columns([1, 1, 3])
    old = cols[0].selectbox("Compare version", numbers, index=1, key="crit_cmp_old")
    new = cols[1].selectbox("with version", numbers, index=0, key="crit_cmp_new")
    lines = draft_rules.diff(by_number[old]["rules"], by_number[new]["rules"])
    st.text(
        f"From version {old} to version {new}:\n" + "\n".join(f"• {line}" for line in lines)
        if lines
        else f"Versions {old} and {new} have the same rules."
    )
    if not me.is_admin:
        return
    older = numbers[1:]
    cols = st.columns([1, 3])
    back = cols[0].selectbox("Roll back to version", older, key="crit_back")
    cols[1].markdown("&nbsp;")
    if cols[1].button(f"Roll back to version {back}", key="crit_rollback"):
        rules = by_number[back]["rules"]
        try:
            version = db.run(
                lambda: calls.save(
                    db.settings, me.account_id, me.user.user_id, source_id, rules, f"Rolled back to version {back}"
                )
            )
        except grpc.RpcError as exc:
            refused("Rolling back", exc)
            return
        leave_notice("crit_notice", f"Version {version} restores the rules of version {back}.")
        st.rerun()
