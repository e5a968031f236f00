"""IngestService RPCs: OAuth connect — BeginConnect, CompleteConnect, PickConnectAccounts
(ingest_service.connectors.oauth_connect does the work)."""

from __future__ import annotations

import grpc

from ingest_service.connectors import oauth_connect
from ingest_service.resources import IngestResources
from ingest_service.rpc.sources import platform_name, source_proto
from leadrelay.auth import current_account
from leadrelay.capture import sources_store
from leadrelay.errors import InvalidArgument
from leadrelay.ids import parse_id
from leadrelay.protoconv import to_timestamp
from leadrelay.v1 import common_pb2, ingest_pb2


class ConnectRpc:
    deps: IngestResources

    async def BeginConnect(
        self,
        request: ingest_pb2.BeginConnectRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.BeginConnectRequest, ingest_pb2.BeginConnectResponse],
    ) -> ingest_pb2.BeginConnectResponse:
        account_id = current_account()
        platform = platform_name(request.platform) if request.platform else ""
        if platform not in ("FACEBOOK", "LINKEDIN"):
            raise InvalidArgument("platform", "connect FACEBOOK or LINKEDIN")
        source_id = parse_id("source", request.source_id, "source_id") if request.source_id else None
        url, expires_at = await oauth_connect.begin(
            self.deps, account_id, platform, source_id, request.user_ref, request.return_url
        )
        return ingest_pb2.BeginConnectResponse(authorize_url=url, expires_at=to_timestamp(expires_at))

    async def CompleteConnect(
        self,
        request: ingest_pb2.CompleteConnectRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.CompleteConnectRequest, ingest_pb2.ConnectChoices],
    ) -> ingest_pb2.ConnectChoices:
        found = await oauth_connect.complete(
            self.deps, current_account(), request.user_ref, request.state, request.code
        )
        return ingest_pb2.ConnectChoices(
            grant_id=str(found.grant_id),
            platform=common_pb2.Platform.Value(f"PLATFORM_{found.platform}"),
            choices=[
                ingest_pb2.ConnectChoice(
                    external_account_id=c.external_account_id,
                    name=c.name,
                    source_id=c.source_id,
                    preselected=c.preselected,
                )
                for c in found.choices
            ],
        )

    async def PickConnectAccounts(
        self,
        request: ingest_pb2.PickConnectAccountsRequest,
        context: grpc.aio.ServicerContext[
            ingest_pb2.PickConnectAccountsRequest, ingest_pb2.PickConnectAccountsResponse
        ],
    ) -> ingest_pb2.PickConnectAccountsResponse:
        account_id = current_account()
        grant_id = parse_id("grant", request.grant_id, "grant_id")
        source_ids = await oauth_connect.pick(
            self.deps, account_id, request.user_ref, grant_id, list(request.external_account_ids)
        )
        async with self.deps.pool.acquire() as con:
            sources = [source_proto(await sources_store.get_source(con, account_id, s)) for s in source_ids]
        return ingest_pb2.PickConnectAccountsResponse(sources=sources)
