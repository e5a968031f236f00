"""The Connect page in-process (AppTest): viewers only look, a cancelled consent is said plainly, and
an admin's Connect begins a connect through IngestService."""

from reports_app import users
from tests.reports_app.pages_support import app_env, button, open_page, run, signed_in

PASSWORD = "correct horse battery"


async def _user(pool, account, role):
    email = f"{role}-connect-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, role)
    return email


async def test_a_viewer_sees_the_platform_sources_but_cannot_connect(pool, account, settings, servers, monkeypatch):
    app_env(monkeypatch, settings)
    monkeypatch.setenv("INGEST_TARGET", servers.ingest_target)
    at = await open_page(await signed_in(pool, await _user(pool, account, "viewer")), "Connect")
    assert "No Facebook or LinkedIn source yet." in [c.value for c in at.caption]
    assert "Only admins connect sources." in [c.value for c in at.caption]
    assert not [b for b in at.button if b.label in ("Connect", "Reconnect")]


async def test_a_cancelled_consent_lands_on_the_connect_page_with_a_plain_message(
    pool, account, settings, servers, monkeypatch
):
    app_env(monkeypatch, settings)
    monkeypatch.setenv("INGEST_TARGET", servers.ingest_target)
    at = await signed_in(pool, await _user(pool, account, "admin"))
    for key, value in {"state": "s", "platform": "facebook", "error": "access_denied"}.items():
        at.query_params[key] = value
    at = await open_page(at, "Connect")
    assert [e.value for e in at.error] == ["Facebook did not connect: the consent was cancelled or refused."]


async def test_an_admins_connect_offers_the_platforms_consent_page(pool, account, settings, servers, monkeypatch):
    app_env(monkeypatch, settings)
    monkeypatch.setenv("INGEST_TARGET", servers.ingest_target)
    at = await open_page(await signed_in(pool, await _user(pool, account, "admin")), "Connect")
    at.radio(key="connect_platform").set_value("LinkedIn")
    button(at, "Connect").click()
    await run(at)
    assert not at.exception, [e.message for e in at.exception]
    (link,) = [m.value for m in at.markdown if "Continue to LinkedIn" in m.value]
    assert f"{settings.linkedin_oauth_base_url}/oauth/v2/authorization?" in link and 'target="_self"' in link
