"""One delivery, as pure functions: the request body built from a lead, and the verdict on the answer.

Verdicts: `posted` (the CRM took it, maybe with a record id), `rejected` (the CRM said no, with its
reason: never retried), `retry` (5xx, 408, 429, timeouts, connection errors, an answer we cannot
parse) and `failed` (any other 4xx or unexpected status: retrying would not help).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from validation_service.destinations import BodyField, Success, compiled_path, compiled_regex

POSTED = "posted"
REJECTED = "rejected"
RETRY = "retry"
FAILED = "failed"

EXCERPT_CHARS = 1000
RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""
    record_id: str = ""


def build_body(body_format: str, body: Sequence[BodyField], lead: Mapping[str, Any]) -> tuple[bytes, str]:
    """(payload, content type). `lead` holds the mapped columns and the built-in lead columns as text.

    A column the lead does not have is sent empty, so the CRM always sees the same shape."""
    values: dict[str, Any] = {}
    for f in body:
        if f.constant_kind:
            values[f.column] = f.constant
        else:
            value = lead.get(f.lead_column)
            values[f.column] = "" if value is None else value
    if body_format == "FORM":
        return urlencode({k: _form_text(v) for k, v in values.items()}).encode(), "application/x-www-form-urlencoded"
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def classify(success: Success, status: int | None, text: str, error: str = "") -> Verdict:
    """The verdict on one attempt. `status` None (with `error`) means no HTTP answer at all."""
    if status is None:
        return Verdict(RETRY, error or "no response")
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Verdict(RETRY, f"HTTP {status}{_reason_suffix(success, text)}")
    if not any(low <= status <= high for low, high in success.status_ranges):
        if 300 <= status < 400:
            return Verdict(FAILED, f"HTTP {status}: redirects are not followed")
        return Verdict(FAILED, f"HTTP {status}{_reason_suffix(success, text)}")
    parsed: Any = _NOT_PARSED
    if success.result_json_path or success.record_id_json_path or (success.accepted_regex and success.reason_json_path):
        parsed = _parse(text)
        if parsed is _UNPARSABLE and (success.result_json_path or success.record_id_json_path):
            return Verdict(RETRY, f"HTTP {status}: the response is not JSON")
    if success.result_json_path:
        value = first_match(success.result_json_path, parsed)
        if value is None or _text(value) not in success.accepted_values:
            return Verdict(REJECTED, _rejection_reason(success, parsed, f"result {_text(value)!r}"))
    elif success.accepted_regex and not compiled_regex(success.accepted_regex).search(text):
        return Verdict(REJECTED, _rejection_reason(success, parsed, "the response did not match accepted_regex"))
    record_id = ""
    if success.record_id_json_path:
        found = first_match(success.record_id_json_path, parsed)
        record_id = "" if found is None else _text(found)
    return Verdict(POSTED, "", record_id)


def excerpt(text: str) -> str:
    """A bounded, storable piece of a destination's answer (or of a reason quoting it)."""
    return storable(text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…")


def storable(text: str) -> str:
    """Text PostgreSQL accepts: a destination may answer anything, and PostgreSQL refuses a NUL in
    text (one such answer used to fail the write of a whole batch). NUL and lone surrogates (from a
    JSON "\\ud800" escape) become U+FFFD."""
    return text.replace("\x00", "\ufffd").encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def first_match(path: str, document: Any) -> Any:
    if document is _NOT_PARSED or document is _UNPARSABLE:
        return None
    keys = _simple_keys(path)
    if keys is not None:  # "$.a.b": plain lookups, the common case, without the parser's cost per answer
        for key in keys:
            if not isinstance(document, dict) or key not in document:
                return None
            document = document[key]
        return document
    matches = compiled_path(path).find(document)
    return matches[0].value if matches else None


@lru_cache(maxsize=512)
def _simple_keys(path: str) -> tuple[str, ...] | None:
    match = _SIMPLE_PATH.match(path)
    return tuple(match.group(1).split(".")) if match else None


_SIMPLE_PATH = re.compile(r"^\$\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")


_NOT_PARSED = object()
_UNPARSABLE = object()


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _UNPARSABLE


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _rejection_reason(success: Success, parsed: Any, fallback: str) -> str:
    if success.reason_json_path:
        reason = first_match(success.reason_json_path, parsed)
        if reason not in (None, ""):
            return _text(reason)
    return fallback


def _reason_suffix(success: Success, text: str) -> str:
    """The CRM's own words for an error, when its reason path finds any."""
    if not success.reason_json_path or not text:
        return ""
    reason = first_match(success.reason_json_path, _parse(text))
    return f": {_text(reason)}" if reason not in (None, "") else ""
