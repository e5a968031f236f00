"""Sources: one row per source and a totals row — received, accepted with the acceptance rate,
rejected, the platform's own count (when it was taken; **Check now** asks again), the difference,
deliveries, and one column per disposition, always the same ones. Downloads keep the codes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import grpc
import pandas as pd
import streamlit as st

from reports_app import actions, labels, queries, shaping
from reports_app import report_files as files
from reports_app.console import SignedIn
from reports_app.database import Database
from reports_app.filters import ReportFilter
from reports_app.views.common import filter_bar, filter_key, local, prepared_download

# Platforms that can be asked for their own count.
COUNTED = ("FACEBOOK", "LINKEDIN")
# Check now asks the platform once per day of the window: at most this many days.
MAX_CHECK_DAYS = 31


def render(db: Database, user: SignedIn) -> None:
    f = filter_bar(db, user, "src")
    header, rows = db.read(files.table, user.account_id, "SOURCE", f)
    if not rows:
        st.info("No sources yet. Connect a platform or create a source to see its counts here.")
        return
    checked = db.read(queries.platform_checked_at, user.account_id, f)
    srcs = db.read(queries.sources, user.account_id)
    ids = [s["source_id"] for s in srcs if not f.source_id or s["source_id"] == f.source_id]
    table = []
    for source_id, row in zip([*ids, None], shaping.with_totals(header, rows), strict=True):
        r = dict(zip(header, row, strict=True))
        rate = shaping.acceptance_rate(r["Accepted"], r["Received"])
        table.append(
            {
                "Source": r["Source"],
                "Received": r["Received"],
                "Accepted": r["Accepted"],
                "Acceptance": None if rate is None else round(100 * rate, 1),
                "Rejected": r["Rejected"],
                "Platform's count": r["PlatformReported"] if r["PlatformReported"] != "" else None,
                "Difference": r["Difference"] if r["Difference"] != "" else None,
                f"Counted at ({user.zone.key})": counted_at(source_id, r["Platform"], checked, user),
                "Platform": labels.platform(r["Platform"]),
                "Being checked": r["Processing"],
                "Sent to the CRM": r["Posted"],
                "Failed or rejected by the CRM": r["PostFailed"],
                **{labels.disposition(c): r[c] for c in header if c.startswith("REJECT_")},
            }
        )
    frame = pd.DataFrame(table)
    # Whole numbers with blanks (a source never counted) as nullable integers: no Arrow conversion error.
    for column in ("Platform's count", "Difference"):
        frame[column] = frame[column].astype("Int64")
    st.dataframe(
        frame,
        hide_index=True,
        key="source_table",
        placeholder="—",
        column_config={
            "Source": st.column_config.TextColumn(pinned=True, width="medium"),
            "Acceptance": st.column_config.NumberColumn(format="%.1f%%"),
        },
    )
    st.caption(
        "Platform's count: leads the platform says were created on the window's days, counted when shown; "
        "Difference = platform's count − LeadRelay's count of the same days (above 0: leads missing)."
    )
    countable = [s for s in srcs if s["platform"] in COUNTED and s["source_id"] in ids]
    if countable:
        check_now(db, user, countable, f)
    st.subheader("Download")
    prepared_download(
        "sources", "src", lambda fmt: db.read(files.report_file, user.account_id, "SOURCE", f, fmt), filter_key(f)
    )


def counted_at(source_id: UUID | None, platform: str, checked: dict[UUID, datetime], user: SignedIn) -> str | None:
    """When the platform's count was taken; "not yet" for a platform never asked, blank for the rest."""
    if source_id in checked:
        return local(checked[source_id], user.zone)
    return "not yet" if source_id and platform in COUNTED else None


def check_now(db: Database, user: SignedIn, countable: list[dict[str, Any]], f: ReportFilter) -> None:
    if st.button("Check now", key="src_check_now", help="Ask the platforms for their count of these days now"):
        days = min(f.days, MAX_CHECK_DAYS)
        failed = []
        with st.spinner("Asking the platforms…"):
            for s in countable:
                for i in range(days):
                    day = f.until - timedelta(days=i)
                    start = datetime.combine(day, time(), UTC)
                    try:
                        db.run(
                            partial(
                                actions.check_platform_count,
                                db.settings,
                                user.account_id,
                                s["source_id"],
                                start,
                                start + timedelta(days=1),
                                actor_user_id=user.user.user_id,
                            )
                        )
                    except grpc.RpcError as exc:
                        failed.append(f"{s['name']}: {exc.details()}")
                        break
        st.session_state["src_notice"] = (failed, days < f.days)
        st.rerun()
    if "src_notice" in st.session_state:
        failed, capped = st.session_state["src_notice"]
        if failed:
            st.error("Some platforms did not answer: " + "; ".join(failed))
        else:
            st.success(f"Counted now{f' (the last {MAX_CHECK_DAYS} days of the window)' if capped else ''}.")
