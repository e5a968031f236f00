"""gRPC channels to our own services: an API key or the internal token added to every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import grpc

from leadrelay.auth import bearer_metadata, internal_metadata

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class _Metadata:
    # Any: grpc's stubs make each method generic over the call's messages; this one passes every call on.
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*self._metadata, *(details.metadata or ()))
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)

    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)


# grpc.aio files an interceptor under the first of the four call kinds it is an instance of, so one
# object implementing all four would only ever see unary-unary calls: one instance per kind.
class _UnaryUnary(_Metadata, grpc.aio.UnaryUnaryClientInterceptor): ...


class _UnaryStream(_Metadata, grpc.aio.UnaryStreamClientInterceptor): ...


class _StreamUnary(_Metadata, grpc.aio.StreamUnaryClientInterceptor): ...


class _StreamStream(_Metadata, grpc.aio.StreamStreamClientInterceptor): ...


def channel(target: str, metadata: Sequence[tuple[str, str]] = ()) -> grpc.aio.Channel:
    kinds = (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
    interceptors: list[Any] = [kind(metadata) for kind in kinds] if metadata else []
    return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS, interceptors=interceptors)


def api_key_channel(target: str, api_key: str) -> grpc.aio.Channel:
    return channel(target, bearer_metadata(api_key))


def as_account(
    internal_token: str, account_id: UUID | str, actor_user_id: UUID | str | None = None
) -> tuple[tuple[str, str], ...]:
    """Per-call metadata for an internal call on an account's behalf (over a plain `channel`); the
    console names its signed-in user as `actor_user_id`, so audit trails can say who acted."""
    return internal_metadata(internal_token, account_id, actor_user_id)
