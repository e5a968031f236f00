"""One delivery, as pure functions: the request body built from a lead, and the verdict on the answer.

Verdicts: `posted` (the CRM took it, maybe with a record id), `rejected` (the CRM said no, with its
reason: never retried), `retry` (5xx, 408, 429, timeouts, connection errors, an answer we cannot
parse) and `failed` (any other 4xx or unexpected status: retrying would not help).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from validation_service.body_template import compile_template
from validation_service.compact_json import json_bytes, json_text
from validation_service.destinations import BodyField, Success, compiled_path, compiled_regex

POSTED = "posted"
REJECTED = "rejected"
RETRY = "retry"
FAILED = "failed"
# The CRM refused the access token: renew it and send again (never stored: the worker resolves it).
REAUTH = "reauth"

EXCERPT_CHARS = 1000
# In a destination's URL: the lead's id, for a CRM that upserts by a key in the path.
LEAD_ID = "{{lead_id}}"
RETRYABLE_STATUSES = frozenset({408, 429})
_EXISTING_ID = re.compile(r"Existing ID: ([0-9A-Za-z_-]+)")


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""
    record_id: str = ""
    answer: str = ""  # the record's own part of a batch answer (its log excerpt); empty: the whole answer


def build_body(
    body_format: str, body: Sequence[BodyField], lead: Mapping[str, Any], template: str = ""
) -> tuple[bytes, str]:
    """(payload, content type). `lead` holds the mapped columns and the built-in lead columns as text.

    A column the lead does not have is sent empty, so the CRM always sees the same shape."""
    if template:
        return compile_template(template).render_bytes(lead), "application/json"
    values: dict[str, Any] = {}
    for f in body:
        if f.constant_kind:
            values[f.column] = f.constant
        else:
            value = lead.get(f.lead_column)
            values[f.column] = "" if value is None else value
    if body_format == "FORM":
        return urlencode({k: _form_text(v) for k, v in values.items()}).encode(), "application/x-www-form-urlencoded"
    return json_bytes(values), "application/json"


def lead_url(url: str, lead: Mapping[str, Any]) -> str:
    """The URL for this lead: LEAD_ID replaced by its id (a UUID: nothing to quote)."""
    return url.replace(LEAD_ID, quote(str(lead.get("lead_id", "")), safe="")) if LEAD_ID in url else url


def classify_lookup(
    ok_json_path: str,
    id_json_path: str,
    status: int | None,
    text: str,
    error: str = "",
    *,
    items_json_path: str = "",
    match_key: str = "",
    term: str = "",
) -> Verdict | None:
    """The verdict on a lookup made before sending: POSTED with the record found, RETRY when the
    answer cannot tell (never send blind: an earlier attempt may have made the record), None when
    the vendor has no such record. With `items_json_path`, the record is the listed item whose
    `match_key` is `term`, its id at `id_json_path` within it."""
    if status is None:
        return Verdict(RETRY, f"looking up an earlier attempt's record: {error or 'no response'}")
    if not 200 <= status < 300:
        return Verdict(RETRY, f"looking up an earlier attempt's record: HTTP {status}")
    parsed = _parse(text)
    if parsed is _UNPARSABLE or (ok_json_path and _text(first_match(ok_json_path, parsed)) != "true"):
        return Verdict(RETRY, f"looking up an earlier attempt's record: HTTP {status}, an answer it cannot read")
    if items_json_path:
        items = first_match(items_json_path, parsed)
        listed = items if isinstance(items, list) else []
        item = next((i for i in listed if isinstance(i, dict) and _text(i.get(match_key)).strip() == term), None)
        found = None if item is None else first_match(id_json_path, item)
    else:
        found = first_match(id_json_path, parsed)
    if found in (None, ""):
        return None
    return Verdict(POSTED, "", _text(found), excerpt(text))


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def classify(success: Success, status: int | None, text: str, error: str = "") -> Verdict:
    """The verdict on one attempt. `status` None (with `error`) means no HTTP answer at all."""
    return classify_records(success, status, text, 1, error)[0]


def classify_records(success: Success, status: int | None, text: str, count: int, error: str = "") -> list[Verdict]:
    """One verdict per record sent in the call, in the order sent. Without `records_json_path` the
    whole answer judges every record alike."""
    whole = _judge_call(success, status, text, error)
    if isinstance(whole, Verdict):
        return [whole] * count
    parsed = whole
    if not success.records_json_path:
        return [_judge_record(success, status or 0, parsed, text)] * count
    records = first_match(success.records_json_path, parsed)
    if not isinstance(records, list):
        if _in(status or 0, success.rejected_status_ranges):
            return [Verdict(REJECTED, _reason(success, parsed, f"HTTP {status}"))] * count
        return [Verdict(RETRY, f"HTTP {status}: no per-record results at {success.records_json_path}")] * count
    if len(records) != count:
        # Which answer belongs to which lead is unknown: a person must look (never guess a POSTED).
        return [Verdict(FAILED, f"HTTP {status}: {len(records)} results for {count} records sent")] * count
    verdicts = []
    # accepted_regex reads a record's answer as json.dumps writes it (as it always has); the log's
    # excerpt is the record as compact JSON (orjson: a fifth of the time, per record of a batch).
    regex = bool(success.accepted_regex and not success.result_json_path)
    for r in records:
        v = _judge_record(success, status or 0, r, json.dumps(r, ensure_ascii=False) if regex else "")
        verdicts.append(Verdict(v.outcome, v.reason, v.record_id, excerpt(json_text(r))))
    return verdicts


def classify_traced(
    success: Success,
    status: int | None,
    text: str,
    traces: Sequence[str],
    trace_key: str,
    error: str = "",
    *,
    posted_categories: Collection[str] = (),
) -> list[Verdict]:
    """One verdict per record sent, for a batch answer in no set order whose results and errors
    carry the trace id each record was sent with (HubSpot's objectWriteTraceId): successes in
    `results`, failures in `errors` naming theirs in `context`. An error whose category is in
    `posted_categories` (HubSpot's CONFLICT, when an existing contact counts as posted) posts."""
    whole = _judge_call(success, status, text, error)
    if isinstance(whole, Verdict):
        return [whole] * len(traces)
    answers: dict[str, Verdict] = {}
    results = whole.get("results") if isinstance(whole, dict) else None
    for r in results if isinstance(results, list) else ():
        if isinstance(r, dict) and r.get(trace_key):
            found = first_match(success.record_id_json_path, r) if success.record_id_json_path else None
            answers[str(r[trace_key])] = Verdict(
                POSTED, "", "" if found is None else _text(found), excerpt(json_text(r))
            )
    errors = whole.get("errors") if isinstance(whole, dict) else None
    for e in errors if isinstance(errors, list) else ():
        context = e.get("context") if isinstance(e, dict) else None
        named = context.get(trace_key) if isinstance(context, dict) else None
        for trace in named if isinstance(named, list) else [named] if named else ():
            reason = _text(e.get("message")) or "refused"
            outcome = POSTED if e.get("category") in posted_categories else REJECTED
            # An existing record posts as that record: HubSpot names it in the message.
            existing = _EXISTING_ID.search(reason) if outcome == POSTED else None
            record_id = existing.group(1) if existing else ""
            answers[str(trace)] = Verdict(
                outcome, "" if outcome == POSTED else reason, record_id, excerpt(json_text(e))
            )
    missing = Verdict(FAILED, f"HTTP {status}: the answer names no result for this record")
    return [answers.get(t, missing) for t in traces]


def _judge_call(success: Success, status: int | None, text: str, error: str) -> Verdict | Any:
    """A verdict for the whole call, or the parsed answer when each record is to be judged."""
    if status is None:
        return Verdict(RETRY, error or "no response")
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Verdict(RETRY, f"HTTP {status}{_reason_suffix(success, text)}")
    rejected = _in(status, success.rejected_status_ranges)
    if not rejected and not _in(status, success.status_ranges):
        if 300 <= status < 400:
            return Verdict(FAILED, f"HTTP {status}: redirects are not followed")
        return Verdict(FAILED, f"HTTP {status}{_reason_suffix(success, text)}")
    parsed: Any = _NOT_PARSED
    needs_json = (
        success.result_json_path
        or success.record_id_json_path
        or success.records_json_path
        or success.error_code_json_path
    )
    if needs_json or rejected or (success.accepted_regex and success.reason_json_path):
        parsed = _parse(text)
        if parsed is _UNPARSABLE and needs_json and not rejected:
            return Verdict(RETRY, f"HTTP {status}: the response is not JSON")
    if success.error_code_json_path:
        code = first_match(success.error_code_json_path, parsed)
        if code not in (None, ""):
            code = _text(code)
            said = first_match(success.error_reason_json_path, parsed) if success.error_reason_json_path else None
            reason = f"error {code}" + (f": {_text(said)}" if said not in (None, "") else "")
            if code in success.token_error_codes:
                return Verdict(REAUTH, reason)
            if code in success.retry_error_codes:
                return Verdict(RETRY, reason)
            return Verdict(REJECTED, reason)
    if rejected and not success.records_json_path:
        return Verdict(REJECTED, _reason(success, parsed, f"HTTP {status}"))
    return parsed


def _judge_record(success: Success, status: int, parsed: Any, text: str) -> Verdict:
    if success.result_json_path:
        value = first_match(success.result_json_path, parsed)
        if value is None or _text(value) not in success.accepted_values:
            return Verdict(REJECTED, _reason(success, parsed, f"result {_text(value)!r}"))
    elif success.accepted_regex and not compiled_regex(success.accepted_regex).search(text):
        return Verdict(REJECTED, _reason(success, parsed, "the response did not match accepted_regex"))
    elif _in(status, success.rejected_status_ranges):
        return Verdict(REJECTED, _reason(success, parsed, f"HTTP {status}"))
    record_id = ""
    if success.record_id_json_path:
        found = first_match(success.record_id_json_path, parsed)
        record_id = "" if found is None else _text(found)
    return Verdict(POSTED, "", record_id)


def _in(status: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(low <= status <= high for low, high in ranges)


def excerpt(text: str) -> str:
    """A bounded, storable piece of a destination's answer (or of a reason quoting it)."""
    return storable(text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…")


def storable(text: str) -> str:
    """Text PostgreSQL accepts: a destination may answer anything, and PostgreSQL refuses a NUL in
    text (one such answer used to fail the write of a whole batch). NUL and lone surrogates (from a
    JSON "\\ud800" escape) become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    # Two excerpts a lead: most are ASCII, or encode as UTF-8 (no lone surrogate), and are kept as
    # they are without the UTF-16 round trip (~5 us for 300 characters).
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


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
    """orjson first (a batch answer parses several times faster); what it refuses and Python's
    parser takes (NaN, integers beyond 64 bits) is read as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
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


def _reason(success: Success, parsed: Any, fallback: str) -> str:
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
