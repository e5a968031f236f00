"""IngestService: one servicer composed of one mixin per capability (ingest_service/rpc/)."""

from __future__ import annotations

from ingest_service.resources import IngestResources
from ingest_service.rpc.connect import ConnectRpc
from ingest_service.rpc.connectors import ConnectorsRpc
from ingest_service.rpc.files import FilesRpc
from ingest_service.rpc.form_fields import FormFieldsRpc
from ingest_service.rpc.intake import IntakeRpc
from ingest_service.rpc.sources import SourcesRpc
from leadrelay.v1 import ingest_pb2_grpc


class IngestServicer(
    SourcesRpc, FormFieldsRpc, IntakeRpc, ConnectorsRpc, ConnectRpc, FilesRpc, ingest_pb2_grpc.IngestServiceServicer
):
    def __init__(self, deps: IngestResources) -> None:
        self.deps = deps
