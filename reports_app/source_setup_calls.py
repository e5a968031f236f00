"""What the source set-up pages change and ask, through IngestService only, with the internal token
on the signed-in user's account and the user named as the actor (audit trails say who acted).

Unary calls run on the database thread's loop (`Database.run`); the two streams a page shows as they
go (SyncLeads' progress, ExportLeads' file) use a blocking channel in the page's own thread, so the
page can redraw between messages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from uuid import UUID

import grpc

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

PLATFORMS = {
    "FACEBOOK": common_pb2.PLATFORM_FACEBOOK,
    "LINKEDIN": common_pb2.PLATFORM_LINKEDIN,
    "CSV": common_pb2.PLATFORM_CSV,
    "API": common_pb2.PLATFORM_API,
}
STATUSES = {
    "": common_pb2.LEAD_STATUS_UNSPECIFIED,
    "ACCEPTED": common_pb2.LEAD_STATUS_ACCEPTED,
    "REJECTED": common_pb2.LEAD_STATUS_REJECTED,
    "PROCESSING": common_pb2.LEAD_STATUS_PROCESSING,
}
FORMATS = {"CSV": common_pb2.FILE_FORMAT_CSV, "XLSX": common_pb2.FILE_FORMAT_XLSX}


class Caller:
    """One signed-in user's calls to IngestService."""

    def __init__(self, settings: Settings, account_id: UUID, user_id: UUID) -> None:
        self.settings = settings
        self.metadata = clients.as_account(settings.internal_token, account_id, user_id)

    async def _unary(self, method: str, request: object, deadline: float = 15) -> object:
        async with clients.channel(self.settings.ingest_target) as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            return await getattr(stub, method)(request, metadata=self.metadata, timeout=deadline)

    async def create_source(self, name: str, platform: str) -> ingest_pb2.Source:
        request = ingest_pb2.CreateSourceRequest(name=name, platform=PLATFORMS[platform])
        return await self._unary("CreateSource", request)  # type: ignore[return-value]

    async def source(self, source_id: str) -> ingest_pb2.Source:
        return await self._unary("GetSource", ingest_pb2.GetSourceRequest(source_id=source_id))  # type: ignore[return-value]

    async def set_enabled(self, source_id: str, enabled: bool) -> ingest_pb2.Source:
        request = ingest_pb2.UpdateSourceRequest(source_id=source_id, enabled=enabled)
        return await self._unary("UpdateSource", request)  # type: ignore[return-value]

    async def disconnect(self, source_id: str) -> ingest_pb2.Source:
        request = ingest_pb2.DisconnectSourceRequest(source_id=source_id)
        return await self._unary("DisconnectSource", request, deadline=30)  # type: ignore[return-value]

    async def forms(self, source_id: str) -> list[ingest_pb2.Form]:
        reply = await self._unary("ListForms", ingest_pb2.ListFormsRequest(source_id=source_id, page_size=500))
        return list(reply.forms)  # type: ignore[attr-defined]

    async def set_form_enabled(self, source_id: str, form_id: str, enabled: bool) -> ingest_pb2.Form:
        request = ingest_pb2.UpsertFormRequest(source_id=source_id, platform_form_id=form_id, enabled=enabled)
        return await self._unary("UpsertForm", request)  # type: ignore[return-value]

    async def refresh_forms(self, source_id: str) -> list[ingest_pb2.Form]:
        reply = await self._unary("RefreshForms", ingest_pb2.RefreshFormsRequest(source_id=source_id), deadline=60)
        return list(reply.forms)  # type: ignore[attr-defined]

    async def mapping(self, source_id: str, form_id: str = "") -> ingest_pb2.Mapping:
        request = ingest_pb2.GetMappingRequest(source_id=source_id, form_id=form_id)
        return await self._unary("GetMapping", request)  # type: ignore[return-value]

    async def save_mapping(
        self, source_id: str, form_id: str, rows: Sequence[common_pb2.FieldMapping]
    ) -> ingest_pb2.Mapping:
        """The default mapping (no form), or the form's own one (an empty list: back to the default)."""
        request = ingest_pb2.SetMappingRequest(source_id=source_id, form_id=form_id, mappings=list(rows))
        method = "SetFormMapping" if form_id else "SetDefaultMapping"
        return await self._unary(method, request)  # type: ignore[return-value]

    async def form_fields(self, source_id: str, form_id: str) -> ingest_pb2.ListFormFieldsResponse:
        request = ingest_pb2.ListFormFieldsRequest(source_id=source_id, form_id=form_id)
        return await self._unary("ListFormFields", request)  # type: ignore[return-value]

    async def preview(
        self, source_id: str, form_id: str, rows: Sequence[common_pb2.FieldMapping]
    ) -> ingest_pb2.PreviewMappingResponse:
        request = ingest_pb2.PreviewMappingRequest(source_id=source_id, form_id=form_id, mappings=list(rows))
        return await self._unary("PreviewMapping", request)  # type: ignore[return-value]

    async def counts(self, source_id: str, since: datetime, until: datetime) -> ingest_pb2.SourceCounts:
        """Ours and the platform's count of the window (recorded for the reports)."""
        request = ingest_pb2.GetSourceCountsRequest(source_id=source_id)
        request.since.FromDatetime(since)
        request.until.FromDatetime(until)
        return await self._unary("GetSourceCounts", request, deadline=60)  # type: ignore[return-value]

    # Streams, read in the page's thread ------------------------------------------------------------

    def sync(self, source_id: str, form_id: str, since: datetime, until: datetime) -> Iterator[ingest_pb2.SyncProgress]:
        request = ingest_pb2.SyncLeadsRequest(source_id=source_id, form_id=form_id)
        request.since.FromDatetime(since)
        request.until.FromDatetime(until)
        with grpc.insecure_channel(self.settings.ingest_target, options=clients.CHANNEL_OPTIONS) as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            # A 90-day sync of a busy Page reads many pages; the platform's throttling adds waits.
            yield from stub.SyncLeads(request, metadata=self.metadata, timeout=3600)

    def export(self, source_id: str, status: str, fmt: str) -> tuple[str, bytes]:
        """(file name, bytes) of the source's leads with that status ("" every status)."""
        request = ingest_pb2.ExportLeadsRequest(source_id=source_id, status=STATUSES[status], format=FORMATS[fmt])
        name, parts = "", []
        with grpc.insecure_channel(self.settings.ingest_target, options=clients.CHANNEL_OPTIONS) as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            for chunk in stub.ExportLeads(request, metadata=self.metadata, timeout=300):
                name = name or chunk.file_name
                parts.append(chunk.data)
        return name, b"".join(parts)
