"""Leads: a search box (exact email, phone, LeadID or platform lead id; words inside a name or
company), filters, a table of the people that pages through millions of leads (keyset paging), one
lead's page (mapped fields, raw answers, audit trail naming who acted, deliveries with what was sent
and answered) with its own link (?lead=<id>), admins' actions on a lead or a selection (re-judge,
re-send to the CRM), and the ExportLeads-format download.

Lead data comes from anyone who can fill in a form or send a file: it is shown only through
dataframes and st.text, never as Markdown or HTML. Search terms are personal data (an email, a
phone number), so they stay out of the URL: the filters and the open lead are in it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import grpc
import pandas as pd
import streamlit as st

from leadrelay.capture import lead_search
from reports_app import actions, labels, masking, queries, users
from reports_app import report_files as files
from reports_app.console import SignedIn, current
from reports_app.database import Database
from reports_app.person import person
from reports_app.views.common import filter_bar, filter_key, local, plain, prepared_download
from reports_app.views.rejections import rejudged

PAGE_SIZE = 50
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CODE = re.compile(r"\bREJECT_LEAD_[A-Z_]+\b")
_STATUS = re.compile(r"\b(?:ACCEPTED|REJECTED|PROCESSING)\b")
_COLUMNS = ["Received", "Name", "Email", "Company", "Source", "Status", "Disposition", "Reason", "Post-out"]


def named(text: str, names: dict[str, str]) -> str:
    """An event's detail in words: ids replaced by the names they stand for (destinations, sources),
    statuses and disposition codes by their labels."""
    text = _UUID.sub(lambda m: f"“{names[m.group(0)]}”" if m.group(0) in names else m.group(0), text)
    text = _CODE.sub(lambda m: f"“{labels.disposition(m.group(0))}”", text)
    return _STATUS.sub(lambda m: labels.status(m.group(0)), text)


def _fits(rows: int) -> int:
    """A dataframe's height that shows every one of `rows` rows and its header."""
    return 35 * (rows + 1) + 3


def render(db: Database, user: SignedIn) -> None:
    typed = st.text_input(
        "Find a lead",
        key="leads_q",
        placeholder="Email, phone, LeadID, platform lead id, or part of a name or company",
    )
    f = filter_bar(db, user, "leads", forms=True, status=True, disposition=True, post_out=True)
    try:
        search = lead_search.parse(typed) if typed.strip() else None
    except lead_search.SearchTooLong as exc:
        st.error(str(exc))
        return
    fk = filter_key(f) + (f":{search}" if search else "")
    if st.session_state.get("leads_filter") != fk:  # a new filter or search starts at the first page
        st.session_state["leads_filter"] = fk
        st.session_state["leads_cursors"] = [None]
        st.session_state["leads_selected"] = []
    cursors: list = st.session_state["leads_cursors"]
    first = (len(cursors) - 1) * PAGE_SIZE
    if search is not None:
        rows = db.read(queries.search_page, user.account_id, f, search, cursors[-1], PAGE_SIZE)
        count = first + len(rows)
        more = "+" if len(rows) == PAGE_SIZE else ""
        found = f"{count:,}{more} lead{'' if count == 1 and not more else 's'}"
        st.caption(
            plain(f"Searched every day for {search.kind or 'it'}: {found} · times in {user.zone.key}")
            if rows
            else plain("Searched every day: no lead found.")
        )
        if not rows:
            st.info(
                "No lead matches. An email, phone number, LeadID or platform lead id must be whole; a name or "
                "company needs 3 letters or more of a word. The other filters (source, status, …) still apply."
            )
        elif len(rows) == 1 and not cursors[-1] and st.session_state.get("leads_opened_for") != fk:
            # One person found: open them (once; closing the lead keeps it closed).
            st.session_state["leads_opened_for"] = fk
            st.query_params["lead"] = str(rows[0]["lead_id"])
    else:
        total = db.read(queries.matching_count, user.account_id, f)
        rows = db.read(queries.leads_page, user.account_id, f, cursors[-1], PAGE_SIZE)
        st.caption(
            f"{total:,} lead{'' if total == 1 else 's'}"
            f"{' in the chosen sources (form filter not counted)' if f.form_id else ''} · "
            f"showing {first + 1 if rows else 0:,}–{first + len(rows):,} · times in {user.zone.key}"
        )
        if not rows:
            st.info("No leads match these filters. Widen the received days or clear a filter.")
    names = {s["source_id"]: s["name"] for s in db.read(queries.sources, user.account_id)}
    st.session_state["leads_ids"] = [str(r["lead_id"]) for r in rows]
    if rows:
        st.caption(
            "Click a row to open the lead; tick several to act on them together."
            if user.is_admin
            else "Click a row to open the lead."
        )
        st.dataframe(
            pd.DataFrame([_row(r, names, user) for r in rows], columns=_COLUMNS),
            hide_index=True,
            key="leads_table",
            on_select=_selected,
            selection_mode="multi-row" if user.is_admin else "single-row",
            # Pixels, so a 1,040-pixel page shows every column: the words are short, reasons are cut.
            column_config={
                name: st.column_config.TextColumn(width=px)
                for name, px in zip(_COLUMNS, (112, 84, 150, 110, 84, 72, 120, 140, 130), strict=True)
            },
        )
    nav = st.columns(6)
    if nav[0].button("◀ Newer", disabled=len(cursors) == 1, key="leads_newer"):
        cursors.pop()
        st.rerun()
    if nav[1].button("Older ▶", disabled=len(rows) < PAGE_SIZE, key="leads_older"):
        cursors.append((rows[-1]["received_at"], rows[-1]["lead_id"]))
        st.rerun()

    chosen = [i for i in st.session_state.get("leads_selected", []) if i in st.session_state["leads_ids"]]
    if user.is_admin and len(chosen) > 1:
        st.text(f"{len(chosen)} leads ticked")
        _actions(db, user, chosen, "sel")
    _outcome(db, user)

    lead_id = _lead_in_url()
    if lead_id is not None:
        detail(db, user, lead_id)

    st.subheader("Download")
    if user.masked:
        st.info("Lead files carry personal data: an admin of your account can download them.")
    elif search is not None:
        st.caption("Downloads follow the filters above (the search is not part of them).")
    if not user.masked:
        prepared_download(
            "leads",
            "leads",
            lambda fmt: db.read(files.report_file, user.account_id, "LEADS", f, fmt),
            filter_key(f),
            fix_loop=True,
        )


def _row(r: dict[str, Any], names: dict, user: SignedIn) -> dict[str, Any]:
    who = person(r["fields"])
    return {
        "Received": local(r["received_at"], user.zone),
        "Name": masking.value(who.name_column, who.name) if user.masked else who.name,
        "Email": masking.value(who.email_column, who.email) if user.masked else who.email,
        "Company": who.company,
        "Source": names.get(r["source_id"], ""),
        "Status": labels.status(r["status"]),
        "Disposition": labels.disposition(r["disposition_code"]),
        "Reason": masking.reason(r["custom_reason"]) if user.masked else r["custom_reason"],
        "Post-out": labels.post_out(r["post_out_status"]),
    }


def _selected() -> None:
    picked = st.session_state["leads_table"].selection.rows
    ids = st.session_state.get("leads_ids", [])
    chosen = [ids[i] for i in picked if i < len(ids)]
    before = st.session_state.get("leads_selected", [])
    st.session_state["leads_selected"] = chosen
    added = [i for i in chosen if i not in before]
    if len(chosen) == 1 or (added and len(chosen) > 1 and "lead" not in st.query_params):
        st.query_params["lead"] = (added or chosen)[-1]
    elif not chosen and "lead" in st.query_params:
        del st.query_params["lead"]


def _lead_in_url() -> UUID | None:
    try:
        return UUID(st.query_params.get("lead", ""))
    except ValueError:
        return None


def _actions(db: Database, user: SignedIn, lead_ids: list[str], key: str) -> None:
    """Re-judge and Re-send buttons for these leads (admins); the outcome is kept for _outcome."""
    many = f" the {len(lead_ids)}" if len(lead_ids) > 1 else ""
    cols = st.columns([1, 1.6, 2.4])
    me = user.user.user_id
    if cols[0].button(f"Re-judge{many}", key=f"leads_rejudge_{key}", help="Under the source's current criteria"):
        _act(
            lambda: actions.revalidate(db.settings, user.account_id, actor_user_id=me, lead_ids=lead_ids),
            lambda done: (
                rejudged(done)
                + (
                    f" {len(lead_ids) - done.leads_selected:,} already accepted (never judged again)."
                    if len(lead_ids) > done.leads_selected
                    else ""
                ),
                lead_ids,
            ),
        )
    if cols[1].button(
        f"Re-send{many} to the CRM", key=f"leads_resend_{key}", help="Deliveries that failed or the CRM rejected"
    ):
        _act(
            lambda: actions.resend(db.settings, user.account_id, lead_ids, actor_user_id=me),
            lambda sent: (
                f"Sent again: {len(sent)} of {len(lead_ids)} lead{'' if len(lead_ids) == 1 else 's'}"
                + ("." if sent else " (none had a delivery that failed or that the CRM rejected).")
                if len(lead_ids) > 1
                else (
                    "Sent to the CRM again."
                    if sent
                    else "Nothing to send again: no delivery of this lead failed or was rejected by the CRM."
                ),
                sent,
            ),
        )


def _act(call: Callable[[], Awaitable[Any]], say: Callable[[Any], tuple[str, list[str]]]) -> None:
    db, _ = current()
    try:
        with st.spinner("Working…"):
            done = db.run(call)
    except grpc.RpcError as exc:
        st.session_state["leads_outcome"] = ("error", f"Nothing was changed: {exc.details()}", [])
    else:
        text, ids = say(done)
        st.session_state["leads_outcome"] = ("ok", text, ids)
    st.rerun()


def _outcome(db: Database, user: SignedIn) -> None:
    """The last action's outcome, and where its leads stand now (a delivery takes a moment)."""
    kept = st.session_state.get("leads_outcome")
    if not kept:
        return
    kind, text, ids = kept
    (st.success if kind == "ok" else st.error)(plain(text))
    if ids:
        now = db.read(queries.leads_now, user.account_id, [UUID(i) for i in ids])
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": masking.value("name", person(r["fields"]).name)
                        if user.masked
                        else person(r["fields"]).name,
                        "Status": labels.status(r["status"]),
                        "Disposition": labels.disposition(r["disposition_code"]),
                        "Post-out": labels.post_out(r["post_out_status"]),
                    }
                    for r in now
                ],
                columns=["Name", "Status", "Disposition", "Post-out"],
            ),
            hide_index=True,
            key="leads_outcome_table",
        )
    cols = st.columns([1, 1, 4])
    if ids and cols[0].button("Refresh", key="leads_outcome_refresh"):
        st.rerun()
    if cols[1].button("Dismiss", key="leads_outcome_dismiss"):
        del st.session_state["leads_outcome"]
        st.rerun()


def detail(db: Database, user: SignedIn, lead_id: UUID) -> None:
    lead = db.read(queries.lead_detail, user.account_id, lead_id)
    st.subheader("Lead")
    if lead is None:
        st.error("No such lead in this account.")
        return
    who = person(lead["fields"])
    top = st.columns([1, 4])
    if top[0].button("Close the lead", key="lead_close"):
        del st.query_params["lead"]
        st.rerun()
    if user.is_admin:
        with top[1]:
            _actions(db, user, [str(lead_id)], "one")
    reason = lead["custom_reason"] or ""
    summary = [
        ("Name", (masking.value(who.name_column, who.name) if user.masked else who.name) or "—"),
        ("Email", (masking.value(who.email_column, who.email) if user.masked else who.email) or "—"),
        ("Company", who.company or "—"),
        ("Status", labels.status(lead["status"])),
        ("Disposition", labels.disposition(lead["disposition_code"]) or "—"),
        ("Reason", (masking.reason(reason) if user.masked else reason) or "—"),
        ("Post-out", labels.post_out(lead["post_out_status"])),
        ("Source", f"{lead['source_name']} ({labels.platform(lead['platform'])})"),
        ("Form", lead["form_name"] or "—"),
        ("Platform lead id", lead["platform_lead_id"] or "—"),
        ("Received", f"{local(lead['received_at'], user.zone)} ({user.zone.key})"),
        ("LeadID", str(lead["lead_id"])),
    ]
    st.dataframe(
        pd.DataFrame(summary, columns=["", "Value"]), hide_index=True, key="lead_summary", height=_fits(len(summary))
    )
    cols = st.columns(2)
    fields = [
        {"Column": k, "Value": masking.value(k, v) if user.masked else _text(v)}
        for k, v in (lead["fields"] or {}).items()
    ]
    cols[0].text("Mapped fields")
    cols[0].dataframe(pd.DataFrame(fields, columns=["Column", "Value"]), hide_index=True, key="lead_fields")
    cols[1].text("Raw answers (as the platform sent them)")
    answers = [
        {
            "Question": a.get("name", ""),
            "Answer": masking.HIDDEN if user.masked else ", ".join(str(v) for v in a.get("values", [])),
        }
        for a in lead["answers"] or []
        if isinstance(a, dict)
    ]
    cols[1].dataframe(pd.DataFrame(answers, columns=["Question", "Answer"]), hide_index=True, key="lead_answers")
    names = {str(k): v for k, v in lead["names"].items()}
    people = {str(k): v for k, v in db.write(users.names, user.account_id).items()}  # report_users: not the reader's
    st.text("Audit trail")
    if not lead["events"]:
        st.caption("No event recorded for this lead yet.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "At": local(e["at"], user.zone),
                        "What": labels.word(labels.EVENT, e["type"]),
                        "Who": labels.actor(e["actor"], people),
                        "Detail": masking.reason(named(e["detail"], names))
                        if user.masked
                        else named(e["detail"], names),
                    }
                    for e in lead["events"]
                ],
                columns=["At", "What", "Who", "Detail"],
            ),
            hide_index=True,
            key="lead_events",
            column_config={"Detail": st.column_config.TextColumn(width="large")},
        )
    if lead["post_outs"]:
        st.text("Deliveries")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Destination": p["destination"],
                        "Status": labels.post_out(p["status"]),
                        "Attempts": p["attempts"],
                        "Last HTTP status": str(p["last_status_code"] or ""),
                        "Last error": p["last_error"],
                        "Posted": local(p["posted_at"], user.zone),
                    }
                    for p in lead["post_outs"]
                ]
            ),
            hide_index=True,
            key="lead_post_outs",
        )
    if lead["attempts"]:
        st.text("Each attempt: what was sent and what the CRM answered (newest first)")
        hidden = masking.HIDDEN if user.masked else None
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "At": local(a["at"], user.zone),
                        "Destination": a["destination"],
                        "Attempt": a["attempt"],
                        "Outcome": labels.word(labels.OUTCOME, a["outcome"]),
                        "HTTP status": str(a["status_code"] or ""),
                        "Request": f"{a['method']} {_address(a['url'])}",
                        "Sent": hidden or a["request_excerpt"] or "—",
                        "Answer": hidden or a["response_excerpt"] or "—",
                        "Reason": hidden or a["reason"],
                    }
                    for a in lead["attempts"]
                ]
            ),
            hide_index=True,
            key="lead_attempts",
            column_config={
                "Sent": st.column_config.TextColumn(width="large"),
                "Answer": st.column_config.TextColumn(width="large"),
            },
        )


def _address(url: str) -> str:
    """A destination's address without its query string (some CRMs take a key there)."""
    return url.split("?", 1)[0]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
