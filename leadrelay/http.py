"""Serving an aiohttp application (ingest webhooks, the sandbox) within an `async with`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from leadrelay.server import PortInUse


@contextlib.asynccontextmanager
async def http_server(app: web.Application, host: str, port: int, *, what: str) -> AsyncIterator[int]:
    """Yields the bound port (useful with port 0)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise PortInUse(f"cannot listen on {host}:{port} ({what} HTTP): {exc.strerror}") from exc
    server = site._server  # aiohttp annotates it as AbstractServer; it is the asyncio.Server
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port  # type: ignore[attr-defined]  # asyncio.Server has sockets
    try:
        yield bound
    finally:
        await runner.cleanup()
