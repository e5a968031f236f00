"""The notifier: a bounded pass the console's scheduler process runs every SCHEDULER_POLL_SECONDS.
For each account (at most MAX_ACCOUNTS per pass) it reads the facts, works out which conditions
started and which cleared (reports_app.notifications.conditions) and records both with one queued
e-mail each, under a per-account lock so replicas never double them; then it sends at most
MAX_MAILS queued e-mails to the account's notification role (reports_app.users), each claimed FOR
UPDATE SKIP LOCKED, a failure retried with a doubling delay up to store.MAX_ATTEMPTS."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from leadrelay import mail
from leadrelay.settings import Settings
from reports_app import users
from reports_app.database import reading
from reports_app.notifications import conditions, facts, store

log = logging.getLogger("reports_app.notifier")

MAX_ACCOUNTS: Final = 1000
MAX_MAILS: Final = 100
# Any constant the replicas agree on, combined with the account's hash.
_LOCK_SPACE: Final = 0x0A1E


class Notifier:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, *, retry_base_seconds: float = 60.0) -> None:
        self.settings = settings
        self.pool = pool
        self.retry_base_seconds = retry_base_seconds

    async def tick(self) -> int:
        """One pass over the accounts, then the due e-mails; returns the e-mails attempted."""
        async with self.pool.acquire() as con:
            accounts = await con.fetch(
                """SELECT account_id FROM accounts a
                   WHERE EXISTS (SELECT FROM report_users u WHERE u.account_id = a.account_id)
                   ORDER BY account_id LIMIT $1""",
                MAX_ACCOUNTS,
            )
        for row in accounts:
            try:
                await self.evaluate(row["account_id"], datetime.now(UTC))
            except (asyncpg.PostgresError, OSError):
                log.exception("notification check failed", extra={"account_id": str(row["account_id"])})
        return await self.send_due()

    async def evaluate(self, account_id: UUID, now: datetime) -> conditions.Changes | None:
        """Records what started and cleared for one account; None when another replica is at it."""
        async with self.pool.acquire() as con, con.transaction():
            if not await con.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", _LOCK_SPACE, str(account_id)
            ):
                return None
            since = await store.jobs_since(con, account_id, now)
            async with reading(self.pool, self.settings.reports_database_role) as reader:
                seen = await facts.gather(reader, account_id, now, since)
            holding = conditions.holding(seen, timedelta(days=self.settings.reconnect_remind_days))
            changed = conditions.changes(await store.open_alerts(con, account_id), holding)
            for alert in changed.started:
                await store.start(con, account_id, alert, now)
            for key in changed.cleared:
                await store.clear(con, account_id, key, now)
            if seen.jobs:
                await store.move_jobs_since(con, account_id, max(j.finished_at for j in seen.jobs))
        if changed.started or changed.cleared:
            log.info(
                "notifications changed",
                extra={"account_id": str(account_id), "started": len(changed.started), "cleared": len(changed.cleared)},
            )
        return changed

    async def send_due(self) -> int:
        tried: list[int] = []
        while len(tried) < MAX_MAILS and await self._send_one(tried):
            pass
        return len(tried)

    async def _send_one(self, tried: list[int]) -> bool:
        async with self.pool.acquire() as con, con.transaction():
            now = datetime.now(UTC)
            due = await store.claim_mail(con, now, tried)
            if due is None:
                return False
            tried.append(due["mail_id"])
            recipients = await users.notification_emails(con, due["account_id"])
            try:
                if not recipients:
                    raise mail.SendFailed("nobody to tell: the account has no enabled admin or notification role")
                body = (
                    f"{due['body']}\n\n— LeadRelay, account {due['account_name']}. You receive this as one of the "
                    "account's notification recipients (Settings → Notifications in the console)."
                )
                await mail.send(
                    self.settings,
                    mail.text_message(self.settings.smtp_from, recipients, f"LeadRelay: {due['subject']}", body),
                )
            except mail.SendFailed as exc:
                retry_in = timedelta(seconds=self.retry_base_seconds * 2 ** due["attempts"])
                status = await store.mail_failed(con, due["mail_id"], recipients, str(exc), retry_in)
                log.warning("notification not sent", extra={"mail_id": due["mail_id"], "mail_status": status})
            else:
                await store.mail_sent(con, due["mail_id"], recipients, now)
            return True
