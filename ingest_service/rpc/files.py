"""IngestService RPCs: file import, export and re-upload (the rejected-lead loop).

The upload stream (first chunk: the spec; then the file's bytes) is spooled to a temporary file --
in memory up to 256 KiB, then on disk -- and refused as soon as it passes LEADRELAY_IMPORT_MAX_BYTES.
An account runs at most LEADRELAY_UPLOADS_PER_ACCOUNT uploads at once and the process
LEADRELAY_UPLOADS_MAX (RESOURCE_EXHAUSTED beyond): a silent stream still holds its gRPC receive
buffers. A stream that sends nothing for LEADRELAY_UPLOAD_IDLE_SECONDS is ended (DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cached_property
from typing import BinaryIO
from uuid import UUID

import asyncpg
import grpc

from ingest_service.files import exporter, import_plan, importer, imports_store, reupload, upload_file
from ingest_service.files.file_budget import Budget
from ingest_service.files.file_report import Progress
from ingest_service.files.header_match import Override
from ingest_service.files.upload_slots import TooManyUploads, UploadSlots
from ingest_service.resources import IngestResources
from ingest_service.rpc.intake import lead_filter
from leadrelay import lead_export, paging
from leadrelay.auth import current_account, current_actor
from leadrelay.capture.sources_store import get_source
from leadrelay.db import Connection
from leadrelay.errors import FailedPrecondition, InvalidArgument
from leadrelay.ids import parse_id
from leadrelay.ownership import check_owner
from leadrelay.protoconv import set_timestamp
from leadrelay.v1 import common_pb2, ingest_pb2

_SPOOL_IN_MEMORY = 256 << 10
_FORMATS = {
    common_pb2.FILE_FORMAT_UNSPECIFIED: "",
    common_pb2.FILE_FORMAT_CSV: upload_file.CSV,
    common_pb2.FILE_FORMAT_XLSX: upload_file.XLSX,
}


class FilesRpc:
    deps: IngestResources

    @cached_property
    def _upload_slots(self) -> UploadSlots:
        return UploadSlots(self.deps.settings.uploads_per_account, self.deps.settings.uploads_max)

    async def ImportLeads(
        self,
        request_iterator: AsyncIterator[ingest_pb2.ImportChunk],
        context: grpc.aio.ServicerContext[ingest_pb2.ImportChunk, ingest_pb2.ImportProgress],
    ) -> AsyncIterator[ingest_pb2.ImportProgress]:
        async with self._upload(request_iterator, context) as (spec, file, digest, budget):
            request = import_plan.ImportRequest(
                source_id=parse_id("source", spec.source_id, "spec.source_id") if spec.source_id else None,
                multi_source=spec.multi_source,
                has_header=spec.has_header if spec.HasField("has_header") else True,
                overrides=_overrides(spec),
                format=_FORMATS.get(spec.format, ""),
                dry_run=spec.dry_run,
                file_name=spec.file_name,
                import_id=parse_id("import", spec.import_id, "spec.import_id") if spec.import_id else None,
                content_sha256=digest,
                unmatched=import_plan.IGNORE
                if spec.unmatched_columns == ingest_pb2.UNMATCHED_COLUMNS_IGNORE
                else import_plan.CATCH_ALL,
                trim=spec.trim,
                actor=current_actor(),
            )
            async for progress in importer.run_import(self.deps, current_account(), request, file, budget):
                yield progress_proto(progress)

    async def ReuploadLeads(
        self,
        request_iterator: AsyncIterator[ingest_pb2.ImportChunk],
        context: grpc.aio.ServicerContext[ingest_pb2.ImportChunk, ingest_pb2.ImportProgress],
    ) -> AsyncIterator[ingest_pb2.ImportProgress]:
        async with self._upload(request_iterator, context) as (spec, file, _digest, budget):
            if spec.HasField("has_header") and not spec.has_header:
                raise InvalidArgument("spec.has_header", "a re-upload is an exported file: it has a header row")
            fmt = _FORMATS.get(spec.format, "")
            async for progress in reupload.run_reupload(
                self.deps,
                current_account(),
                _overrides(spec),
                fmt,
                spec.file_name,
                file,
                budget,
                dry_run=spec.dry_run,
                accept_damage=spec.accept_damage,
                actor=current_actor(),
            ):
                yield progress_proto(progress)

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
        async for data in exporter.export_file(
            self.deps.pool, account_id, f, xlsx=xlsx, workers=self.deps.file_workers
        ):
            if first:
                first = False
                yield ingest_pb2.ExportChunk(
                    data=data,
                    file_name=lead_export.file_name("leads", xlsx),
                    content_type=lead_export.XLSX_CONTENT_TYPE if xlsx else lead_export.CSV_CONTENT_TYPE,
                )
            elif data:
                yield ingest_pb2.ExportChunk(data=data)

    async def ListImports(
        self,
        request: ingest_pb2.ListImportsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ListImportsRequest, ingest_pb2.ListImportsResponse],
    ) -> ingest_pb2.ListImportsResponse:
        size = paging.page_size(request.page_size)
        status = _STATUS_NAME.get(request.status) if request.status else None
        async with self.deps.pool.acquire() as con:
            rows = await imports_store.list_imports(
                con,
                current_account(),
                status=status,
                after=paging.decode(request.page_token, datetime, UUID),
                limit=size + 1,
            )
        token = paging.encode(rows[size - 1]["started_at"], rows[size - 1]["import_id"]) if len(rows) > size else ""
        return ingest_pb2.ListImportsResponse(imports=[import_proto(r) for r in rows[:size]], next_page_token=token)

    async def GetImport(
        self,
        request: ingest_pb2.GetImportRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.GetImportRequest, ingest_pb2.ImportInfo],
    ) -> ingest_pb2.ImportInfo:
        import_id = parse_id("import", request.import_id, "import_id")
        async with self.deps.pool.acquire() as con:
            return import_proto(await _own_import(con, import_id))

    async def AbandonImport(
        self,
        request: ingest_pb2.AbandonImportRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.AbandonImportRequest, ingest_pb2.ImportInfo],
    ) -> ingest_pb2.ImportInfo:
        import_id = parse_id("import", request.import_id, "import_id")
        async with self.deps.pool.acquire() as con, con.transaction():
            row = await _own_import(con, import_id)
            if not await imports_store.abandon(con, import_id):
                raise FailedPrecondition(
                    f"import {import_id} is {row['status']}; only an interrupted import can be abandoned"
                )
            return import_proto(await _own_import(con, import_id))

    @contextlib.asynccontextmanager
    async def _upload(
        self, request_iterator: AsyncIterator[ingest_pb2.ImportChunk], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[tuple[ingest_pb2.ImportSpec, BinaryIO, str, Budget]]:
        """The call's upload slot, its received file (with its SHA-256) and the budget of reading it:
        the slot and the file are given back when the call ends, and a reader still at work stops."""
        account_id = current_account()
        try:
            self._upload_slots.acquire(account_id)
        except TooManyUploads as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        try:
            spec, file, digest = await self._receive(request_iterator, context)
            budget = Budget.from_settings(self.deps.settings)
            try:
                yield spec, file, digest, budget
            finally:
                budget.stop.set()
                file.close()
        finally:
            self._upload_slots.release(account_id)

    async def _receive(
        self, request_iterator: AsyncIterator[ingest_pb2.ImportChunk], context: grpc.aio.ServicerContext
    ) -> tuple[ingest_pb2.ImportSpec, BinaryIO, str]:
        limit = self.deps.settings.import_max_bytes
        digest = hashlib.sha256()
        idle = self.deps.settings.upload_idle_seconds
        spec = None
        size = 0
        file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # closed by the caller
        chunks = aiter(request_iterator)
        try:
            while True:
                try:
                    # In this task, not wait_for's: a cancelled call must reach the read at once.
                    async with asyncio.timeout(idle):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    await context.abort(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        f"the upload sent nothing for {idle:g} s and was ended (LEADRELAY_UPLOAD_IDLE_SECONDS)",
                    )
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
                    digest.update(chunk.data)
            if spec is None:
                raise InvalidArgument("spec", "the first chunk must carry the spec")
            if size == 0:
                raise InvalidArgument("data", "row 1: the file is empty")
        except BaseException:
            file.close()
            raise
        file.seek(0)
        return spec, file, digest.hexdigest()  # type: ignore[return-value]  # binary mode; typeshed calls it IO[bytes], not BinaryIO


def _overrides(spec: ingest_pb2.ImportSpec) -> tuple[Override, ...]:
    out = []
    for i, c in enumerate(spec.columns):
        if not c.header and c.position <= 0:
            raise InvalidArgument(f"spec.columns[{i}]", "name the file column by header or by position")
        if c.catch_all and c.column:
            raise InvalidArgument(f"spec.columns[{i}].catch_all", "a column goes to a source column or the catch-all")
        out.append(
            Override(
                column=c.column,
                header=c.header,
                position=max(c.position, 0),
                catch_all=c.catch_all,
                transform=c.transform.strip().lower(),
            )
        )
    return tuple(out)


async def _own_import(con: Connection, import_id: UUID) -> asyncpg.Record:
    row = await imports_store.get(con, import_id)
    check_owner("import", import_id, row["account_id"] if row else None, current_account())
    assert row is not None  # check_owner raised NotFound otherwise
    return row


_STATUS_NAME = {
    ingest_pb2.IMPORT_STATUS_RUNNING: imports_store.RUNNING,
    ingest_pb2.IMPORT_STATUS_INTERRUPTED: imports_store.INTERRUPTED,
    ingest_pb2.IMPORT_STATUS_FINISHED: imports_store.FINISHED,
    ingest_pb2.IMPORT_STATUS_ABANDONED: imports_store.ABANDONED,
}
_STATUS_ENUM = {name: value for value, name in _STATUS_NAME.items()}


def import_proto(r: asyncpg.Record) -> ingest_pb2.ImportInfo:
    info = ingest_pb2.ImportInfo(
        import_id=str(r["import_id"]),
        kind=r["kind"],
        source_id=str(r["source_id"]) if r["source_id"] else "",
        file_name=r["file_name"],
        status=_STATUS_ENUM[r["status"]],
        rows_read=r["rows_read"],
        rows_accepted=r["rows_accepted"],
        rows_rejected=r["rows_rejected"],
        rows_updated=r["rows_updated"],
        rows_skipped=r["rows_skipped"],
        rows_errored=r["rows_errored"],
        rows_waiting=r["rows_waiting"],
        summary=r["summary"],
        actor=r["actor"],
    )
    set_timestamp(info.started_at, r["started_at"])
    set_timestamp(info.finished_at, r["finished_at"])
    return info


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
        resumed=p.resumed,
        rows_already_stored=p.rows_already_stored,
        rows_held=p.rows_held,
        changed_rows=[
            ingest_pb2.RowChange(
                row=r.row,
                lead_id=r.lead_id,
                held=r.held,
                changes=[
                    ingest_pb2.CellChange(
                        column=c.column,
                        old_value=c.old_value,
                        new_value=c.new_value,
                        damage=c.damage,
                        damage_reason=c.damage_reason,
                    )
                    for c in r.changes
                ],
            )
            for r in p.changed_rows
        ],
        columns_outside=[ingest_pb2.FileColumnUse(column=c, header=h, use=u) for c, h, u in p.columns_outside],
        footer_rows=p.footer_rows,
        rows_known=p.rows_known,
        rows_total=p.rows_total,
        columns_matched=[ingest_pb2.FileColumnUse(column=c, header=h, use=u) for c, h, u in p.columns_matched],
    )
