"""Composition root of the feedback process: FeedbackService and the Conversions API dispatcher."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from feedback_service import dispatcher
from feedback_service.servicer import FeedbackServicer
from leadrelay.background import background
from leadrelay.server import ServiceSpec, grpc_server
from leadrelay.settings import Settings
from leadrelay.v1 import feedback_pb2, feedback_pb2_grpc


@dataclass(frozen=True)
class RunningFeedback:
    grpc_port: int


def background_loops(settings: Settings, pool: asyncpg.Pool) -> list:
    """The feedback process's loops (the dispatcher); each capability adds its own here."""
    return [dispatcher.run(settings, pool)]


@contextlib.asynccontextmanager
async def running(
    settings: Settings, pool: asyncpg.Pool, *, grpc_port: int | None = None
) -> AsyncIterator[RunningFeedback]:
    spec = ServiceSpec(
        feedback_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name,
        FeedbackServicer(settings, pool),
        feedback_pb2_grpc.add_FeedbackServiceServicer_to_server,
    )
    port = settings.feedback_grpc_port if grpc_port is None else grpc_port
    async with grpc_server(settings, pool, [spec], port=port) as server, background(*background_loops(settings, pool)):
        yield RunningFeedback(server.port)
