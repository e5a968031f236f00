"""The report aggregates' writes: folding the deltas the triggers append (the scheduler, every
tick; the console's delivery and lifecycle counts too: migrations 0035, 0036) and rebuilding an
account's aggregates when its time zone changes (their days are the account's local days; see
migration 0031). The reports read them (reports_app.queries)."""

from __future__ import annotations

from uuid import UUID

from leadrelay.db import Connection

# Any constant every process agrees on: one fold or rebuild at a time.
ROLLUP_LOCK = 0x2E9_0217


async def rollup(con: Connection) -> int:
    """Folds pending deltas into the aggregates (skipped, returning 0, when another fold or a
    rebuild is at it). Returns the number of delta rows folded."""
    async with con.transaction():
        if not await con.fetchval("SELECT pg_try_advisory_xact_lock($1)", ROLLUP_LOCK):
            return 0
        return int(await con.fetchval("SELECT report_rollup() + console_rollup()"))


async def set_zone(con: Connection, account_id: UUID, time_zone: str) -> bool:
    """Sets the account's zone and, when it changed, counts its aggregates again by the new zone's
    days, in one transaction; returns whether it changed. PostgreSQL refuses a zone it does not
    know, and then nothing changes. The rebuild reads every lead of the account once (seconds per
    million leads); folds wait for it, and reports read the old counts until it commits.

    The lock is taken before the transaction's snapshot: the snapshot then holds every earlier fold,
    and no fold can move deltas under it (see report_rebuild)."""
    if con.is_in_transaction():
        raise RuntimeError("set_zone runs its own transaction")
    await con.execute("SELECT pg_advisory_lock($1)", ROLLUP_LOCK)
    try:
        async with con.transaction(isolation="repeatable_read"):
            changed = await con.fetchval(
                """UPDATE accounts SET time_zone = $2 WHERE account_id = $1 AND time_zone <> $2
                   RETURNING now() AT TIME ZONE $2 IS NOT NULL""",
                account_id,
                time_zone,
            )
            if changed:
                await con.execute("SELECT report_rebuild($1)", account_id)
    finally:
        await con.execute("SELECT pg_advisory_unlock($1)", ROLLUP_LOCK)
    return bool(changed)
