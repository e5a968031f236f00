"""The platform webhook routes of the ingest HTTP port, and the tasks they start."""

from __future__ import annotations

from aiohttp import web

from ingest_service.connectors import facebook_webhook, linkedin_webhook, webhook_body
from ingest_service.connectors.webhook_inbox import Spawner
from ingest_service.resources import IngestResources


def setup(app: web.Application, deps: IngestResources) -> None:
    spawner = Spawner()

    async def stop(_: web.Application) -> None:
        await spawner.close()

    app.on_shutdown.append(stop)
    bodies = webhook_body.BodyReader(deps.settings)  # one budget for both platforms' unsigned bodies
    facebook_webhook.setup(app, deps, spawner, bodies)
    linkedin_webhook.setup(app, deps, spawner, bodies)
