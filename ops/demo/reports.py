"""`make run`'s reports demo: an admin user of the demo account (its password printed) and a daily
Source Report mailed to the sandbox SMTP server, queued once right away so a message is waiting."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from leadrelay import accounts
from leadrelay.db import connect, resolve_dsn
from leadrelay.settings import Settings
from reports_app import cadence, schedules_store, users

DEMO_EMAIL = "admin@demo.leadrelay.local"
DEMO_SCHEDULE = "Daily source report (demo)"


async def _prepare(settings: Settings) -> str:
    password_file = settings.home_path / "demo-reports-password"
    password = password_file.read_text().strip() if password_file.exists() else secrets.token_urlsafe(9)
    con = await connect(resolve_dsn(settings), settings=settings)
    try:
        async with con.transaction():
            account_id = await accounts.ensure_account(con, "demo")
            await users.create_user(con, account_id, DEMO_EMAIL, password, users.ADMIN)
            named = [s for s in await schedules_store.list_for(con, account_id) if s["name"] == DEMO_SCHEDULE]
            if not named:
                spec = schedules_store.ScheduleSpec(
                    DEMO_SCHEDULE,
                    "SOURCE",
                    {"days": 7},
                    "CSV",
                    cadence.cadence("DAILY", "UTC", at="08:00"),
                    ("manager@example.com",),
                )
                sid = await schedules_store.create(con, account_id, spec, datetime.now(UTC))
                await schedules_store.run_now(con, account_id, sid)
    finally:
        await con.close()
    password_file.write_text(password)
    password_file.chmod(0o600)
    return password


def demo_reports(settings: Settings, api_key: str) -> None:
    password = asyncio.run(_prepare(settings))
    print(
        f"  reports     http://{settings.host}:{settings.reports_port}  sign in as {DEMO_EMAIL} / {password}\n"
        f"              (scheduled exports land in the sandbox SMTP server: "
        f"http://{settings.host}:{settings.sandbox_port}/smtp/_control/messages)",
        flush=True,
    )
