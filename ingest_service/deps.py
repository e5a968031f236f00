"""What the ingest servicers and connectors share: settings, pool, and the validation client."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import asyncpg

from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2_grpc


@dataclass
class IngestDeps:
    settings: Settings
    pool: asyncpg.Pool
    validation: validation_pb2_grpc.ValidationServiceStub
    http: aiohttp.ClientSession
