"""ValidationService: acceptance criteria, judgement of stored leads, dry runs, the disposition catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import asyncpg
import grpc

from leadrelay import audit_store, paging
from leadrelay.auth import current_account, current_actor
from leadrelay.capture import dispositions, erasure_store, sources_store
from leadrelay.capture.leads import ACCEPTED
from leadrelay.errors import InvalidArgument, NotFound
from leadrelay.ids import parse_id
from leadrelay.protoconv import LEAD_STATUS_VALUE, from_timestamp, outcome_to_proto, set_timestamp
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2, validation_pb2_grpc
from validation_service import criteria_store, judging, lead_keys_store, post_out_store, revalidation
from validation_service.criteria import Row, Rule, check_rules, compile_rules

_SCOPES = {
    validation_pb2.DUPLICATE_SCOPE_UNSPECIFIED: "source",
    validation_pb2.DUPLICATE_SCOPE_SOURCE: "source",
    validation_pb2.DUPLICATE_SCOPE_ACCOUNT: "account",
}


# ForgetLeads follows one erasure request: a few leads (one per account that captured it).
MAX_FORGET = 1000
# A dry run of a draft judges at most this many stored leads; a version's note is kept this long.
MAX_LAST_LEADS = 1000
MAX_NOTE = 500
MAX_VERSIONS_PAGE = 200


class ValidationServicer(validation_pb2_grpc.ValidationServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.cache = judging.CriteriaCache()

    async def SetAcceptanceCriteria(
        self,
        request: validation_pb2.SetAcceptanceCriteriaRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.SetAcceptanceCriteriaRequest, validation_pb2.AcceptanceCriteria
        ],
    ) -> validation_pb2.AcceptanceCriteria:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        rules = [rule_from_proto(r, i) for i, r in enumerate(request.rules)]
        async with self.pool.acquire() as con, con.transaction():
            await sources_store.source_for_criteria(con, account, source_id)
            check_rules(rules, await sources_store.source_columns(con, source_id))
            row = await criteria_store.add_version(
                con, account, source_id, [r.as_json() for r in rules], current_actor(), request.note[:MAX_NOTE]
            )
            await audit_store.record(
                con,
                account,
                "criteria",
                f"criteria version {row['version']} saved",
                source_id,
                {"version": row["version"], "rules": [f"{r.kind} {r.column}".strip() for r in rules]},
            )
        return _criteria_proto(row)

    async def ListCriteriaVersions(
        self,
        request: validation_pb2.ListCriteriaVersionsRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ListCriteriaVersionsRequest, validation_pb2.ListCriteriaVersionsResponse
        ],
    ) -> validation_pb2.ListCriteriaVersionsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        limit = paging.page_size(request.page_size, 50, MAX_VERSIONS_PAGE)
        after = paging.decode(request.page_token, int)
        async with self.pool.acquire() as con:
            await sources_store.source_for_criteria(con, account, source_id)
            rows = await criteria_store.list_versions(con, source_id, limit + 1, after[0] if after else None)
        response = validation_pb2.ListCriteriaVersionsResponse(versions=[_criteria_proto(r) for r in rows[:limit]])
        if len(rows) > limit:
            response.next_page_token = paging.encode(rows[limit - 1]["version"])
        return response

    async def GetAcceptanceCriteria(
        self,
        request: validation_pb2.GetAcceptanceCriteriaRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.GetAcceptanceCriteriaRequest, validation_pb2.AcceptanceCriteria
        ],
    ) -> validation_pb2.AcceptanceCriteria:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        async with self.pool.acquire() as con:
            source = await sources_store.source_for_criteria(con, account, source_id)
            version = request.version or source["criteria_version"]
            if version == 0:
                return validation_pb2.AcceptanceCriteria(source_id=str(source_id), version=0)
            row = await criteria_store.get_version(con, source_id, version)
        if row is None:
            raise NotFound("criteria version", f"{source_id} v{version}")
        return _criteria_proto(row)

    async def ValidateLeads(
        self,
        request: validation_pb2.ValidateLeadsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.ValidateLeadsRequest, validation_pb2.ValidateLeadsResponse],
    ) -> validation_pb2.ValidateLeadsResponse:
        lead_ids = judging.parse_lead_ids(request.lead_ids)
        outcomes = await judging.judge_stored(self.pool, self.cache, current_account(), lead_ids, actor=current_actor())
        return validation_pb2.ValidateLeadsResponse(outcomes=[outcome_to_proto(o) for o in outcomes])

    async def ForgetLeads(
        self,
        request: validation_pb2.ForgetLeadsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.ForgetLeadsRequest, validation_pb2.ForgetLeadsResponse],
    ) -> validation_pb2.ForgetLeadsResponse:
        if len(request.lead_ids) > MAX_FORGET:
            raise InvalidArgument("lead_ids", f"{len(request.lead_ids)} lead ids; at most {MAX_FORGET} per call")
        lead_ids = judging.parse_lead_ids(request.lead_ids)
        async with self.pool.acquire() as con, con.transaction():
            erased = await erasure_store.erased_leads(con, current_account(), lead_ids)
            if erased:
                await lead_keys_store.forget(con, erased)
                await post_out_store.blank_destination_answers(con, erased)
        return validation_pb2.ForgetLeadsResponse(leads_forgotten=len(erased))

    async def EvaluateLeads(
        self,
        request: validation_pb2.EvaluateLeadsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.EvaluateLeadsRequest, validation_pb2.EvaluateLeadsResponse],
    ) -> validation_pb2.EvaluateLeadsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        if not 0 <= request.last_leads <= MAX_LAST_LEADS:
            raise InvalidArgument("last_leads", f"must be between 0 and {MAX_LAST_LEADS}")
        draft = None
        if request.use_draft_rules or request.draft_rules:
            rules = [rule_from_proto(r, i) for i, r in enumerate(request.draft_rules)]
            async with self.pool.acquire() as con:
                await sources_store.source_for_criteria(con, account, source_id)
                columns = await sources_store.source_columns(con, source_id)
            try:
                check_rules(rules, columns)
            except InvalidArgument as exc:  # name the request's field: the draft's rules
                raise InvalidArgument(f"draft_{exc.field}", exc.description) from None
            draft = compile_rules(rules)
        rows = [Row(dict(r.fields), r.is_test) for r in request.rows]
        response = validation_pb2.EvaluateLeadsResponse()
        if rows or not request.last_leads:
            outcomes = await judging.judge_fields(self.pool, self.cache, account, source_id, rows, draft=draft)
            response.outcomes.extend(outcome_to_proto(o) for o in outcomes)
        if request.last_leads:
            judged = await judging.judge_latest(
                self.pool, self.cache, account, source_id, request.last_leads, draft=draft
            )
            for r in judged:
                lead = response.leads.add(
                    lead_id=str(r.stored["lead_id"]),
                    stored_status=LEAD_STATUS_VALUE[r.stored["status"]],
                    stored_disposition_code=r.stored["disposition_code"],
                    stored_custom_reason=r.stored["custom_reason"],
                    status=LEAD_STATUS_VALUE[r.judgement.status],
                    disposition_code=r.judgement.disposition_code,
                    custom_reason=r.judgement.custom_reason,
                )
                set_timestamp(lead.received_at, r.stored["received_at"])
        return response

    async def ValidateNewLeads(
        self,
        request: validation_pb2.ValidateNewLeadsRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ValidateNewLeadsRequest, validation_pb2.ValidateNewLeadsResponse
        ],
    ) -> validation_pb2.ValidateNewLeadsResponse:
        sources: dict[str, UUID] = {}  # a request names few sources: parse each once
        plain = not request.with_identity
        leads = [
            judging.NewLead(
                parse_id("lead", n.lead_id, f"leads[{i}].lead_id"),
                sources.get(n.source_id)
                or sources.setdefault(n.source_id, parse_id("source", n.source_id, f"leads[{i}].source_id")),
                n.platform_lead_id or n.lead_id,
                n.answers_json or "[]",
                n.fields_json or "{}",
            )
            if plain
            else _identified(n, i, sources)
            for i, n in enumerate(request.leads)
        ]
        first: dict[UUID, int] = {}
        for i, lead in enumerate(leads):
            if first.setdefault(lead[0], i) != i:
                raise InvalidArgument(f"leads[{i}].lead_id", f"repeats leads[{first[lead[0]]}].lead_id")
        outcomes = await judging.judge_new(self.pool, self.cache, current_account(), request.via, leads)
        if request.omit_accepted:
            listed = [o for o in outcomes if o.status != ACCEPTED]
            return validation_pb2.ValidateNewLeadsResponse(
                outcomes=[outcome_to_proto(o) for o in listed], accepted=len(outcomes) - len(listed)
            )
        return validation_pb2.ValidateNewLeadsResponse(outcomes=[outcome_to_proto(o) for o in outcomes])

    async def RevalidateLeads(
        self,
        request: validation_pb2.RevalidateLeadsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.RevalidateLeadsRequest, validation_pb2.RevalidateProgress],
    ) -> AsyncIterator[validation_pb2.RevalidateProgress]:
        account = current_account()
        selection = await self._selection(account, request)
        async for tally in revalidation.revalidate(
            self.pool, self.cache, account, selection, preview=request.preview, actor=current_actor()
        ):
            yield _revalidate_proto(tally)

    async def _selection(self, account: UUID, request: validation_pb2.RevalidateLeadsRequest) -> revalidation.Selection:
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        if request.value and not request.column:
            raise InvalidArgument("value", "name the column the value is in")
        if not 0 <= request.max_leads <= revalidation.MAX_LEADS:
            raise InvalidArgument("max_leads", f"must be between 0 (the default) and {revalidation.MAX_LEADS}")
        if len(request.lead_ids) > revalidation.MAX_LEADS:
            raise InvalidArgument(
                "lead_ids", f"at most {revalidation.MAX_LEADS} leads a call, not {len(request.lead_ids)}"
            )
        since = from_timestamp(request.since) if request.HasField("since") else None
        until = from_timestamp(request.until) if request.HasField("until") else None
        if since and until and since >= until:
            raise InvalidArgument("until", "must be later than since")
        if source_id is not None:
            async with self.pool.acquire() as con:
                await sources_store.source_for_criteria(con, account, source_id)
                columns = await sources_store.source_columns(con, source_id)
            if request.column and request.column not in columns:
                raise InvalidArgument("column", f"{request.column!r} is not a column of source {source_id}")
        return revalidation.Selection(
            source_id=source_id,
            disposition_code=request.disposition_code,
            column=request.column,
            value=request.value,
            since=since,
            until=until,
            after=paging.decode(request.page_token, datetime, UUID),
            max_leads=request.max_leads or revalidation.MAX_LEADS,
            lead_ids=tuple(judging.parse_lead_ids(request.lead_ids)),
        )

    async def ListDispositionCodes(
        self,
        request: validation_pb2.ListDispositionCodesRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ListDispositionCodesRequest, validation_pb2.ListDispositionCodesResponse
        ],
    ) -> validation_pb2.ListDispositionCodesResponse:
        return validation_pb2.ListDispositionCodesResponse(
            codes=[validation_pb2.DispositionCode(code=c, description=d) for c, d in dispositions.CATALOGUE.items()]
        )


def _revalidate_proto(t: revalidation.Tally) -> validation_pb2.RevalidateProgress:
    return validation_pb2.RevalidateProgress(
        preview=t.preview,
        leads_selected=t.selected,
        leads_judged=t.judged,
        leads_accepted=t.accepted,
        leads_rejected=t.rejected,
        leads_left_alone=t.left_alone,
        examples=[
            validation_pb2.RevalidateExample(
                lead_id=str(e.lead_id),
                old_disposition_code=e.old_disposition_code,
                old_custom_reason=e.old_custom_reason,
                status=LEAD_STATUS_VALUE[e.status],
                disposition_code=e.disposition_code,
                custom_reason=e.custom_reason,
            )
            for e in (*t.accepted_examples, *t.rejected_examples)
        ]
        if t.done
        else [],
        criteria_versions={str(k): v for k, v in t.versions.items()},
        done=t.done,
        next_page_token=t.next_page_token if t.done else "",
        message=t.summary(),
    )


def rule_from_proto(r: validation_pb2.Rule, index: int) -> Rule:
    kind = r.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(f"rules[{index}]", "set one rule kind (required, email, phone, picklist, ...)")
    params: dict = {}
    if kind == "email":
        params = {"check_deliverability": r.email.check_deliverability}
    elif kind == "phone":
        params = {"default_region": r.phone.default_region.upper()}
    elif kind == "picklist":
        params = {
            "allowed": list(r.picklist.allowed),
            "mapper": dict(r.picklist.mapper),
            "case_insensitive": r.picklist.case_insensitive,
        }
    elif kind == "max_length":
        params = {"max": r.max_length.max}
    elif kind == "pattern":
        params = {"regex": r.pattern.regex}
    elif kind == "duplicate":
        params = {
            "window_days": r.duplicate.window_days,
            "columns": list(r.duplicate.columns),
            "scope": _SCOPES.get(r.duplicate.scope, "source"),
        }
    return Rule(kind, r.column, params, r.disposition_code, r.custom_reason)


def rule_to_proto(rule: Rule) -> validation_pb2.Rule:
    p = rule.params
    out = validation_pb2.Rule(
        column=rule.column, disposition_code=rule.disposition_code, custom_reason=rule.custom_reason
    )
    if rule.kind == "required":
        out.required.SetInParent()
    elif rule.kind == "email":
        out.email.check_deliverability = bool(p.get("check_deliverability"))
    elif rule.kind == "phone":
        out.phone.default_region = p.get("default_region", "")
        out.phone.SetInParent()
    elif rule.kind == "picklist":
        out.picklist.allowed.extend(p.get("allowed", []))
        out.picklist.mapper.update(p.get("mapper", {}))
        out.picklist.case_insensitive = bool(p.get("case_insensitive"))
    elif rule.kind == "max_length":
        out.max_length.max = int(p["max"])
    elif rule.kind == "pattern":
        out.pattern.regex = p["regex"]
    elif rule.kind == "duplicate":
        out.duplicate.window_days = int(p["window_days"])
        out.duplicate.columns.extend(p["columns"])
        account = p.get("scope") == "account"
        scope = validation_pb2.DUPLICATE_SCOPE_ACCOUNT if account else validation_pb2.DUPLICATE_SCOPE_SOURCE
        out.duplicate.scope = scope
    elif rule.kind == "reject_test_leads":
        out.reject_test_leads.SetInParent()
    return out


def _criteria_proto(row: asyncpg.Record) -> validation_pb2.AcceptanceCriteria:
    out = validation_pb2.AcceptanceCriteria(
        source_id=str(row["source_id"]),
        version=row["version"],
        rules=[rule_to_proto(Rule.from_json(r)) for r in row["rules"]],
        actor=row["actor"],
        note=row["note"],
    )
    set_timestamp(out.created_at, row["created_at"])
    return out


def _identified(n: validation_pb2.NewLead, i: int, sources: dict[str, UUID]) -> judging.NewLead:
    """A new lead with the platform identity its file row carried."""
    return judging.NewLead(
        parse_id("lead", n.lead_id, f"leads[{i}].lead_id"),
        sources.get(n.source_id)
        or sources.setdefault(n.source_id, parse_id("source", n.source_id, f"leads[{i}].source_id")),
        n.platform_lead_id or n.lead_id,
        n.answers_json or "[]",
        n.fields_json or "{}",
        parse_id("form", n.form_id, f"leads[{i}].form_id") if n.form_id else None,
        n.platform_context_json or "{}",
        n.is_test,
        from_timestamp(n.captured_at) if n.HasField("captured_at") else None,
    )
