"""IngestService RPCs for the mapping screens: ListFormFields (the platform's definition joined to
recent leads' answers), PreviewMapping (a draft applied to a form's newest leads, nothing saved) and
RefreshForms (the platform's forms and questions now)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import grpc

from ingest_service.connectors import connections_store, platform_clients, platform_forms
from ingest_service.resources import IngestResources
from ingest_service.rpc.sources import form_proto, mapping_from_proto
from leadrelay.auth import current_account
from leadrelay.capture import leads_store, mapping, sources_store
from leadrelay.capture.form_fields import RecentLead, form_fields
from leadrelay.capture.leads import Answer
from leadrelay.errors import FailedPrecondition, InvalidArgument, Unavailable
from leadrelay.ids import parse_id
from leadrelay.protoconv import set_timestamp
from leadrelay.v1 import ingest_pb2

# The newest leads a sample or a preview reads, at most.
MAX_RECENT = 20


def _limit(asked: int, field: str) -> int:
    if asked < 0:
        raise InvalidArgument(field, "must not be negative")
    return min(asked or MAX_RECENT, MAX_RECENT)


def _answers(raw: str) -> list[Answer]:
    return [Answer.from_json(a) for a in json.loads(raw or "[]") if isinstance(a, dict)]


def _in_force(source: asyncpg.Record, form: asyncpg.Record | None) -> tuple[Sequence[mapping.MappingRow], Any]:
    """The rows of the mapping in force for the form (its own, else the default) and when it was saved."""
    if form is not None and form["mapping"] is not None:
        return mapping.from_json(form["mapping"]), form["mapping_saved_at"]
    return mapping.from_json(source["default_mapping"]), source["default_mapping_saved_at"]


class FormFieldsRpc:
    deps: IngestResources

    async def ListFormFields(
        self,
        request: ingest_pb2.ListFormFieldsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ListFormFieldsRequest, ingest_pb2.ListFormFieldsResponse],
    ) -> ingest_pb2.ListFormFieldsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        limit = _limit(request.sample_leads, "sample_leads")
        async with self.deps.pool.acquire() as con:
            form = await sources_store.form_by_ref(con, account, source_id, request.form_id, "form_id")
            source = await sources_store.get_source(con, account, form["source_id"])
            definitions = await sources_store.form_fields(con, form["form_id"])
            recent = await leads_store.recent_leads(con, form["source_id"], form["form_id"], limit)
        rows, saved_at = _in_force(source, form)
        found = form_fields(
            definitions, [RecentLead(r["received_at"], _answers(r["answers"])) for r in recent], rows, saved_at
        )
        out = ingest_pb2.ListFormFieldsResponse(form_id=str(form["form_id"]), leads_sampled=len(recent))
        for f in found:
            field = out.fields.add(
                name=f.name,
                label=f.label,
                type=f.type,
                samples=list(f.samples),
                defined=f.defined,
                new_since_mapping=f.new_since_mapping,
            )
            set_timestamp(field.first_seen_at, f.first_seen_at)
        return out

    async def PreviewMapping(
        self,
        request: ingest_pb2.PreviewMappingRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.PreviewMappingRequest, ingest_pb2.PreviewMappingResponse],
    ) -> ingest_pb2.PreviewMappingResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        limit = _limit(request.limit, "limit")
        draft = mapping_from_proto(request.mappings)
        if draft:
            mapping.check(draft)
        async with self.deps.pool.acquire() as con:
            source = await sources_store.get_source(con, account, source_id)
            form = (
                await sources_store.form_by_ref(con, account, source_id, request.form_id, "form_id")
                if request.form_id
                else None
            )
            recent = await leads_store.recent_leads(con, source_id, form["form_id"] if form else None, limit)
        rows = draft or _in_force(source, form)[0]
        mapped = [mapping.apply(_answers(r["answers"]), rows) for r in recent]
        # Without any mapping every answer is its own column: the union, in order of appearance.
        columns = mapping.columns(rows) if rows else list(dict.fromkeys(c for m in mapped for c in m))
        out = ingest_pb2.PreviewMappingResponse(columns=columns)
        for r, fields in zip(recent, mapped, strict=True):
            row = out.rows.add(
                lead_id=str(r["lead_id"]),
                platform_lead_id=r["platform_lead_id"],
                values=[fields.get(c, "") for c in columns],
            )
            set_timestamp(row.received_at, r["received_at"])
        return out

    async def RefreshForms(
        self,
        request: ingest_pb2.RefreshFormsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.RefreshFormsRequest, ingest_pb2.ListFormsResponse],
    ) -> ingest_pb2.ListFormsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        async with self.deps.pool.acquire() as con:
            source = await sources_store.get_source(con, account, source_id)
            connection = await connections_store.connection(con, source_id)
        platform = source["platform"]
        if platform not in ("FACEBOOK", "LINKEDIN"):
            raise FailedPrecondition(f"source {source_id} is a {platform} source: it has no platform forms to list")
        if connection is None:
            raise FailedPrecondition(f"source {source_id} is not connected: connect it first")
        token = platform_clients.token(self.deps, connection)
        try:
            found = await platform_forms.listed(self.deps, token, platform, source["external_account_id"])
        except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
            message = await platform_clients.refused(self.deps, connection, exc, doing="listing forms")
            if exc.rate_limited:
                raise Unavailable(message) from None
            raise FailedPrecondition(message) from None
        async with self.deps.pool.acquire() as con:
            async with con.transaction():
                await platform_forms.register(con, account, source_id, platform, found)
            rows = await sources_store.list_forms(con, source_id, after=None, limit=500)
        return ingest_pb2.ListFormsResponse(forms=[form_proto(r) for r in rows])
