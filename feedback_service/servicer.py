"""FeedbackService: configuration, stage mapping, recording stage changes, dispatch, backfill.
A translator: proto ↔ the pure modules (stages, recording, schedule) and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiohttp
import asyncpg
import grpc
import phonenumbers

from feedback_service import feedback_store as store
from feedback_service import linkedin_payload, recording
from feedback_service.dispatcher import CHANNELS, Dispatcher, DispatchResult
from feedback_service.hashing import KEYS
from feedback_service.recording import ChangeError, ChangeIn
from feedback_service.schedule import DAILY, IMMEDIATE, zone
from feedback_service.stages import MetaStage, initial_stage, is_mapped, map_stage, stage_name_problem
from leadrelay import audit_store
from leadrelay.auth import current_account
from leadrelay.crypto import SecretBox
from leadrelay.errors import FailedPrecondition, InvalidArgument, LeadRelayError
from leadrelay.protoconv import from_timestamp, set_timestamp
from leadrelay.settings import Settings
from leadrelay.v1 import feedback_pb2, feedback_pb2_grpc

BACKFILL_MAX_DAYS = 60
BACKFILL_PAGE = 1000

_MODES = {
    feedback_pb2.DISPATCH_MODE_UNSPECIFIED: IMMEDIATE,
    feedback_pb2.DISPATCH_MODE_IMMEDIATE: IMMEDIATE,
    feedback_pb2.DISPATCH_MODE_DAILY: DAILY,
}


def stage_to_proto(stage: MetaStage) -> feedback_pb2.MetaStage.ValueType:
    return feedback_pb2.MetaStage.Value(f"META_STAGE_{stage.value}")


def stage_from_proto(value: feedback_pb2.MetaStage.ValueType) -> MetaStage | None:
    if value == feedback_pb2.META_STAGE_UNSPECIFIED or value not in feedback_pb2.MetaStage.values():
        return None
    return MetaStage(feedback_pb2.MetaStage.Name(value).removeprefix("META_STAGE_"))


def status_to_proto(status: str) -> feedback_pb2.FeedbackEventStatus.ValueType:
    return feedback_pb2.FeedbackEventStatus.Value(f"FEEDBACK_EVENT_STATUS_{status}")


def _config_to_proto(config: store.ConfigRow) -> feedback_pb2.FeedbackConfig:
    return feedback_pb2.FeedbackConfig(
        dataset_id=config.dataset_id,
        lead_event_source=config.lead_event_source,
        mode=feedback_pb2.DISPATCH_MODE_DAILY if config.mode == DAILY else feedback_pb2.DISPATCH_MODE_IMMEDIATE,
        test_event_code=config.test_event_code,
        daily_hour=config.daily_hour,
        time_zone=config.time_zone,
        has_access_token=config.access_token is not None,
        paused=bool(config.paused_reason),
        paused_reason=config.paused_reason,
        phone_region=config.phone_region,
        identifier_columns=[
            feedback_pb2.IdentifierColumns(key=key, columns=names)
            for key, names in sorted(config.identifier_columns.items(), key=lambda item: KEYS.index(item[0]))
        ],
        limited_data_use=feedback_pb2.LimitedDataUse(
            all_events=config.ldu_all_events, opt_out_columns=config.ldu_opt_out_columns
        ),
    )


def _linkedin_config_to_proto(config: store.LinkedInConfigRow) -> feedback_pb2.LinkedInConversionsConfig:
    return feedback_pb2.LinkedInConversionsConfig(
        has_access_token=config.access_token is not None,
        conversion_rules=config.conversion_rules,
        paused=bool(config.paused_reason),
        paused_reason=config.paused_reason,
    )


MAX_COLUMN_NAME = 200


def _identifier_columns(items: Sequence[feedback_pb2.IdentifierColumns]) -> dict[str, list[str]]:
    """The request's columns per user_data key; INVALID_ARGUMENT naming the item when unusable."""
    out: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if item.key not in KEYS:
            raise InvalidArgument(f"identifier_columns[{i}].key", f"{item.key!r} is not one of {', '.join(KEYS)}")
        if item.key in out:
            raise InvalidArgument(f"identifier_columns[{i}].key", f"{item.key!r} is listed twice")
        out[item.key] = _column_names(f"identifier_columns[{i}].columns", item.columns)
    return out


def _column_names(where: str, names: Sequence[str]) -> list[str]:
    cleaned = []
    for j, name in enumerate(names):
        if not name.strip() or len(name) > MAX_COLUMN_NAME:
            raise InvalidArgument(f"{where}[{j}]", f"a column name of 1-{MAX_COLUMN_NAME} characters")
        cleaned.append(name.strip())
    return cleaned


def _error_to_proto(error: ChangeError) -> feedback_pb2.StageChangeError:
    return feedback_pb2.StageChangeError(
        index=error.index, lead_id=error.lead_id, platform_lead_id=error.platform_lead_id, message=error.message
    )


def _parse_changes(changes: Sequence[feedback_pb2.StageChange]) -> list[ChangeIn]:
    return [
        ChangeIn(
            index=i,
            lead_id=c.lead_id if c.WhichOneof("lead") == "lead_id" else "",
            platform_lead_id=c.platform_lead_id if c.WhichOneof("lead") == "platform_lead_id" else "",
            crm_stage=c.crm_stage,
            changed_at=from_timestamp(c.changed_at) if c.HasField("changed_at") else None,
        )
        for i, c in enumerate(changes)
    ]


class FeedbackServicer(feedback_pb2_grpc.FeedbackServiceServicer):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._box = SecretBox(settings.secret_key) if settings.secret_key else None

    # -- configuration ---------------------------------------------------------------------------

    async def SetFeedbackConfig(
        self,
        request: feedback_pb2.FeedbackConfig,
        context: grpc.aio.ServicerContext[feedback_pb2.FeedbackConfig, feedback_pb2.FeedbackConfig],
    ) -> feedback_pb2.FeedbackConfig:
        account = current_account()
        dataset_id = request.dataset_id.strip()
        if not dataset_id.isdigit():
            raise InvalidArgument("dataset_id", "must be the numeric id of the Meta dataset (pixel)")
        source = request.lead_event_source.strip()
        if not source or len(source) > 200:
            raise InvalidArgument("lead_event_source", "the CRM's name is required (at most 200 characters)")
        if request.mode not in _MODES:
            raise InvalidArgument("mode", f"unknown dispatch mode {request.mode}")
        if not 0 <= request.daily_hour <= 23:
            raise InvalidArgument("daily_hour", "must be an hour of the day, 0-23")
        time_zone = request.time_zone.strip() or "UTC"
        try:
            zone(time_zone)
        except ValueError as exc:
            raise InvalidArgument("time_zone", str(exc)) from None
        region = (request.phone_region.strip() or "US").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidArgument("phone_region", f"{region!r} is not an ISO 3166 region code libphonenumber knows")
        if len(request.test_event_code) > 100:
            raise InvalidArgument("test_event_code", "at most 100 characters")
        identifier_columns = _identifier_columns(request.identifier_columns)
        ldu_columns = _column_names("limited_data_use.opt_out_columns", request.limited_data_use.opt_out_columns)
        async with self.pool.acquire() as con, con.transaction():
            existing = await store.get_config(con, account)
            saved = await store.save_config(
                con,
                account,
                dataset_id=dataset_id,
                access_token=self._seal_token(
                    request.access_token,
                    existing.access_token if existing else None,
                    "a Conversions API access token for the dataset",
                ),
                lead_event_source=source,
                mode=_MODES[request.mode],
                test_event_code=request.test_event_code.strip(),
                daily_hour=request.daily_hour,
                time_zone=time_zone,
                phone_region=region,
                identifier_columns=identifier_columns,
                ldu_all_events=request.limited_data_use.all_events,
                ldu_opt_out_columns=ldu_columns,
            )
            await audit_store.record(
                con,
                account,
                "feedback",
                "Meta feedback settings saved",
                "",
                {
                    "dataset": dataset_id,
                    "lead_event_source": source,
                    "mode": _MODES[request.mode],
                    "time_zone": time_zone,
                    "access_changed": bool(request.access_token),
                },
            )
        return _config_to_proto(saved)

    async def SetLinkedInConversionsConfig(
        self,
        request: feedback_pb2.LinkedInConversionsConfig,
        context: grpc.aio.ServicerContext[
            feedback_pb2.LinkedInConversionsConfig, feedback_pb2.LinkedInConversionsConfig
        ],
    ) -> feedback_pb2.LinkedInConversionsConfig:
        account = current_account()
        rules: dict[str, str] = {}
        for name, raw in sorted(request.conversion_rules.items()):
            problem = stage_name_problem(name)
            if problem:
                raise InvalidArgument(f"conversion_rules[{name!r}]", problem)
            urn = linkedin_payload.rule_urn(raw)
            if urn is None:
                raise InvalidArgument(
                    f"conversion_rules[{name!r}]",
                    f"{raw!r} is not a LinkedIn conversion rule (urn:lla:llaPartnerConversion:<id>, or the id)",
                )
            rules[name] = urn
        async with self.pool.acquire() as con, con.transaction():
            existing = await store.get_linkedin_config(con, account)
            token = self._seal_token(
                request.access_token,
                existing.access_token if existing else None,
                "a LinkedIn token with the rw_conversions scope",
            )
            saved = await store.save_linkedin_config(con, account, access_token=token, conversion_rules=rules)
            await audit_store.record(
                con, account, "feedback", "LinkedIn conversions settings saved", "", {"conversion_rules": len(rules)}
            )
        return _linkedin_config_to_proto(saved)

    def _seal_token(self, raw: str, stored: bytes | None, what: str) -> bytes | None:
        """A write-only token: a new one is sealed; none keeps the stored one (None), or is refused when
        nothing is stored yet."""
        if self._box is None:
            raise FailedPrecondition("LEADRELAY_SECRET_KEY is not set: tokens cannot be stored encrypted")
        token = raw.strip()
        if not token and stored is None:
            raise InvalidArgument("access_token", f"required ({what})")
        return self._box.encrypt(token) if token else None

    async def GetLinkedInConversionsConfig(
        self,
        request: feedback_pb2.GetLinkedInConversionsConfigRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.GetLinkedInConversionsConfigRequest, feedback_pb2.LinkedInConversionsConfig
        ],
    ) -> feedback_pb2.LinkedInConversionsConfig:
        async with self.pool.acquire() as con:
            config = await store.get_linkedin_config(con, current_account())
        return _linkedin_config_to_proto(config) if config else feedback_pb2.LinkedInConversionsConfig()

    async def GetFeedbackConfig(
        self,
        request: feedback_pb2.GetFeedbackConfigRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.GetFeedbackConfigRequest, feedback_pb2.FeedbackConfig],
    ) -> feedback_pb2.FeedbackConfig:
        async with self.pool.acquire() as con:
            config = await store.get_config(con, current_account())
        return _config_to_proto(config) if config else feedback_pb2.FeedbackConfig()

    # -- stage mapping ---------------------------------------------------------------------------

    async def SetStageMapping(
        self,
        request: feedback_pb2.SetStageMappingRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.SetStageMappingRequest, feedback_pb2.StageMapping],
    ) -> feedback_pb2.StageMapping:
        account = current_account()
        mapping: dict[str, MetaStage] = {}
        for name, value in sorted(request.stages.items()):
            problem = stage_name_problem(name)
            if problem:
                raise InvalidArgument(f"stages[{name!r}]", problem)
            stage = stage_from_proto(value)
            if stage is None:
                raise InvalidArgument(f"stages[{name!r}]", "choose one of Meta's stages (not UNSPECIFIED)")
            mapping[name] = stage
        async with self.pool.acquire() as con, con.transaction():
            await store.replace_mapping(con, account, mapping)
            await audit_store.record(
                con, account, "feedback", "stage mapping saved", "", {"stages": {k: str(v) for k, v in mapping.items()}}
            )
            pending = await store.pending_stage_names(con, account)
            await store.remap_pending(con, account, {name: map_stage(mapping, name) for name in pending})
        return feedback_pb2.StageMapping(stages={k: stage_to_proto(v) for k, v in mapping.items()})

    async def GetStageMapping(
        self,
        request: feedback_pb2.GetStageMappingRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.GetStageMappingRequest, feedback_pb2.StageMapping],
    ) -> feedback_pb2.StageMapping:
        async with self.pool.acquire() as con:
            mapping = await store.get_mapping(con, current_account())
        return feedback_pb2.StageMapping(stages={k: stage_to_proto(v) for k, v in mapping.items()})

    # -- recording -------------------------------------------------------------------------------

    async def RecordStageChanges(
        self,
        request: feedback_pb2.RecordStageChangesRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.RecordStageChangesRequest, feedback_pb2.RecordStageChangesResponse
        ],
    ) -> feedback_pb2.RecordStageChangesResponse:
        if not request.changes:
            raise InvalidArgument("changes", "empty batch: send at least one stage change")
        if len(request.changes) > self.settings.max_batch_size:
            raise InvalidArgument(
                "changes", f"{len(request.changes)} changes; at most {self.settings.max_batch_size} per call"
            )
        outcome = await self._record(current_account(), _parse_changes(request.changes), datetime.now(UTC))
        return feedback_pb2.RecordStageChangesResponse(
            recorded=len(outcome.event_ids),
            duplicates=outcome.duplicates,
            errors=[_error_to_proto(e) for e in outcome.errors],
        )

    async def _record(
        self, account: UUID, changes: Sequence[ChangeIn], now: datetime, earliest: datetime | None = None
    ) -> _Recorded:
        errors: list[ChangeError] = []
        valid: list[ChangeIn] = []
        for change in changes:
            problem = recording.parse_problem(change, now)
            if problem is None and earliest is not None and change.changed_at and change.changed_at < earliest:
                problem = f"changed_at {change.changed_at.isoformat()} is before the backfill's since"
            if problem:
                errors.append(recording.as_error(change, problem))
            else:
                valid.append(change)
        async with self.pool.acquire() as con, con.transaction():
            mapping = await store.get_mapping(con, account)
            linkedin = await store.get_linkedin_config(con, account)
            by_id = await store.leads_by_id(con, [UUID(c.lead_id) for c in valid if c.lead_id])
            platform_ids = [c.platform_lead_id for c in valid if not c.lead_id]
            by_pid = await store.leads_by_platform_id(con, account, platform_ids)
            events = []
            for change in valid:
                lead = recording.resolve(change, account, by_id, by_pid)
                planned = (
                    lead
                    if isinstance(lead, str)
                    else recording.plan_event(change, lead, mapping, now, linkedin=linkedin is not None)
                )
                if isinstance(planned, str):
                    errors.append(recording.as_error(change, planned))
                else:
                    events.append(planned)
            inserted = await store.insert_events(con, account, events)
        errors.sort(key=lambda e: e.index)
        return _Recorded([event_id for event_id, _ in inserted], len(events) - len(inserted), errors)

    # -- dispatch --------------------------------------------------------------------------------

    async def _dispatch_now(self, account: UUID, channels: Sequence[str] = CHANNELS) -> DispatchResult:
        total = DispatchResult()
        async with aiohttp.ClientSession() as session:
            dispatcher = Dispatcher(self.settings, self.pool, session)
            for channel in channels:
                total.add(await dispatcher.dispatch(account, flush=True, channel=channel))
        return total

    async def _ready_channels(self, account: UUID) -> tuple[list[str], str]:
        """The channels that can send now, and why the others cannot ("" when all can)."""
        async with self.pool.acquire() as con:
            meta = await store.get_config(con, account)
            linkedin = await store.get_linkedin_config(con, account)
        ready, why = [], []
        for channel, config, what in ((recording.META, meta, "Meta"), (recording.LINKEDIN, linkedin, "LinkedIn")):
            if config is None or config.access_token is None:
                continue
            if config.paused_reason:
                why.append(f"{what} dispatch is paused: {config.paused_reason}")
            else:
                ready.append(channel)
        if meta is None or meta.access_token is None:
            # LinkedIn's changes are only recorded PENDING once it is configured; Meta's always are.
            why.append("no Conversions API configuration yet")
        return ready, "; ".join(why)

    async def Flush(
        self,
        request: feedback_pb2.FlushRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.FlushRequest, feedback_pb2.FlushResponse],
    ) -> feedback_pb2.FlushResponse:
        account = current_account()
        ready, why = await self._ready_channels(account)
        if not ready:
            raise FailedPrecondition(
                why if "paused" in why else "no Conversions API configuration: call SetFeedbackConfig first"
            )
        result = await self._dispatch_now(account, ready)
        return feedback_pb2.FlushResponse(
            sent=result.sent, failed=result.failed, expired=result.expired, not_sendable=result.not_sendable
        )

    # -- backfill --------------------------------------------------------------------------------

    async def Backfill(
        self,
        request: feedback_pb2.BackfillRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.BackfillRequest, feedback_pb2.BackfillProgress],
    ) -> AsyncIterator[feedback_pb2.BackfillProgress]:
        account = current_account()
        now = datetime.now(UTC)
        since = from_timestamp(request.since) if request.HasField("since") else None
        if since is None:
            raise InvalidArgument("since", "required: how far back to backfill (at most 60 days)")
        # A few minutes of slack: "60 days ago" computed by the caller is a moment older when it arrives.
        if since < now - timedelta(days=BACKFILL_MAX_DAYS, minutes=5):
            raise InvalidArgument("since", f"{since.isoformat()} is more than {BACKFILL_MAX_DAYS} days back")
        if since > now:
            raise InvalidArgument("since", f"{since.isoformat()} is in the future")
        # The run is recorded, so the notification role hears when it finished or failed.
        async with self.pool.acquire() as con:
            run = await store.start_backfill(con, account, since)
        ok, summary = False, "stopped before it finished (the caller went away)"
        try:
            async for progress in self._backfill(account, request, since, now):
                if progress.done:
                    ok, summary = True, progress.message
                yield progress
        except Exception as exc:
            summary = f"failed: {exc}" if isinstance(exc, LeadRelayError) else f"failed ({type(exc).__name__})"
            raise
        finally:
            async with self.pool.acquire() as con:
                await store.end_backfill(con, run, ok, summary)

    async def _backfill(
        self, account: UUID, request: feedback_pb2.BackfillRequest, since: datetime, now: datetime
    ) -> AsyncIterator[feedback_pb2.BackfillProgress]:
        progress = feedback_pb2.BackfillProgress()
        event_ids: list[int] = []

        def add(outcome: _Recorded) -> None:
            event_ids.extend(outcome.event_ids)
            progress.events_recorded += len(outcome.event_ids)
            progress.duplicates += outcome.duplicates
            del progress.errors[:]
            progress.errors.extend(_error_to_proto(e) for e in outcome.errors)

        if request.changes:
            changes = _parse_changes(request.changes)
            for start in range(0, len(changes), BACKFILL_PAGE):
                page = changes[start : start + BACKFILL_PAGE]
                add(await self._record(account, page, now, earliest=since))
                progress.leads_seen += len(page)
                progress.message = f"recorded {progress.events_recorded} of {len(changes)} supplied changes"
                yield progress
        else:
            async with self.pool.acquire() as con:
                first_stage = initial_stage(await store.get_mapping(con, account))
            after: tuple[datetime, UUID] | None = None
            while True:
                async with self.pool.acquire() as con:
                    leads = await store.leads_captured_since(con, account, since, after, BACKFILL_PAGE)
                if not leads:
                    break
                after = (leads[-1].captured_at, leads[-1].lead_id)
                changes = [recording.initial_change(lead, first_stage, i) for i, lead in enumerate(leads)]
                add(await self._record(account, changes, now))
                progress.leads_seen += len(leads)
                progress.message = f"recorded the initial {first_stage!r} stage of {progress.leads_seen} leads"
                yield progress
        del progress.errors[:]
        ready, waiting = await self._ready_channels(account)
        if ready:
            result = await self._dispatch_now(account, ready)
            waiting = "; ".join(n for n in (waiting, result.note) if n)
        async with self.pool.acquire() as con:
            counts = await store.counts_for_events(con, event_ids)
        progress.events_sent = counts.get(recording.SENT, 0)
        progress.events_expired = counts.get(recording.EXPIRED, 0)
        progress.events_failed = counts.get(recording.FAILED, 0)
        progress.events_not_sendable = counts.get(recording.NOT_SENDABLE, 0)
        progress.events_pending = counts.get(recording.PENDING, 0)
        progress.done = True
        progress.message = (
            f"backfill done: {progress.events_recorded} recorded, {progress.events_sent} sent, "
            f"{progress.events_expired} expired (older than 7 days), {progress.events_failed} failed, "
            f"{progress.events_not_sendable} not sendable, {progress.events_pending} pending"
            + (f" ({waiting})" if progress.events_pending and waiting else "")
        )
        yield progress

    # -- status ----------------------------------------------------------------------------------

    async def GetFeedbackStatus(
        self,
        request: feedback_pb2.GetFeedbackStatusRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.GetFeedbackStatusRequest, feedback_pb2.FeedbackStatus],
    ) -> feedback_pb2.FeedbackStatus:
        account = current_account()
        async with self.pool.acquire() as con:
            by_status = await store.status_counts(con, account)
            by_stage = await store.stage_counts(con, account)
            mapping = await store.get_mapping(con, account)
            not_assigned = await store.not_assigned_stage_names(con, account)
            config = await store.get_config(con, account)
            linkedin = await store.get_linkedin_config(con, account)
        status = feedback_pb2.FeedbackStatus(
            by_status=[
                feedback_pb2.StatusCount(status=status_to_proto(s), count=by_status.get(s, 0))
                for s in recording.STATUSES
            ],
            by_stage=[feedback_pb2.StageCount(stage=stage_to_proto(s), count=by_stage.get(s, 0)) for s in MetaStage],
            unmapped_stages=[name for name in not_assigned if not is_mapped(mapping, name)],
            paused=bool(config and config.paused_reason),
            paused_reason=config.paused_reason if config else "",
        )
        if config and config.last_sent_at:
            set_timestamp(status.last_sent_at, config.last_sent_at)
        if linkedin:
            status.linkedin_paused = bool(linkedin.paused_reason)
            status.linkedin_paused_reason = linkedin.paused_reason
            if linkedin.last_sent_at:
                set_timestamp(status.linkedin_last_sent_at, linkedin.last_sent_at)
        return status


class _Recorded:
    __slots__ = ("duplicates", "errors", "event_ids")

    def __init__(self, event_ids: list[int], duplicates: int, errors: list[ChangeError]) -> None:
        self.event_ids = event_ids
        self.duplicates = duplicates
        self.errors = errors
