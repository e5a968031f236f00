"""The OAuth callback on the ingest HTTP port: GET /connect/{facebook|linkedin}/callback. The
platform sends the user's browser here with code and state; it goes on to the Connect page that
began the connect (its return URL), which completes it through CompleteConnect. Nothing secret is
exchanged here: the call has no credentials of ours, so the state decides where the browser goes."""

from __future__ import annotations

from aiohttp import web

from ingest_service.connectors import oauth_connect
from ingest_service.resources import IngestResources

PLATFORMS = {"facebook": "FACEBOOK", "linkedin": "LINKEDIN"}

_EXPIRED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LeadRelay: connect expired</title>
</head><body style="font-family:system-ui,sans-serif;max-width:560px;margin:48px auto">
<h1>This connect link has expired</h1><p>It was already used, or it is older than a few minutes.
Start again from the Connect page of the LeadRelay console.</p></body></html>"""


def setup(app: web.Application, deps: IngestResources) -> None:
    async def callback(request: web.Request) -> web.Response:
        platform = PLATFORMS.get(request.match_info["platform"])
        if platform is None:
            raise web.HTTPNotFound()
        target = await oauth_connect.callback_target(deps, platform, dict(request.query))
        if target is None:
            return web.Response(status=400, text=_EXPIRED, content_type="text/html")
        raise web.HTTPFound(target)

    app.router.add_get("/connect/{platform}/callback", callback)
