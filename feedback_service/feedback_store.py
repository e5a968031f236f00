"""SQL of the feedback tables (feedback_configs, linkedin_conversion_configs, feedback_stage_mappings,
feedback_events) and the reads of `leads` the feedback service needs. Connection first; the caller owns
the transaction. `channel` is where an event goes: META (Conversions API) or LINKEDIN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from feedback_service.capi_payload import StageEvent
from feedback_service.recording import LeadRef, NewEvent
from feedback_service.stages import MetaStage
from leadrelay.db import Connection


@dataclass(frozen=True)
class ConfigRow:
    account_id: UUID
    dataset_id: str
    access_token: bytes | None  # ciphertext
    lead_event_source: str
    mode: str
    test_event_code: str
    daily_hour: int
    time_zone: str
    phone_region: str
    paused_reason: str
    daily_last_run_at: datetime | None
    last_sent_at: datetime | None
    # user_data key -> lead columns (keys left out use the default names).
    identifier_columns: dict[str, list[str]]
    ldu_all_events: bool
    ldu_opt_out_columns: list[str]


_CONFIG_COLUMNS = """account_id, dataset_id, access_token, lead_event_source, mode, test_event_code,
    daily_hour, time_zone, phone_region, paused_reason, daily_last_run_at, last_sent_at,
    identifier_columns, ldu_all_events, ldu_opt_out_columns"""


def _config(row: asyncpg.Record) -> ConfigRow:
    values = dict(row)
    if values["access_token"] is not None:
        values["access_token"] = bytes(values["access_token"])
    values["ldu_opt_out_columns"] = list(values["ldu_opt_out_columns"])
    return ConfigRow(**values)


async def get_config(con: Connection, account_id: UUID) -> ConfigRow | None:
    row = await con.fetchrow(f"SELECT {_CONFIG_COLUMNS} FROM feedback_configs WHERE account_id = $1", account_id)
    return _config(row) if row else None


async def save_config(
    con: Connection,
    account_id: UUID,
    *,
    dataset_id: str,
    access_token: bytes | None,
    lead_event_source: str,
    mode: str,
    test_event_code: str,
    daily_hour: int,
    time_zone: str,
    phone_region: str,
    identifier_columns: Mapping[str, Sequence[str]],
    ldu_all_events: bool,
    ldu_opt_out_columns: Sequence[str],
) -> ConfigRow:
    """Upserts; a new token replaces the stored one and lifts a pause; None keeps the stored token.
    A DAILY account's first run is the first slot after the config was first saved."""
    row = await con.fetchrow(
        f"""
        INSERT INTO feedback_configs (account_id, dataset_id, access_token, lead_event_source, mode,
                                      test_event_code, daily_hour, time_zone, phone_region, daily_last_run_at,
                                      identifier_columns, ldu_all_events, ldu_opt_out_columns)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11, $12)
        ON CONFLICT (account_id) DO UPDATE SET
            dataset_id = EXCLUDED.dataset_id,
            access_token = COALESCE(EXCLUDED.access_token, feedback_configs.access_token),
            lead_event_source = EXCLUDED.lead_event_source,
            mode = EXCLUDED.mode,
            test_event_code = EXCLUDED.test_event_code,
            daily_hour = EXCLUDED.daily_hour,
            time_zone = EXCLUDED.time_zone,
            phone_region = EXCLUDED.phone_region,
            identifier_columns = EXCLUDED.identifier_columns,
            ldu_all_events = EXCLUDED.ldu_all_events,
            ldu_opt_out_columns = EXCLUDED.ldu_opt_out_columns,
            paused_reason = CASE WHEN EXCLUDED.access_token IS NULL THEN feedback_configs.paused_reason ELSE '' END,
            paused_at = CASE WHEN EXCLUDED.access_token IS NULL THEN feedback_configs.paused_at END,
            daily_last_run_at = COALESCE(feedback_configs.daily_last_run_at, now()),
            updated_at = now()
        RETURNING {_CONFIG_COLUMNS}
        """,
        account_id,
        dataset_id,
        access_token,
        lead_event_source,
        mode,
        test_event_code,
        daily_hour,
        time_zone,
        phone_region,
        {key: list(names) for key, names in identifier_columns.items()},
        ldu_all_events,
        list(ldu_opt_out_columns),
    )
    return _config(row)  # type: ignore[arg-type]  # an upsert's RETURNING always yields the row


async def pause(con: Connection, account_id: UUID, reason: str) -> None:
    await con.execute(
        "UPDATE feedback_configs SET paused_reason = $2, paused_at = now(), updated_at = now() WHERE account_id = $1",
        account_id,
        reason,
    )


async def mark_daily_run(con: Connection, account_id: UUID, at: datetime) -> None:
    await con.execute("UPDATE feedback_configs SET daily_last_run_at = $2 WHERE account_id = $1", account_id, at)


async def configs_with_pending(con: Connection) -> list[ConfigRow]:
    """Every dispatchable account (token stored, not paused) that has something PENDING for Meta."""
    rows = await con.fetch(
        f"""
        SELECT {_CONFIG_COLUMNS} FROM feedback_configs c
        WHERE c.access_token IS NOT NULL AND c.paused_reason = ''
          AND EXISTS (SELECT 1 FROM feedback_events e
                      WHERE e.account_id = c.account_id AND e.channel = 'META' AND e.status = 'PENDING')
        """
    )
    return [_config(r) for r in rows]


# -- LinkedIn Conversions API configuration --------------------------------------------------------


@dataclass(frozen=True)
class LinkedInConfigRow:
    account_id: UUID
    access_token: bytes | None  # ciphertext
    # The advertiser's stage name -> conversion rule URN.
    conversion_rules: dict[str, str]
    paused_reason: str
    last_sent_at: datetime | None


_LINKEDIN_COLUMNS = "account_id, access_token, conversion_rules, paused_reason, last_sent_at"


def _linkedin_config(row: asyncpg.Record) -> LinkedInConfigRow:
    values = dict(row)
    if values["access_token"] is not None:
        values["access_token"] = bytes(values["access_token"])
    return LinkedInConfigRow(**values)


async def get_linkedin_config(con: Connection, account_id: UUID) -> LinkedInConfigRow | None:
    row = await con.fetchrow(
        f"SELECT {_LINKEDIN_COLUMNS} FROM linkedin_conversion_configs WHERE account_id = $1", account_id
    )
    return _linkedin_config(row) if row else None


async def save_linkedin_config(
    con: Connection, account_id: UUID, *, access_token: bytes | None, conversion_rules: Mapping[str, str]
) -> LinkedInConfigRow:
    """Upserts; a new token replaces the stored one and lifts a pause; None keeps the stored token."""
    row = await con.fetchrow(
        f"""
        INSERT INTO linkedin_conversion_configs (account_id, access_token, conversion_rules)
        VALUES ($1, $2, $3)
        ON CONFLICT (account_id) DO UPDATE SET
            access_token = COALESCE(EXCLUDED.access_token, linkedin_conversion_configs.access_token),
            conversion_rules = EXCLUDED.conversion_rules,
            paused_reason = CASE WHEN EXCLUDED.access_token IS NULL
                                 THEN linkedin_conversion_configs.paused_reason ELSE '' END,
            paused_at = CASE WHEN EXCLUDED.access_token IS NULL THEN linkedin_conversion_configs.paused_at END,
            updated_at = now()
        RETURNING {_LINKEDIN_COLUMNS}
        """,
        account_id,
        access_token,
        dict(conversion_rules),
    )
    return _linkedin_config(row)  # type: ignore[arg-type]  # an upsert's RETURNING always yields the row


async def pause_linkedin(con: Connection, account_id: UUID, reason: str) -> None:
    await con.execute(
        """UPDATE linkedin_conversion_configs SET paused_reason = $2, paused_at = now(), updated_at = now()
           WHERE account_id = $1""",
        account_id,
        reason,
    )


async def touch_linkedin_last_sent(con: Connection, account_id: UUID) -> None:
    await con.execute("UPDATE linkedin_conversion_configs SET last_sent_at = now() WHERE account_id = $1", account_id)


async def linkedin_accounts_with_pending(con: Connection) -> list[UUID]:
    """Every account whose LinkedIn dispatch can run (token stored, not paused) with something PENDING."""
    rows = await con.fetch(
        """
        SELECT c.account_id FROM linkedin_conversion_configs c
        WHERE c.access_token IS NOT NULL AND c.paused_reason = ''
          AND EXISTS (SELECT 1 FROM feedback_events e
                      WHERE e.account_id = c.account_id AND e.channel = 'LINKEDIN' AND e.status = 'PENDING')
        """
    )
    return [r["account_id"] for r in rows]


# -- stage mapping ---------------------------------------------------------------------------------


async def get_mapping(con: Connection, account_id: UUID) -> dict[str, MetaStage]:
    rows = await con.fetch(
        "SELECT crm_stage, meta_stage FROM feedback_stage_mappings WHERE account_id = $1 ORDER BY crm_stage",
        account_id,
    )
    return {r["crm_stage"]: MetaStage(r["meta_stage"]) for r in rows}


async def replace_mapping(con: Connection, account_id: UUID, mapping: Mapping[str, MetaStage]) -> None:
    await con.execute("DELETE FROM feedback_stage_mappings WHERE account_id = $1", account_id)
    await con.executemany(
        "INSERT INTO feedback_stage_mappings (account_id, crm_stage, meta_stage) VALUES ($1, $2, $3)",
        [(account_id, name, stage.value) for name, stage in mapping.items()],
    )


async def pending_stage_names(con: Connection, account_id: UUID) -> list[str]:
    rows = await con.fetch(
        "SELECT DISTINCT crm_stage FROM feedback_events WHERE account_id = $1 AND status = 'PENDING'", account_id
    )
    return [r["crm_stage"] for r in rows]


async def remap_pending(con: Connection, account_id: UUID, stages: Mapping[str, MetaStage]) -> None:
    """Events not sent yet take a changed mapping (sent ones keep the stage Meta was told)."""
    await con.execute(
        """
        UPDATE feedback_events e SET meta_stage = m.meta_stage
        FROM unnest($2::text[], $3::text[]) AS m(crm_stage, meta_stage)
        WHERE e.account_id = $1 AND e.status = 'PENDING' AND e.crm_stage = m.crm_stage
          AND e.meta_stage <> m.meta_stage
        """,
        account_id,
        list(stages),
        [s.value for s in stages.values()],
    )


# -- leads -----------------------------------------------------------------------------------------


_LEAD_COLUMNS = "l.lead_id, l.account_id, s.platform, l.platform_lead_id, l.captured_at"


async def leads_by_id(con: Connection, lead_ids: Sequence[UUID]) -> dict[UUID, LeadRef]:
    """Any account's leads (the caller tells 'not found' from 'another account's')."""
    rows = await con.fetch(
        f"SELECT {_LEAD_COLUMNS} FROM leads l JOIN sources s USING (source_id) WHERE l.lead_id = ANY($1::uuid[])",
        list(lead_ids),
    )
    return {r["lead_id"]: LeadRef(**dict(r)) for r in rows}


async def leads_by_platform_id(
    con: Connection, account_id: UUID, platform_lead_ids: Sequence[str]
) -> dict[str, list[LeadRef]]:
    rows = await con.fetch(
        f"""SELECT {_LEAD_COLUMNS} FROM leads l JOIN sources s USING (source_id)
            WHERE l.account_id = $1 AND l.platform_lead_id = ANY($2::text[])""",
        account_id,
        list(platform_lead_ids),
    )
    out: dict[str, list[LeadRef]] = {}
    for r in rows:
        out.setdefault(r["platform_lead_id"], []).append(LeadRef(**dict(r)))
    return out


async def leads_captured_since(
    con: Connection, account_id: UUID, since: datetime, after: tuple[datetime, UUID] | None, limit: int
) -> list[LeadRef]:
    """One page of an account's leads captured since `since`, oldest first (keyset on captured_at, id)."""
    after_at, after_id = after if after else (since, UUID(int=0))
    rows = await con.fetch(
        f"""SELECT {_LEAD_COLUMNS} FROM leads l JOIN sources s USING (source_id)
            WHERE l.account_id = $1 AND l.captured_at >= $2 AND (l.captured_at, l.lead_id) > ($3, $4)
            ORDER BY l.captured_at, l.lead_id LIMIT $5""",
        account_id,
        since,
        after_at,
        after_id,
        limit,
    )
    return [LeadRef(**dict(r)) for r in rows]


# -- events ----------------------------------------------------------------------------------------


async def insert_events(con: Connection, account_id: UUID, events: Sequence[NewEvent]) -> list[tuple[int, str]]:
    """Inserts the changes not recorded before; returns (event_id, status) of the new ones. An
    identical repeat (lead, stage, time) — earlier or within `events` — is skipped."""
    if not events:
        return []
    rows = await con.fetch(
        """
        INSERT INTO feedback_events (account_id, lead_id, crm_stage, meta_stage, changed_at, status, reason, channel)
        SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                                 $8::text[])
        ON CONFLICT (lead_id, crm_stage, changed_at) DO NOTHING
        RETURNING event_id, status
        """,
        account_id,
        [e.lead_id for e in events],
        [e.crm_stage for e in events],
        [e.meta_stage.value for e in events],
        [e.changed_at for e in events],
        [e.status for e in events],
        [e.reason for e in events],
        [e.channel for e in events],
    )
    return [(r["event_id"], r["status"]) for r in rows]


async def expire_pending(con: Connection, account_id: UUID, channel: str, cutoff: datetime, reason: str) -> int:
    result = await con.execute(
        """UPDATE feedback_events SET status = 'EXPIRED', reason = $4
           WHERE account_id = $1 AND channel = $2 AND status = 'PENDING' AND changed_at < $3""",
        account_id,
        channel,
        cutoff,
        reason,
    )
    return int(result.split()[-1])


async def pending_events(
    con: Connection,
    account_id: UUID,
    *,
    channel: str = "META",
    after: tuple[datetime, int] | None,
    limit: int,
    include_not_due: bool,
    retries_only: bool,
) -> list[StageEvent]:
    """The next PENDING events in recorded order (keyset after `after`), joined with their leads."""
    # Two spellings of the keyset so the planner walks feedback_events_pending in order (an
    # "$2 IS NULL OR ..." would make it sort every pending row for each page).
    after_at, after_id = after if after else (None, 0)
    keyset = "AND (e.changed_at, e.event_id) > ($6::timestamptz, $7::bigint)" if after else ""
    args = (after_at, after_id) if after else ()
    rows = await con.fetch(
        f"""
        SELECT e.event_id, e.crm_stage, e.meta_stage, e.changed_at, l.platform_lead_id, l.fields
        FROM feedback_events e JOIN leads l USING (lead_id)
        WHERE e.account_id = $1 AND e.channel = $5 AND e.status = 'PENDING' {keyset}
          AND ($2 OR e.next_attempt_at <= now())
          AND (NOT $3 OR e.attempts > 0)
        ORDER BY e.changed_at, e.event_id
        LIMIT $4
        """,
        account_id,
        include_not_due,
        retries_only,
        limit,
        channel,
        *args,
    )
    return [
        StageEvent(
            r["event_id"],
            r["crm_stage"],
            MetaStage(r["meta_stage"]),
            r["changed_at"],
            r["platform_lead_id"],
            r["fields"] or {},
        )
        for r in rows
    ]


async def mark_sent(con: Connection, event_ids: Sequence[int], fbtrace_id: str) -> None:
    await con.execute(
        """UPDATE feedback_events SET status = 'SENT', fbtrace_id = $2, reason = '', sent_at = now(),
                  attempts = attempts + 1
           WHERE event_id = ANY($1::bigint[])""",
        list(event_ids),
        fbtrace_id,
    )


async def mark_failed(con: Connection, failures: Sequence[tuple[int, str, str]]) -> None:
    """(event_id, Meta's message, fbtrace_id) per refused event."""
    await con.executemany(
        """UPDATE feedback_events SET status = 'FAILED', reason = $2, fbtrace_id = $3, attempts = attempts + 1
           WHERE event_id = $1""",
        list(failures),
    )


async def mark_not_sendable(con: Connection, problems: Sequence[tuple[int, str]]) -> None:
    await con.executemany(
        "UPDATE feedback_events SET status = 'NOT_SENDABLE', reason = $2 WHERE event_id = $1", list(problems)
    )


async def mark_expired(con: Connection, expired: Sequence[tuple[int, str]]) -> None:
    await con.executemany(
        "UPDATE feedback_events SET status = 'EXPIRED', reason = $2 WHERE event_id = $1", list(expired)
    )


async def defer(con: Connection, event_ids: Sequence[int], reason: str, delay_seconds: float) -> None:
    """A transient failure: the events stay PENDING and are tried again after the delay."""
    await con.execute(
        """UPDATE feedback_events SET reason = $2, attempts = attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $3)
           WHERE event_id = ANY($1::bigint[])""",
        list(event_ids),
        reason,
        delay_seconds,
    )


async def touch_last_sent(con: Connection, account_id: UUID) -> None:
    await con.execute("UPDATE feedback_configs SET last_sent_at = now() WHERE account_id = $1", account_id)


# -- status ----------------------------------------------------------------------------------------


async def status_counts(con: Connection, account_id: UUID) -> dict[str, int]:
    rows = await con.fetch(
        "SELECT status, count(*) AS n FROM feedback_events WHERE account_id = $1 GROUP BY status", account_id
    )
    return {r["status"]: r["n"] for r in rows}


async def stage_counts(con: Connection, account_id: UUID) -> dict[MetaStage, int]:
    rows = await con.fetch(
        "SELECT meta_stage, count(*) AS n FROM feedback_events WHERE account_id = $1 GROUP BY meta_stage", account_id
    )
    return {MetaStage(r["meta_stage"]): r["n"] for r in rows}


async def not_assigned_stage_names(con: Connection, account_id: UUID) -> list[str]:
    rows = await con.fetch(
        """SELECT DISTINCT crm_stage FROM feedback_events
           WHERE account_id = $1 AND meta_stage = 'NOT_ASSIGNED' ORDER BY crm_stage""",
        account_id,
    )
    return [r["crm_stage"] for r in rows]


async def counts_for_events(con: Connection, event_ids: Iterable[int]) -> dict[str, int]:
    rows = await con.fetch(
        "SELECT status, count(*) AS n FROM feedback_events WHERE event_id = ANY($1::bigint[]) GROUP BY status",
        list(event_ids),
    )
    return {r["status"]: r["n"] for r in rows}


# Backfill runs -------------------------------------------------------------------------------------


async def start_backfill(con: Connection, account_id: UUID, since: datetime) -> UUID:
    backfill_id: UUID = await con.fetchval(
        "INSERT INTO feedback_backfills (account_id, since) VALUES ($1, $2) RETURNING backfill_id", account_id, since
    )
    return backfill_id


async def end_backfill(con: Connection, backfill_id: UUID, ok: bool, summary: str) -> None:
    await con.execute(
        "UPDATE feedback_backfills SET finished_at = now(), ok = $2, summary = $3 WHERE backfill_id = $1",
        backfill_id,
        ok,
        summary[:1000],
    )
