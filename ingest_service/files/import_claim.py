"""Which import a call works on, and its claim while the call lives.

An import is found again by the id the client sends (spec.import_id) or, without one, by its
fingerprint (the file's SHA-256 with the spec): a retry of the same file resumes the same import, so
its lead ids (`import:<import id>:<row>`) are the same and no row is stored twice. One call at a
time holds an import: its lease is renewed while the call lives; when the call ends early the
import is marked interrupted at once, and when the process dies the lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from ingest_service.files import imports_store
from leadrelay.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from leadrelay.ownership import check_owner

log = logging.getLogger(__name__)


async def claim_import(
    pool: asyncpg.Pool,
    account_id: UUID,
    requested: UUID | None,
    fingerprint: str,
    source_id: UUID | None,
    file_name: str,
    lease_seconds: float,
    actor: str = "",
) -> tuple[UUID, bool]:
    """The import this call works on, claimed, and whether it resumes one started before."""
    async with pool.acquire() as con, con.transaction():
        if requested is not None:
            row = await imports_store.get(con, requested)
            if row is None:
                clash = await imports_store.by_fingerprint(con, account_id, fingerprint)
                if clash is not None:
                    raise AlreadyExists(
                        f"this file was already imported with this spec as import {clash['import_id']} "
                        f"({clash['status']}): send that import_id to resume it, or abandon it first"
                    )
                if await imports_store.create(
                    con, requested, account_id, "import", source_id, file_name, fingerprint, lease_seconds, actor
                ):
                    return requested, False
                raise FailedPrecondition(f"import {requested} is being started by another call")
            check_owner("import", requested, row["account_id"], account_id)
            if row["kind"] != "import":
                raise InvalidArgument("spec.import_id", f"{requested} is a re-upload; a re-upload is not resumed")
            if row["fingerprint"] != fingerprint:
                raise InvalidArgument(
                    "spec.import_id",
                    f"import {requested} was started with another file or spec; send the same ones to resume it",
                )
        else:
            row = await imports_store.by_fingerprint(con, account_id, fingerprint)
            if row is None:
                new = uuid.uuid4()
                if await imports_store.create(
                    con, new, account_id, "import", source_id, file_name, fingerprint, lease_seconds, actor
                ):
                    return new, False
                row = await imports_store.by_fingerprint(con, account_id, fingerprint)  # another call's, just now
                assert row is not None
        import_id = row["import_id"]
        if row["status"] == imports_store.ABANDONED:
            raise FailedPrecondition(
                f"import {import_id} was abandoned; send the file without an import_id to start a new import"
            )
        if not await imports_store.claim(con, import_id, lease_seconds):
            raise FailedPrecondition(
                f"import {import_id} is running in another call; retry when it ends or its lease lapses "
                "(LEADRELAY_IMPORT_LEASE_SECONDS)"
            )
        return import_id, True


async def start_reupload(
    pool: asyncpg.Pool,
    account_id: UUID,
    file_name: str,
    lease_seconds: float,
    source_id: UUID | None = None,
    actor: str = "",
) -> UUID:
    """A running re-upload; `source_id` when all the file's leads are of one source."""
    import_id = uuid.uuid4()
    async with pool.acquire() as con:
        await imports_store.create(
            con, import_id, account_id, "reupload", source_id, file_name, "", lease_seconds, actor
        )
    return import_id


@contextlib.asynccontextmanager
async def held(pool: asyncpg.Pool, import_id: UUID, lease_seconds: float) -> AsyncIterator[None]:
    """Renews the import's lease while the block runs; an import it leaves unfinished is interrupted."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                async with pool.acquire() as con:
                    await imports_store.renew(con, import_id, lease_seconds)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("could not renew an import's lease", extra={"import_id": str(import_id), "error": str(exc)})

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        try:
            async with pool.acquire() as con:
                await imports_store.release(con, import_id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not release an import", extra={"import_id": str(import_id), "error": str(exc)})
