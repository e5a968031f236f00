"""People set-up in a real headless Chromium, as a manager does it: an admin invites a colleague, who
receives the sandbox e-mail, follows its link, sets a password and signs in; the only admin cannot
make themself a viewer; an API key is shown once and revoked; the notification role is chosen; the
audit log names who did each of these."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadrelay import clients
from leadrelay.v1 import validation_pb2_grpc
from reports_app import users
from reports_app.notifications.notifier import Notifier
from tests.reports_app.console_support import (
    ARTIFACTS,
    CHROMIUM,
    chromium,
    quiet,
    running_console,
    screenshot,
    settled,
    sign_in,
)
from tests.validation_service.post_out_support import seed_source
from tests.validation_service.test_post_out_service import destination_request
from tests.waiting import eventually

PASSWORD = "people browser password"
# The set-password page is our own HTML, not Streamlit: a plain screenshot.
SET_PASSWORD_SHOT = str(ARTIFACTS / "people-set-password.png")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


async def test_an_invited_user_sets_a_password_from_the_e_mail_and_signs_in(pool, account, settings, servers, sandbox):
    admin = f"owner-{account.name}@example.com"
    invitee = f"colleague-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, admin, PASSWORD, users.ADMIN)
    mailbox = sandbox.extra["mailbox"]
    env = {
        "INGEST_TARGET": servers.ingest_target,
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
    }
    async with running_console(settings, **env) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, app.url, admin, PASSWORD, "/users")
        await page.get_by_role("heading", name="Users", exact=True).wait_for()
        await quiet(page)  # every element drawn: a click on a box still being drawn is lost

        # The only admin cannot make themself a viewer, and is told why.
        await page.get_by_label("User", exact=True).click()
        await page.get_by_role("option", name=admin).click()
        await settled(page)
        await page.get_by_label("Role of this user").click()
        await page.get_by_role("option", name="Viewer").click()
        await page.get_by_role("button", name="Save role").click()
        await page.get_by_text("only admin").wait_for()
        await screenshot(page, "people-last-admin-refused")

        await page.get_by_label("Email").fill(invitee)
        await page.get_by_role("button", name="Send invitation").click()
        await page.get_by_text("Invitation sent to").wait_for()
        await screenshot(page, "people-invited")

        def invitation():
            return [m for m in mailbox.messages if m.rcpt_tos == [invitee]]

        (mail,) = await eventually(lambda: _some(invitation()), what="the invitation e-mail")
        body = mail.message().get_content()
        assert mail.message()["Subject"] == f"You are invited to the LeadRelay console of {account.name}"
        assert admin in body
        link = re.search(r"http://\S+/api/set-password\?token=\S+", body)
        assert link is not None and link.group(0).startswith(app.url)

        # The colleague, in a browser of their own, follows the link.
        theirs = await browser.new_context(viewport={"width": 1200, "height": 900})
        them = await theirs.new_page()
        them.set_default_timeout(20_000)
        await them.goto(link.group(0))
        await them.get_by_role("heading", name="Welcome to LeadRelay").wait_for()
        await them.screenshot(path=SET_PASSWORD_SHOT)
        await them.get_by_label("New password (at least 8 characters)").fill("colleague's password")
        await them.get_by_label("The same password again").fill("colleague's password")
        await them.get_by_role("button", name="Set password").click()
        await them.get_by_text("Your password is set. Sign in with it now.").wait_for()
        assert await them.get_by_label("Email").input_value() == invitee
        await them.get_by_label("Password").fill("colleague's password")
        await them.get_by_role("button", name="Sign in").click()
        await them.wait_for_url(lambda url: "/api/" not in url)
        await them.get_by_text(f"{invitee} · viewer").wait_for()
        # The link worked once.
        await them.goto(link.group(0))
        await them.get_by_role("heading", name="This link no longer works").wait_for()
        # A viewer sees the users but changes nothing.
        await them.goto(app.url + "/users")
        await them.get_by_text("Only admins invite and change users.").wait_for()
        await theirs.close()

        # API keys: created (shown once), then revoked.
        await page.goto(app.url + "/api-keys")
        await page.get_by_role("heading", name="Create a key").wait_for()
        await page.get_by_label("Name (what will use it)").fill("Zapier")
        await page.get_by_role("button", name="Create key").click()
        await page.get_by_text("Copy it now: it is shown only this once.").wait_for()
        secret = (await page.locator("[data-testid='stCode']").inner_text()).strip()
        assert re.fullmatch(r"lr_[0-9a-f]{8}_\S+", secret)
        await screenshot(page, "people-api-key-created")
        await page.reload()
        await page.get_by_role("heading", name="Revoke a key").wait_for()
        await settled(page)
        assert secret not in await page.content()
        await page.get_by_label("Key", exact=True).click()
        await page.get_by_role("option", name=re.compile("Zapier")).click()
        await page.get_by_role("button", name="Revoke key").click()
        await page.get_by_text("Revoked “Zapier”").wait_for()
        await screenshot(page, "people-api-key-revoked")

        # The notification role: the colleague receives the system messages.
        await page.goto(app.url + "/notifications")
        await page.get_by_role("heading", name="Who receives system messages").wait_for()
        await settled(page)
        await page.get_by_label(re.compile("Users who receive e-mails")).click()
        await page.get_by_role("option", name=invitee).click()
        await page.keyboard.press("Escape")
        await page.get_by_role("button", name="Save recipients").click()
        await page.get_by_text("Saved: 1 recipient.").wait_for()
        async with pool.acquire() as con:
            assert await users.notification_emails(con, account.account_id) == [invitee]

        # A destination the admin creates (audited) pauses: the colleague is told, the page shows it.
        async with pool.acquire() as con:
            owner = await users.authenticate(con, admin, PASSWORD)
        source_id = await seed_source(pool, account.account_id)
        async with clients.channel(servers.validation_target) as ch:
            dest = await validation_pb2_grpc.PostOutServiceStub(ch).CreateDestination(
                destination_request(source_id, "https://crm.example.com/leads?api_key=never-shown"),
                metadata=clients.as_account(settings.internal_token, account.account_id, owner.user_id),
            )
        async with pool.acquire() as con:
            await con.execute(
                "UPDATE destinations SET paused_until = now() + interval '1 hour', consecutive_failures = 10 "
                "WHERE destination_id = $1::uuid",
                dest.destination_id,
            )
        notifier = Notifier(settings, pool)
        await notifier.evaluate(account.account_id, datetime.now(UTC))
        await notifier.send_due()
        await page.reload()
        await page.get_by_text("Destination “Acme CRM” is paused (since").wait_for()
        await settled(page)
        await pick_first_row(page)
        await page.get_by_text(f"Started: sent to {invitee}").wait_for()
        await screenshot(page, "people-notifications")

        # The audit log names who did what.
        await page.goto(app.url + "/audit-log")
        await page.get_by_role("heading", name="Audit log").wait_for()
        await settled(page)
        await pick_first_row(page)  # the newest: the destination
        await page.get_by_text("Url: https://crm.example.com/leads").wait_for()
        await page.get_by_text("Headers: Authorization").wait_for()
        await screenshot(page, "people-audit-log")
        grid = await page.locator("[data-testid='stMain']").inner_text()
        assert app.errors() == []
    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT action, actor FROM audit_log WHERE account_id = $1 ORDER BY audit_id", account.account_id
        )
    actions = [r["action"] for r in rows]
    assert actions == [
        "user invited",
        "password set (invitation accepted)",
        "API key created",
        "API key revoked",
        "notification role changed",
        "destination created",
    ]
    assert "never-shown" not in grid
    assert grid is not None


async def _some(messages):
    return messages or None


async def pick_first_row(page) -> None:
    """Selects a table's first row: its row marker, left of the first cell (the grid is a canvas)."""
    box = await page.locator("[data-testid='stDataFrame']").last.bounding_box()
    await page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
    await settled(page)
