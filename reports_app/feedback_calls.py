"""The lifecycle-feedback page's calls to FeedbackService (Get/SetFeedbackConfig, Get/SetStageMapping,
Flush, Backfill, GetFeedbackStatus, Get/SetLinkedInConversionsConfig), each on the signed-in user's
account and naming that user as the actor. Tokens are write-only: an empty one keeps the stored one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import feedback_pb2, feedback_pb2_grpc

STAGES = {v: k.removeprefix("META_STAGE_") for k, v in feedback_pb2.MetaStage.items() if v}


class Feedback:
    """One page run's client: a channel to the feedback service, the user's account and actor."""

    def __init__(self, settings: Settings, account_id: UUID, user_id: UUID) -> None:
        self.settings = settings
        self.meta = clients.as_account(settings.internal_token, account_id, actor_user_id=user_id)

    async def _call(self, method: str, request: Any, deadline: float = 10) -> Any:
        async with clients.channel(self.settings.feedback_target) as ch:
            return await getattr(feedback_pb2_grpc.FeedbackServiceStub(ch), method)(
                request, metadata=self.meta, timeout=deadline
            )

    async def state(self) -> tuple[Any, dict[str, str], Any, Any]:
        """(config, stage mapping crm stage -> Meta stage name, status, LinkedIn config)."""
        config = await self._call("GetFeedbackConfig", feedback_pb2.GetFeedbackConfigRequest())
        mapping = await self._call("GetStageMapping", feedback_pb2.GetStageMappingRequest())
        status = await self._call("GetFeedbackStatus", feedback_pb2.GetFeedbackStatusRequest())
        linkedin = await self._call("GetLinkedInConversionsConfig", feedback_pb2.GetLinkedInConversionsConfigRequest())
        return config, {k: STAGES[v] for k, v in mapping.stages.items() if v in STAGES}, status, linkedin

    async def save_config(self, config: feedback_pb2.FeedbackConfig) -> Any:
        return await self._call("SetFeedbackConfig", config)

    async def save_mapping(self, stages: Mapping[str, str]) -> Any:
        request = feedback_pb2.SetStageMappingRequest(
            stages={k: feedback_pb2.MetaStage.Value(f"META_STAGE_{v}") for k, v in stages.items()}
        )
        return await self._call("SetStageMapping", request)

    async def flush(self) -> Any:
        return await self._call("Flush", feedback_pb2.FlushRequest(), deadline=120)

    async def save_linkedin(self, token: str, rules: Mapping[str, str]) -> Any:
        request = feedback_pb2.LinkedInConversionsConfig(access_token=token, conversion_rules=dict(rules))
        return await self._call("SetLinkedInConversionsConfig", request)

    async def backfill(self, since: datetime) -> AsyncIterator[feedback_pb2.BackfillProgress]:
        request = feedback_pb2.BackfillRequest()
        request.since.FromDatetime(since)
        async with clients.channel(self.settings.feedback_target) as ch:
            stream = feedback_pb2_grpc.FeedbackServiceStub(ch).Backfill(request, metadata=self.meta, timeout=1800)
            async for progress in stream:
                yield progress
