"""FeedbackService: configuration, stage mapping, recording stage changes, dispatch, backfill."""

from __future__ import annotations

import asyncpg

from leadrelay.server import unimplemented
from leadrelay.settings import Settings
from leadrelay.v1 import feedback_pb2_grpc

_MISSING = "lifecycle feedback to Meta"


class FeedbackServicer(feedback_pb2_grpc.FeedbackServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool

    SetFeedbackConfig = unimplemented("SetFeedbackConfig", _MISSING)
    GetFeedbackConfig = unimplemented("GetFeedbackConfig", _MISSING)
    SetStageMapping = unimplemented("SetStageMapping", _MISSING)
    GetStageMapping = unimplemented("GetStageMapping", _MISSING)
    RecordStageChanges = unimplemented("RecordStageChanges", _MISSING)
    Backfill = unimplemented("Backfill", _MISSING)
    Flush = unimplemented("Flush", _MISSING)
    GetFeedbackStatus = unimplemented("GetFeedbackStatus", _MISSING)
