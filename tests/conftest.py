"""Session-wide fixtures: one database, one of each server, the sandbox. Tests isolate themselves by
creating their own account (`account`, `api`), so nothing is truncated between tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from feedback_service.app import running as feedback_running
from ingest_service.app import RunningIngest
from ingest_service.app import running as ingest_running
from leadrelay.crypto import generate_key
from leadrelay.db import create_pool
from leadrelay.settings import Settings
from sandbox.app import RunningSandbox
from sandbox.app import running as sandbox_running
from tests.harness import Account, Api, TestDatabase, new_account
from tests.ports import free_ports
from validation_service.app import running as validation_running


@pytest.fixture(scope="session")
async def database_dsn() -> AsyncIterator[str]:
    db = TestDatabase()
    dsn = await db.create()
    yield dsn
    await db.drop()


@pytest.fixture(scope="session")
def base_settings(database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the test servers: fast loops, loopback destinations allowed, fresh secrets."""
    return Settings.from_env({}).replace(
        database_url=database_dsn,
        home=str(tmp_path_factory.mktemp("home")),
        host="127.0.0.1",
        secret_key=generate_key(),
        internal_token=secrets.token_urlsafe(24),
        facebook_app_secret="test-app-secret",
        facebook_verify_token="test-verify-token",
        facebook_app_id="424242424242",
        linkedin_client_secret="test-linkedin-secret",
        linkedin_client_id="test-linkedin-client",
        postout_allow_private_urls=True,
        grpc_grace_seconds=0.5,
        api_key_cache_seconds=0.0,
        sweeper_interval_seconds=0.5,
        sweeper_min_age_seconds=1.0,
        poll_interval_seconds=3600.0,
        postout_poll_seconds=0.05,
        postout_backoff_base_seconds=0.05,
        postout_backoff_max_seconds=0.5,
        feedback_poll_seconds=0.2,
        scheduler_poll_seconds=0.5,
        smtp_port=0,
    )


@pytest.fixture(scope="session")
async def sandbox(base_settings: Settings) -> AsyncIterator[RunningSandbox]:
    async with sandbox_running(base_settings, port=0) as running:
        yield running


@pytest.fixture(scope="session")
def settings(base_settings: Settings, sandbox: RunningSandbox) -> Settings:
    return base_settings.replace(
        graph_api_base_url=f"{sandbox.url}/graph",
        linkedin_api_base_url=f"{sandbox.url}/linkedin",
        facebook_login_base_url=f"{sandbox.url}/facebook",
        linkedin_oauth_base_url=f"{sandbox.url}/linkedin",
        capi_base_url=f"{sandbox.url}/graph",
        smtp_host="127.0.0.1",
        smtp_port=sandbox.extra["smtp_port"],
    )


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, settings=settings, min_size=1, max_size=10)
    yield pool
    await pool.close()


@dataclass
class Servers:
    ingest: RunningIngest
    ingest_target: str
    validation_target: str
    feedback_target: str
    settings: Settings


@pytest.fixture(scope="session")
async def servers(settings: Settings) -> AsyncIterator[Servers]:
    """The three services, each with its own pool, as `make run` wires them (ingest -> validation)."""
    pools = [await create_pool(settings.database_url, settings=settings, min_size=1, max_size=10) for _ in range(3)]
    try:
        async with validation_running(settings, pools[0], grpc_port=0) as validation:
            # The ingest HTTP port is known before ingest starts: the platforms are given its URL.
            (http_port,) = free_ports(1)
            wired = settings.replace(
                validation_target=f"127.0.0.1:{validation.grpc_port}", public_base_url=f"http://127.0.0.1:{http_port}"
            )
            async with (
                ingest_running(wired, pools[1], grpc_port=0, http_port=http_port) as ingest,
                feedback_running(wired, pools[2], grpc_port=0) as feedback,
            ):
                wired = wired.replace(ingest_target=f"127.0.0.1:{ingest.grpc_port}")
                yield Servers(
                    ingest=ingest,
                    ingest_target=f"127.0.0.1:{ingest.grpc_port}",
                    validation_target=f"127.0.0.1:{validation.grpc_port}",
                    feedback_target=f"127.0.0.1:{feedback.grpc_port}",
                    settings=wired,
                )
    finally:
        for p in pools:
            await p.close()


@pytest.fixture
async def account(pool: asyncpg.Pool) -> Account:
    return await new_account(pool)


@pytest.fixture
async def api(account: Account, servers: Servers) -> AsyncIterator[Api]:
    client = Api(account, servers.ingest_target, servers.validation_target, servers.feedback_target)
    yield client
    await client.close()


@pytest.fixture
async def web() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client for tests that call the sandbox or the ingest HTTP port."""
    async with aiohttp.ClientSession() as session:
        yield session
