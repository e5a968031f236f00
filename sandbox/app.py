"""The sandbox process: one aiohttp application, one module per stand-in, each adding its routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from leadrelay.http import http_server
from leadrelay.settings import Settings
from sandbox import (
    conversions_api,
    crm,
    crm_vendors,
    facebook_login,
    graph_api,
    linkedin_api,
    linkedin_conversions,
    linkedin_oauth,
    smtp,
)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_get("/healthz", healthz)
    # Each stand-in adds its routes; a new stand-in adds itself here, given only the settings it needs.
    graph_api.setup(app, settings.facebook_app_secret)
    facebook_login.setup(app)
    linkedin_api.setup(app, settings.linkedin_client_secret)
    linkedin_oauth.setup(app)
    crm.setup(app)
    smtp.setup(app)
    conversions_api.setup(app, settings.facebook_app_secret)
    linkedin_conversions.setup(app)
    crm_vendors.setup(app)
    return app


@dataclass
class RunningSandbox:
    port: int
    app: web.Application
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def running(settings: Settings, *, port: int | None = None) -> AsyncIterator[RunningSandbox]:
    app = build_app(settings)
    async with (
        http_server(app, settings.host, settings.sandbox_port if port is None else port, what="sandbox") as bound,
        smtp.serving(settings.host, settings.smtp_port, app[smtp.MAILBOX]) as smtp_port,
    ):
        # extra["smtp_port"]: the SMTP server's bound port (SMTP_PORT, or a free one when 0).
        yield RunningSandbox(bound, app, {"smtp_port": smtp_port, "mailbox": app[smtp.MAILBOX]})
