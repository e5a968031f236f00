"""The resources one ingest process holds and its parts share: settings, the database pool, the
ValidationService stub, the HTTP client session and the file workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import asyncpg

from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2_grpc

T = TypeVar("T")


@dataclass
class IngestResources:
    settings: Settings
    pool: asyncpg.Pool
    validation: validation_pb2_grpc.ValidationServiceAsyncStub
    http: aiohttp.ClientSession
    # Threads for file work (reading, mapping, writing XLSX): bounded, apart from the default executor.
    file_workers: Executor

    async def in_file_worker(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.file_workers, fn)
