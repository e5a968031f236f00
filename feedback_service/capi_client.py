"""The Conversions API over HTTP: POST {CAPI_BASE_URL}/{version}/{dataset_id}/events, and Meta's
answers sorted into what the dispatcher does next.

Graph errors come in one envelope, `{"error": {"message", "type", "code", "error_subcode",
"error_user_msg", "fbtrace_id"}}`, usually with HTTP 400 even when throttled (reference §3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

OK = "ok"
REJECTED = "rejected"  # a client error about the payload: split the batch to find the bad events
TRANSIENT = "transient"  # 5xx, timeouts, throttling: try again later with backoff
TOKEN = "token"  # the token (190/102) or appsecret_proof is refused, or lacks permission: pause the account

# Graph codes that mean "try again later": unknown/service errors and the rate limits.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80001, 80004, 80005})
TOKEN_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})

DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class CapiAnswer:
    kind: str
    http_status: int = 0
    events_received: int = 0
    fbtrace_id: str = ""
    message: str = ""
    code: int | None = None


def events_url(base_url: str, version: str, dataset_id: str) -> str:
    return f"{base_url.rstrip('/')}/{version}/{dataset_id}/events"


def classify(http_status: int, payload: Any) -> CapiAnswer:
    """Meta's answer (status + parsed JSON body, or None when the body was not JSON)."""
    if 200 <= http_status < 300 and isinstance(payload, Mapping) and "error" not in payload:
        received = int(payload.get("events_received") or 0)
        return CapiAnswer(OK, http_status, received, str(payload.get("fbtrace_id") or ""))
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        kind = TRANSIENT if http_status >= 500 or http_status == 429 else REJECTED
        return CapiAnswer(kind, http_status, message=f"HTTP {http_status} without a Graph error body")
    code = error.get("code")
    code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    message = _message(error)
    trace = str(error.get("fbtrace_id") or "")
    if code in TOKEN_CODES or code in PERMISSION_CODES or "appsecret_proof" in message:
        # A refused appsecret_proof is the app secret's problem, not the events': wait for a fix.
        kind = TOKEN
    elif code in TRANSIENT_CODES or error.get("is_transient") is True or http_status >= 500 or http_status == 429:
        kind = TRANSIENT
    else:
        kind = REJECTED
    return CapiAnswer(kind, http_status, fbtrace_id=trace, message=message, code=code)


def _message(error: Mapping[str, Any]) -> str:
    """Meta's own words: the user-facing message when present (it names the field), else `message`."""
    parts = [str(error.get("message") or "").strip()]
    user_msg = str(error.get("error_user_msg") or "").strip()
    if user_msg and user_msg not in parts[0]:
        parts.append(user_msg)
    code = error.get("code")
    text = ": ".join(p for p in parts if p)
    return f"(#{code}) {text}" if code is not None else text


async def post_events(
    session: aiohttp.ClientSession,
    url: str,
    body: Mapping[str, Any] | bytes,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> CapiAnswer:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return await post_classified(
        session,
        url,
        data,
        {"Content-Type": "application/json"},
        classify,
        platform="the Conversions API",
        timeout_seconds=timeout_seconds,
    )


async def post_classified(
    session: aiohttp.ClientSession,
    url: str,
    data: Any,
    headers: Mapping[str, str],
    classify_answer: Callable[[int, Any], CapiAnswer],
    *,
    platform: str,
    timeout_seconds: float,
) -> CapiAnswer:
    """One POST, its answer (status + JSON body, None when not JSON) sorted by the platform's
    `classify_answer`; no answer in time, or no connection, is TRANSIENT."""
    try:
        async with session.post(
            url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_seconds)
        ) as response:
            raw = await response.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
            return classify_answer(response.status, payload)
    except TimeoutError:
        return CapiAnswer(TRANSIENT, message=f"no answer from {platform} within {timeout_seconds:g} s")
    except aiohttp.ClientError as exc:
        return CapiAnswer(TRANSIENT, message=f"cannot reach {platform}: {type(exc).__name__}: {exc}")
