"""The test harness: a fresh database (embedded, or DATABASE_URL's server), real servers on
127.0.0.1 with free ports, and per-test accounts so tests never see each other's data."""

from __future__ import annotations

import os
import secrets
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg
import grpc

from leadrelay import accounts, clients, migrations
from leadrelay.db import connect
from leadrelay.v1 import feedback_pb2_grpc, ingest_pb2_grpc, validation_pb2_grpc


def with_database(dsn: str, name: str) -> str:
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


class TestDatabase:
    """Creates a uniquely named database on the server and drops it afterwards."""

    def __init__(self) -> None:
        self._server = None
        self.admin_dsn = os.environ.get("DATABASE_URL", "")
        self.name = f"leadrelay_test_{secrets.token_hex(4)}"
        self.dsn = ""

    async def create(self) -> str:
        if not self.admin_dsn:
            import pgserver

            data = Path(tempfile.mkdtemp(prefix="lr-pg-"))
            self._server = pgserver.get_server(data, cleanup_mode="delete")
            self.admin_dsn = self._server.get_uri()
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        self.dsn = with_database(self.admin_dsn, self.name)
        con = await connect(self.dsn)
        try:
            await migrations.migrate(con)
        finally:
            await con.close()
        return self.dsn

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()
        if self._server is not None:
            self._server.cleanup()


@dataclass
class Account:
    account_id: UUID
    name: str
    api_key: str


async def new_account(pool: asyncpg.Pool, prefix: str = "acct") -> Account:
    name = f"{prefix}-{secrets.token_hex(6)}"
    async with pool.acquire() as con:
        account_id = await accounts.ensure_account(con, name)
        key = await accounts.create_key(con, account_id, "test")
    return Account(account_id, name, key)


class Api:
    """Stubs for every service, calling as one account's API key."""

    def __init__(self, account: Account, ingest_target: str, validation_target: str, feedback_target: str) -> None:
        self.account = account
        self._channels = [
            clients.api_key_channel(ingest_target, account.api_key),
            clients.api_key_channel(validation_target, account.api_key),
            clients.api_key_channel(feedback_target, account.api_key),
        ]
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._channels[0])
        self.validation = validation_pb2_grpc.ValidationServiceStub(self._channels[1])
        self.postout = validation_pb2_grpc.PostOutServiceStub(self._channels[1])
        self.feedback = feedback_pb2_grpc.FeedbackServiceStub(self._channels[2])

    async def close(self) -> None:
        for ch in self._channels:
            await ch.close()


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    """Awaits a call that must fail and returns its error (for asserting code and message)."""
    try:
        await awaitable
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded but was expected to fail")
