"""SQL for sources and forms: their mappings, states, criteria version and columns. Connection first,
the caller owns the transaction.

Every read is scoped by account: an id of another account raises PermissionDenied, an unknown id
NotFound (both naming the id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from leadrelay.capture import mapping, text
from leadrelay.capture.form_fields import Definition
from leadrelay.db import Connection
from leadrelay.errors import InvalidArgument, NotFound
from leadrelay.ids import as_id
from leadrelay.ownership import check_owner

# The forms' own mappings of a source `s`, oldest form first (its columns: `mapping.source_columns`).
_FORM_MAPPINGS = """coalesce((SELECT jsonb_agg(f.mapping ORDER BY f.created_at, f.form_id) FROM forms f
                              WHERE f.source_id = s.source_id AND f.mapping IS NOT NULL), '[]') AS form_mappings"""

# A source with its platform connection's state (source_connections belongs to the connectors).
_SOURCE = f"""SELECT s.*, c.source_id IS NOT NULL AS connected, c.last_polled_at,
                     coalesce(c.last_error, '') AS last_error, {_FORM_MAPPINGS}
              FROM sources s LEFT JOIN source_connections c USING (source_id)"""


def columns_of(row: Mapping[str, Any] | asyncpg.Record) -> list[str]:
    """The columns of a source read with `get_source`/`list_sources`."""
    return mapping.source_columns(
        mapping.from_json(row["default_mapping"]), [mapping.from_json(m) for m in row["form_mappings"]]
    )


async def create_source(
    con: Connection, account_id: UUID, name: str, platform: str, external_account_id: str
) -> asyncpg.Record:
    name, external_account_id = text.clean(name), text.clean(external_account_id)
    source_id = await con.fetchval(
        """INSERT INTO sources (account_id, name, platform, external_account_id)
           VALUES ($1, $2, $3, $4) RETURNING source_id""",
        account_id,
        name,
        platform,
        external_account_id,
    )
    return await con.fetchrow(f"{_SOURCE} WHERE s.source_id = $1", source_id)  # type: ignore[return-value]  # the source inserted just above


async def get_source(con: Connection, account_id: UUID, source_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(f"{_SOURCE} WHERE s.source_id = $1", source_id)
    check_owner("source", source_id, row["account_id"] if row else None, account_id)
    return row  # type: ignore[return-value]  # check_owner raised if there is no row


async def sources_for_external(
    con: Connection, account_id: UUID, platform: str, external_ids: Sequence[str]
) -> dict[str, asyncpg.Record]:
    """The account's oldest source for each of these Pages / ad accounts, by external id."""
    rows = await con.fetch(
        f"""{_SOURCE} WHERE s.account_id = $1 AND s.platform = $2 AND s.external_account_id = ANY($3::text[])
            ORDER BY s.created_at DESC, s.source_id DESC""",
        account_id,
        platform,
        list(external_ids),
    )
    return {r["external_account_id"]: r for r in rows}


async def source_account(con: Connection, source_id: UUID) -> UUID | None:
    """The source's account (None: no such source)."""
    account_id: UUID | None = await con.fetchval("SELECT account_id FROM sources WHERE source_id = $1", source_id)
    return account_id


async def list_sources(
    con: Connection, account_id: UUID, *, platform: str | None, after: tuple[Any, ...] | None, limit: int
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
    con: Connection, account_id: UUID, source_id: UUID, *, name: str | None, enabled: bool | None
) -> tuple[asyncpg.Record, bool]:
    """(the updated source, whether it was switched back on)."""
    before = await get_source(con, account_id, source_id)
    name = text.clean(name) if name is not None else None
    await con.execute(
        """UPDATE sources SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = now()
           WHERE source_id = $1""",
        source_id,
        name,
        enabled,
    )
    row = await get_source(con, account_id, source_id)
    return row, (not before["enabled"] and row["enabled"])


async def source_columns(con: Connection, source_id: UUID) -> list[str]:
    """The source's columns in its order (`mapping.source_columns`): the one definition exports,
    re-uploads, reports, criteria and destinations use."""
    return await _columns(con, "s.source_id = $1", source_id)


async def account_columns(con: Connection, account_id: UUID, source_id: UUID | None = None) -> list[str]:
    """The columns of the account's sources (or only of `source_id`, if it is the account's), in
    the sources' creation order, each once."""
    return await _columns(con, "s.account_id = $1 AND ($2::uuid IS NULL OR s.source_id = $2)", account_id, source_id)


async def _columns(con: Connection, where: str, *args: object) -> list[str]:
    found: dict[str, None] = {}
    rows = await con.fetch(
        f"SELECT s.default_mapping, {_FORM_MAPPINGS} FROM sources s WHERE {where} ORDER BY s.created_at, s.source_id",
        *args,
    )
    for row in rows:
        found.update(dict.fromkeys(columns_of(row)))
    return list(found)


async def set_default_mapping(
    con: Connection, account_id: UUID, source_id: UUID, rows: Sequence[mapping.MappingRow]
) -> None:
    await get_source(con, account_id, source_id)
    await con.execute(
        """UPDATE sources SET default_mapping = $2, default_mapping_saved_at = now(), updated_at = now()
           WHERE source_id = $1""",
        source_id,
        mapping.to_json(rows),
    )


async def set_state(con: Connection, source_id: UUID, state: str) -> None:
    await con.execute("UPDATE sources SET state = $2, updated_at = now() WHERE source_id = $1", source_id, state)


async def needs_reconnect(con: Connection, source_id: UUID) -> None:
    """An ACTIVE source whose platform refused its credentials waits for a person to reconnect it."""
    await con.execute(
        "UPDATE sources SET state = 'NEEDS_RECONNECT', updated_at = now() WHERE source_id = $1 AND state = 'ACTIVE'",
        source_id,
    )


# Criteria ----------------------------------------------------------------------------------------


async def source_for_criteria(con: Connection, account_id: UUID, source_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(
        "SELECT source_id, account_id, name, enabled, criteria_version FROM sources WHERE source_id = $1",
        source_id,
    )
    check_owner("source", source_id, row["account_id"] if row else None, account_id)
    return row  # type: ignore[return-value]  # check_owner raised if there is no row


async def next_criteria_version(con: Connection, source_id: UUID) -> int:
    """Makes the next criteria version current (the UPDATE's row lock orders concurrent writers)."""
    version: int = await con.fetchval(
        "UPDATE sources SET criteria_version = criteria_version + 1 WHERE source_id = $1 RETURNING criteria_version",
        source_id,
    )
    return version


# Forms -------------------------------------------------------------------------------------------


async def upsert_form(
    con: Connection, account_id: UUID, source_id: UUID, platform_form_id: str, name: str, enabled: bool | None
) -> tuple[asyncpg.Record, bool]:
    """(the form, whether it was switched back on). A new form is enabled unless told otherwise."""
    await get_source(con, account_id, source_id)
    platform_form_id, name = text.clean(platform_form_id), text.clean(name)
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
    return row, (before is False and row["enabled"])  # type: ignore[return-value,index]  # RETURNING: always a row


async def register_forms(con: Connection, account_id: UUID, pairs: Sequence[tuple[UUID, str]]) -> list[asyncpg.Record]:
    """Registers forms a platform sent leads for before anyone upserted them (enabled, no name)."""
    return await con.fetch(
        """INSERT INTO forms (source_id, account_id, platform_form_id)
           SELECT s, $1, f FROM unnest($2::uuid[], $3::text[]) AS u(s, f)
           ON CONFLICT (source_id, platform_form_id) DO UPDATE SET updated_at = forms.updated_at
           RETURNING *""",
        account_id,
        [p[0] for p in pairs],
        [text.clean(p[1]) for p in pairs],
    )


async def get_form(con: Connection, account_id: UUID, form_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow("SELECT * FROM forms WHERE form_id = $1", form_id)
    check_owner("form", form_id, row["account_id"] if row else None, account_id)
    return row  # type: ignore[return-value]  # check_owner raised if there is no row


async def list_forms(
    con: Connection, source_id: UUID, *, after: tuple[Any, ...] | None, limit: int
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
    con: Connection, account_id: UUID, form_id: UUID, rows: Sequence[mapping.MappingRow] | None
) -> asyncpg.Record:
    """None (an empty list in the API) returns the form to the source default."""
    await get_form(con, account_id, form_id)
    row = await con.fetchrow(
        """UPDATE forms SET mapping = $2, mapping_saved_at = CASE WHEN $2::jsonb IS NULL THEN NULL ELSE now() END,
                  updated_at = now()
           WHERE form_id = $1 RETURNING *""",
        form_id,
        mapping.to_json(rows) if rows else None,
    )
    return row  # type: ignore[return-value]  # get_form raised if there is no form


async def form_by_ref(
    con: Connection, account_id: UUID, source_id: UUID | None, ref: str, field: str
) -> asyncpg.Record:
    """A form named by LeadRelay's id, or by the platform's form id within `source_id`."""
    ref = ref.strip()
    if not ref:
        raise InvalidArgument(field, "the form id is required (LeadRelay's form id or the platform's)")
    form_id = as_id(ref)
    if form_id is not None:
        form = await get_form(con, account_id, form_id)
        if source_id is not None and form["source_id"] != source_id:
            raise InvalidArgument(field, f"form {ref} belongs to another source")
        return form
    if source_id is None:
        raise InvalidArgument("source_id", f"name the source to find the platform form {ref!r}")
    await get_source(con, account_id, source_id)
    row = await con.fetchrow("SELECT * FROM forms WHERE source_id = $1 AND platform_form_id = $2", source_id, ref)
    if row is None:
        raise NotFound("form", ref)
    return row


async def record_form_fields(con: Connection, form_id: UUID, definitions: Sequence[Definition]) -> None:
    """The form's fields as the platform lists them now: labels, types and order updated, a field's
    first sighting kept (a field the platform no longer lists stays: old leads still carry it)."""
    if not definitions:
        return
    await con.execute(
        """INSERT INTO form_fields (form_id, name, label, type, position)
           SELECT $1, n, l, t, p FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS u(n, l, t, p)
           ON CONFLICT (form_id, name) DO UPDATE
              SET label = EXCLUDED.label, type = EXCLUDED.type, position = EXCLUDED.position""",
        form_id,
        [text.clean(d.name) for d in definitions],
        [text.clean(d.label) for d in definitions],
        [text.clean(d.type) for d in definitions],
        [d.position for d in definitions],
    )


async def form_fields(con: Connection, form_id: UUID) -> list[Definition]:
    rows = await con.fetch(
        "SELECT name, label, type, position, first_seen_at FROM form_fields WHERE form_id = $1 ORDER BY position, name",
        form_id,
    )
    return [Definition(r["name"], r["label"], r["type"], r["position"], r["first_seen_at"]) for r in rows]


# Intake ------------------------------------------------------------------------------------------


async def sources_for_intake(con: Connection, source_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await con.fetch(
        "SELECT source_id, account_id, platform, enabled, default_mapping FROM sources WHERE source_id = ANY($1)",
        list(source_ids),
    )


async def forms_for_intake(con: Connection, source_ids: Sequence[UUID], refs: Sequence[str]) -> list[asyncpg.Record]:
    """The forms of these sources named by platform form id or form_id (one query for a batch)."""
    return await con.fetch(
        """SELECT form_id, source_id, platform_form_id, mapping FROM forms
           WHERE source_id = ANY($1) AND (platform_form_id = ANY($2) OR form_id::text = ANY($2))""",
        list(source_ids),
        list(refs),
    )


async def forms_state(con: Connection, form_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Whose these forms are and whether they are switched on (judging leads not stored yet)."""
    return await con.fetch(
        "SELECT form_id, source_id, platform_form_id, enabled FROM forms WHERE form_id = ANY($1)", list(form_ids)
    )
