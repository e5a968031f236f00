"""How Meta checks `appsecret_proof` on a Graph call (the Lead Ads stand-in and the Conversions API
share it): a proof that is present must be hex HMAC-SHA256(access_token, key=app secret); a missing
one is refused only where the app requires it ("Require App Secret"). Computed here on its own, not
with LeadRelay's code, so the stand-in checks ours."""

from __future__ import annotations

import hashlib
import hmac

MISSING = "API calls from the server require an appsecret_proof argument"
INVALID = "Invalid appsecret_proof provided in the API argument"


def refusal(app_secret: str, token: str, proof: str | None, *, required: bool) -> str:
    """ "" when the call may go on; else Graph's message (code 100, GraphMethodException)."""
    if not app_secret:
        return ""
    if not proof:
        return MISSING if required else ""
    expected = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    return "" if hmac.compare_digest(proof, expected) else INVALID
