"""Composition root of the ingest process: gRPC server, HTTP server, background loops."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import asyncpg

from ingest_service.capture import idempotency, sweeper
from ingest_service.connectors import pollers, token_renewal
from ingest_service.http_app import build_app
from ingest_service.resources import IngestResources
from ingest_service.rpc.account_keys import INTERNAL_METHODS as ACCOUNT_METHODS
from ingest_service.rpc.account_keys import AccountServicer
from ingest_service.rpc.servicer import IngestServicer
from leadrelay import clients
from leadrelay.background import background
from leadrelay.http import http_server
from leadrelay.server import ServiceSpec, grpc_server
from leadrelay.settings import Settings
from leadrelay.v1 import accounts_pb2, accounts_pb2_grpc, ingest_pb2, ingest_pb2_grpc, validation_pb2_grpc


@dataclass(frozen=True)
class RunningIngest:
    grpc_port: int
    http_port: int
    deps: IngestResources


def background_loops(deps: IngestResources) -> list:
    """The ingest process's loops (sweeper, pollers); each capability adds its own here."""
    return [sweeper.loop(deps), idempotency.expiry_loop(deps), *pollers.loops(deps), token_renewal.loop(deps)]


@contextlib.asynccontextmanager
async def running(
    settings: Settings, pool: asyncpg.Pool, *, grpc_port: int | None = None, http_port: int | None = None
) -> AsyncIterator[RunningIngest]:
    file_workers = ThreadPoolExecutor(max_workers=max(1, settings.file_workers), thread_name_prefix="files")
    async with (
        clients.channel(settings.validation_target) as validation_channel,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):
        deps = IngestResources(
            settings=settings,
            pool=pool,
            validation=validation_pb2_grpc.ValidationServiceStub(validation_channel),
            http=http,
            file_workers=file_workers,
        )
        spec = ServiceSpec(
            ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
            IngestServicer(deps),
            ingest_pb2_grpc.add_IngestServiceServicer_to_server,
        )
        # The account's API keys, for the console only (internal token).
        keys_spec = ServiceSpec(
            accounts_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name,
            AccountServicer(deps),
            accounts_pb2_grpc.add_AccountServiceServicer_to_server,
            internal_methods=ACCOUNT_METHODS,
        )
        async with (
            grpc_server(
                settings, pool, [spec, keys_spec], port=settings.ingest_grpc_port if grpc_port is None else grpc_port
            ) as server,
            http_server(
                build_app(deps),
                settings.host,
                settings.ingest_http_port if http_port is None else http_port,
                what="ingest",
            ) as bound_http,
            background(*background_loops(deps)),
        ):
            try:
                yield RunningIngest(server.port, bound_http, deps)
            finally:
                # A reader still running sees its call's stop and ends; nothing waits for it here.
                file_workers.shutdown(wait=False, cancel_futures=True)
