"""The account's API keys as the console manages them: through the ingest process's AccountService
(internal token, naming the signed-in person for the audit log), never by SQL of its own."""

from __future__ import annotations

from uuid import UUID

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import accounts_pb2, accounts_pb2_grpc


async def list_keys(settings: Settings, account_id: UUID, user_id: UUID) -> list[accounts_pb2.ApiKey]:
    async with clients.channel(settings.ingest_target) as ch:
        reply = await accounts_pb2_grpc.AccountServiceStub(ch).ListApiKeys(
            accounts_pb2.ListApiKeysRequest(include_revoked=True),
            metadata=clients.as_account(settings.internal_token, account_id, user_id),
            timeout=10,
        )
    return list(reply.keys)


async def create_key(settings: Settings, account_id: UUID, user_id: UUID, name: str) -> accounts_pb2.CreatedApiKey:
    async with clients.channel(settings.ingest_target) as ch:
        created: accounts_pb2.CreatedApiKey = await accounts_pb2_grpc.AccountServiceStub(ch).CreateApiKey(
            accounts_pb2.CreateApiKeyRequest(name=name),
            metadata=clients.as_account(settings.internal_token, account_id, user_id),
            timeout=10,
        )
    return created


async def revoke_key(settings: Settings, account_id: UUID, user_id: UUID, key_id: str) -> accounts_pb2.ApiKey:
    async with clients.channel(settings.ingest_target) as ch:
        revoked: accounts_pb2.ApiKey = await accounts_pb2_grpc.AccountServiceStub(ch).RevokeApiKey(
            accounts_pb2.RevokeApiKeyRequest(key_id=key_id),
            metadata=clients.as_account(settings.internal_token, account_id, user_id),
            timeout=10,
        )
    return revoked
