"""ValidationService: acceptance criteria, judgement of stored leads, dry runs, the disposition catalogue."""

from __future__ import annotations

import asyncpg

from leadrelay.server import unimplemented
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2_grpc

_MISSING = "acceptance criteria (capture core)"


class ValidationServicer(validation_pb2_grpc.ValidationServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool

    SetAcceptanceCriteria = unimplemented("SetAcceptanceCriteria", _MISSING)
    GetAcceptanceCriteria = unimplemented("GetAcceptanceCriteria", _MISSING)
    ValidateLeads = unimplemented("ValidateLeads", _MISSING)
    EvaluateLeads = unimplemented("EvaluateLeads", _MISSING)
    ListDispositionCodes = unimplemented("ListDispositionCodes", _MISSING)
