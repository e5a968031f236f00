import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from leadrelay import migrations
from leadrelay.db import connect
from tests.harness import with_database


@pytest.fixture
async def empty_dsn(database_dsn):
    name = f"lr_mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(database_dsn, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_migrates_an_empty_database_and_records_every_file(empty_dsn):
    con = await connect(empty_dsn)
    try:
        applied = await migrations.migrate(con)
        assert applied == [m.name for m in migrations.discover()]
        assert await migrations.migrate(con) == []
        tables = {r["tablename"] for r in await con.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert {"accounts", "api_keys", "sources", "forms", "leads", "lead_events", "schema_migrations"} <= tables
    finally:
        await con.close()


async def test_concurrent_runs_apply_each_migration_once(empty_dsn):
    cons = [await connect(empty_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrations.migrate(c) for c in cons))
        flat = [name for r in results for name in r]
        assert sorted(flat) == sorted(m.name for m in migrations.discover())
    finally:
        for c in cons:
            await c.close()


async def test_a_failing_migration_names_its_file_and_leaves_nothing_behind(empty_dsn, tmp_path: Path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    con = await connect(empty_dsn)
    try:
        with pytest.raises(migrations.MigrationError, match=r"0002_bad\.sql"):
            await migrations.migrate(con, tmp_path)
        assert await con.fetchval("SELECT to_regclass('good') IS NOT NULL")
        assert not await con.fetchval("SELECT to_regclass('half') IS NOT NULL")
        assert await migrations.applied(con) == {1}
    finally:
        await con.close()


def test_misnamed_migration_file_is_refused(tmp_path: Path):
    (tmp_path / "1_init.sql").write_text("SELECT 1")
    with pytest.raises(migrations.MigrationError, match=r"1_init\.sql"):
        migrations.discover(tmp_path)
