"""`make run`'s post-out demo: every source of the demo account delivers to the sandbox CRM, so
accepted demo leads show POSTED (and the CRM's records) within seconds. Set through the public gRPC
API with the demo key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from leadrelay.auth import bearer_metadata
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, validation_pb2, validation_pb2_grpc

DEMO_DESTINATION = "Sandbox CRM (demo)"


def _sources(ingest: ingest_pb2_grpc.IngestServiceStub, meta: Any) -> Iterator[ingest_pb2.Source]:
    token = ""
    while True:
        page = ingest.ListSources(ingest_pb2.ListSourcesRequest(page_size=100, page_token=token), metadata=meta)
        yield from page.sources
        token = page.next_page_token
        if not token:
            return


def _has_demo_destination(post_outs: validation_pb2_grpc.PostOutServiceStub, meta: Any, source_id: str) -> bool:
    token = ""
    while True:
        page = post_outs.ListDestinations(
            validation_pb2.ListDestinationsRequest(source_id=source_id, page_size=100, page_token=token),
            metadata=meta,
        )
        if any(d.name == DEMO_DESTINATION for d in page.destinations):
            return True
        token = page.next_page_token
        if not token:
            return False


def _column(name: str) -> common_pb2.FieldMapping:
    return common_pb2.FieldMapping(column=name, lead_column=name)


def destination(settings: Settings, source_id: str, columns: list[str]) -> validation_pb2.CreateDestinationRequest:
    """The sandbox CRM destination for one source: its ids, every mapped column, a constant lead source."""
    return validation_pb2.CreateDestinationRequest(
        source_id=source_id,
        name=DEMO_DESTINATION,
        url=f"http://{settings.host}:{settings.sandbox_port}/crm/demo/leads",
        body=[
            _column("lead_id"),
            _column("source_id"),
            *(_column(c) for c in sorted(set(columns) or {"email"})),
            common_pb2.FieldMapping(column="lead_source", constant=common_pb2.Constant(string_value="LeadRelay")),
        ],
        headers={"Authorization": "Bearer demo-crm-token"},
        success=validation_pb2.SuccessCriteria(
            result_json_path="$.status",
            accepted_values=["accepted"],
            reason_json_path="$.reason",
            record_id_json_path="$.id",
        ),
    )


def demo_post_out(settings: Settings, api_key: str) -> None:
    meta = bearer_metadata(api_key)
    added = 0
    with (
        grpc.insecure_channel(f"{settings.host}:{settings.ingest_grpc_port}") as ingest_channel,
        grpc.insecure_channel(f"{settings.host}:{settings.validation_grpc_port}") as validation_channel,
    ):
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
        post_outs = validation_pb2_grpc.PostOutServiceStub(validation_channel)
        for source in list(_sources(ingest, meta)):
            if _has_demo_destination(post_outs, meta, source.source_id):
                continue
            default = ingest.GetMapping(ingest_pb2.GetMappingRequest(source_id=source.source_id), metadata=meta)
            columns = [m.column for m in default.mappings]
            post_outs.CreateDestination(destination(settings, source.source_id, columns), metadata=meta)
            added += 1
    print(
        f"  post-out    {added} demo source(s) now deliver to the sandbox CRM; see what it received at "
        f"http://{settings.host}:{settings.sandbox_port}/crm/_control/demo",
        flush=True,
    )
