"""What deserves a message to the notification role, as plain functions over plain data (no I/O).

`holding(facts)` is every condition that holds now, keyed so the same situation has the same key on
every tick; `changes(open, now)` compares it with the alerts still open: a key that appears starts
an alert (one message), a key that disappears clears it (one more message). Finished jobs (imports,
uploads, syncs) are events: each one starts an alert that clears at once, with a single message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

# A platform authorisation that only a person can renew raises an alert this long before it ends
# (the notifier passes LEADRELAY_RECONNECT_REMIND_DAYS).
TOKEN_WARNING: Final = timedelta(days=15)
# A destination is "failing" after this many failed deliveries in a row (before its breaker pauses it).
FAILING_AFTER: Final = 3
# The rejection rate "jumps": today's rate is at least this many points above the 7-day baseline and
# at least twice it, on at least MIN_LEADS leads today and in the baseline.
JUMP_POINTS: Final = 0.20
MIN_LEADS: Final = 20
# A complete day's platform count differs from ours "beyond the threshold": by more than both.
COUNT_GAP_LEADS: Final = 2
COUNT_GAP_SHARE: Final = 0.05
COUNT_DAYS: Final = 7

KINDS: Final = {
    "reconnect": "Source needs reconnecting",
    "token": "Platform authorisation ends soon",
    "destination": "Destination paused or failing",
    "rejections": "Rejection rate jumped",
    "counts": "Platform count differs",
    "stage": "CRM stage without a Meta stage",
    "job": "Import, upload, sync or backfill ended",
}


@dataclass(frozen=True)
class Source:
    source_id: str
    name: str
    platform: str
    state: str
    last_error: str = ""


@dataclass(frozen=True)
class Grant:
    grant_id: str
    platform: str
    reconnect_by: datetime | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Destination:
    destination_id: str
    name: str
    paused_until: datetime | None
    paused_reason: str
    consecutive_failures: int
    enabled: bool = True


@dataclass(frozen=True)
class DayCounts:
    """One source's received and rejected leads of one UTC day."""

    source_id: str
    day: date
    received: int
    rejected: int


@dataclass(frozen=True)
class PlatformDay:
    source_id: str
    day: date
    platform: int
    ours: int
    complete: bool  # checked after the day ended


@dataclass(frozen=True)
class Job:
    kind: str  # import, reupload, sync, backfill
    job_id: str
    name: str  # the file or source
    ok: bool
    finished_at: datetime
    summary: str


@dataclass(frozen=True)
class Facts:
    now: datetime
    sources: Sequence[Source] = ()
    grants: Sequence[Grant] = ()
    destinations: Sequence[Destination] = ()
    days: Sequence[DayCounts] = ()
    platform_days: Sequence[PlatformDay] = ()
    unmapped_stages: Mapping[str, int] = field(default_factory=dict)
    jobs: Sequence[Job] = ()


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    title: str  # the e-mail subject, and the alert list's line
    message: str  # what is wrong and what to do
    event: bool = False  # clears as soon as it started (a finished job)


def _name(facts: Facts, source_id: str) -> str:
    for s in facts.sources:
        if s.source_id == source_id:
            return s.name
    return "a deleted source"


def reconnects(facts: Facts) -> list[Alert]:
    return [
        Alert(
            f"reconnect:{s.source_id}",
            "reconnect",
            f"Source “{s.name}” needs reconnecting",
            f"LeadRelay can no longer read leads from the {s.platform.title()} source “{s.name}”"
            + (f": {s.last_error}" if s.last_error else ".")
            + "\nOpen Settings → Connect a platform and press Reconnect on it.",
        )
        for s in facts.sources
        if s.state == "NEEDS_RECONNECT"
    ]


def tokens(facts: Facts, warning: timedelta = TOKEN_WARNING) -> list[Alert]:
    out = []
    for g in facts.grants:
        if g.reconnect_by is None or not g.sources or not facts.now < g.reconnect_by <= facts.now + warning:
            continue
        days = max(0, (g.reconnect_by - facts.now).days)
        names = ", ".join(f"“{n}”" for n in g.sources)
        out.append(
            Alert(
                f"token:{g.grant_id}",
                "token",
                f"{g.platform.title()} authorisation ends on {g.reconnect_by:%Y-%m-%d}",
                f"The {g.platform.title()} authorisation of {names} ends on {g.reconnect_by:%Y-%m-%d} "
                f"(in {days} days) and only a person can renew it.\n"
                "Open Settings → Connect a platform and press Reconnect before then.",
            )
        )
    return out


def destinations(facts: Facts, failing_after: int = FAILING_AFTER) -> list[Alert]:
    out = []
    for d in facts.destinations:
        paused = d.paused_until is not None and d.paused_until > facts.now
        if paused:
            why = f" ({d.paused_reason})" if d.paused_reason else " after repeated failures"
            assert d.paused_until is not None
            text = (
                f"Destination “{d.name}” is paused{why} until {d.paused_until:%Y-%m-%d %H:%M} UTC; "
                "its leads wait and are sent when it resumes.\n"
                "Check the CRM, then resume it on the Post-outs page."
            )
            title = f"Destination “{d.name}” is paused"
        elif d.enabled and d.consecutive_failures >= failing_after:
            text = (
                f"The last {d.consecutive_failures} deliveries to destination “{d.name}” failed; "
                "they are retried. See the Post-outs page for the CRM's answers."
            )
            title = f"Destination “{d.name}” is failing"
        else:
            continue
        out.append(Alert(f"destination:{d.destination_id}", "destination", title, text))
    return out


def rejection_jumps(facts: Facts) -> list[Alert]:
    today = facts.now.date()
    by_source: dict[str, list[DayCounts]] = {}
    for d in facts.days:
        by_source.setdefault(d.source_id, []).append(d)
    out = []
    for source_id, days in by_source.items():
        now = [d for d in days if d.day == today]
        base = [d for d in days if today - timedelta(days=7) <= d.day < today]
        received, rejected = sum(d.received for d in now), sum(d.rejected for d in now)
        base_received, base_rejected = sum(d.received for d in base), sum(d.rejected for d in base)
        if received < MIN_LEADS or base_received < MIN_LEADS:
            continue
        rate, baseline = rejected / received, base_rejected / base_received
        if rate >= baseline + JUMP_POINTS and rate >= 2 * baseline:
            name = _name(facts, source_id)
            out.append(
                Alert(
                    f"rejections:{source_id}",
                    "rejections",
                    f"Rejections jumped on “{name}”: {rate:.0%} today",
                    f"Source “{name}” rejected {rejected} of {received} leads today ({rate:.0%}), against "
                    f"{baseline:.0%} over the 7 days before.\n"
                    "The Rejections page shows the reasons; a form or a criteria change is the usual cause.",
                )
            )
    return out


def count_gaps(facts: Facts) -> list[Alert]:
    out = []
    since = facts.now.date() - timedelta(days=COUNT_DAYS)
    for p in facts.platform_days:
        gap = p.platform - p.ours
        if not p.complete or p.day < since:
            continue
        if abs(gap) <= COUNT_GAP_LEADS or abs(gap) <= COUNT_GAP_SHARE * max(p.platform, p.ours):
            continue
        name = _name(facts, p.source_id)
        advice = "Sync the day's leads from the source's page." if gap > 0 else "LeadRelay has more than it reports."
        out.append(
            Alert(
                f"counts:{p.source_id}:{p.day.isoformat()}",
                "counts",
                f"“{name}”: the platform counts {p.platform} leads on {p.day:%Y-%m-%d}, LeadRelay {p.ours}",
                f"For {p.day:%Y-%m-%d} (a complete UTC day) the platform reports {p.platform} leads created on "
                f"source “{name}” and LeadRelay has {p.ours}. {advice}",
            )
        )
    return out


def unmapped_stages(facts: Facts) -> list[Alert]:
    return [
        Alert(
            f"stage:{stage}",
            "stage",
            f"CRM stage “{stage}” has no Meta stage",
            f"Your CRM reported the stage “{stage}” ({events} changes) and no Meta stage is mapped to it, so "
            "Meta is not told about those leads.\nMap it on the lifecycle feedback settings.",
        )
        for stage, events in sorted(facts.unmapped_stages.items())
    ]


JOB_WORDS: Final = {"import": "Import", "reupload": "Upload", "sync": "Sync", "backfill": "Lifecycle backfill"}


def jobs(facts: Facts) -> list[Alert]:
    out = []
    for j in facts.jobs:
        what = JOB_WORDS.get(j.kind, j.kind.title())
        outcome = "finished" if j.ok else "failed"
        out.append(
            Alert(
                f"job:{j.kind}:{j.job_id}",
                "job",
                f"{what} of “{j.name}” {outcome}",
                f"{what} of “{j.name}” {outcome} at {j.finished_at:%Y-%m-%d %H:%M} UTC."
                + (f"\n{j.summary}" if j.summary else ""),
                event=True,
            )
        )
    return out


def holding(facts: Facts, token_warning: timedelta = TOKEN_WARNING) -> dict[str, Alert]:
    """Every condition that holds now (and every job that ended since the last look), by key."""
    found: Iterable[Alert] = (
        *reconnects(facts),
        *tokens(facts, token_warning),
        *destinations(facts),
        *rejection_jumps(facts),
        *count_gaps(facts),
        *unmapped_stages(facts),
        *jobs(facts),
    )
    return {a.key: a for a in found}


@dataclass(frozen=True)
class Changes:
    started: list[Alert]
    cleared: list[str]  # keys of open alerts that no longer hold


def changes(open_keys: Iterable[str], now: Mapping[str, Alert]) -> Changes:
    """What starts and what clears, given the keys of the alerts still open."""
    opened = set(open_keys)
    started = [a for key, a in now.items() if key not in opened]
    cleared = sorted(key for key in opened if key not in now)
    return Changes(started, cleared)


def cleared_title(title: str) -> str:
    return f"Resolved: {title}"


def cleared_message(kind: str, title: str) -> str:
    return f"This no longer holds: {title}.\n({KINDS.get(kind, kind)})"
