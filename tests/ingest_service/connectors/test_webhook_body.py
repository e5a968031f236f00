"""The bounded reader of unsigned webhook bodies, on a real HTTP server on loopback: one reading slot
here; a body that trickles is cut off (408) and frees its slot for the caller waiting behind it; a
body beyond the size is 413."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from ingest_service.connectors.webhook_body import BodyReader
from leadrelay.http import http_server
from leadrelay.settings import Settings


async def test_a_trickling_body_is_cut_off_and_the_caller_waiting_for_its_slot_is_served():
    reader = BodyReader(
        Settings.from_env({}).replace(
            webhook_max_body_bytes=1000, webhook_max_open_bodies=1, webhook_body_timeout_seconds=0.5
        )
    )
    entered = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        entered.set()
        return web.Response(text=str(len(await reader.read(request))))

    app = web.Application()
    app.router.add_post("/hook", echo)
    never = asyncio.Event()

    async def trickle():
        yield b"x" * 10
        await never.wait()  # the rest never comes

    async with http_server(app, "127.0.0.1", 0, what="test") as port:
        url = f"http://127.0.0.1:{port}/hook"

        async def post(data) -> tuple[int, str]:
            async with aiohttp.ClientSession() as own, own.post(url, data=data) as reply:
                return reply.status, await reply.text()

        holding = asyncio.ensure_future(post(trickle()))  # takes the one slot and keeps it
        await entered.wait()
        waiting = asyncio.ensure_future(post(b"{}"))
        assert (await holding)[0] == 408
        assert await waiting == (200, "2")
        never.set()
        assert (await post(b"z" * 1001))[0] == 413
