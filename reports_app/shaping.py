"""Report shaping: plain functions from aggregate rows to the tables the pages show and the files
the schedules send. No I/O, so every page and every scheduled file agree."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final
from uuid import UUID

from leadrelay.capture import dispositions

POSTED: Final = "POSTED"
POST_FAILED: Final = ("FAILED", "REJECTED_BY_DESTINATION")
POST_PENDING: Final = ("PENDING", "RETRYING")


@dataclass
class Totals:
    """Received = accepted + rejected + processing; accepted = posted + pending + not posted +
    post-failed (not posted: a test lead no destination takes, or a source without destinations)."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    processing: int = 0
    posted: int = 0
    post_failed: int = 0
    pending: int = 0
    not_posted: int = 0

    def add(self, status: str, post_out_status: str, n: int) -> None:
        self.received += n
        if status == "ACCEPTED":
            self.accepted += n
        elif status == "REJECTED":
            self.rejected += n
        else:
            self.processing += n
        if post_out_status == POSTED:
            self.posted += n
        elif post_out_status in POST_FAILED:
            self.post_failed += n
        elif post_out_status in POST_PENDING:
            self.pending += n
        elif status == "ACCEPTED":
            self.not_posted += n


@dataclass
class Overview:
    windows: dict[str, Totals]
    # One row per day (oldest first): day, received, accepted, rejected, posted, post_failed.
    trend: list[dict[str, Any]] = field(default_factory=list)


def overview(rows: Iterable[Mapping[str, Any]], today: date, trend_days: int = 30) -> Overview:
    """rows: day, status, post_out_status, n (the last `trend_days` days)."""
    windows = {"Today": Totals(), "7 days": Totals(), "30 days": Totals()}
    per_day: dict[date, Totals] = defaultdict(Totals)
    for r in rows:
        age = (today - r["day"]).days
        for name, span in (("Today", 1), ("7 days", 7), ("30 days", 30)):
            if 0 <= age < span:
                windows[name].add(r["status"], r["post_out_status"], r["n"])
        per_day[r["day"]].add(r["status"], r["post_out_status"], r["n"])
    trend = []
    for i in range(trend_days - 1, -1, -1):
        day = today - timedelta(days=i)
        t = per_day.get(day, Totals())
        trend.append(
            {
                "day": day,
                "received": t.received,
                "accepted": t.accepted,
                "rejected": t.rejected,
                "posted": t.posted,
                "post_failed": t.post_failed,
            }
        )
    return Overview(windows, trend)


SOURCE_COLUMNS: Final = ("Source", "Platform", "Received", "Accepted", "Rejected", "Processing")
SOURCE_TAIL: Final = ("Posted", "PostFailed", "PlatformReported", "Difference")


def source_report(
    rows: Iterable[Mapping[str, Any]],
    sources: Sequence[Mapping[str, Any]],
    platform_counts: Mapping[UUID, tuple[int, int]] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """One row per source: received, accepted, rejected, processing, one column per disposition code
    of the catalogue (and any other seen), posted, post-failed, the platform's own count and the
    difference (blank when unknown).

    rows: source_id, status, disposition_code, post_out_status, n. sources: source_id, name, platform.
    platform_counts: source_id → (platform_reported, leadrelay_count) over the window's days the
    connector checked, both by creation day; Difference = platform − LeadRelay (> 0: leads missing).
    Received counts by day of arrival, so it need not equal PlatformReported − Difference.
    """
    totals: dict[UUID, Totals] = defaultdict(Totals)
    by_code: dict[UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    codes: set[str] = set()
    for r in rows:
        totals[r["source_id"]].add(r["status"], r["post_out_status"], r["n"])
        if r["status"] == "REJECTED" and r["disposition_code"]:
            by_code[r["source_id"]][r["disposition_code"]] += r["n"]
            codes.add(r["disposition_code"])
    # Every catalogue code, always in the same order, so columns never come and go with the window.
    code_list = [*dispositions.CATALOGUE, *sorted(codes - set(dispositions.CATALOGUE))]
    header = [*SOURCE_COLUMNS, *code_list, *SOURCE_TAIL]
    out = []
    for s in sources:
        t = totals.get(s["source_id"], Totals())
        reported = (platform_counts or {}).get(s["source_id"])
        out.append(
            [
                s["name"],
                s["platform"],
                t.received,
                t.accepted,
                t.rejected,
                t.processing,
                *(by_code[s["source_id"]].get(c, 0) for c in code_list),
                t.posted,
                t.post_failed,
                "" if reported is None else reported[0],
                "" if reported is None else reported[0] - reported[1],
            ]
        )
    return header, out


@dataclass
class Rejections:
    by_disposition: list[dict[str, Any]]  # code, rejected (most first)
    by_source: list[dict[str, Any]]  # source, rejected (most first)
    over_time: list[dict[str, Any]]  # day, code, rejected
    total: int


def rejections(rows: Iterable[Mapping[str, Any]], source_names: Mapping[UUID, str]) -> Rejections:
    """rows: day, source_id, disposition_code, n (REJECTED leads only)."""
    codes: dict[str, int] = defaultdict(int)
    per_source: dict[UUID, int] = defaultdict(int)
    per_day: dict[tuple[date, str], int] = defaultdict(int)
    for r in rows:
        if r["n"] == 0:
            continue
        code = r["disposition_code"] or "(none)"
        codes[code] += r["n"]
        per_source[r["source_id"]] += r["n"]
        per_day[(r["day"], code)] += r["n"]
    return Rejections(
        by_disposition=[{"code": c, "rejected": n} for c, n in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))],
        by_source=[
            {"source": source_names.get(s, str(s)), "rejected": n}
            for s, n in sorted(per_source.items(), key=lambda kv: (-kv[1], source_names.get(kv[0], "")))
        ],
        over_time=[{"day": d, "code": c, "rejected": n} for (d, c), n in sorted(per_day.items())],
        total=sum(codes.values()),
    )


REJECTION_HEADER: Final = ("Source", "DispositionCode", "Rejected")


def rejection_table(rows: Iterable[Mapping[str, Any]], source_names: Mapping[UUID, str]) -> list[list[Any]]:
    """The Rejections file: one row per source and disposition code (most first)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        counts[(source_names.get(r["source_id"], str(r["source_id"])), r["disposition_code"])] += r["n"]
    return [[s, c, n] for (s, c), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n]


# `job_function: "Ingeniería" is not on the picklist` — a reason names the column and quotes the value
# (several failures are joined with "; "; the first names the disposition's rule).
_REASON = re.compile(r'^(?P<column>[^:"]{1,200}): "(?P<value>.*?)"(?=\s|;|$)')
# Reasons quote at most 60 characters; a shortened value cannot be mapped.
_SHORTENED = "…"


@dataclass(frozen=True)
class OffendingValue:
    source_id: UUID
    disposition_code: str
    column: str
    value: str
    reason: str
    count: int


def offending_values(rows: Iterable[Mapping[str, Any]], limit: int = 50) -> list[OffendingValue]:
    """The most frequent rejection reasons with the column and value they name (when they do).

    rows: source_id, disposition_code, custom_reason, n.
    """
    out = []
    for r in rows:
        if r["n"] <= 0:
            continue
        m = _REASON.match(r["custom_reason"])
        if m and m.group("value").endswith(_SHORTENED):
            m = None
        out.append(
            OffendingValue(
                r["source_id"],
                r["disposition_code"],
                m.group("column").strip() if m else "",
                m.group("value") if m else "",
                r["custom_reason"],
                r["n"],
            )
        )
    out.sort(key=lambda o: (-o.count, o.reason))
    return out[:limit]


def with_totals(header: Sequence[str], rows: Sequence[Sequence[Any]], label: str = "Total") -> list[list[Any]]:
    """The rows and a totals row: numeric columns summed (blank where a column holds no number)."""
    total: list[Any] = [label]
    for i in range(1, len(header)):
        numbers = [r[i] for r in rows if isinstance(r[i], int | float) and not isinstance(r[i], bool)]
        total.append(sum(numbers) if numbers else "")
    return [*map(list, rows), total]


def acceptance_rate(accepted: int, received: int) -> float | None:
    """Accepted share of the received leads, 0..1; None when nothing was received."""
    return accepted / received if received else None
