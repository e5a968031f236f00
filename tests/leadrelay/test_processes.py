"""Each process as a user starts it: `python -m <service>` with settings from the environment."""

import asyncio
import os
import signal
import socket
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from leadrelay import clients
from tests.ports import free_port


def _env(settings, **extra):
    env = {**os.environ, **settings.as_env(), **extra}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


async def _start(module, env):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _wait_serving(target, proc, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        try:
            async with clients.channel(target) as ch:
                reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{target} never became healthy")


async def test_feedback_service_serves_and_stops_cleanly_on_sigterm(settings):
    port = free_port()
    proc = await _start("feedback_service", _env(settings, FEEDBACK_GRPC_PORT=str(port)))
    try:
        await _wait_serving(f"127.0.0.1:{port}", proc)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_port_in_use_ends_with_a_message_naming_the_port(settings):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await _start("validation_service", _env(settings, VALIDATION_GRPC_PORT=str(port)))
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in stderr.decode()


async def test_unreachable_database_url_ends_with_a_message_naming_the_setting(settings):
    port = free_port()
    proc = await _start(
        "feedback_service",
        _env(
            settings,
            DATABASE_URL=f"postgresql://nobody:secret@127.0.0.1:{port}/none",
            FEEDBACK_GRPC_PORT=str(free_port()),
        ),
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    text = stderr.decode()
    assert proc.returncode == 1
    assert "DATABASE_URL" in text and f"127.0.0.1:{port}" in text
    assert "secret" not in text
