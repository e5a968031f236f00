"""The ingest HTTP port: platform webhooks and /healthz."""

from __future__ import annotations

from aiohttp import web

from ingest_service import webhooks
from ingest_service.deps import IngestDeps

DEPS = web.AppKey("deps", IngestDeps)


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    async with deps.pool.acquire() as con:
        await con.fetchval("SELECT 1")
    return web.json_response({"status": "ok"})


def build_app(deps: IngestDeps) -> web.Application:
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    webhooks.setup(app, deps)
    return app
