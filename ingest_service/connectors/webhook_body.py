"""A webhook POST's body, read before anyone knows who sent it: bounded in size, in how many are
read at once and in time; then parsed as JSON with a bound on nesting.

Anyone can POST to a webhook URL; the signature can only be checked over the whole body. Unbounded,
a hundred 10 MB unsigned POSTs held 1.6 GB. Here one body costs at most `webhook_max_body_bytes`,
at most `webhook_max_open_bodies` are read at once (the rest wait their turn within the timeout),
and a sender that trickles its body is cut off after `webhook_body_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from leadrelay.capture import text
from leadrelay.settings import Settings

_CHUNK = 64 * 1024


class BodyReader:
    def __init__(self, settings: Settings) -> None:
        self._max = settings.webhook_max_body_bytes
        self._timeout = settings.webhook_body_timeout_seconds
        self._open = asyncio.Semaphore(settings.webhook_max_open_bodies)

    async def read(self, request: web.Request) -> bytes:
        """The whole body; raises 413 beyond the limit (at once when Content-Length says so), 503 when
        no reading slot freed up in time, 408 when the body did not arrive in time."""
        if request.content_length is not None and request.content_length > self._max:
            raise self._too_large()
        try:
            # A slot's holder reads for at most one timeout, so waiting for two lets the one who is
            # next in line through even when the holder runs out its whole time.
            async with asyncio.timeout(2 * self._timeout):
                await self._open.acquire()
        except TimeoutError:
            raise web.HTTPServiceUnavailable(text="too many webhook bodies being read; retry later") from None
        try:
            async with asyncio.timeout(self._timeout):
                body = bytearray()
                async for chunk in request.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > self._max:
                        raise self._too_large()
        except TimeoutError:
            raise web.HTTPRequestTimeout(text=f"the body did not arrive within {self._timeout:g} s") from None
        finally:
            self._open.release()
        return bytes(body)

    def _too_large(self) -> web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            max_size=self._max,
            actual_size=0,
            text=f"webhook body larger than {self._max} bytes (WEBHOOK_MAX_BODY_BYTES)",
        )


def parse(raw: bytes) -> tuple[Any, str]:
    """(the JSON value, "") or (None, why it is not usable): nesting is bounded (`text.loads`)."""
    try:
        return text.loads(raw), ""
    except ValueError as exc:
        return None, f"malformed JSON: {exc}"
