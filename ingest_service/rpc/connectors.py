"""IngestService RPCs: platform connectors — ConnectSource, DisconnectSource, SyncLeads, GetSourceCounts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ingest_service.connectors import (
    connections_store,
    oauth_connect,
    platform_clients,
    platform_counts_store,
    platform_forms,
    sync,
    webhook_inbox,
)
from ingest_service.rpc.sources import source_proto
from leadrelay.auth import current_account
from leadrelay.capture import leads_store, sources_store
from leadrelay.errors import FailedPrecondition, InvalidArgument, Unavailable
from leadrelay.ids import parse_id
from leadrelay.protoconv import from_timestamp, set_timestamp
from leadrelay.v1 import ingest_pb2

log = logging.getLogger(__name__)


class ConnectorsRpc:
    deps: Any

    async def _source_message(self, con, source_id) -> ingest_pb2.Source:
        row = dict(await sources_store.get_source(con, current_account(), source_id))
        summary = (await connections_store.connection_summaries(con, [source_id])).get(source_id)
        row["connected"] = summary is not None
        if summary is not None:
            row["last_polled_at"], row["last_error"] = summary["last_polled_at"], summary["last_error"]
        return source_proto(row)

    async def ConnectSource(
        self,
        request: ingest_pb2.ConnectSourceRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.ConnectSourceRequest, ingest_pb2.Source],
    ) -> ingest_pb2.Source:
        account_id = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        if not request.access_token:
            raise InvalidArgument("access_token", "the platform access token is required")
        async with self.deps.pool.acquire() as con:
            source = await sources_store.get_source(con, account_id, source_id)
        platform, external = source["platform"], source["external_account_id"]
        if platform not in ("FACEBOOK", "LINKEDIN"):
            raise FailedPrecondition(
                f"source {source_id} is a {platform} source: only Facebook and LinkedIn sources connect to a platform"
            )
        if not external:
            raise FailedPrecondition(
                f"source {source_id} has no external_account_id (Facebook Page id, LinkedIn sponsored account id "
                "or urn:li:organization:… for event, company and product page leads)"
            )
        # The token is checked with the platform before it is kept.
        try:
            if platform == "FACEBOOK":
                await platform_clients.graph(self.deps).page(request.access_token, external)
            found = await platform_forms.listed(self.deps, request.access_token, platform, external)
        except (platform_clients.GraphError, platform_clients.LinkedInError) as exc:
            if exc.token_refused:
                raise FailedPrecondition(f"the platform refused the token: {exc}") from None
            if exc.rate_limited:
                raise Unavailable(f"the platform is throttling calls; try again later: {exc}") from None
            raise FailedPrecondition(f"the platform refused the connection: {exc}") from None
        box = platform_clients.box(self.deps)
        async with self.deps.pool.acquire() as con, con.transaction():
            await connections_store.save_connection(
                con,
                source_id,
                account_id,
                box.encrypt(request.access_token),
                box.encrypt(request.refresh_token) if request.refresh_token else None,
            )
            await sources_store.set_state(con, source_id, "ACTIVE")
            await platform_forms.register(con, account_id, source_id, platform, found)
            log.info("source connected", extra={"source_id": str(source_id), "platform": platform, "forms": len(found)})
            connected = await self._source_message(con, source_id)
        await webhook_inbox.redrive_ignored(self.deps, platform, external)
        return connected

    async def DisconnectSource(
        self,
        request: ingest_pb2.DisconnectSourceRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.DisconnectSourceRequest, ingest_pb2.Source],
    ) -> ingest_pb2.Source:
        account_id = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        async with self.deps.pool.acquire() as con:
            await sources_store.get_source(con, account_id, source_id)
            connection = await connections_store.connection(con, source_id)
        if connection is not None:
            await oauth_connect.unsubscribe(self.deps, connection)
        async with self.deps.pool.acquire() as con, con.transaction():
            # Deleting the row revokes the token: polls, syncs and webhooks find no connection after this.
            await connections_store.delete_connection(con, source_id)
            await sources_store.set_state(con, source_id, "DISCONNECTED")
            log.info("source disconnected", extra={"source_id": str(source_id)})
            return await self._source_message(con, source_id)

    async def SyncLeads(
        self,
        request: ingest_pb2.SyncLeadsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.SyncLeadsRequest, ingest_pb2.SyncProgress],
    ) -> AsyncIterator[ingest_pb2.SyncProgress]:
        account_id = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        window = await sync.window(
            self.deps,
            account_id,
            source_id,
            request.form_id,
            from_timestamp(request.since if request.HasField("since") else None),
            from_timestamp(request.until if request.HasField("until") else None),
        )
        async for p in sync.run(self.deps, account_id, window):
            out = ingest_pb2.SyncProgress(
                sync_id=p.sync_id,
                form_id=p.form_id,
                pages_read=p.pages_read,
                leads_seen=p.leads_seen,
                leads_new=p.leads_new,
                leads_known=p.leads_known,
                done=p.done,
                message=p.message,
                resumed=p.resumed,
            )
            set_timestamp(out.synced_until, p.synced_until)
            yield out

    async def GetSourceCounts(
        self,
        request: ingest_pb2.GetSourceCountsRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.GetSourceCountsRequest, ingest_pb2.SourceCounts],
    ) -> ingest_pb2.SourceCounts:
        account_id = current_account()
        source_id = parse_id("source", request.source_id, "source_id")
        since = from_timestamp(request.since if request.HasField("since") else None)
        until = from_timestamp(request.until if request.HasField("until") else None)
        if since and until and until <= since:
            raise InvalidArgument("until", "must be after since")
        async with self.deps.pool.acquire() as con:
            source = await sources_store.get_source(con, account_id, source_id)
            own = await leads_store.lead_counts(con, source_id, since, until)
        reported = await sync.platform_count(self.deps, source, since, until)
        if reported >= 0 and since and until:
            # Kept for the reports (a whole UTC day shows in the Source Report and the Overview alerts).
            async with self.deps.pool.acquire() as con:
                await platform_counts_store.record(con, account_id, source_id, since, until, reported, own["received"])
        return ingest_pb2.SourceCounts(
            received=own["received"],
            accepted=own["accepted"],
            rejected=own["rejected"],
            processing=own["processing"],
            posted=own["posted"],
            post_failed=own["post_failed"],
            platform_reported=reported,
            difference=reported - own["received"] if reported >= 0 else 0,
        )
