"""The calls a preset makes for one lead besides sending it, where the vendor has no upsert and no
idempotency key: before sending again after an unknown outcome, ask whether the earlier attempt's
record exists (then that record is the delivery); and find or make the record the lead's must link
to (a Pipedrive lead needs a person), found first so that a retry reuses the one made before.

The calls go through `call` (the worker's: its session, headers, timeout and log); the rest is
plain data. Which calls and how to read them is the preset's (crm_presets.Lookup, Parent).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from validation_service import crm_presets, delivery
from validation_service.compact_json import json_bytes

# (method, URL, body) -> (status, text, error), as the worker's post answers.
Call = Callable[[str, str, bytes], Awaitable[tuple[int | None, str, str]]]


@dataclass(frozen=True)
class Before:
    """What the calls before the send decided: a verdict (the delivery ends here), or none and the
    body to send (`payload`, empty: the one rendered). `status` 401: a call's token was refused."""

    status: int | None = None
    text: str = ""
    error: str = ""
    verdict: delivery.Verdict | None = None
    payload: bytes = b""


def needed(preset: crm_presets.Preset | None, batched: bool) -> bool:
    return preset is not None and not batched and (preset.lookup is not None or preset.parent is not None)


async def before_send(preset: crm_presets.Preset, url: str, payload: bytes, retrying: bool, call: Call) -> Before:
    """`retrying`: an earlier attempt's outcome is unknown (it was not posted, or its lease ran out)."""
    try:
        body = json.loads(payload)
    except ValueError:
        return Before()  # not JSON: nothing to look up by; the send judges it
    if preset.parent is not None:
        return await _with_parent(preset, preset.parent, url, body, retrying, call)
    if retrying and preset.lookup is not None:
        return await _look_up(preset.lookup, crm_presets.lookup_url(preset, url, body, preset.lookup), body, call)
    return Before()


async def _look_up(lookup: crm_presets.Lookup, target: str | None, body: Any, call: Call, parent: str = "") -> Before:
    if target is None:  # nothing to look for (no email): send as before
        return Before()
    target = target.replace("{parent}", parent)
    status, text, error = await call("GET", target, b"")
    verdict = delivery.classify_lookup(
        lookup.ok_json_path,
        lookup.id_json_path,
        status,
        text,
        error,
        items_json_path=lookup.items_json_path,
        match_key=lookup.match_key,
        term=crm_presets.lookup_term(lookup, body),
    )
    return Before(status, text, error, verdict)


async def _with_parent(
    preset: crm_presets.Preset, parent: crm_presets.Parent, url: str, body: Any, retrying: bool, call: Call
) -> Before:
    fields = body.get(parent.body_key) if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        reason = f"the body holds no {parent.body_key!r} object to find or make the {parent.body_key} by"
        return Before(verdict=delivery.Verdict(delivery.FAILED, reason))
    # The parent the vendor has is reused: a retry after a timed-out create finds the one it made.
    found = await _look_up(parent.find, crm_presets.lookup_url(preset, url, fields, parent.find), fields, call)
    if (found.verdict is not None and found.verdict.outcome != delivery.POSTED) or found.status == 401:
        return found
    if found.verdict is None:
        target = crm_presets.on_base(preset, url, parent.path)
        if target is None:
            reason = f"the URL is not the {preset.title} preset's: where to make the {parent.body_key} is unknown"
            return Before(verdict=delivery.Verdict(delivery.FAILED, reason))
        status, text, error = await call("POST", target, json_bytes(fields))
        verdict = delivery.classify(parent.success, status, text, error)
        if verdict.outcome != delivery.POSTED or not verdict.record_id:
            said = verdict.reason or "no id in the answer"
            outcome = verdict.outcome if verdict.outcome != delivery.POSTED else delivery.FAILED
            return Before(status, text, error, delivery.Verdict(outcome, f"{parent.body_key}: {said}"))
        parent_id = verdict.record_id
    else:
        parent_id = found.verdict.record_id
    record = {k: v for k, v in body.items() if k != parent.body_key}
    record[parent.link_field] = int(parent_id) if parent_id.isdigit() else parent_id
    if retrying and preset.lookup is not None:
        target = crm_presets.lookup_url(preset, url, record, preset.lookup)
        seen = await _look_up(preset.lookup, target, record, call, parent_id)
        if seen.verdict is not None or seen.status == 401:
            return seen
    return Before(payload=json_bytes(record))
