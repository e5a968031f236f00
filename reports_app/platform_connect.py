"""The console's Connect page talks to IngestService only (BeginConnect, CompleteConnect,
PickConnectAccounts, ListSources), with the internal token on the signed-in user's account and the
user's id as `user_ref`, so a connect begun by one user cannot be finished by another (and as the
actor of every call, so audit trails name them)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

PLATFORMS = {"Facebook": common_pb2.PLATFORM_FACEBOOK, "LinkedIn": common_pb2.PLATFORM_LINKEDIN}


def return_url(settings: Settings, path: str = "connect") -> str:
    """Where the ingest callback sends the browser back: this console, which opens the page at `path`
    (the Connect page, or New source when a new source is being connected)."""
    return f"{settings.console_url.rstrip('/')}/{path}"


async def begin(
    settings: Settings, account_id: UUID, user_id: UUID, platform: str, source_id: str = "", path: str = "connect"
) -> str:
    async with clients.channel(settings.ingest_target) as ch:
        begun = await ingest_pb2_grpc.IngestServiceStub(ch).BeginConnect(
            ingest_pb2.BeginConnectRequest(
                platform=PLATFORMS[platform],
                source_id=source_id,
                user_ref=str(user_id),
                return_url=return_url(settings, path),
            ),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=user_id),
            timeout=10,
        )
    return begun.authorize_url


async def complete(
    settings: Settings, account_id: UUID, user_id: UUID, state: str, code: str
) -> ingest_pb2.ConnectChoices:
    async with clients.channel(settings.ingest_target) as ch:
        return await ingest_pb2_grpc.IngestServiceStub(ch).CompleteConnect(
            ingest_pb2.CompleteConnectRequest(state=state, code=code, user_ref=str(user_id)),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=user_id),
            timeout=30,
        )


async def pick(
    settings: Settings, account_id: UUID, user_id: UUID, grant_id: str, external_ids: Sequence[str]
) -> list[ingest_pb2.Source]:
    async with clients.channel(settings.ingest_target) as ch:
        picked = await ingest_pb2_grpc.IngestServiceStub(ch).PickConnectAccounts(
            ingest_pb2.PickConnectAccountsRequest(
                grant_id=grant_id, external_account_ids=list(external_ids), user_ref=str(user_id)
            ),
            metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=user_id),
            timeout=60,
        )
    return list(picked.sources)


async def platform_sources(settings: Settings, account_id: UUID, user_id: UUID) -> list[ingest_pb2.Source]:
    """The account's Facebook and LinkedIn sources (at most 500 of each)."""
    found: list[ingest_pb2.Source] = []
    async with clients.channel(settings.ingest_target) as ch:
        stub = ingest_pb2_grpc.IngestServiceStub(ch)
        for platform in PLATFORMS.values():
            reply = await stub.ListSources(
                ingest_pb2.ListSourcesRequest(platform=platform, page_size=500),
                metadata=clients.as_account(settings.internal_token, account_id, actor_user_id=user_id),
                timeout=10,
            )
            found.extend(reply.sources)
    return found
