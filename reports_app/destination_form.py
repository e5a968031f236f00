"""Pure helpers of the destinations page: "name: value" lines (headers, a test lead's fields), a
made-up test lead for a source's columns, and a delivery's verdict and state in words."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

# Plausible values for the columns people usually map, so a made-up lead passes a CRM's checks.
_SAMPLES: Final[dict[str, str]] = {
    "email": "test.lead@example.com",
    "first_name": "Test",
    "last_name": "Lead",
    "full_name": "Test Lead",
    "phone": "+15555550100",
    "company": "Example Inc.",
    "job_title": "Marketing Manager",
    "country": "United States",
    "city": "Springfield",
    "zip": "12345",
}


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """ "Name: value" a line. Raises ValueError naming the line that is not one."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"{what}, line {n}: write it as “name: value”")
        out[name.strip()] = value.strip()
    return out


def synthetic_lead(columns: Sequence[str]) -> str:
    """A made-up lead for the columns, as "column: value" lines a person can edit."""
    return "\n".join(f"{c}: {_SAMPLES.get(c.lower(), 'Test')}" for c in columns) or "email: test.lead@example.com"


def verdict(outcome: str, reason: str, record_id: str, status: int, error: str) -> tuple[str, str]:
    """(level: success | warning | error, what the CRM's answer means) for a test send."""
    if outcome == "posted":
        return "success", "The CRM took the lead" + (f" (record {record_id})." if record_id else ".")
    if outcome == "rejected":
        return "warning", f"The CRM refused the lead: {reason or f'HTTP {status}'}. It would not be retried."
    if outcome == "retry":
        why = reason or error or "no answer"
        return "warning", f"No usable answer ({why}): a real delivery would be retried later."
    return "error", f"The delivery would fail: {reason or error or f'HTTP {status}'}."


def pretty_body(body: str) -> str:
    """A JSON body indented for reading; anything else as it is."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def state(enabled: bool, paused: bool, paused_reason: str, failures: int) -> str:
    if not enabled:
        return "Switched off"
    if paused:
        return f"Paused: {paused_reason}" if paused_reason else f"Paused after {failures} failures in a row"
    return "Sending"


def readable_excerpt(text: str) -> str:
    """A logged request or answer for reading: the lines before its JSON as they are, the JSON
    indented (a truncated one stays as it is)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return text
    return text[:start] + pretty_body(text[start:])
