"""A source's state in words, and its platform count check in words: what the Sources page shows
instead of enum names. Plain functions over plain data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports_app import labels

SOCIAL = ("FACEBOOK", "LINKEDIN")


def status(source: dict[str, Any], zone: ZoneInfo) -> str:
    """Disabled, needs reconnect, disconnected, not connected yet, paused by the platform's rate
    limit (until when), or active."""
    platform = labels.platform(source["platform"])
    if not source["enabled"]:
        return "Disabled (leads are kept and rejected as switched off)"
    if source["state"] == "NEEDS_RECONNECT":
        return "Needs reconnect"
    if source["state"] == "DISCONNECTED":
        return "Disconnected"
    if source["platform"] in SOCIAL and not source["connected"]:
        return f"Not connected to {platform} yet"
    paused = source.get("paused_until")
    if paused is not None:
        return f"Paused by {platform}'s rate limit until {paused.astimezone(zone):%H:%M}"
    return "Active"


def count_check(source: dict[str, Any]) -> str:
    """The latest whole-day check of the platform's count against ours."""
    if source["platform"] not in SOCIAL:
        return "—"
    day: date | None = source.get("checked_day")
    if day is None:
        return "not checked yet"
    theirs, ours = int(source["platform_reported"]), int(source["leadrelay_count"])
    platform = labels.platform(source["platform"])
    if theirs == ours:
        return f"{day:%d %b}: both {ours}"
    return f"{day:%d %b}: {platform} {theirs}, LeadRelay {ours} ({theirs - ours:+d})"


def when(at: datetime | None, zone: ZoneInfo) -> str:
    return "no leads yet" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
