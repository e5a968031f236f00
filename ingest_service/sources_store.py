"""SQL for sources, forms and their mappings. Connection first, the caller owns the transaction.

Every read is scoped by account: an id of another account raises PermissionDenied, an unknown id
NotFound (both naming the id).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from leadrelay import mapping
from leadrelay.errors import NotFound, PermissionDenied

# A source with its platform connection's state (source_connections belongs to the connectors).
_SOURCE = """SELECT s.*, c.source_id IS NOT NULL AS connected, c.last_polled_at,
                    coalesce(c.last_error, '') AS last_error
             FROM sources s LEFT JOIN source_connections c USING (source_id)"""


async def _owned(con: asyncpg.Connection, kind: str, ident: UUID, account_id: UUID, owner: UUID | None) -> None:
    if owner is None:
        raise NotFound(kind, str(ident))
    if owner != account_id:
        raise PermissionDenied(kind, str(ident))


async def create_source(
    con: asyncpg.Connection, account_id: UUID, name: str, platform: str, external_account_id: str
) -> asyncpg.Record:
    source_id = await con.fetchval(
        """INSERT INTO sources (account_id, name, platform, external_account_id)
           VALUES ($1, $2, $3, $4) RETURNING source_id""",
        account_id,
        name,
        platform,
        external_account_id,
    )
    return await con.fetchrow(f"{_SOURCE} WHERE s.source_id = $1", source_id)


async def get_source(con: asyncpg.Connection, account_id: UUID, source_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(f"{_SOURCE} WHERE s.source_id = $1", source_id)
    await _owned(con, "source", source_id, account_id, row["account_id"] if row else None)
    return row


async def list_sources(
    con: asyncpg.Connection, account_id: UUID, *, platform: str | None, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    return await con.fetch(
        f"""{_SOURCE}
           WHERE s.account_id = $1 AND ($2::text IS NULL OR s.platform = $2)
             AND ($3::timestamptz IS NULL OR (s.created_at, s.source_id) > ($3, $4::uuid))
           ORDER BY s.created_at, s.source_id LIMIT $5""",
        account_id,
        platform,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def update_source(
    con: asyncpg.Connection, account_id: UUID, source_id: UUID, *, name: str | None, enabled: bool | None
) -> tuple[asyncpg.Record, bool]:
    """(the updated source, whether it was switched back on)."""
    before = await get_source(con, account_id, source_id)
    await con.execute(
        """UPDATE sources SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = now()
           WHERE source_id = $1""",
        source_id,
        name,
        enabled,
    )
    row = await get_source(con, account_id, source_id)
    return row, (not before["enabled"] and row["enabled"])


async def source_columns(con: asyncpg.Connection, source_id: UUID) -> list[str]:
    """The source's mapped columns in order (its default mapping); exports and imports use it."""
    raw = await con.fetchval("SELECT default_mapping FROM sources WHERE source_id = $1", source_id)
    return mapping.columns(mapping.from_json(raw))


async def account_columns(con: asyncpg.Connection, account_id: UUID) -> list[str]:
    """The mapped columns of all the account's sources, in the sources' creation order, each once."""
    columns: dict[str, None] = {}
    for row in await con.fetch(
        "SELECT default_mapping FROM sources WHERE account_id = $1 ORDER BY created_at, source_id", account_id
    ):
        columns.update(dict.fromkeys(mapping.columns(mapping.from_json(row[0]))))
    return list(columns)


async def set_default_mapping(
    con: asyncpg.Connection, account_id: UUID, source_id: UUID, rows: Sequence[mapping.MappingRow]
) -> None:
    """Outside a transaction: the change has committed when the intake cache is dropped."""
    assert not con.is_in_transaction()
    await get_source(con, account_id, source_id)
    await con.execute(
        "UPDATE sources SET default_mapping = $2, updated_at = now() WHERE source_id = $1",
        source_id,
        mapping.to_json(rows),
    )
    forget_intake()


# Forms -------------------------------------------------------------------------------------------


async def upsert_form(
    con: asyncpg.Connection, account_id: UUID, source_id: UUID, platform_form_id: str, name: str, enabled: bool | None
) -> tuple[asyncpg.Record, bool]:
    """(the form, whether it was switched back on). A new form is enabled unless told otherwise."""
    await get_source(con, account_id, source_id)
    before = await con.fetchval(
        "SELECT enabled FROM forms WHERE source_id = $1 AND platform_form_id = $2", source_id, platform_form_id
    )
    row = await con.fetchrow(
        """INSERT INTO forms (source_id, account_id, platform_form_id, name, enabled)
           VALUES ($1, $2, $3, $4, coalesce($5, true))
           ON CONFLICT (source_id, platform_form_id) DO UPDATE
              SET name = CASE WHEN EXCLUDED.name = '' THEN forms.name ELSE EXCLUDED.name END,
                  enabled = coalesce($5, forms.enabled), updated_at = now()
           RETURNING *""",
        source_id,
        account_id,
        platform_form_id,
        name,
        enabled,
    )
    return row, (before is False and row["enabled"])


async def register_forms(
    con: asyncpg.Connection, account_id: UUID, pairs: Sequence[tuple[UUID, str]]
) -> list[asyncpg.Record]:
    """Registers forms a platform sent leads for before anyone upserted them (enabled, no name)."""
    return await con.fetch(
        """INSERT INTO forms (source_id, account_id, platform_form_id)
           SELECT s, $1, f FROM unnest($2::uuid[], $3::text[]) AS u(s, f)
           ON CONFLICT (source_id, platform_form_id) DO UPDATE SET updated_at = forms.updated_at
           RETURNING *""",
        account_id,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )


async def get_form(con: asyncpg.Connection, account_id: UUID, form_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow("SELECT * FROM forms WHERE form_id = $1", form_id)
    await _owned(con, "form", form_id, account_id, row["account_id"] if row else None)
    return row


async def list_forms(
    con: asyncpg.Connection, source_id: UUID, *, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    return await con.fetch(
        """SELECT * FROM forms WHERE source_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, form_id) > ($2, $3::uuid))
           ORDER BY created_at, form_id LIMIT $4""",
        source_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def set_form_mapping(
    con: asyncpg.Connection, account_id: UUID, form_id: UUID, rows: Sequence[mapping.MappingRow] | None
) -> asyncpg.Record:
    """None (an empty list in the API) returns the form to the source default. Outside a
    transaction: the change has committed when the intake cache is dropped."""
    assert not con.is_in_transaction()
    await get_form(con, account_id, form_id)
    row = await con.fetchrow(
        "UPDATE forms SET mapping = $2, updated_at = now() WHERE form_id = $1 RETURNING *",
        form_id,
        mapping.to_json(rows) if rows else None,
    )
    forget_intake()
    return row


# Intake ------------------------------------------------------------------------------------------


async def sources_for_intake(con: asyncpg.Connection, source_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await con.fetch(
        "SELECT source_id, account_id, platform, enabled, default_mapping FROM sources WHERE source_id = ANY($1)",
        list(source_ids),
    )


async def forms_for_intake(
    con: asyncpg.Connection, source_ids: Sequence[UUID], refs: Sequence[str]
) -> list[asyncpg.Record]:
    """The forms of these sources named by platform form id or form_id (one query for a batch)."""
    return await con.fetch(
        """SELECT form_id, source_id, platform_form_id, mapping FROM forms
           WHERE source_id = ANY($1) AND (platform_form_id = ANY($2) OR form_id::text = ANY($2))""",
        list(source_ids),
        list(refs),
    )


# What intake resolves per batch (a source's account and default mapping, a form's id and mapping),
# kept briefly in this process: otherwise every SubmitLead batch starts with a sources (and forms)
# query. Only the two mapping writes above change these rows; each drops the cache once its UPDATE
# has committed and bumps the generation, so a read that began before cannot store the old value.
# Switched-off sources and forms need no care here: validation reads `enabled` itself.
_INTAKE_TTL = 5.0


@dataclass(frozen=True)
class IntakeSource:
    account_id: UUID
    default_mapping: tuple[mapping.MappingRow, ...]


@dataclass(frozen=True)
class IntakeForm:
    form_id: UUID
    mapping: tuple[mapping.MappingRow, ...] | None  # None: the source default


class _IntakeCache:
    def __init__(self) -> None:
        self.sources: dict[UUID, tuple[float, IntakeSource]] = {}
        self.forms: dict[tuple[UUID, str], tuple[float, IntakeForm]] = {}
        self.generation = 0


_intake = _IntakeCache()


def forget_intake() -> None:
    """Drops what intake cached; called once a change to a source's or form's mapping has committed."""
    _intake.sources.clear()
    _intake.forms.clear()
    _intake.generation += 1


def intake_generation() -> int:
    """Taken before reading sources and forms; `remember_intake` stores nothing if it changed since."""
    return _intake.generation


def cached_source(source_id: UUID, now: float) -> IntakeSource | None:
    hit = _intake.sources.get(source_id)
    return hit[1] if hit is not None and hit[0] > now else None


def cached_form(source_id: UUID, ref: str, now: float) -> IntakeForm | None:
    hit = _intake.forms.get((source_id, ref))
    return hit[1] if hit is not None and hit[0] > now else None


def remember_intake(
    generation: int, sources: dict[UUID, IntakeSource], forms: dict[tuple[UUID, str], IntakeForm]
) -> None:
    """Caches what a batch read (committed rows only: never forms registered in the same transaction)."""
    if generation != _intake.generation:
        return
    now = time.monotonic()
    if len(_intake.sources) + len(_intake.forms) > 10_000:
        _intake.sources.clear()
        _intake.forms.clear()
    expires = now + _INTAKE_TTL
    for source_id, source in sources.items():
        _intake.sources[source_id] = (expires, source)
    for key, form in forms.items():
        _intake.forms[key] = (expires, form)
