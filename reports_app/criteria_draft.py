"""Acceptance criteria as the console edits them: plain rule dicts ({kind, column, params,
disposition_code, custom_reason}, the validation service's own JSON shape), said in words, compared
between versions, and a dry run's flips counted. Pure: no I/O, no protobuf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

KINDS: Final[dict[str, str]] = {
    "required": "Required",
    "email": "Valid email",
    "phone": "Valid phone number",
    "picklist": "Picklist",
    "max_length": "Maximum length",
    "pattern": "Pattern",
    "duplicate": "No duplicates",
    "reject_test_leads": "Reject test leads",
}

Rule = dict[str, Any]


def new_rule(kind: str, column: str = "") -> Rule:
    """A rule of `kind` with the parameters a person then fills."""
    defaults: dict[str, dict[str, Any]] = {
        "email": {"check_deliverability": False},
        "phone": {"default_region": ""},
        "picklist": {"allowed": [], "mapper": {}, "case_insensitive": False},
        "max_length": {"max": 255},
        "pattern": {"regex": ""},
        "duplicate": {"window_days": 30, "columns": [column] if column else [], "scope": "source"},
    }
    params = defaults.get(kind, {})
    return {
        "kind": kind,
        "column": "" if kind in ("duplicate", "reject_test_leads") else column,
        "params": params,
        "disposition_code": "",
        "custom_reason": "",
    }


def _quoted(values: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(f"“{v}”" for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def describe(rule: Mapping[str, Any]) -> str:
    """The rule in one line, as a manager reads it."""
    kind, column, p = rule["kind"], rule.get("column", ""), rule.get("params") or {}
    if kind == "required":
        return f"{column} must be filled in"
    if kind == "email":
        extra = " and its domain must receive mail" if p.get("check_deliverability") else ""
        return f"{column} must be a valid email address{extra}"
    if kind == "phone":
        region = p.get("default_region") or ""
        return f"{column} must be a valid phone number" + (
            f" (numbers without a country code: {region})" if region else ""
        )
    if kind == "picklist":
        mapper = p.get("mapper") or {}
        text = f"{column} must be one of {_quoted(list(p.get('allowed') or []))}"
        if mapper:
            text += f"; {len(mapper)} variant{'s' if len(mapper) != 1 else ''} mapped"
        return text + (" (ignoring case)" if p.get("case_insensitive") else "")
    if kind == "max_length":
        return f"{column} must be at most {p.get('max')} characters"
    if kind == "pattern":
        return f"{column} must match the pattern {p.get('regex', '')}"
    if kind == "duplicate":
        where = "any source of the account" if p.get("scope") == "account" else "this source"
        cols = " + ".join(p.get("columns") or [])
        return f"no second lead with the same {cols} within {p.get('window_days')} days ({where})"
    if kind == "reject_test_leads":
        return "test leads are rejected"
    return f"{kind} on {column}"


def title(rule: Mapping[str, Any]) -> str:
    kind = KINDS.get(rule["kind"], rule["kind"])
    return f"{kind} · {rule['column']}" if rule.get("column") else kind


def _identity(rule: Mapping[str, Any]) -> tuple[str, str]:
    """What makes two versions' rules "the same rule, changed": its kind and column (the
    duplicate rule's columns)."""
    if rule["kind"] == "duplicate":
        return ("duplicate", "+".join((rule.get("params") or {}).get("columns") or []))
    return (rule["kind"], rule.get("column", ""))


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    po, pn = old.get("params") or {}, new.get("params") or {}
    if old["kind"] == "picklist":
        was, now = list(po.get("allowed") or []), list(pn.get("allowed") or [])
        added = [v for v in now if v not in was]
        removed = [v for v in was if v not in now]
        if added:
            out.append(f"allowed + {_quoted(added)}")
        if removed:
            out.append(f"allowed − {_quoted(removed)}")
        mo, mn = dict(po.get("mapper") or {}), dict(pn.get("mapper") or {})
        for variant in sorted(mn.keys() - mo.keys()):
            out.append(f"mapper + “{variant}” → “{mn[variant]}”")
        for variant in sorted(mo.keys() - mn.keys()):
            out.append(f"mapper − “{variant}” → “{mo[variant]}”")
        for variant in sorted(mo.keys() & mn.keys()):
            if mo[variant] != mn[variant]:
                out.append(f"mapper “{variant}”: “{mo[variant]}” → “{mn[variant]}”")
        if bool(po.get("case_insensitive")) != bool(pn.get("case_insensitive")):
            out.append("ignores case" if pn.get("case_insensitive") else "matches case exactly")
    else:
        for key in sorted(set(po) | set(pn)):
            if po.get(key) != pn.get(key):
                out.append(f"{key.replace('_', ' ')}: {po.get(key)!r} → {pn.get(key)!r}")
    if old.get("disposition_code", "") != new.get("disposition_code", ""):
        out.append(f"code: {old.get('disposition_code') or 'default'} → {new.get('disposition_code') or 'default'}")
    if old.get("custom_reason", "") != new.get("custom_reason", ""):
        out.append(f"reason: “{old.get('custom_reason', '')}” → “{new.get('custom_reason', '')}”")
    return out


def diff(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    """What changed from `old` to `new`, one line per rule added, removed or changed; [] when the
    two say the same (order aside)."""
    before = {_identity(r): r for r in old}
    after = {_identity(r): r for r in new}
    lines: list[str] = []
    for key, rule in after.items():
        if key not in before:
            lines.append(f"Added: {title(rule)} — {describe(rule)}")
        else:
            changed = _changes(before[key], rule)
            if changed:
                lines.append(f"Changed: {title(rule)} — {'; '.join(changed)}")
    for key, rule in before.items():
        if key not in after:
            lines.append(f"Removed: {title(rule)} — {describe(rule)}")
    return lines


def who(actor: str, names: Mapping[str, str]) -> str:
    """A person's name for an actor label ("user:<id>", "key:<prefix>", "" the system)."""
    kind, _, ident = actor.partition(":")
    if kind == "user":
        return names.get(ident, "a former user")
    if kind == "key":
        return f"API key {ident}…"
    return "LeadRelay"


@dataclass
class Flips:
    """A dry run's judgement of stored leads against their stored one."""

    judged: int = 0
    to_accepted: list[dict[str, Any]] = field(default_factory=list)
    to_rejected: list[dict[str, Any]] = field(default_factory=list)
    reason_changed: int = 0


def flips(leads: Sequence[Mapping[str, Any]]) -> Flips:
    """`leads`: {lead_id, stored_status, stored_code, stored_reason, status, code, reason}, status
    words ACCEPTED / REJECTED / PROCESSING."""
    out = Flips(judged=len(leads))
    for lead in leads:
        before, now = lead["stored_status"], lead["status"]
        if before != "ACCEPTED" and now == "ACCEPTED":
            out.to_accepted.append(dict(lead))
        elif before == "ACCEPTED" and now != "ACCEPTED":
            out.to_rejected.append(dict(lead))
        elif now == "REJECTED" and lead["stored_code"] != lead["code"]:
            out.reason_changed += 1
    return out


def parse_lines(text: str) -> list[str]:
    """One value a line, blank lines and surrounding spaces dropped, repeats once."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
