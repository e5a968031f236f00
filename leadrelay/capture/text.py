"""The one sanitiser for text on its way into storage: what PostgreSQL cannot store becomes U+FFFD.

PostgreSQL refuses a NUL (0x00 in text, `\\u0000` in jsonb) and a lone surrogate (no UTF-8 for it;
a `"\\ud800"` escape in a platform's JSON gives one). Either in one lead would fail the whole
statement, so every other lead of its batch, poll page or import chunk with it. Every path that
stores lead text (intake, webhooks, polls, syncs, files, forms, the webhook inbox) passes it through
here first; the lead is then stored and judged like any other. Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson

from leadrelay.capture.leads import Answer, IncomingLead

REPLACEMENT = "\ufffd"

# In JSON text: a NUL or a surrogate written as an escape (the text itself is valid UTF-8).
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


def clean(text: str) -> str:
    """`text` with each NUL and each lone surrogate replaced by U+FFFD (pairs are joined)."""
    if text.isascii():  # the common case: one flag check, then a C scan for NUL
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string, keys too, `clean`."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """JSON text of `value` that PostgreSQL stores as jsonb: every string `clean`. orjson first (a
    fifth of the stdlib encoder's time); only a value it refuses or that carries a NUL is cleaned."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return orjson.dumps(clean_value(value)).decode()
    return orjson.dumps(clean_value(value)).decode() if "\\u0000" in text else text


def loads(text: str | bytes) -> Any:
    """JSON text from outside as a value; ValueError (with the parser's reason) when it is not JSON
    or nests deeper than 1,024 levels. orjson bounds the depth without recursing; it also refuses
    a lone surrogate escape, which is still JSON (`clean` makes it U+FFFD): for that error only the
    standard parser reads it, whose own recursion limit is then an error like any other."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise ValueError(str(exc)) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def clean_json(text: str) -> str:
    """JSON text from elsewhere made storable as jsonb (NUL and surrogate escapes as U+FFFD). Text
    without such an escape (nearly all) is returned as is; text that is not JSON is left for the
    statement's own error (callers that accept JSON from a client check it first)."""
    if "\x00" not in text and ("\\u" not in text or not _BAD_ESCAPE.search(text)):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return dumps(value)


def clean_lead(lead: IncomingLead) -> IncomingLead:
    """The lead with every text clean; the same object when nothing needed it (nearly always)."""
    strings = [lead.form_ref, lead.platform_lead_id, *lead.platform_context.keys(), *lead.platform_context.values()]
    for a in lead.answers:
        strings.append(a.name)
        strings.extend(a.values)
    if _storable("".join(strings)):  # one C-level check for the lead: ~1 us instead of ~3 string by string
        return lead
    return dataclasses.replace(
        lead,
        answers=tuple(Answer(clean(a.name), tuple(clean(v) for v in a.values)) for a in lead.answers),
        form_ref=clean(lead.form_ref),
        platform_lead_id=clean(lead.platform_lead_id),
        platform_context={clean(k): clean(v) for k, v in lead.platform_context.items()},
    )
