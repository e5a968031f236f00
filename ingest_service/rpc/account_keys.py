"""AccountService: the account's API keys (create, shown once; list; revoke), for the console's
API keys page. Internal-only (ingest_service/app.py lists its methods): the console calls it with
the internal token, naming the signed-in person, who the audit log records."""

from __future__ import annotations

from typing import Any

import grpc

from ingest_service.resources import IngestResources
from leadrelay import accounts, audit_store
from leadrelay.auth import current_account
from leadrelay.errors import InvalidArgument, NotFound
from leadrelay.ids import parse_id
from leadrelay.protoconv import set_timestamp
from leadrelay.v1 import accounts_pb2, accounts_pb2_grpc

INTERNAL_METHODS = frozenset({"CreateApiKey", "ListApiKeys", "RevokeApiKey"})


def key_to_proto(row: dict[str, Any]) -> accounts_pb2.ApiKey:
    key = accounts_pb2.ApiKey(key_id=str(row["key_id"]), prefix=row["prefix"], name=row["name"])
    set_timestamp(key.created_at, row["created_at"])
    set_timestamp(key.last_used_at, row["last_used_at"])
    set_timestamp(key.revoked_at, row["revoked_at"])
    return key


class AccountServicer(accounts_pb2_grpc.AccountServiceServicer):
    def __init__(self, deps: IngestResources) -> None:
        self.deps = deps

    async def CreateApiKey(
        self,
        request: accounts_pb2.CreateApiKeyRequest,
        context: grpc.aio.ServicerContext[accounts_pb2.CreateApiKeyRequest, accounts_pb2.CreatedApiKey],
    ) -> accounts_pb2.CreatedApiKey:
        account = current_account()
        async with self.deps.pool.acquire() as con, con.transaction():
            try:
                secret, row = await accounts.create_named_key(con, account, request.name)
            except ValueError as exc:
                raise InvalidArgument("name", str(exc).removeprefix("name: ")) from None
            await audit_store.record(con, account, "keys", "API key created", row["prefix"], {"name": row["name"]})
        return accounts_pb2.CreatedApiKey(key=key_to_proto(row), secret=secret)

    async def ListApiKeys(
        self,
        request: accounts_pb2.ListApiKeysRequest,
        context: grpc.aio.ServicerContext[accounts_pb2.ListApiKeysRequest, accounts_pb2.ListApiKeysResponse],
    ) -> accounts_pb2.ListApiKeysResponse:
        async with self.deps.pool.acquire() as con:
            rows = await accounts.list_keys(con, current_account(), include_revoked=request.include_revoked)
        return accounts_pb2.ListApiKeysResponse(keys=[key_to_proto(r) for r in rows])

    async def RevokeApiKey(
        self,
        request: accounts_pb2.RevokeApiKeyRequest,
        context: grpc.aio.ServicerContext[accounts_pb2.RevokeApiKeyRequest, accounts_pb2.ApiKey],
    ) -> accounts_pb2.ApiKey:
        account = current_account()
        key_id = parse_id("API key", request.key_id, "key_id")
        async with self.deps.pool.acquire() as con, con.transaction():
            row = await accounts.revoke_account_key(con, account, key_id)
            if row is None:
                raise NotFound("API key", str(key_id))
            await audit_store.record(con, account, "keys", "API key revoked", row["prefix"], {"name": row["name"]})
        return key_to_proto(row)
