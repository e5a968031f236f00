"""PostOutService: destinations, post-out statuses and logs, retries."""

from __future__ import annotations

import asyncpg

from leadrelay.server import unimplemented
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2_grpc

_MISSING = "post-out to the MA/CRM"


class PostOutServicer(validation_pb2_grpc.PostOutServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool

    CreateDestination = unimplemented("CreateDestination", _MISSING)
    UpdateDestination = unimplemented("UpdateDestination", _MISSING)
    ListDestinations = unimplemented("ListDestinations", _MISSING)
    ResumeDestination = unimplemented("ResumeDestination", _MISSING)
    ListPostOuts = unimplemented("ListPostOuts", _MISSING)
    ListPostOutAttempts = unimplemented("ListPostOutAttempts", _MISSING)
    RetryPostOuts = unimplemented("RetryPostOuts", _MISSING)
