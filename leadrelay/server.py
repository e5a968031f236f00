"""The gRPC server bootstrap shared by every service, and the process lifecycle around it.

One lifecycle, as nested `async with`: pool -> migrate -> server (call wrapper, servicers, health,
reflection, bind) -> SERVING -> wait for SIGTERM/SIGINT -> NOT_SERVING -> stop(grace) -> pool closes.
Tests use the same context managers, bound to 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import grpc
import uvloop
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from leadrelay import errors, migrations, reflection
from leadrelay.auth import (
    Authenticator,
    InternalOnly,
    Unauthenticated,
    reset_account,
    reset_actor,
    set_account,
    set_actor,
)
from leadrelay.db import DatabaseUnavailable, create_pool, resolve_dsn
from leadrelay.log import log_context, pop_context, push_context, setup_logging
from leadrelay.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Health and reflection need no key: load balancers and grpcurl call them.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_STATUS = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
]


SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
]


class PortInUse(RuntimeError):
    pass


def status_for(exc: errors.LeadRelayError) -> grpc.StatusCode:
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.UNKNOWN


def bad_request_details(exc: errors.InvalidArgument) -> tuple[tuple[str, bytes], ...]:
    """The wrong field as google.rpc.BadRequest in the status details (trailing metadata), so a
    client in any language can point at the field without parsing the message."""
    violation = error_details_pb2.BadRequest.FieldViolation(field=exc.field, description=exc.description)
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(exc), details=[detail])
    return tuple(rpc_status.to_status(status).trailing_metadata)


@dataclass(frozen=True)
class ServiceSpec:
    """One gRPC service to register: its full name, the servicer, and the generated add function."""

    name: str
    servicer: Any
    # The generated add_*_to_server; it is given our _WrappingServer, which has the two methods it calls.
    add: Callable[[Any, Any], None]
    # Methods (short names) only our own services may call, with the internal token: an API key
    # gets PERMISSION_DENIED.
    internal_methods: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GrpcServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


class _WrappingServer:
    """What a generated `add_*Servicer_to_server` sees instead of the server: every method handler
    it registers is wrapped ONCE here (request id and method in the log context, the API key's
    account, domain errors turned into status codes, all in this one place). A server interceptor
    would do the same work plus an interceptor chain, a handler lookup and fresh closures on every
    call, which cost a measurable share of a small unary RPC."""

    def __init__(self, server: grpc.aio.Server, auth: Authenticator, internal: frozenset[str]) -> None:
        self._server = server
        self._auth = auth
        self._internal = internal

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(tuple(_WrappedGeneric(h, self._auth, self._internal) for h in handlers))

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self._server.add_registered_method_handlers(
            service,
            {name: _guarded(h, f"/{service}/{name}", self._auth, self._internal) for name, h in handlers.items()},
        )


class _WrappedGeneric(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, auth: Authenticator, internal: frozenset[str]) -> None:
        self._inner = inner
        self._auth = auth
        self._internal = internal
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:
                return None
            wrapped = self._wrapped[method] = _guarded(handler, method, self._auth, self._internal)
        return wrapped


def _guarded(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, auth: Authenticator, internal: frozenset[str]
) -> grpc.RpcMethodHandler[Any, Any]:
    return handler if method.startswith(PUBLIC_PREFIXES) else _wrap(handler, method, auth, method in internal)


def _request_id(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key == "x-request-id" and value:
            return cast(str, value)  # ASCII metadata (a key without -bin) arrives as str
    return os.urandom(6).hex()  # 12 hex digits, as uuid4().hex[:12] gave, at a fifth of the cost


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, auth: Authenticator, internal_only: bool
) -> grpc.RpcMethodHandler[Any, Any]:
    rpc = method.rsplit("/", 1)[-1]

    async def fail(context: grpc.aio.ServicerContext[Any, Any], exc: Exception, request_id: str) -> None:
        if isinstance(exc, errors.InvalidArgument) and exc.field:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc), trailing_metadata=bad_request_details(exc))
        if isinstance(exc, errors.LeadRelayError):
            await context.abort(status_for(exc), str(exc))
        log.exception("rpc failed")
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")

    async def enter(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[str, float, Any, Any]:
        # Plain calls, not a context manager: this runs on every call, and a context manager costs a
        # measurable share of a small RPC. The key is checked before the log context is set, and the
        # context is set once with all three values.
        metadata = context.invocation_metadata() or ()
        request_id = _request_id(metadata)
        started = time.perf_counter()
        try:
            account, actor = await auth.account_for(metadata, internal_only=internal_only)
        except InternalOnly as exc:
            with log_context(rpc=rpc, request_id=request_id):
                log.warning("internal RPC called without the internal token", extra={"reason": str(exc)})
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
            raise  # unreachable: abort raises
        except Unauthenticated as exc:
            with log_context(rpc=rpc, request_id=request_id):
                log.info("unauthenticated call", extra={"reason": str(exc)})
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise  # unreachable: abort raises
        logged = push_context({"rpc": rpc, "request_id": request_id, "account": str(account)})
        return request_id, started, logged, (set_account(account), set_actor(actor))

    def leave(started: float, logged: Any, tokens: Any) -> None:
        reset_account(tokens[0])
        reset_actor(tokens[1])
        if log.isEnabledFor(logging.DEBUG):
            log.debug("rpc done", extra={"ms": round((time.perf_counter() - started) * 1000, 2)})
        pop_context(logged)

    if handler.unary_unary or handler.stream_unary:
        streaming_request = handler.unary_unary is None
        # The stubs type handlers as the sync API's; these are the aio server's coroutine functions.
        inner: Any = handler.stream_unary if streaming_request else handler.unary_unary

        async def unary_response(request_or_iterator: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            request_id, started, logged, token = await enter(context)
            try:
                return await inner(request_or_iterator, context)
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except Exception as exc:
                await fail(context, exc, request_id)
            finally:
                leave(started, logged, token)

        make = grpc.stream_unary_rpc_method_handler if streaming_request else grpc.unary_unary_rpc_method_handler
        return make(
            unary_response,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    streaming_request = handler.unary_stream is None
    inner_stream: Any = handler.stream_stream if streaming_request else handler.unary_stream

    async def stream_response(request_or_iterator: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        request_id, started, logged, token = await enter(context)
        try:
            result = inner_stream(request_or_iterator, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            else:
                await result
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await fail(context, exc, request_id)
        finally:
            leave(started, logged, token)

    make_stream = grpc.stream_stream_rpc_method_handler if streaming_request else grpc.unary_stream_rpc_method_handler
    return make_stream(
        stream_response,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


@asynccontextmanager
async def grpc_server(
    settings: Settings, pool: asyncpg.Pool, specs: list[ServiceSpec], *, port: int, host: str | None = None
) -> AsyncIterator[GrpcServer]:
    """A started server; health says SERVING while it runs and NOT_SERVING while it drains."""
    authenticator = Authenticator(pool, settings.internal_token, settings.api_key_cache_seconds)
    server = grpc.aio.server(options=SERVER_OPTIONS)
    internal = frozenset(f"/{spec.name}/{method}" for spec in specs for method in spec.internal_methods)
    wrapping = _WrappingServer(server, authenticator, internal)
    for spec in specs:
        spec.add(spec.servicer, wrapping)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(s.name for s in specs)
    reflection.enable((*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name), server)
    address = f"{host or settings.host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise PortInUse(f"cannot listen on {address} (gRPC): the port is in use or not allowed") from exc
    if not bound:
        raise PortInUse(f"cannot listen on {address} (gRPC): the port is in use or not allowed")
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("grpc serving", extra={"address": f"{host or settings.host}:{bound}", "services": ",".join(names)})
    try:
        yield GrpcServer(server, bound, health_servicer, names)
    finally:
        await health_servicer.enter_graceful_shutdown()
        await server.stop(settings.grpc_grace_seconds)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The pool, with the schema migrated (or checked, when LEADRELAY_MIGRATE_ON_START=false)."""
    dsn = await asyncio.to_thread(resolve_dsn, settings)
    pool = await create_pool(dsn, settings=settings)
    try:
        async with pool.acquire() as con:
            if settings.migrate_on_start:
                await migrations.migrate(con)
            else:
                missing = await migrations.pending(con)
                if missing:
                    raise migrations.MigrationError(
                        f"the database lacks migration {missing[0].name}: run `leadrelay migrate` first"
                    )
        yield pool
    finally:
        await pool.close()


Running = Callable[[Settings, asyncpg.Pool], AbstractAsyncContextManager[Any]]


def run_process(name: str, running: Running, settings: Settings | None = None) -> int:
    """A service's main: settings, logging, database, `running(settings, pool)` until a signal.

    Fatal set-up errors end with one clear line naming the setting, port or file, and exit 1.
    """
    try:
        settings = settings or Settings.from_env()
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    setup_logging(settings.log_level, settings.log_format)
    try:
        # uvloop: the services are CPU-bound on their event loop (gRPC callbacks, asyncpg I/O), and
        # uvloop's loop costs less per callback and per socket read than asyncio's.
        uvloop.run(_serve(name, settings, running))
    except (DatabaseUnavailable, migrations.MigrationError, PortInUse, SettingsError, RuntimeError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(name: str, settings: Settings, running: Running) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with database(settings) as pool, running(settings, pool):
        # Everything start-up made (modules, descriptors, caches) lives for the whole process:
        # frozen, the collector's full passes no longer walk it, which shortens the pauses that
        # land in request latency.
        gc.collect()
        gc.freeze()
        log.info(f"{name} ready")
        await stop.wait()
        log.info(f"{name} stopping")
