"""IngestService RPCs: source and mapping management (capture core)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import grpc

from ingest_service.capture import intake_cache, validation_client
from ingest_service.resources import IngestResources
from leadrelay import audit_store, paging
from leadrelay.auth import current_account
from leadrelay.capture import leads_store, mapping, sources_store
from leadrelay.capture.leads import PLATFORMS
from leadrelay.db import Connection
from leadrelay.errors import AlreadyExists, InvalidArgument
from leadrelay.ids import as_id, parse_id
from leadrelay.protoconv import from_timestamp, set_timestamp
from leadrelay.v1 import common_pb2, ingest_pb2

# LinkedIn and Facebook sources are one ad account / Page; CSV and API sources stand alone.
_EXTERNAL_REQUIRED = ("LINKEDIN", "FACEBOOK")


class SourcesRpc:
    deps: IngestResources

    async def CreateSource(
        self,
        request: ingest_pb2.CreateSourceRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.CreateSourceRequest, ingest_pb2.Source],
    ) -> ingest_pb2.Source:
        account = current_account()
        name = request.name.strip()
        if not name:
            raise InvalidArgument("name", "a source needs a name")
        platform = platform_name(request.platform)
        external = request.external_account_id.strip()
        if platform in _EXTERNAL_REQUIRED and not external:
            raise InvalidArgument("external_account_id", f"a {platform} source needs its ad account / Page id")
        async with self.deps.pool.acquire() as con:
            try:
                row = await sources_store.create_source(con, account, name, platform, external)
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"a {platform} source for {external!r} already exists in this account") from None
        return source_proto(row)

    async def GetSource(
        self,
        request: ingest_pb2.GetSourceRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.GetSourceRequest, ingest_pb2.Source],
    ) -> ingest_pb2.Source:
        source_id = parse_id("source", request.source_id, "source_id")
        async with self.deps.pool.acquire() as con:
            return source_proto(await sources_store.get_source(con, current_account(), source_id))

    async def ListSources(
        self,
        request: ingest_pb2.ListSourcesRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ListSourcesRequest, ingest_pb2.ListSourcesResponse],
    ) -> ingest_pb2.ListSourcesResponse:
        size = paging.page_size(request.page_size)
        platform = platform_name(request.platform) if request.platform else None
        async with self.deps.pool.acquire() as con:
            rows = await sources_store.list_sources(
                con,
                current_account(),
                platform=platform,
                after=paging.decode(request.page_token, datetime, UUID),
                limit=size + 1,
            )
        token = paging.encode(rows[size - 1]["created_at"], rows[size - 1]["source_id"]) if len(rows) > size else ""
        return ingest_pb2.ListSourcesResponse(sources=[source_proto(r) for r in rows[:size]], next_page_token=token)

    async def UpdateSource(
        self,
        request: ingest_pb2.UpdateSourceRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.UpdateSourceRequest, ingest_pb2.Source],
    ) -> ingest_pb2.Source:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        name = request.name.strip() if request.HasField("name") else None
        if name == "":
            raise InvalidArgument("name", "a source needs a name")
        enabled = request.enabled if request.HasField("enabled") else None
        async with self.deps.pool.acquire() as con:
            async with con.transaction():
                row, switched_on = await sources_store.update_source(
                    con, account, source_id, name=name, enabled=enabled
                )
            redrive = await leads_store.disabled_leads(con, source_id) if switched_on else []
        # Leads rejected while the source was off are judged again now (the sweeper retries if this fails).
        await validation_client.judge(self.deps, account, redrive)
        return source_proto(row)

    async def UpsertForm(
        self,
        request: ingest_pb2.UpsertFormRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.UpsertFormRequest, ingest_pb2.Form],
    ) -> ingest_pb2.Form:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        ref = request.platform_form_id.strip()
        if not ref:
            raise InvalidArgument("platform_form_id", "the platform's form id is required")
        enabled = request.enabled if request.HasField("enabled") else None
        async with self.deps.pool.acquire() as con:
            ours = as_id(ref)
            if ours is not None:  # LeadRelay's id of one of the source's forms names that form
                known = await sources_store.form_by_ref(con, account, source_id, ref, "platform_form_id")
                ref = known["platform_form_id"]
            async with con.transaction():
                row, switched_on = await sources_store.upsert_form(
                    con, account, source_id, ref, request.name.strip(), enabled
                )
            redrive = await leads_store.disabled_leads(con, source_id, row["form_id"]) if switched_on else []
        await validation_client.judge(self.deps, account, redrive)
        return form_proto(row)

    async def ListForms(
        self,
        request: ingest_pb2.ListFormsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ListFormsRequest, ingest_pb2.ListFormsResponse],
    ) -> ingest_pb2.ListFormsResponse:
        source_id = parse_id("source", request.source_id, "source_id")
        size = paging.page_size(request.page_size)
        async with self.deps.pool.acquire() as con:
            await sources_store.get_source(con, current_account(), source_id)
            rows = await sources_store.list_forms(
                con, source_id, after=paging.decode(request.page_token, datetime, UUID), limit=size + 1
            )
        token = paging.encode(rows[size - 1]["created_at"], rows[size - 1]["form_id"]) if len(rows) > size else ""
        return ingest_pb2.ListFormsResponse(forms=[form_proto(r) for r in rows[:size]], next_page_token=token)

    async def SetDefaultMapping(
        self,
        request: ingest_pb2.SetMappingRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.SetMappingRequest, ingest_pb2.Mapping],
    ) -> ingest_pb2.Mapping:
        source_id = parse_id("source", request.source_id, "source_id")
        rows = mapping_from_proto(request.mappings)
        mapping.check(rows)
        async with self.deps.pool.acquire() as con, con.transaction():
            await sources_store.set_default_mapping(con, current_account(), source_id, rows)
            await audit_store.record(
                con,
                current_account(),
                "mapping",
                "default mapping saved",
                source_id,
                {"columns": [r.as_json() for r in rows]},
            )
        intake_cache.forget()  # committed: intake must not keep using the old mapping
        return ingest_pb2.Mapping(source_id=str(source_id), mappings=mapping_to_proto(rows), is_default=True)

    async def SetFormMapping(
        self,
        request: ingest_pb2.SetMappingRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.SetMappingRequest, ingest_pb2.Mapping],
    ) -> ingest_pb2.Mapping:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        rows = mapping_from_proto(request.mappings)
        if rows:
            mapping.check(rows)
        async with self.deps.pool.acquire() as con:
            async with con.transaction():
                found = await sources_store.form_by_ref(con, account, source_id, request.form_id, "form_id")
                form_id = found["form_id"]
                form = await sources_store.set_form_mapping(con, account, form_id, rows or None)
                await audit_store.record(
                    con,
                    account,
                    "mapping",
                    "form mapping saved" if rows else "form back to the default mapping",
                    form_id,
                    {"columns": [r.as_json() for r in rows]},
                )
            intake_cache.forget()  # committed: intake must not keep using the old mapping
            return await self._mapping_of(con, account, form["source_id"], form)

    async def GetMapping(
        self,
        request: ingest_pb2.GetMappingRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.GetMappingRequest, ingest_pb2.Mapping],
    ) -> ingest_pb2.Mapping:
        account = current_account()
        async with self.deps.pool.acquire() as con:
            if request.form_id:
                source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
                form = await sources_store.form_by_ref(con, account, source_id, request.form_id, "form_id")
                return await self._mapping_of(con, account, form["source_id"], form)
            source_id = parse_id("source", request.source_id, "source_id")
            return await self._mapping_of(con, account, source_id, None)

    async def _mapping_of(
        self,
        con: Connection,
        account,
        source_id,
        form: asyncpg.Record | None,
    ) -> ingest_pb2.Mapping:
        source = await sources_store.get_source(con, account, source_id)
        own = form is not None and form["mapping"] is not None
        rows = mapping.from_json(form["mapping"] if own else source["default_mapping"])  # type: ignore[index]  # own: a form
        out = ingest_pb2.Mapping(
            source_id=str(source_id),
            form_id=str(form["form_id"]) if form is not None else "",
            mappings=mapping_to_proto(rows),
            is_default=not own,
        )
        set_timestamp(out.saved_at, form["mapping_saved_at"] if own else source["default_mapping_saved_at"])  # type: ignore[index]  # own: a form
        return out


def platform_name(value: common_pb2.Platform.ValueType) -> str:
    name = common_pb2.Platform.Name(value).removeprefix("PLATFORM_") if value in common_pb2.Platform.values() else ""
    if name not in PLATFORMS:
        raise InvalidArgument("platform", "choose LINKEDIN, FACEBOOK, CSV or API")
    return name


def source_proto(row: Mapping[str, Any] | asyncpg.Record) -> ingest_pb2.Source:
    out = ingest_pb2.Source(
        source_id=str(row["source_id"]),
        name=row["name"],
        platform=common_pb2.Platform.Value(f"PLATFORM_{row['platform']}"),
        external_account_id=row["external_account_id"],
        enabled=row["enabled"],
        state=ingest_pb2.SourceState.Value(f"SOURCE_STATE_{row['state']}"),
        # Filled by the platform connectors when their columns exist.
        connected=bool(row.get("connected") or False),
        last_error=row.get("last_error") or "",
        columns=sources_store.columns_of(row),
    )
    set_timestamp(out.created_at, row["created_at"])
    set_timestamp(out.updated_at, row["updated_at"])
    set_timestamp(out.last_polled_at, row.get("last_polled_at"))
    return out


def form_proto(row: asyncpg.Record) -> ingest_pb2.Form:
    out = ingest_pb2.Form(
        form_id=str(row["form_id"]),
        source_id=str(row["source_id"]),
        platform_form_id=row["platform_form_id"],
        name=row["name"],
        enabled=row["enabled"],
        custom_mapping=row["mapping"] is not None,
    )
    set_timestamp(out.created_at, row["created_at"])
    set_timestamp(out.updated_at, row["updated_at"])
    set_timestamp(out.mapping_saved_at, row["mapping_saved_at"])
    return out


_CONSTANT_KINDS = {
    "string_value": "string",
    "decimal_value": "decimal",
    "bool_value": "boolean",
    "date_value": "date",
    "datetime_value": "datetime",
    "lookup_value": "lookup",
}


def mapping_from_proto(rows) -> list[mapping.MappingRow]:
    out = []
    for i, r in enumerate(rows):
        which = r.WhichOneof("value")
        typed = r.column_type.strip().lower()
        if which == "form_field":
            out.append(mapping.MappingRow(r.column, form_field=r.form_field, column_type=typed))
        elif which == "unmapped_fields":
            if not r.unmapped_fields:
                raise InvalidArgument(f"mappings[{i}].unmapped_fields", "set it to true for the catch-all column")
            out.append(mapping.MappingRow(r.column, unmapped_fields=True, column_type=typed))
        elif which == "constant":
            kind = r.constant.WhichOneof("v")
            if kind is None:
                raise InvalidArgument(f"mappings[{i}].constant", "set one constant value")
            if kind == "datetime_value":
                value = from_timestamp(r.constant.datetime_value)
                constant = mapping.datetime_constant(value) if value else mapping.Constant("datetime", "")
            else:
                constant = mapping.Constant(_CONSTANT_KINDS[kind], getattr(r.constant, kind))
            out.append(mapping.MappingRow(r.column, constant=constant, column_type=typed))
        elif which == "lead_column":
            raise InvalidArgument(f"mappings[{i}].lead_column", "lead_column is for post-out destination bodies")
        else:
            raise InvalidArgument(f"mappings[{i}]", "set exactly one of form_field, constant or unmapped_fields")
    return out


def mapping_to_proto(rows) -> list[common_pb2.FieldMapping]:
    out = []
    for r in rows:
        m = common_pb2.FieldMapping(column=r.column, column_type=r.column_type)
        if r.unmapped_fields:
            m.unmapped_fields = True
        elif r.constant is not None:
            c = r.constant
            if c.kind == "datetime":
                set_timestamp(m.constant.datetime_value, datetime.fromisoformat(str(c.value).replace("Z", "+00:00")))
            else:
                field = {v: k for k, v in _CONSTANT_KINDS.items()}[c.kind]
                setattr(m.constant, field, c.value)
        else:
            m.form_field = r.form_field or ""
        out.append(m)
    return out
