"""Waiting on a state in a test: poll until it holds, fail naming it when it never does.

The bound only stops a hang; no test asserts how long anything took."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 20.0, every: float = 0.05, what: str = "condition"
) -> T:
    """Polls check() until it returns something truthy, and returns that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(every)


async def wait_serving(target: str, proc: subprocess.Popen[bytes], *, within: float = 60.0) -> None:
    """Until the gRPC server at `target` says SERVING; fails at once if its process exits first."""
    deadline = time.monotonic() + within
    async with grpc.aio.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{target} never became healthy")
