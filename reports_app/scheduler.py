"""The scheduler of report exports (and the notifier of the notification role, its own loop beside
it: reports_app.notifications.notifier): `python -m reports_app.scheduler`.

Each tick folds the lead-count deltas into the report aggregates, turns due schedules into runs
(one per schedule, however many slots were missed), and sends every pending run: each is claimed
FOR UPDATE SKIP LOCKED, so replicas never send the same run twice. A failed send is recorded with
its reason and retried with a growing delay, up to schedules_store.MAX_ATTEMPTS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg

from leadrelay.background import background, every
from leadrelay.db import DatabaseUnavailable
from leadrelay.log import setup_logging
from leadrelay.report_counts import rollup
from leadrelay.server import database
from leadrelay.settings import Settings, SettingsError
from reports_app import mailer, report_files, schedules_store
from reports_app.database import reading
from reports_app.filters import schedule_filter
from reports_app.notifications.notifier import Notifier

log = logging.getLogger("reports_app.scheduler")


class Scheduler:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, *, retry_base_seconds: float = 60.0) -> None:
        self.settings = settings
        self.pool = pool
        self.retry_base_seconds = retry_base_seconds

    async def tick(self) -> int:
        """One pass; returns the number of runs attempted."""
        async with self.pool.acquire() as con:
            await rollup(con)
            async with con.transaction():
                await schedules_store.open_due_runs(con, datetime.now(UTC))
        tried: list = []
        while await self.deliver_one(tried):
            pass
        return len(tried)

    async def deliver_one(self, tried: list) -> bool:
        """Claims and sends one due run not tried yet in this pass (a failed one waits for the next)."""
        async with self.pool.acquire() as con, con.transaction():
            now = datetime.now(UTC)
            run = await schedules_store.claim_run(con, now, tried)
            if run is None:
                return False
            tried.append(run["run_id"])
            recipients = list(run["recipients"])
            try:
                file = await self._render(run, now)
                msg = mailer.report_message(
                    self.settings.smtp_from,
                    recipients,
                    f"{report_files.TITLES[run['report']]}: {run['name']}",
                    _body(run, file, now),
                    file,
                )
                reply = await mailer.send(self.settings, msg)
            except (mailer.SendFailed, ValueError) as exc:
                retry_in = timedelta(seconds=self.retry_base_seconds * 2 ** run["attempts"])
                status = await schedules_store.record_failed(con, run["run_id"], recipients, str(exc), retry_in, now)
                log.warning(
                    "report delivery failed",
                    extra={"schedule_id": str(run["schedule_id"]), "run_status": status, "reason": str(exc)},
                )
            else:
                await schedules_store.record_sent(con, run["run_id"], recipients, file.filename, file.rows, reply)
                log.info(
                    "report sent",
                    extra={"schedule_id": str(run["schedule_id"]), "rows": file.rows, "recipients": len(recipients)},
                )
            return True

    async def _render(self, run: dict, now: datetime) -> mailer.ReportFile:
        f = schedule_filter(run["filters"], now, run["account_time_zone"])
        async with reading(self.pool, self.settings.reports_database_role) as con:
            return await report_files.report_file(con, run["account_id"], run["report"], f, run["format"], now)


def _body(run: dict, file: mailer.ReportFile, now: datetime) -> str:
    return (
        f"{report_files.TITLES[run['report']]} “{run['name']}” for account {run['account_name']}\n"
        f"{file.summary}.\n"
        f"Attached: {file.filename} ({file.format}).\n\n"
        f"Generated {now:%Y-%m-%d %H:%M} UTC by LeadRelay"
        + (" (run now)." if run["manual"] else f" for the slot of {run['scheduled_for']:%Y-%m-%d %H:%M} UTC.")
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, pool: asyncpg.Pool, **kw: float) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(settings, pool, **kw)
    # The notifications to the role: their own loop, so a slow one never delays a report.
    notifier = Notifier(settings, pool)
    async with background(
        every(settings.scheduler_poll_seconds, scheduler.tick, name="scheduler"),
        every(settings.scheduler_poll_seconds, notifier.tick, name="notifier"),
    ):
        yield scheduler


async def main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with database(settings) as pool, running(settings, pool):
        log.info("scheduler ready")
        await stop.wait()


if __name__ == "__main__":
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"scheduler: {exc}")
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(main(settings))
    except DatabaseUnavailable as exc:
        sys.exit(f"scheduler: {exc}")
