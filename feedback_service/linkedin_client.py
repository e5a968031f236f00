"""LinkedIn's Conversions API over HTTP: POST {LINKEDIN_API_BASE_URL}/rest/conversionEvents (batch
create), and LinkedIn's answers sorted into the same kinds as Meta's (capi_client): sent, refused
(split the batch), try again later, or a token that no longer works (pause).

LinkedIn errors: `{"status", "serviceErrorCode", "code", "message"}` with the HTTP status; 401 is a
refused token, 403 a missing permission (`rw_conversions`), 429 throttling. A batch create answers
one status per element; any element not created means the batch was not taken as a whole.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from feedback_service.capi_client import (
    DEFAULT_TIMEOUT_SECONDS,
    OK,
    REJECTED,
    TOKEN,
    TRANSIENT,
    CapiAnswer,
    post_classified,
)


def conversion_events_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/rest/conversionEvents"


def headers(access_token: str, version: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {access_token}",
        "LinkedIn-Version": version,
        "X-Restli-Protocol-Version": "2.0.0",
        "X-RestLi-Method": "BATCH_CREATE",
        "Content-Type": "application/json",
    }


def classify(http_status: int, payload: Any) -> CapiAnswer:
    """LinkedIn's answer (status + parsed JSON body, or None when the body was not JSON)."""
    body: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    if 200 <= http_status < 300:
        raw = body.get("elements")
        elements: list[Any] = raw if isinstance(raw, list) else []
        for index, element in enumerate(elements):
            if isinstance(element, Mapping) and int(element.get("status") or 0) >= 300:
                return CapiAnswer(REJECTED, http_status, message=f"elements[{index}]: {_message(element)}")
        return CapiAnswer(OK, http_status, events_received=len(elements))
    message = _message(body) or f"HTTP {http_status}"
    if http_status in (401, 403):
        kind = TOKEN
    elif http_status == 429 or http_status >= 500:
        kind = TRANSIENT
    else:
        kind = REJECTED
    return CapiAnswer(kind, http_status, message=message, code=body.get("serviceErrorCode"))


def _message(body: Mapping[str, Any]) -> str:
    raw = body.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else body
    status = error.get("status")
    text = str(error.get("message") or "").strip()
    return f"(HTTP {status}) {text}" if status and text else text


async def post_events(
    session: aiohttp.ClientSession,
    url: str,
    body: Mapping[str, Any],
    *,
    access_token: str,
    version: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> CapiAnswer:
    # 5,000 events are over a megabyte: streamed from a buffer (aiohttp warns about large raw bytes).
    data = io.BytesIO(json.dumps(body, separators=(",", ":")).encode())
    return await post_classified(
        session,
        url,
        data,
        headers(access_token, version),
        classify,
        platform="LinkedIn",
        timeout_seconds=timeout_seconds,
    )
