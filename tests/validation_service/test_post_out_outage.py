"""A PostgreSQL outage under running post-out workers: each worker says once that the database is
gone and once that it is back (never a traceback per poll), and delivery resumes by itself. The
workers reach PostgreSQL through a relay the test cuts: every connection dropped, every new one
closed at once, as when the server restarts or the network between them fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator

import pytest

from leadrelay.db import create_pool
from leadrelay.settings import Settings
from tests import harness
from tests.harness import new_account
from tests.validation_service.post_out_support import Crm, all_posted, insert_destination, seed_leads, seed_source
from tests.waiting import eventually
from validation_service import post_out_worker

PAUSED = "post-out paused: the database is unreachable; retrying until it answers"
RESUMED = "post-out resumed: the database answers again"


class Relay:
    """A TCP relay on 127.0.0.1 in front of PostgreSQL (TCP or its Unix socket), that can be cut."""

    def __init__(self, dsn: str) -> None:
        self._parts = urllib.parse.urlsplit(dsn)
        query = dict(urllib.parse.parse_qsl(self._parts.query))
        self._socket_dir = query.pop("host", "") if query.get("host", "").startswith("/") else ""
        self._query = urllib.parse.urlencode(query)
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.cut = False
        self.attempts = 0  # connections the relay accepted (while cut, it closes them at once)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = urllib.parse.quote(self._parts.username or "postgres")
        password = f":{urllib.parse.quote(self._parts.password)}" if self._parts.password else ""
        query = f"?{self._query}" if self._query else ""
        return f"postgresql://{user}{password}@127.0.0.1:{port}{self._parts.path}{query}"

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_all(self) -> None:
        for writer in list(self._open):
            writer.close()

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        port = self._parts.port or 5432
        if self._socket_dir:
            return await asyncio.open_unix_connection(f"{self._socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(self._parts.hostname or "127.0.0.1", port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await self._upstream()
        self._open |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}
            writer.close()
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def private_dsn(database_dsn: str) -> AsyncIterator[str]:
    db = harness.TestDatabase()
    db.admin_dsn = database_dsn  # a sibling database on the same server
    yield await db.create()
    await db.drop()


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == post_out_worker.__name__ and r.getMessage() == text]


async def test_an_outage_is_logged_once_per_worker_and_its_end_once(
    settings: Settings, private_dsn: str, sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=post_out_worker.__name__)
    relay = Relay(private_dsn)
    s = settings.replace(database_url=private_dsn, postout_poll_seconds=0.05)
    direct = await create_pool(private_dsn, settings=s, min_size=1, max_size=2)
    relayed = await create_pool(await relay.start(), settings=s, min_size=1, max_size=4)
    workers = None
    try:
        crm = Crm(sandbox.url)
        account = await new_account(direct)
        source_id = await seed_source(direct, account.account_id)
        await insert_destination(direct, account.account_id, source_id, crm.url)
        before = await seed_leads(direct, account.account_id, source_id, 5)
        workers = asyncio.create_task(post_out_worker.run(s, relayed, workers=2))
        await eventually(lambda: all_posted(direct, before), what="posted before the outage")

        relay.cut = True
        relay.drop_all()
        attempts = relay.attempts

        async def outage_noticed_and_polled() -> bool:
            # Both workers said so, and went on polling (through refused connections) well past it.
            return len(_messages(caplog, PAUSED)) == 2 and relay.attempts >= attempts + 8

        await eventually(outage_noticed_and_polled, what="both workers to notice the outage and poll on")
        during = await seed_leads(direct, account.account_id, source_id, 5)
        relay.cut = False
        await eventually(lambda: all_posted(direct, during), what="posted after the outage")
        await eventually(lambda: _resumed(caplog), what="both workers to say the database is back")
    finally:
        if workers is not None:
            workers.cancel()
            await asyncio.gather(workers, return_exceptions=True)
        await relayed.close()
        await relay.stop()
        await direct.close()

    assert len(_messages(caplog, PAUSED)) == 2
    assert len(_messages(caplog, RESUMED)) == 2
    worker_records = [r for r in caplog.records if r.name == post_out_worker.__name__]
    assert [r.getMessage() for r in worker_records if r.levelno >= logging.ERROR or r.exc_info] == []
    stats = await crm.stats()
    assert (stats["created"], stats["doubled"]) == (10, [])


async def _resumed(caplog: pytest.LogCaptureFixture) -> bool:
    return len(_messages(caplog, RESUMED)) == 2
