"""`make run`'s feedback demo: the demo account sends lifecycle stages to the sandbox's Conversions API
(IMMEDIATE), with a stage mapping a CRM might have. Set through the public gRPC API with the demo key."""

from __future__ import annotations

import grpc

from leadrelay.auth import bearer_metadata
from leadrelay.settings import Settings
from leadrelay.v1 import feedback_pb2, feedback_pb2_grpc

DEMO_DATASET = "100000000000001"
DEMO_STAGES = {
    "New": feedback_pb2.META_STAGE_LEAD,
    "Marketing Qualified": feedback_pb2.META_STAGE_MARKETING_QUALIFIED_LEAD,
    "Sales Accepted": feedback_pb2.META_STAGE_SALES_OPPORTUNITY,
    "Closed Won": feedback_pb2.META_STAGE_CONVERTED,
    "Disqualified": feedback_pb2.META_STAGE_DISQUALIFIED,
    "Closed Lost": feedback_pb2.META_STAGE_LOST,
}


def demo_feedback(settings: Settings, api_key: str) -> None:
    with grpc.insecure_channel(f"{settings.host}:{settings.feedback_grpc_port}") as channel:
        stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
        metadata = bearer_metadata(api_key)
        current = stub.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest(), metadata=metadata, timeout=10)
        if not current.dataset_id:
            stub.SetFeedbackConfig(
                feedback_pb2.FeedbackConfig(
                    dataset_id=DEMO_DATASET,
                    access_token="sandbox-demo-token",
                    lead_event_source="LeadRelay demo CRM",
                    mode=feedback_pb2.DISPATCH_MODE_IMMEDIATE,
                ),
                metadata=metadata,
                timeout=10,
            )
        mapping = stub.GetStageMapping(feedback_pb2.GetStageMappingRequest(), metadata=metadata, timeout=10)
        if not mapping.stages:
            stub.SetStageMapping(feedback_pb2.SetStageMappingRequest(stages=DEMO_STAGES), metadata=metadata, timeout=10)
    print(f"  feedback   stage changes go to the sandbox Conversions API (dataset {DEMO_DATASET})", flush=True)
