"""Composition root of the validation process: ValidationService, PostOutService, post-out workers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from leadrelay.background import background
from leadrelay.server import ServiceSpec, grpc_server
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2, validation_pb2_grpc
from validation_service import post_out_worker
from validation_service.post_out_servicer import PostOutServicer
from validation_service.servicer import ValidationServicer


@dataclass(frozen=True)
class RunningValidation:
    grpc_port: int


def background_loops(settings: Settings, pool: asyncpg.Pool) -> list:
    """The validation process's loops (post-out workers); each capability adds its own here."""
    return [post_out_worker.run(settings, pool)]


@contextlib.asynccontextmanager
async def running(
    settings: Settings, pool: asyncpg.Pool, *, grpc_port: int | None = None
) -> AsyncIterator[RunningValidation]:
    services = validation_pb2.DESCRIPTOR.services_by_name
    specs = [
        ServiceSpec(
            services["ValidationService"].full_name,
            ValidationServicer(settings, pool),
            validation_pb2_grpc.add_ValidationServiceServicer_to_server,
            # The import's path: lead ids chosen by the caller, answers stored as sent.
            internal_methods=frozenset({"ValidateNewLeads"}),
        ),
        ServiceSpec(
            services["PostOutService"].full_name,
            PostOutServicer(settings, pool),
            validation_pb2_grpc.add_PostOutServiceServicer_to_server,
        ),
    ]
    port = settings.validation_grpc_port if grpc_port is None else grpc_port
    async with grpc_server(settings, pool, specs, port=port) as server, background(*background_loops(settings, pool)):
        yield RunningValidation(server.port)
