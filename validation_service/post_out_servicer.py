"""PostOutService: destinations, post-out statuses and logs, retries. Translates protos to the pure
destination types and the store's SQL; every query is scoped by the calling account."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import grpc

from leadrelay import audit_store, paging
from leadrelay.auth import current_account, current_actor
from leadrelay.capture import events_store, leads_store, sources_store
from leadrelay.crypto import SecretBox
from leadrelay.db import Connection
from leadrelay.errors import InvalidArgument
from leadrelay.ids import parse_id
from leadrelay.ownership import check_owner
from leadrelay.protoconv import set_timestamp
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, validation_pb2, validation_pb2_grpc
from validation_service import backoff, crm_presets, destinations, oauth_tokens, outbox, post_out_store, post_out_worker
from validation_service.destinations import BodyField, DestinationSpec, OAuth, Success


class PostOutServicer(validation_pb2_grpc.PostOutServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self._allow_hosts = destinations.parse_allow_hosts(settings.postout_allow_hosts)
        self.pool = pool

    # ---- destinations --------------------------------------------------------------------------

    async def CreateDestination(
        self,
        request: validation_pb2.CreateDestinationRequest,
        context: grpc.aio.ServicerContext[validation_pb2.CreateDestinationRequest, validation_pb2.Destination],
    ) -> validation_pb2.Destination:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        async with self.pool.acquire() as con, con.transaction():
            await _own_source(con, source_id, account)
            columns = await post_out_store.mapped_columns(con, source_id)
            spec = DestinationSpec(
                name=request.name,
                url=request.url,
                method=(request.method or "POST").upper(),
                body_format=_body_format(request.body_format),
                body=tuple(_body_field(m) for m in request.body),
                headers=dict(request.headers),
                success=_success(request.success) if request.HasField("success") else Success(),
                timeout_ms=request.timeout_ms or destinations.DEFAULT_TIMEOUT_MS,
                post_test_leads=request.post_test_leads,
                body_template=request.body_template,
                batch_size=request.batch_size or 1,
                oauth=_oauth(request.oauth) if request.HasField("oauth") else None,
            )
            if request.preset:
                spec = _from_preset(request, spec, columns)
            elif request.preset_options:
                raise InvalidArgument("preset_options", "name a preset")
            destinations.check_destination(
                spec,
                columns,
                allow_private=self.settings.postout_allow_private_urls,
                allow_hosts=self._allow_hosts,
            )
            crm_presets.check_batch(crm_presets.PRESETS.get(spec.preset), spec.body_template, spec.batch_size)
            sealed_oauth = self._seal_oauth(request.oauth, spec.oauth) if spec.oauth else None
            stored = await post_out_store.insert_destination(
                con, account, source_id, spec, self._seal(spec.headers), sealed_oauth
            )
            await audit_store.record(
                con,
                account,
                "destination",
                "destination created",
                stored.destination_id,
                audit_store.destination_detail(spec.name, spec.url, spec.method, spec.enabled, spec.headers),
            )
        return _destination_proto(stored)

    async def UpdateDestination(
        self,
        request: validation_pb2.UpdateDestinationRequest,
        context: grpc.aio.ServicerContext[validation_pb2.UpdateDestinationRequest, validation_pb2.Destination],
    ) -> validation_pb2.Destination:
        account = current_account()
        destination_id = parse_id("destination", request.destination_id, "destination_id")
        async with self.pool.acquire() as con, con.transaction():
            current = await _own_destination(con, destination_id, account)
            old = current.spec
            headers = dict(request.headers) if request.set_headers else old.headers
            url = old.url
            # A URL sent back as shown (its secrets masked) keeps the stored one.
            if request.HasField("url") and request.url != destinations.masked_url(old.url):
                # A preset destination takes the CRM's base URL, as CreateDestination did, with the
                # settings its URL had (a Salesforce org moved to a new domain keeps its external-id field).
                url = request.url
                if old.preset:
                    preset = crm_presets.get(old.preset)
                    url = crm_presets.url_for(preset, request.url, crm_presets.settings_in(preset, old.url))
            oauth = old.oauth
            if request.set_oauth:
                oauth = _oauth(request.oauth) if request.oauth.grant_type else None
            elif oauth is not None and old.preset and url != old.url:
                oauth = _token_url_moved(crm_presets.get(old.preset), oauth, old.url, url)
            spec = DestinationSpec(
                name=request.name if request.HasField("name") else old.name,
                url=url,
                method=request.method.upper() if request.HasField("method") else old.method,
                body_format=_body_format(request.body_format) if request.HasField("body_format") else old.body_format,
                body=tuple(_body_field(m) for m in request.body) if request.set_body else old.body,
                headers=headers,
                success=_success(request.success) if request.HasField("success") else old.success,
                timeout_ms=request.timeout_ms if request.HasField("timeout_ms") else old.timeout_ms,
                enabled=request.enabled if request.HasField("enabled") else old.enabled,
                post_test_leads=request.post_test_leads if request.HasField("post_test_leads") else old.post_test_leads,
                body_template=request.body_template if request.HasField("body_template") else old.body_template,
                preset=old.preset,
                batch_size=request.batch_size if request.HasField("batch_size") else old.batch_size,
                oauth=oauth,
            )
            if request.set_body and request.body and not request.HasField("body_template"):
                spec = dataclasses.replace(spec, body_template="")  # a flat body replaces the template
            columns = await post_out_store.mapped_columns(con, current.source_id)
            # Stored headers are validated already (and their values are not at hand): check new ones only.
            checked = spec if request.set_headers else dataclasses.replace(spec, headers={})
            destinations.check_destination(
                checked, columns, allow_private=self.settings.postout_allow_private_urls, allow_hosts=self._allow_hosts
            )
            crm_presets.check_batch(crm_presets.PRESETS.get(spec.preset), spec.body_template, spec.batch_size)
            sealed = self._seal(headers) if request.set_headers else current.headers_encrypted
            sealed_oauth = current.oauth_encrypted
            if request.set_oauth:
                sealed_oauth = self._seal_oauth(request.oauth, spec.oauth) if spec.oauth else None
            stored = await post_out_store.update_destination(
                con, destination_id, spec, sealed, sealed_oauth, new_credentials=request.set_oauth
            )
            await audit_store.record(
                con,
                account,
                "destination",
                "destination changed",
                destination_id,
                audit_store.destination_detail(spec.name, spec.url, spec.method, spec.enabled, spec.headers),
            )
        return _destination_proto(stored)

    async def ListDestinationPresets(
        self,
        request: validation_pb2.ListDestinationPresetsRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ListDestinationPresetsRequest, validation_pb2.ListDestinationPresetsResponse
        ],
    ) -> validation_pb2.ListDestinationPresetsResponse:
        account = current_account()
        columns = None
        if request.source_id:
            source_id = parse_id("source", request.source_id, "source_id")
            async with self.pool.acquire() as con:
                await _own_source(con, source_id, account)
                columns = await post_out_store.mapped_columns(con, source_id)
        return validation_pb2.ListDestinationPresetsResponse(
            presets=[_preset_proto(p, columns) for p in crm_presets.PRESETS.values()]
        )

    async def ListDestinations(
        self,
        request: validation_pb2.ListDestinationsRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ListDestinationsRequest, validation_pb2.ListDestinationsResponse
        ],
    ) -> validation_pb2.ListDestinationsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        limit = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, datetime, UUID)
        async with self.pool.acquire() as con:
            if source_id:
                await _own_source(con, source_id, account)
            rows = await post_out_store.list_destinations(con, account, source_id, limit + 1, after)
        response = validation_pb2.ListDestinationsResponse(destinations=[_destination_proto(d) for d in rows[:limit]])
        if len(rows) > limit:
            last = rows[limit - 1]
            response.next_page_token = paging.encode(last.created_at, last.destination_id)
        return response

    async def ResumeDestination(
        self,
        request: validation_pb2.ResumeDestinationRequest,
        context: grpc.aio.ServicerContext[validation_pb2.ResumeDestinationRequest, validation_pb2.Destination],
    ) -> validation_pb2.Destination:
        account = current_account()
        destination_id = parse_id("destination", request.destination_id, "destination_id")
        async with self.pool.acquire() as con, con.transaction():
            await _own_destination(con, destination_id, account)
            stored = await post_out_store.resume_destination(con, destination_id)
            await audit_store.record(con, account, "destination", "destination resumed", destination_id)
        return _destination_proto(stored)

    async def PauseDestination(
        self,
        request: validation_pb2.PauseDestinationRequest,
        context: grpc.aio.ServicerContext[validation_pb2.PauseDestinationRequest, validation_pb2.Destination],
    ) -> validation_pb2.Destination:
        account = current_account()
        destination_id = parse_id("destination", request.destination_id, "destination_id")
        async with self.pool.acquire() as con, con.transaction():
            await _own_destination(con, destination_id, account)
            await post_out_store.pause_destination(con, destination_id, PAUSED_BY_A_PERSON)
            stored = await _own_destination(con, destination_id, account)
        return _destination_proto(stored)

    async def SendTestLead(
        self,
        request: validation_pb2.SendTestLeadRequest,
        context: grpc.aio.ServicerContext[validation_pb2.SendTestLeadRequest, validation_pb2.TestSendResult],
    ) -> validation_pb2.TestSendResult:
        account = current_account()
        destination_id = parse_id("destination", request.destination_id, "destination_id")
        async with self.pool.acquire() as con:
            stored = await _own_destination(con, destination_id, account)
            if request.lead_id:
                lead_id = parse_id("lead", request.lead_id, "lead_id")
                row = await leads_store.get_lead(con, account, lead_id)
                if row["source_id"] != stored.source_id:
                    raise InvalidArgument("lead_id", f"lead {lead_id} is not a lead of the destination's source")
                lead = outbox.lead_columns(row)
            else:
                if not request.fields:
                    raise InvalidArgument("fields", "name a lead_id, or give the test lead's fields")
                if len(request.fields) > MAX_TEST_FIELDS:
                    raise InvalidArgument("fields", f"{len(request.fields)} fields; at most {MAX_TEST_FIELDS}")
                lead = synthetic_lead(stored.source_id, dict(request.fields))
        async with post_out_worker.new_session(self.settings, limit=2) as session:
            sent = await post_out_worker.PostOutWorkers(self.settings, self.pool, session).send_test(stored, lead)
        return validation_pb2.TestSendResult(
            method=sent.method,
            url=sent.url,
            request_headers=sent.headers,
            request_body=sent.body,
            status_code=sent.status or 0,
            response_body=sent.text,
            outcome=sent.verdict.outcome,
            reason=sent.verdict.reason,
            record_id=sent.verdict.record_id,
            duration_ms=sent.duration_ms,
            error=sent.error,
        )

    def _seal(self, headers: dict[str, str] | Any) -> bytes | None:
        if not headers:
            return None
        return SecretBox(self.settings.secret_key).encrypt(json.dumps(dict(headers)))

    def _seal_oauth(self, m: Any, oauth: destinations.OAuth) -> bytes:
        credentials = {"client_id": m.client_id, "client_secret": m.client_secret, "refresh_token": m.refresh_token}
        oauth_tokens.check_credentials(oauth, credentials)
        return SecretBox(self.settings.secret_key).encrypt(json.dumps(credentials))

    # ---- deliveries ----------------------------------------------------------------------------

    async def ListPostOuts(
        self,
        request: validation_pb2.ListPostOutsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.ListPostOutsRequest, validation_pb2.ListPostOutsResponse],
    ) -> validation_pb2.ListPostOutsResponse:
        account = current_account()
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        destination_id = (
            parse_id("destination", request.destination_id, "destination_id") if request.destination_id else None
        )
        lead_id = parse_id("lead", request.lead_id, "lead_id") if request.lead_id else None
        status = None
        if request.status:
            status = validation_pb2.PostOutStatus.Name(request.status).removeprefix("POST_OUT_STATUS_")
        limit = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, datetime, UUID, UUID)
        async with self.pool.acquire() as con:
            if source_id:
                await _own_source(con, source_id, account)
            if destination_id:
                await _own_destination(con, destination_id, account)
            if lead_id:
                await _own_leads(con, [lead_id], account)
            rows = await post_out_store.list_post_outs(
                con,
                account,
                source_id=source_id,
                destination_id=destination_id,
                lead_id=lead_id,
                status=status,
                limit=limit + 1,
                after=after,
            )
        response = validation_pb2.ListPostOutsResponse(post_outs=[_post_out_proto(r) for r in rows[:limit]])
        if len(rows) > limit:
            last = rows[limit - 1]
            response.next_page_token = paging.encode(last["created_at"], last["lead_id"], last["destination_id"])
        return response

    async def ListPostOutAttempts(
        self,
        request: validation_pb2.ListPostOutAttemptsRequest,
        context: grpc.aio.ServicerContext[
            validation_pb2.ListPostOutAttemptsRequest, validation_pb2.ListPostOutAttemptsResponse
        ],
    ) -> validation_pb2.ListPostOutAttemptsResponse:
        account = current_account()
        if not request.lead_id and not request.destination_id:
            raise InvalidArgument("lead_id", "name a lead_id or a destination_id")
        lead_id = parse_id("lead", request.lead_id, "lead_id") if request.lead_id else None
        destination_id = (
            parse_id("destination", request.destination_id, "destination_id") if request.destination_id else None
        )
        limit = paging.page_size(request.page_size)
        after = (paging.decode(request.page_token, int) or (0,))[0]
        async with self.pool.acquire() as con:
            if lead_id:
                await _own_leads(con, [lead_id], account)
            if destination_id:
                await _own_destination(con, destination_id, account)
            rows = await post_out_store.list_attempts(
                con, account, lead_id=lead_id, destination_id=destination_id, limit=limit + 1, after=after
            )
        response = validation_pb2.ListPostOutAttemptsResponse()
        for r in rows[:limit]:
            attempt = response.attempts.add(
                lead_id=str(r["lead_id"]),
                destination_id=str(r["destination_id"]),
                attempt=r["attempt"],
                status_code=r["status_code"],
                duration_ms=r["duration_ms"],
                outcome=r["outcome"],
                reason=r["reason"],
                response_excerpt=r["response_excerpt"],
                request_excerpt=r["request_excerpt"],
            )
            set_timestamp(attempt.at, r["at"])
        if len(rows) > limit:
            response.next_page_token = paging.encode(rows[limit - 1]["attempt_id"])
        return response

    async def RetryPostOuts(
        self,
        request: validation_pb2.RetryPostOutsRequest,
        context: grpc.aio.ServicerContext[validation_pb2.RetryPostOutsRequest, validation_pb2.RetryPostOutsResponse],
    ) -> validation_pb2.RetryPostOutsResponse:
        account = current_account()
        if request.lead_ids:
            ids = [parse_id("lead", v, f"lead_ids[{i}]") for i, v in enumerate(request.lead_ids)]
            async with self.pool.acquire() as con, con.transaction():
                statuses = await _own_leads(con, ids, account)
                accepted = [i for i in ids if statuses[i] == "ACCEPTED"]
                await leads_store.lock_leads(con, accepted)
                resent = await post_out_store.resendable(con, accepted)
                # Enqueue creates deliveries missing so far (a destination added later) and restarts
                # ended ones; deliveries waiting for their next retry are made due now.
                requeued = await outbox.enqueue(con, accepted)
                requeued += await post_out_store.retry_now(con, accepted)
                await events_store.add_events(
                    con,
                    account,
                    resent,
                    "post_requeued",
                    ["sent again on request"] * len(resent),
                    actor=current_actor(),
                )
            return validation_pb2.RetryPostOutsResponse(requeued=requeued, lead_ids=[str(i) for i in resent])
        if request.all_failed:
            source_id = parse_id("source", request.source_id, "source_id")
            async with self.pool.acquire() as con, con.transaction():
                await _own_source(con, source_id, account)
                leads = await post_out_store.retry_failed_of_source(con, source_id)
                await post_out_store.refresh_lead_status(con, leads)
            return validation_pb2.RetryPostOutsResponse(requeued=len(leads))
        raise InvalidArgument("lead_ids", "name the leads to retry, or set all_failed with a source_id")


PAUSED_BY_A_PERSON = "paused by a person in the console"
MAX_TEST_FIELDS = 500


def synthetic_lead(source_id: UUID, fields: dict[str, str]) -> dict[str, Any]:
    """A test lead's columns as a delivery reads them: the fields given and the built-in columns."""
    now = datetime.now(UTC).isoformat()
    return {
        **fields,
        "lead_id": "00000000-0000-0000-0000-000000000000",
        "source_id": str(source_id),
        "form_id": "",
        "platform_lead_id": "test-lead",
        "captured_at": now,
        "received_at": now,
    }


# ---- ownership -----------------------------------------------------------------------------------


async def _own_source(con: Connection, source_id: UUID, account: UUID) -> None:
    check_owner("source", source_id, await sources_store.source_account(con, source_id), account)


def _token_url_moved(preset: crm_presets.Preset, oauth: OAuth, old_url: str, new_url: str) -> OAuth:
    """A token URL the preset made on the old base URL (Salesforce's, Marketo's) follows the CRM to
    its new base URL; one the person set, or a vendor's fixed one, stays."""
    old_base, new_base = crm_presets.base_of(preset, old_url), crm_presets.base_of(preset, new_url)
    if old_base is None or new_base is None:
        return oauth
    before, after = crm_presets.oauth_for(preset, old_base), crm_presets.oauth_for(preset, new_base)
    if before is None or after is None or oauth.token_url != before.token_url:
        return oauth
    return dataclasses.replace(oauth, token_url=after.token_url)


async def _own_destination(con: Connection, destination_id: UUID, account: UUID) -> post_out_store.StoredDestination:
    stored = await post_out_store.get_destination(con, destination_id)
    check_owner("destination", destination_id, stored.account_id if stored else None, account)
    assert stored is not None
    return stored


async def _own_leads(con: Connection, lead_ids: list[UUID], account: UUID) -> dict[UUID, str]:
    found = await leads_store.lead_accounts(con, lead_ids)
    for lead_id in lead_ids:
        check_owner("lead", lead_id, found[lead_id][0] if lead_id in found else None, account)
    return {lead: status for lead, (_, status) in found.items()}


# ---- proto <-> domain ----------------------------------------------------------------------------


def _body_format(value: int) -> str:
    return "FORM" if value == validation_pb2.BODY_FORMAT_FORM else "JSON"


_CONSTANT_KINDS = {
    "string_value": "string",
    "decimal_value": "decimal",
    "bool_value": "bool",
    "date_value": "date",
    "datetime_value": "datetime",
    "lookup_value": "lookup",
}


def _body_field(m: Any) -> BodyField:
    which = m.WhichOneof("value")
    if which == "lead_column":
        return BodyField(m.column, lead_column=m.lead_column)
    if which == "constant":
        kind = m.constant.WhichOneof("v")
        if kind is None:
            return BodyField(m.column)
        value: Any = getattr(m.constant, kind)
        if kind == "datetime_value":
            value = value.ToDatetime(tzinfo=UTC).isoformat()
        elif kind == "date_value":
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidArgument(f"body[{m.column}].constant.date_value", f"{value!r} is not YYYY-MM-DD") from None
        return BodyField(m.column, constant_kind=_CONSTANT_KINDS[kind], constant=value)
    return BodyField(m.column)  # form_field / unmapped_fields / nothing: refused by check_destination()


def _field_mapping(f: BodyField) -> Any:
    m = common_pb2.FieldMapping(column=f.column)
    if not f.constant_kind:
        m.lead_column = f.lead_column
        return m
    kind = {v: k for k, v in _CONSTANT_KINDS.items()}[f.constant_kind]
    if kind == "datetime_value":
        set_timestamp(m.constant.datetime_value, datetime.fromisoformat(f.constant))
    else:
        setattr(m.constant, kind, f.constant)
    return m


def _success(s: Any) -> Success:
    return Success(
        status_ranges=tuple((r.min, r.max) for r in s.status_ranges) or ((200, 299),),
        result_json_path=s.result_json_path,
        accepted_values=tuple(s.accepted_values),
        accepted_regex=s.accepted_regex,
        reason_json_path=s.reason_json_path,
        record_id_json_path=s.record_id_json_path,
        rejected_status_ranges=tuple((r.min, r.max) for r in s.rejected_status_ranges),
        records_json_path=s.records_json_path,
        error_code_json_path=s.error_code_json_path,
        error_reason_json_path=s.error_reason_json_path,
        token_error_codes=tuple(s.token_error_codes),
        retry_error_codes=tuple(s.retry_error_codes),
    )


def _success_proto(s: Success) -> Any:
    return validation_pb2.SuccessCriteria(
        status_ranges=[validation_pb2.StatusRange(min=a, max=b) for a, b in s.status_ranges],
        result_json_path=s.result_json_path,
        accepted_values=list(s.accepted_values),
        accepted_regex=s.accepted_regex,
        reason_json_path=s.reason_json_path,
        record_id_json_path=s.record_id_json_path,
        rejected_status_ranges=[validation_pb2.StatusRange(min=a, max=b) for a, b in s.rejected_status_ranges],
        records_json_path=s.records_json_path,
        error_code_json_path=s.error_code_json_path,
        error_reason_json_path=s.error_reason_json_path,
        token_error_codes=list(s.token_error_codes),
        retry_error_codes=list(s.retry_error_codes),
    )


def _oauth(m: Any) -> OAuth:
    return OAuth(m.grant_type, m.token_url, m.scope, m.auth_scheme or "Bearer")


def _oauth_proto(o: OAuth) -> Any:
    # Settings only: client id, secret and refresh token never leave the service.
    return validation_pb2.OAuth(
        grant_type=o.grant_type, token_url=o.token_url, scope=o.scope, auth_scheme=o.auth_scheme
    )


def _from_preset(request: Any, spec: DestinationSpec, columns: set[str] | None) -> DestinationSpec:
    """What the request leaves unset, taken from the preset; what it sets wins."""
    preset = crm_presets.get(request.preset)
    chosen = crm_presets.options(preset, dict(request.preset_options))
    destinations.check_url(request.url, allow_private=True)  # the base URL's shape; check_destination() does the rest
    template = spec.body_template
    if not template and not spec.body:
        template = crm_presets.default_template(preset, columns)
    oauth = spec.oauth
    if oauth is not None:
        default = crm_presets.oauth_for(preset, request.url)
        oauth = OAuth(
            oauth.grant_type or (default.grant_type if default else ""),
            oauth.token_url or (default.token_url if default else ""),
            oauth.scope or (default.scope if default else ""),
            request.oauth.auth_scheme or (default.auth_scheme if default else "Bearer"),
        )
    batch_size = request.batch_size or (preset.batch.default_size if preset.batch else 1)
    return dataclasses.replace(
        spec,
        url=crm_presets.url_for(preset, request.url, chosen),
        method=(request.method or preset.method).upper(),
        body_template=template,
        headers={**preset.headers, **spec.headers},
        success=spec.success if request.HasField("success") else crm_presets.success_for(preset, chosen),
        preset=preset.name,
        batch_size=batch_size,
        oauth=oauth,
    )


def _preset_proto(p: crm_presets.Preset, columns: set[str] | None) -> Any:
    out = validation_pb2.DestinationPreset(
        name=p.name,
        title=p.title,
        method=p.method,
        path=p.path,
        body_template=crm_presets.default_template(p, columns),
        success=_success_proto(crm_presets.success_for(p, crm_presets.options(p, {}))),
        auth=p.auth,
        example_base_url=p.example_base_url,
        headers=dict(p.headers),
        max_batch_size=p.batch.max_size if p.batch else 1,
        default_batch_size=p.batch.default_size if p.batch else 1,
        options={name: "|".join(values) for name, values in p.options.items()},
        settings={name: default for name, (default, _) in p.settings.items()},
    )
    if p.oauth:
        out.oauth.CopyFrom(_oauth_proto(p.oauth))
    return out


_STATE = {
    backoff.ACTIVE: validation_pb2.DESTINATION_STATE_ACTIVE,
    backoff.PAUSED: validation_pb2.DESTINATION_STATE_PAUSED,
    backoff.DISABLED: validation_pb2.DESTINATION_STATE_DISABLED,
}


def _destination_proto(d: post_out_store.StoredDestination) -> Any:
    spec = d.spec
    out = validation_pb2.Destination(
        destination_id=str(d.destination_id),
        source_id=str(d.source_id),
        name=spec.name,
        url=destinations.masked_url(spec.url),
        method=spec.method,
        body_format=validation_pb2.BODY_FORMAT_FORM if spec.body_format == "FORM" else validation_pb2.BODY_FORMAT_JSON,
        body=[_field_mapping(f) for f in spec.body],
        # Names only: the values are secrets and never leave the service.
        headers={name: "" for name in spec.headers},
        success=_success_proto(spec.success),
        timeout_ms=spec.timeout_ms,
        enabled=spec.enabled,
        post_test_leads=spec.post_test_leads,
        state=_STATE[backoff.state(spec.enabled, d.paused_until, datetime.now(UTC))],
        consecutive_failures=d.consecutive_failures,
        body_template=spec.body_template,
        preset=spec.preset,
        batch_size=spec.batch_size,
        paused_reason=d.paused_reason,
    )
    if spec.oauth:
        out.oauth.CopyFrom(_oauth_proto(spec.oauth))
    if d.paused_until and d.paused_until > datetime.now(UTC):
        set_timestamp(out.paused_until, d.paused_until)
    set_timestamp(out.created_at, d.created_at)
    set_timestamp(out.updated_at, d.updated_at)
    return out


def _post_out_proto(r: asyncpg.Record) -> Any:
    out = validation_pb2.PostOut(
        lead_id=str(r["lead_id"]),
        destination_id=str(r["destination_id"]),
        source_id=str(r["source_id"]),
        status=validation_pb2.PostOutStatus.Value(f"POST_OUT_STATUS_{r['status']}"),
        attempts=r["attempts"],
        last_status_code=r["last_status_code"],
        last_error=r["last_error"],
        record_id=r["record_id"],
        idempotency_key=r["idempotency_key"],
    )
    set_timestamp(out.posted_at, r["posted_at"])
    if r["status"] in (post_out_store.PENDING, post_out_store.RETRYING):
        # In flight, its next attempt is when its lease runs out (should the worker not answer).
        lease = r["lease_until"]
        set_timestamp(out.next_attempt_at, max(r["next_attempt_at"], lease) if lease else r["next_attempt_at"])
    return out
