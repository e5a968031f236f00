"""The consent screen both login stand-ins show: plain HTML a person (or a headless browser) can read
and click — what the app asks for, the places it will reach, Allow and Cancel. Every value is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiohttp import web

_STYLE = """body{font-family:system-ui,sans-serif;background:#f0f2f5;margin:0}
main{max-width:460px;margin:48px auto;background:#fff;border-radius:8px;padding:24px 28px;
box-shadow:0 1px 3px rgba(0,0,0,.2)}h1{font-size:20px;margin:0 0 4px}p.who{color:#65676b;margin:0 0 16px}
ul{padding-left:20px}li{margin:4px 0}.actions{display:flex;gap:12px;margin-top:20px}
button{font-size:15px;padding:8px 20px;border-radius:6px;border:0;cursor:pointer}
button.allow{background:#1877f2;color:#fff}button.cancel{background:#e4e6eb;color:#050505}
.note{font-size:12px;color:#65676b;margin-top:16px}"""


def render(
    *,
    platform: str,
    app_name: str,
    person: str,
    scopes: Sequence[str],
    places_label: str,
    places: Sequence[str],
    action: str,
    hidden: dict[str, str],
) -> web.Response:
    fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items())
    scope_items = "".join(f"<li>{escape(s)}</li>" for s in scopes) or "<li>(no permissions)</li>"
    place_items = "".join(f"<li>{escape(p)}</li>" for p in places) or "<li>(none)</li>"
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(platform)} — Allow {escape(app_name)}?</title><style>{_STYLE}</style></head><body><main>
<h1>{escape(app_name)} would like to connect to your {escape(platform)} account</h1>
<p class="who">Signed in as {escape(person)}</p>
<p>It asks for these permissions:</p><ul>{scope_items}</ul>
<p>{escape(places_label)}:</p><ul>{place_items}</ul>
<form method="post" action="{escape(action)}">{fields}<div class="actions">
<button class="allow" type="submit" name="decision" value="allow">Allow</button>
<button class="cancel" type="submit" name="decision" value="cancel">Cancel</button></div></form>
<p class="note">Sandbox stand-in for the {escape(platform)} consent screen.</p></main></body></html>"""
    return web.Response(text=html, content_type="text/html")
