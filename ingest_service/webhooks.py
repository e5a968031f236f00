"""The platform webhook routes of the ingest HTTP port, and the tasks they start."""

from __future__ import annotations

from aiohttp import web

from ingest_service import facebook_webhook, linkedin_webhook
from ingest_service.deps import IngestDeps
from ingest_service.webhook_inbox import Spawner


def setup(app: web.Application, deps: IngestDeps) -> None:
    spawner = Spawner()

    async def stop(_: web.Application) -> None:
        await spawner.close()

    app.on_shutdown.append(stop)
    facebook_webhook.setup(app, deps, spawner)
    linkedin_webhook.setup(app, deps, spawner)
