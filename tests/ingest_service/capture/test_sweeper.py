"""Validation unreachable: leads stay PROCESSING, the caller is told, and the sweeper judges them later."""

from __future__ import annotations

import asyncio
import socket

from ingest_service.app import running as ingest_running
from ingest_service.capture.validation_client import UNREACHABLE
from leadrelay import clients
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc
from tests.ingest_service.capture_support import lead, new_source, set_rules


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_validation_keeps_leads_processing_until_the_sweeper_judges_them(api, servers, pool):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    dead = servers.settings.replace(validation_target=f"127.0.0.1:{closed_port()}", sweeper_interval_seconds=3600.0)
    async with ingest_running(dead, pool, grpc_port=0, http_port=0) as cut_off:
        channel = clients.api_key_channel(f"127.0.0.1:{cut_off.grpc_port}", api.account.api_key)
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            first = await stub.SubmitLeads(
                ingest_pb2.SubmitLeadsRequest(
                    leads=[
                        lead(source.source_id, "w-1", email="w1@example.com"),
                        lead(source.source_id, "w-2", email="broken"),
                    ]
                )
            )
            again = await stub.SubmitLead(lead(source.source_id, "w-1", email="w1@example.com"))
        finally:
            await channel.close()
    assert [(o.platform_lead_id, o.status, o.custom_reason) for o in first.outcomes] == [
        ("w-1", common_pb2.LEAD_STATUS_PROCESSING, UNREACHABLE),
        ("w-2", common_pb2.LEAD_STATUS_PROCESSING, UNREACHABLE),
    ]
    assert (again.status, again.duplicate, again.lead_id) == (
        common_pb2.LEAD_STATUS_PROCESSING,
        True,
        first.outcomes[0].lead_id,
    )
    assert "waiting for validation" in again.custom_reason

    # The session's ingest process sweeps every 0.5 s for leads older than 1 s.
    wanted = [common_pb2.LEAD_STATUS_ACCEPTED, common_pb2.LEAD_STATUS_REJECTED]
    for _ in range(100):
        got = [await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=o.lead_id)) for o in first.outcomes]
        if [g.status for g in got] == wanted:
            break
        await asyncio.sleep(0.1)
    assert [g.status for g in got] == wanted
    assert got[1].disposition_code == "REJECT_LEAD_INVALID_EMAIL"
    assert [e.type for e in got[0].events] == ["received", "validated"]
