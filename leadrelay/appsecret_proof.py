"""Meta's `appsecret_proof`: hex HMAC-SHA256 of an access token keyed by the app secret. Sent with
every Graph call (lead retrieval, the Conversions API) when the app secret is configured, so a
leaked token alone is useless (Meta's recommended hardening). Pure."""

from __future__ import annotations

import hashlib
import hmac


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
