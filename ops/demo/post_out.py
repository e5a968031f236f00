"""`make run`'s post-out demo: every source of the demo account delivers to the sandbox CRM and to
the sandbox's strict Marketo stand-in (the Marketo preset: batched leads.json calls with an OAuth
client-credentials token that the stand-in lets lapse), so accepted demo leads show POSTED (and the
CRMs' records) within seconds. Set through the public gRPC API with the demo key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from leadrelay.auth import bearer_metadata
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, validation_pb2, validation_pb2_grpc

DEMO_DESTINATION = "Sandbox CRM (demo)"
DEMO_MARKETO = "Marketo (sandbox)"


def _sources(ingest: ingest_pb2_grpc.IngestServiceStub, meta: Any) -> Iterator[ingest_pb2.Source]:
    token = ""
    while True:
        page = ingest.ListSources(ingest_pb2.ListSourcesRequest(page_size=100, page_token=token), metadata=meta)
        yield from page.sources
        token = page.next_page_token
        if not token:
            return


def _destination_names(post_outs: validation_pb2_grpc.PostOutServiceStub, meta: Any, source_id: str) -> set[str]:
    names: set[str] = set()
    token = ""
    while True:
        page = post_outs.ListDestinations(
            validation_pb2.ListDestinationsRequest(source_id=source_id, page_size=100, page_token=token),
            metadata=meta,
        )
        names.update(d.name for d in page.destinations)
        token = page.next_page_token
        if not token:
            return names


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


def marketo(settings: Settings, source_id: str) -> validation_pb2.CreateDestinationRequest:
    """The Marketo preset on the sandbox's stand-in: its template from the source's columns, batches of
    up to 300 leads, and a client-credentials token fetched from the stand-in's identity endpoint."""
    return validation_pb2.CreateDestinationRequest(
        source_id=source_id,
        name=DEMO_MARKETO,
        url=f"http://{settings.host}:{settings.sandbox_port}/vendors/marketo/demo",
        preset="marketo",
        oauth=validation_pb2.OAuth(
            grant_type="client_credentials", client_id="client-id", client_secret="client-secret"
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
            names = _destination_names(post_outs, meta, source.source_id)
            if DEMO_DESTINATION not in names:
                default = ingest.GetMapping(ingest_pb2.GetMappingRequest(source_id=source.source_id), metadata=meta)
                columns = [m.column for m in default.mappings]
                post_outs.CreateDestination(destination(settings, source.source_id, columns), metadata=meta)
                added += 1
            if DEMO_MARKETO not in names:
                post_outs.CreateDestination(marketo(settings, source.source_id), metadata=meta)
                added += 1
    print(
        f"  post-out    {added} demo destination(s) added; see what the sandbox CRM received at "
        f"http://{settings.host}:{settings.sandbox_port}/crm/_control/demo and Marketo at "
        f"http://{settings.host}:{settings.sandbox_port}/vendors/_control/marketo/demo",
        flush=True,
    )
