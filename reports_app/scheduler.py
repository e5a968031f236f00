"""The scheduler of report exports: `python -m reports_app.scheduler`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from leadrelay.db import DatabaseUnavailable
from leadrelay.log import setup_logging
from leadrelay.server import database
from leadrelay.settings import Settings, SettingsError

log = logging.getLogger("reports_app.scheduler")


async def main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with database(settings):
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
