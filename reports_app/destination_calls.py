"""The destinations and delivery-log pages' calls to PostOutService (ListDestinationPresets,
ListDestinations, CreateDestination, UpdateDestination, PauseDestination, ResumeDestination,
SendTestLead, RetryPostOuts), each on the signed-in user's account, naming that user as the actor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2, validation_pb2_grpc


@dataclass(frozen=True)
class DestinationForm:
    """What a person fills in for a destination. `headers` empty on an edit keeps the stored ones;
    `oauth` holds grant_type, token_url, client_id, client_secret, refresh_token (write-only)."""

    name: str
    url: str
    preset: str = ""
    method: str = "POST"
    body_template: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    post_test_leads: bool = False
    preset_options: Mapping[str, str] = field(default_factory=dict)
    # Without a preset: the statuses meaning success ("200-299"), and optional JSON paths.
    success_statuses: str = "200-299"
    result_json_path: str = ""
    accepted_values: tuple[str, ...] = ()
    record_id_json_path: str = ""
    oauth: Mapping[str, str] = field(default_factory=dict)


def status_ranges(text: str) -> list[validation_pb2.StatusRange]:
    """ "200-299, 409" as ranges; raises ValueError naming the part that is not a status."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            a, b = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"HTTP statuses: {part!r} is not a status or a range like 200-299") from None
        if not 100 <= a <= b <= 599:
            raise ValueError(f"HTTP statuses: {part!r} is not within 100-599")
        out.append(validation_pb2.StatusRange(min=a, max=b))
    return out


def _success(form: DestinationForm) -> validation_pb2.SuccessCriteria:
    return validation_pb2.SuccessCriteria(
        status_ranges=status_ranges(form.success_statuses),
        result_json_path=form.result_json_path,
        accepted_values=list(form.accepted_values),
        record_id_json_path=form.record_id_json_path,
    )


def _oauth(form: DestinationForm) -> validation_pb2.OAuth | None:
    if not form.oauth.get("grant_type"):
        return None
    return validation_pb2.OAuth(**{k: v for k, v in form.oauth.items() if v})


def _meta(settings: Settings, account_id: UUID, user_id: UUID) -> Any:
    return clients.as_account(settings.internal_token, account_id, actor_user_id=user_id)


async def presets(
    settings: Settings, account_id: UUID, user_id: UUID, source_id: str
) -> list[validation_pb2.DestinationPreset]:
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.PostOutServiceStub(ch).ListDestinationPresets(
            validation_pb2.ListDestinationPresetsRequest(source_id=source_id),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )
    return list(reply.presets)


async def destinations(
    settings: Settings, account_id: UUID, user_id: UUID, source_id: str
) -> list[validation_pb2.Destination]:
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.PostOutServiceStub(ch).ListDestinations(
            validation_pb2.ListDestinationsRequest(source_id=source_id, page_size=200),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )
    return list(reply.destinations)


async def create(
    settings: Settings, account_id: UUID, user_id: UUID, source_id: str, form: DestinationForm
) -> validation_pb2.Destination:
    request = validation_pb2.CreateDestinationRequest(
        source_id=source_id,
        name=form.name,
        url=form.url,
        method="" if form.preset else form.method,
        body_template=form.body_template,
        headers=dict(form.headers),
        timeout_ms=round(form.timeout_seconds * 1000),
        post_test_leads=form.post_test_leads,
        preset=form.preset,
        preset_options=dict(form.preset_options),
    )
    if not form.preset:
        request.success.CopyFrom(_success(form))
    oauth = _oauth(form)
    if oauth is not None:
        request.oauth.CopyFrom(oauth)
    async with clients.channel(settings.validation_target) as ch:
        return await validation_pb2_grpc.PostOutServiceStub(ch).CreateDestination(
            request, metadata=_meta(settings, account_id, user_id), timeout=10
        )


async def update(
    settings: Settings, account_id: UUID, user_id: UUID, destination_id: str, form: DestinationForm
) -> validation_pb2.Destination:
    request = validation_pb2.UpdateDestinationRequest(
        destination_id=destination_id,
        name=form.name,
        url=form.url,
        body_template=form.body_template,
        timeout_ms=round(form.timeout_seconds * 1000),
        post_test_leads=form.post_test_leads,
    )
    if not form.preset:
        request.method = form.method
        request.success.CopyFrom(_success(form))
    if form.headers:
        request.headers.update(form.headers)
        request.set_headers = True
    oauth = _oauth(form)
    if oauth is not None and (oauth.client_id or oauth.client_secret or oauth.refresh_token):
        request.oauth.CopyFrom(oauth)
        request.set_oauth = True
    return await _update(settings, account_id, user_id, request)


async def switch(
    settings: Settings, account_id: UUID, user_id: UUID, destination_id: str, enabled: bool
) -> validation_pb2.Destination:
    """Switches a destination on (its waiting deliveries go out) or off (accepted leads are not sent)."""
    request = validation_pb2.UpdateDestinationRequest(destination_id=destination_id, enabled=enabled)
    return await _update(settings, account_id, user_id, request)


async def _update(
    settings: Settings, account_id: UUID, user_id: UUID, request: validation_pb2.UpdateDestinationRequest
) -> validation_pb2.Destination:
    async with clients.channel(settings.validation_target) as ch:
        return await validation_pb2_grpc.PostOutServiceStub(ch).UpdateDestination(
            request, metadata=_meta(settings, account_id, user_id), timeout=10
        )


async def pause(settings: Settings, account_id: UUID, user_id: UUID, destination_id: str) -> None:
    async with clients.channel(settings.validation_target) as ch:
        await validation_pb2_grpc.PostOutServiceStub(ch).PauseDestination(
            validation_pb2.PauseDestinationRequest(destination_id=destination_id),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )


async def resume(settings: Settings, account_id: UUID, user_id: UUID, destination_id: str) -> None:
    async with clients.channel(settings.validation_target) as ch:
        await validation_pb2_grpc.PostOutServiceStub(ch).ResumeDestination(
            validation_pb2.ResumeDestinationRequest(destination_id=destination_id),
            metadata=_meta(settings, account_id, user_id),
            timeout=10,
        )


async def send_test(
    settings: Settings,
    account_id: UUID,
    user_id: UUID,
    destination_id: str,
    *,
    lead_id: str = "",
    fields: Mapping[str, str] | None = None,
) -> validation_pb2.TestSendResult:
    async with clients.channel(settings.validation_target) as ch:
        return await validation_pb2_grpc.PostOutServiceStub(ch).SendTestLead(
            validation_pb2.SendTestLeadRequest(destination_id=destination_id, lead_id=lead_id, fields=fields or {}),
            metadata=_meta(settings, account_id, user_id),
            timeout=90,
        )


async def replay(settings: Settings, account_id: UUID, user_id: UUID, lead_ids: list[str]) -> int:
    """Sends the leads' failed or CRM-rejected deliveries again (RetryPostOuts); returns how many."""
    async with clients.channel(settings.validation_target) as ch:
        reply = await validation_pb2_grpc.PostOutServiceStub(ch).RetryPostOuts(
            validation_pb2.RetryPostOutsRequest(lead_ids=lead_ids),
            metadata=_meta(settings, account_id, user_id),
            timeout=30,
        )
    return int(reply.requeued)
