"""Plain numbered .sql migrations (leadrelay/migrations/NNNN_name.sql), applied in order under an
advisory lock, each in its own transaction, recorded in schema_migrations. Safe to run from several
processes at once: the lock serialises them and the later ones find nothing left to do."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from leadrelay.db import Connection

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary constant every LeadRelay process agrees on.
_LOCK_KEY = 0x1EAD_2E1A


class MigrationError(RuntimeError):
    """A migration failed; the message names the file. Nothing of that file was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_case.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return found


async def applied(con: Connection) -> set[int]:
    exists = await con.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {r["version"] for r in await con.fetch("SELECT version FROM schema_migrations")}


async def pending(con: Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    done = await applied(con)
    return [m for m in discover(directory) if m.version not in done]


async def migrate(con: Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies every pending migration; returns the names applied."""
    names = []
    await con.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await con.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for migration in await pending(con, directory):
            try:
                async with con.transaction():
                    await con.execute(migration.sql)
                    await con.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.name} failed and was rolled back: {exc}") from exc
            log.info("applied migration", extra={"migration": migration.name})
            names.append(migration.name)
    finally:
        await con.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return names
