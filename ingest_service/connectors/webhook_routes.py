"""The platform webhook routes of the ingest HTTP port, and the tasks they start."""

from __future__ import annotations

from aiohttp import web

from ingest_service.connectors import facebook_webhook, linkedin_webhook
from ingest_service.connectors.webhook_inbox import Spawner
from ingest_service.resources import IngestResources


def setup(app: web.Application, deps: IngestResources) -> None:
    spawner = Spawner()

    async def stop(_: web.Application) -> None:
        await spawner.close()

    app.on_shutdown.append(stop)
    facebook_webhook.setup(app, deps, spawner)
    linkedin_webhook.setup(app, deps, spawner)
