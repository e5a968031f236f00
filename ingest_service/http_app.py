"""The ingest HTTP port: platform webhooks, the OAuth connect callback and /healthz."""

from __future__ import annotations

from aiohttp import web

from ingest_service.connectors import connect_routes, webhook_routes
from ingest_service.resources import IngestResources

DEPS = web.AppKey("deps", IngestResources)


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    async with deps.pool.acquire() as con:
        await con.fetchval("SELECT 1")
    return web.json_response({"status": "ok"})


def build_app(deps: IngestResources) -> web.Application:
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    webhook_routes.setup(app, deps)
    connect_routes.setup(app, deps)
    return app
