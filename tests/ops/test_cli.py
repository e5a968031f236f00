"""The `leadrelay` command line (`python -m ops`) as an operator runs it."""

import asyncio
import os
import sys
import time

from reports_app import users


def _env(settings):
    env = {**os.environ, **settings.as_env()}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


async def test_cli_creates_a_key_that_is_shown_once_and_stored_hashed(settings, pool):
    name = f"cli-{os.getpid()}-{time.monotonic_ns()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops",
        "keys",
        "create",
        "--account",
        name,
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    key = stdout.decode().split()[-1]
    assert key.startswith("lr_")
    async with pool.acquire() as con:
        stored = await con.fetch(
            "SELECT k.key_hash FROM api_keys k JOIN accounts a USING (account_id) WHERE a.name = $1", name
        )
    assert len(stored) == 1 and key.encode() not in bytes(stored[0]["key_hash"])


async def test_users_create_prints_a_password_once_that_signs_in(settings, pool):
    account = f"cli-users-{os.getpid()}-{time.monotonic_ns()}"
    email = f"{account}@example.com"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops",
        "users",
        "create",
        "--account",
        account,
        "--email",
        email,
        "--role",
        "admin",
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    password = stdout.decode().split("password (shown once): ")[1].strip()
    async with pool.acquire() as con:
        user = await users.authenticate(con, email, password)
    assert user is not None and (user.account_name, user.role) == (account, users.ADMIN)


async def test_users_create_refuses_a_short_password_naming_it(settings):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops",
        "users",
        "create",
        "--account",
        "acme",
        "--email",
        "ana@example.com",
        "--password",
        "short",
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "password needs at least 8 characters" in stderr.decode()
