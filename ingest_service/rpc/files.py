"""IngestService RPCs: file import, export and re-upload (the rejected-lead loop).

The upload stream (first chunk: the spec; then the file's bytes) is spooled to a temporary file --
in memory up to 8 MiB, then on disk -- and refused as soon as it passes LEADRELAY_IMPORT_MAX_BYTES.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO

import grpc

from ingest_service.files import exporter, import_plan, importer, reupload, upload_file
from ingest_service.files.file_report import Progress
from ingest_service.files.header_match import Override
from ingest_service.resources import IngestResources
from ingest_service.rpc.intake import lead_filter
from leadrelay import lead_export
from leadrelay.auth import current_account
from leadrelay.capture.sources_store import get_source
from leadrelay.errors import InvalidArgument
from leadrelay.ids import parse_id
from leadrelay.v1 import common_pb2, ingest_pb2

_SPOOL_IN_MEMORY = 8 << 20
_FORMATS = {
    common_pb2.FILE_FORMAT_UNSPECIFIED: "",
    common_pb2.FILE_FORMAT_CSV: upload_file.CSV,
    common_pb2.FILE_FORMAT_XLSX: upload_file.XLSX,
}


class FilesRpc:
    deps: IngestResources

    async def ImportLeads(
        self,
        request_iterator: AsyncIterator[ingest_pb2.ImportChunk],
        context: grpc.aio.ServicerContext[ingest_pb2.ImportChunk, ingest_pb2.ImportProgress],
    ) -> AsyncIterator[ingest_pb2.ImportProgress]:
        spec, file = await self._receive(request_iterator)
        try:
            request = import_plan.ImportRequest(
                source_id=parse_id("source", spec.source_id, "spec.source_id") if spec.source_id else None,
                multi_source=spec.multi_source,
                has_header=spec.has_header if spec.HasField("has_header") else True,
                overrides=_overrides(spec),
                format=_FORMATS.get(spec.format, ""),
                dry_run=spec.dry_run,
                file_name=spec.file_name,
            )
            async for progress in importer.run_import(self.deps, current_account(), request, file):
                yield progress_proto(progress)
        finally:
            file.close()

    async def ReuploadLeads(
        self,
        request_iterator: AsyncIterator[ingest_pb2.ImportChunk],
        context: grpc.aio.ServicerContext[ingest_pb2.ImportChunk, ingest_pb2.ImportProgress],
    ) -> AsyncIterator[ingest_pb2.ImportProgress]:
        spec, file = await self._receive(request_iterator)
        try:
            if spec.HasField("has_header") and not spec.has_header:
                raise InvalidArgument("spec.has_header", "a re-upload is an exported file: it has a header row")
            if spec.dry_run:
                raise InvalidArgument(
                    "spec.dry_run", "a re-upload has no dry run; use ImportLeads' dry run to check rows"
                )
            fmt = _FORMATS.get(spec.format, "")
            async for progress in reupload.run_reupload(
                self.deps, current_account(), _overrides(spec), fmt, spec.file_name, file
            ):
                yield progress_proto(progress)
        finally:
            file.close()

    async def ExportLeads(
        self,
        request: ingest_pb2.ExportLeadsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ExportLeadsRequest, ingest_pb2.ExportChunk],
    ) -> AsyncIterator[ingest_pb2.ExportChunk]:
        account_id = current_account()
        f = lead_filter(request)
        if f.source_id is not None:
            async with self.deps.pool.acquire() as con:
                await get_source(con, account_id, f.source_id)
        xlsx = request.format == common_pb2.FILE_FORMAT_XLSX
        first = True
        async for data in exporter.export_file(self.deps.pool, account_id, f, xlsx=xlsx):
            if first:
                first = False
                yield ingest_pb2.ExportChunk(
                    data=data,
                    file_name=lead_export.file_name("leads", xlsx),
                    content_type=lead_export.XLSX_CONTENT_TYPE if xlsx else lead_export.CSV_CONTENT_TYPE,
                )
            elif data:
                yield ingest_pb2.ExportChunk(data=data)

    async def _receive(
        self, request_iterator: AsyncIterator[ingest_pb2.ImportChunk]
    ) -> tuple[ingest_pb2.ImportSpec, BinaryIO]:
        limit = self.deps.settings.import_max_bytes
        spec = None
        size = 0
        file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # closed by the caller
        try:
            async for chunk in request_iterator:
                part = chunk.WhichOneof("part")
                if part == "spec":
                    if spec is not None:
                        raise InvalidArgument("spec", "send the spec once, in the first chunk")
                    spec = chunk.spec
                elif part == "data":
                    if spec is None:
                        raise InvalidArgument("spec", "the first chunk must carry the spec")
                    size += len(chunk.data)
                    if size > limit:
                        raise InvalidArgument(
                            "data", f"the file is larger than {limit} bytes (LEADRELAY_IMPORT_MAX_BYTES)"
                        )
                    file.write(chunk.data)
            if spec is None:
                raise InvalidArgument("spec", "the first chunk must carry the spec")
            if size == 0:
                raise InvalidArgument("data", "row 1: the file is empty")
        except BaseException:
            file.close()
            raise
        file.seek(0)
        return spec, file  # type: ignore[return-value]  # binary mode; typeshed calls it IO[bytes], not BinaryIO


def _overrides(spec: ingest_pb2.ImportSpec) -> tuple[Override, ...]:
    out = []
    for i, c in enumerate(spec.columns):
        if not c.header and c.position <= 0:
            raise InvalidArgument(f"spec.columns[{i}]", "name the file column by header or by position")
        out.append(Override(column=c.column, header=c.header, position=max(c.position, 0)))
    return tuple(out)


def progress_proto(p: Progress) -> ingest_pb2.ImportProgress:
    return ingest_pb2.ImportProgress(
        rows_read=p.rows_read,
        rows_accepted=p.rows_accepted,
        rows_rejected=p.rows_rejected,
        rows_updated=p.rows_updated,
        rows_skipped=p.rows_skipped,
        rows_errored=p.rows_errored,
        rows_waiting=p.rows_waiting,
        done=p.done,
        failed_rows=[
            ingest_pb2.FailedRow(
                row=f.row, lead_id=f.lead_id, column=f.column, disposition_code=f.disposition_code, reason=f.reason
            )
            for f in p.failed_rows
        ],
        import_id=p.import_id,
        dry_run=p.dry_run,
        message=p.message,
    )
