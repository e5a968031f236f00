"""IngestService RPCs: lead intake (capture core)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

import asyncpg
import grpc

from ingest_service.capture import idempotency, intake
from ingest_service.capture.coalescer import Coalescer
from ingest_service.resources import IngestResources
from leadrelay import paging
from leadrelay.auth import current_account
from leadrelay.capture import events_store, lead_search, leads_store
from leadrelay.capture.leads import STATUSES, Answer, IncomingLead, Outcome
from leadrelay.capture.sources_store import get_source
from leadrelay.errors import InvalidArgument
from leadrelay.ids import parse_id
from leadrelay.protoconv import from_timestamp, outcome_to_proto, set_timestamp
from leadrelay.v1 import common_pb2, ingest_pb2


class IntakeRpc:
    deps: IngestResources
    _coalescer: Coalescer | None = None

    async def SubmitLead(
        self,
        request: ingest_pb2.SubmitLeadRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.SubmitLeadRequest, common_pb2.LeadOutcome],
    ) -> common_pb2.LeadOutcome:
        lead = incoming_lead(request, "")
        if self._coalescer is None:
            self._coalescer = Coalescer(self._submit, max_batch=self.deps.settings.validate_batch_size)
        outcome = await self._coalescer.submit(current_account(), lead)
        return outcome_to_proto(outcome)

    async def SubmitLeads(
        self,
        request: ingest_pb2.SubmitLeadsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.SubmitLeadsRequest, ingest_pb2.SubmitLeadsResponse],
    ) -> ingest_pb2.SubmitLeadsResponse:
        limit = self.deps.settings.max_batch_size
        if len(request.leads) > limit:
            raise InvalidArgument("leads", f"{len(request.leads)} leads in one call; at most {limit}")
        key = idempotency.key_of(context.invocation_metadata() or ())
        leads = [incoming_lead(r, f"leads[{i}].") for i, r in enumerate(request.leads)]
        if key:
            return await idempotency.submit(self.deps, current_account(), key, request, leads)
        outcomes = await self._submit(current_account(), leads, via="SubmitLeads")
        return ingest_pb2.SubmitLeadsResponse(outcomes=[outcome_to_proto(o) for o in outcomes])

    async def _submit(self, account_id: UUID, leads: Sequence[IncomingLead], via: str = "SubmitLead") -> list[Outcome]:
        return await intake.submit(self.deps, account_id, leads, unknown_forms="refuse", via=via)

    async def GetLead(
        self,
        request: ingest_pb2.GetLeadRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.GetLeadRequest, common_pb2.Lead],
    ) -> common_pb2.Lead:
        lead_id = parse_id("lead", request.lead_id, "lead_id")
        async with self.deps.pool.acquire() as con:
            row = await leads_store.get_lead(con, current_account(), lead_id)
            events = await events_store.lead_events(con, lead_id)
        return lead_proto(row, events)

    async def ListLeads(
        self,
        request: ingest_pb2.ListLeadsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ListLeadsRequest, ingest_pb2.ListLeadsResponse],
    ) -> ingest_pb2.ListLeadsResponse:
        size = paging.page_size(request.page_size)
        f = lead_filter(request)
        if request.query:
            try:
                f = replace(f, search=lead_search.parse(request.query))
            except lead_search.SearchTooLong as exc:
                raise InvalidArgument("query", str(exc)) from None
        if request.post_out_status:
            if request.post_out_status not in POST_OUT_STATUSES:
                raise InvalidArgument("post_out_status", f"one of {', '.join(POST_OUT_STATUSES)}")
            f = replace(f, post_out_status="" if request.post_out_status == "NONE" else request.post_out_status)
        async with self.deps.pool.acquire() as con:
            if f.source_id is not None:
                await get_source(con, current_account(), f.source_id)
            rows = await leads_store.list_leads(
                con, current_account(), f, after=paging.decode(request.page_token, datetime, UUID), limit=size + 1
            )
        token = paging.encode(rows[size - 1]["received_at"], rows[size - 1]["lead_id"]) if len(rows) > size else ""
        return ingest_pb2.ListLeadsResponse(leads=[lead_proto(r, ()) for r in rows[:size]], next_page_token=token)


# ListLeadsRequest.post_out_status: leads.post_out_status, NONE for '' (never enqueued).
POST_OUT_STATUSES = ("POSTED", "PENDING", "RETRYING", "FAILED", "REJECTED_BY_DESTINATION", "NOT_POSTED", "NONE")


def lead_filter(request: ingest_pb2.ListLeadsRequest | ingest_pb2.ExportLeadsRequest) -> leads_store.LeadFilter:
    """The filters ListLeads and ExportLeads share, checked: ids parsed, the status known."""
    status = common_pb2.LeadStatus.Name(request.status).removeprefix("LEAD_STATUS_") if request.status else None
    if status is not None and status not in STATUSES:
        raise InvalidArgument("status", "unknown status")
    return leads_store.LeadFilter(
        source_id=parse_id("source", request.source_id, "source_id") if request.source_id else None,
        form_id=parse_id("form", request.form_id, "form_id") if request.form_id else None,
        status=status,
        disposition_code=request.disposition_code or None,
        since=from_timestamp(request.since) if request.HasField("since") else None,
        until=from_timestamp(request.until) if request.HasField("until") else None,
    )


def incoming_lead(r: ingest_pb2.SubmitLeadRequest, where: str) -> IncomingLead:
    """A request's lead, refusing what cannot be a lead: no source, no answers, a nameless answer."""
    source_id = parse_id("source", r.source_id, f"{where}source_id")
    if not r.answers:
        raise InvalidArgument(f"{where}answers", "a submission needs at least one answer")
    answers = tuple([Answer(a.name, tuple(a.values)) for a in r.answers])
    for j, a in enumerate(answers):
        if not a.name or a.name.isspace():
            raise InvalidArgument(f"{where}answers[{j}].name", "an answer needs a name")
    return IncomingLead(
        source_id=source_id,
        answers=answers,
        form_ref=r.form_id.strip(),
        platform_lead_id=r.platform_lead_id.strip(),
        captured_at=from_timestamp(r.captured_at) if r.HasField("captured_at") else None,
        is_test=r.is_test,
        platform_context=dict(r.platform_context) if r.platform_context else {},
    )


def lead_proto(row: asyncpg.Record, events: Sequence[asyncpg.Record]) -> common_pb2.Lead:
    out = common_pb2.Lead(
        lead_id=str(row["lead_id"]),
        source_id=str(row["source_id"]),
        form_id=str(row["form_id"]) if row["form_id"] else "",
        platform=common_pb2.Platform.Value(f"PLATFORM_{row['platform']}"),
        platform_lead_id=row["platform_lead_id"],
        status=common_pb2.LeadStatus.Value(f"LEAD_STATUS_{row['status']}"),
        disposition_code=row["disposition_code"],
        custom_reason=row["custom_reason"],
        fields=row["fields"],
        answers=[common_pb2.Answer(name=a.get("name", ""), values=a.get("values", [])) for a in row["answers"]],
        is_test=row["is_test"],
        post_out_status=row["post_out_status"],
        criteria_version=row["criteria_version"],
        platform_context={k: str(v) for k, v in row["platform_context"].items()},
        platform_form_id=row["platform_form_id"],
    )
    set_timestamp(out.captured_at, row["captured_at"])
    set_timestamp(out.received_at, row["received_at"])
    set_timestamp(out.updated_at, row["updated_at"])
    for e in events:
        event = out.events.add(type=e["type"], detail=e["detail"], actor=e["actor"])
        set_timestamp(event.at, e["at"])
    return out
