"""Compact UTF-8 JSON, as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it: what the
workers send (bodies, batches) and log (records, answers). orjson writes it several times faster;
Python's encoder takes what orjson refuses (integers beyond 64 bits, keys that are not text)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_text(value: Any) -> str:
    return json_bytes(value).decode()
