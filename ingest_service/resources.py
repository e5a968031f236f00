"""The resources one ingest process holds and its parts share: settings, the database pool, the
ValidationService stub and the HTTP client session."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import asyncpg

from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2_grpc


@dataclass
class IngestResources:
    settings: Settings
    pool: asyncpg.Pool
    validation: validation_pb2_grpc.ValidationServiceAsyncStub
    http: aiohttp.ClientSession
