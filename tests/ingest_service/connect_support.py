"""OAuth connect in tests: the user's browser clicking Allow on the sandbox's consent page, then
following the redirects (sandbox -> the ingest callback -> the return URL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from leadrelay.v1 import common_pb2, ingest_pb2

RETURN_URL = "http://127.0.0.1:9/connect"


async def consent(web: aiohttp.ClientSession, authorize_url: str, decision: str = "allow") -> dict[str, str]:
    """Clicks the consent page's button; returns the query the console's return URL receives."""
    async with web.get(authorize_url) as page:
        assert page.status == 200, await page.text()
        assert "Allow" in await page.text()
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    form = {k: query.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")} | {"decision": decision}
    url = authorize_url.split("?", 1)[0]
    async with web.post(url, data=form, allow_redirects=False) as reply:
        assert reply.status == 302, await reply.text()
        url = reply.headers["Location"]
    for _ in range(3):
        if url.startswith(RETURN_URL):
            return dict(parse_qsl(urlsplit(url).query))
        async with web.get(url, allow_redirects=False) as reply:
            assert reply.status == 302, await reply.text()
            url = reply.headers["Location"]
    raise AssertionError(f"never came back to the return URL (last: {url})")


async def connect(
    api: Any, web: aiohttp.ClientSession, platform: int, *, user_ref: str = "user-1", source_id: str = ""
) -> ingest_pb2.ConnectChoices:
    begun = await api.ingest.BeginConnect(
        ingest_pb2.BeginConnectRequest(platform=platform, user_ref=user_ref, return_url=RETURN_URL, source_id=source_id)
    )
    back = await consent(web, begun.authorize_url)
    return await api.ingest.CompleteConnect(
        ingest_pb2.CompleteConnectRequest(state=back["state"], code=back["code"], user_ref=user_ref)
    )


FACEBOOK = common_pb2.PLATFORM_FACEBOOK
LINKEDIN = common_pb2.PLATFORM_LINKEDIN
