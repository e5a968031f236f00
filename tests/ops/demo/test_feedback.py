import asyncio

from leadrelay.v1 import feedback_pb2
from ops.demo.feedback import DEMO_DATASET, DEMO_STAGES, demo_feedback


async def test_demo_hook_configures_the_sandbox_dispatch_once(api, servers):
    port = int(servers.feedback_target.rsplit(":", 1)[1])
    settings = servers.settings.replace(host="127.0.0.1", feedback_grpc_port=port)
    await asyncio.to_thread(demo_feedback, settings, api.account.api_key)
    await asyncio.to_thread(demo_feedback, settings, api.account.api_key)  # a second `make run`
    config = await api.feedback.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest())
    assert (config.dataset_id, config.has_access_token, config.mode) == (
        DEMO_DATASET,
        True,
        feedback_pb2.DISPATCH_MODE_IMMEDIATE,
    )
    mapping = await api.feedback.GetStageMapping(feedback_pb2.GetStageMappingRequest())
    assert dict(mapping.stages) == DEMO_STAGES
