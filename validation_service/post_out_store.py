"""SQL of the post-out tables: destinations, post_outs (the deliveries), post_out_attempts (the logs),
and the lead's post_out_status summary. Connection first; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from leadrelay.capture import leads_store, sources_store
from leadrelay.db import Connection
from validation_service.destinations import BodyField, DestinationSpec, OAuth, Success

PENDING = "PENDING"
RETRYING = "RETRYING"
POSTED = "POSTED"
REJECTED_BY_DESTINATION = "REJECTED_BY_DESTINATION"
FAILED = "FAILED"
NOT_POSTED = "NOT_POSTED"
STATUSES = (PENDING, RETRYING, POSTED, REJECTED_BY_DESTINATION, FAILED)


# ---- sources -------------------------------------------------------------------------------------


async def mapped_columns(con: Connection, source_id: UUID) -> set[str] | None:
    """The source's mapped columns, or None when the source has no mapping (every answer is a column
    of its own name, so no column can be called unknown)."""
    columns = await sources_store.source_columns(con, source_id)
    return set(columns) if columns else None


# ---- destinations --------------------------------------------------------------------------------


async def any_enabled_destination(con: Connection, source_ids: Sequence[UUID]) -> bool:
    """Whether any of the sources has a destination to post to: without one, enqueueing their
    accepted leads adds nothing and changes no lead, so bulk paths skip its cost."""
    return bool(
        await con.fetchval(
            "SELECT EXISTS (SELECT 1 FROM destinations WHERE source_id = ANY($1::uuid[]) AND enabled)", list(source_ids)
        )
    )


@dataclass(frozen=True)
class StoredDestination:
    destination_id: UUID
    account_id: UUID
    source_id: UUID
    spec: DestinationSpec  # headers: names only, values empty
    headers_encrypted: bytes | None
    consecutive_failures: int
    paused_until: datetime | None
    created_at: datetime
    updated_at: datetime
    oauth_encrypted: bytes | None = None  # {"client_id", "client_secret", "refresh_token"} as JSON
    paused_reason: str = ""


def _destination(r: asyncpg.Record) -> StoredDestination:
    return StoredDestination(
        destination_id=r["destination_id"],
        account_id=r["account_id"],
        source_id=r["source_id"],
        spec=DestinationSpec(
            name=r["name"],
            url=r["url"],
            method=r["method"],
            body_format=r["body_format"],
            body=tuple(BodyField.from_json(f) for f in r["body"]),
            headers={n: "" for n in r["header_names"]},
            success=Success.from_json(r["success"]),
            timeout_ms=r["timeout_ms"],
            enabled=r["enabled"],
            post_test_leads=r["post_test_leads"],
            body_template=r["body_template"] or "",
            preset=r["preset"],
            batch_size=r["batch_size"],
            oauth=OAuth.from_json(r["oauth"]),
        ),
        headers_encrypted=None if r["headers_encrypted"] is None else bytes(r["headers_encrypted"]),
        consecutive_failures=r["consecutive_failures"],
        paused_until=_aware(r["paused_until"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        oauth_encrypted=None if r["oauth_encrypted"] is None else bytes(r["oauth_encrypted"]),
        paused_reason=r["paused_reason"],
    )


def _aware(at: datetime | None) -> datetime | None:
    """asyncpg reads 'infinity' (a pause waiting for a person) as a naive datetime.max."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


async def insert_destination(
    con: Connection,
    account_id: UUID,
    source_id: UUID,
    spec: DestinationSpec,
    headers_encrypted: bytes | None,
    oauth_encrypted: bytes | None = None,
) -> StoredDestination:
    row = await con.fetchrow(
        """
        INSERT INTO destinations (account_id, source_id, name, url, method, body_format, body, header_names,
                                  headers_encrypted, success, timeout_ms, enabled, post_test_leads,
                                  body_template, preset, batch_size, oauth, oauth_encrypted)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
        RETURNING *
        """,
        account_id,
        source_id,
        *_columns(spec),
        headers_encrypted,
        spec.success.as_json(),
        spec.timeout_ms,
        spec.enabled,
        spec.post_test_leads,
        *_crm_columns(spec),
        oauth_encrypted,
    )
    return _destination(row)  # type: ignore[arg-type]  # INSERT ... RETURNING: always the row


def _columns(spec: DestinationSpec) -> tuple[Any, ...]:
    return (spec.name, spec.url, spec.method, spec.body_format, [f.as_json() for f in spec.body], sorted(spec.headers))


def _crm_columns(spec: DestinationSpec) -> tuple[Any, ...]:
    oauth = spec.oauth.as_json() if spec.oauth else {}
    return (spec.body_template or None, spec.preset, spec.batch_size, oauth)


async def update_destination(
    con: Connection,
    destination_id: UUID,
    spec: DestinationSpec,
    headers_encrypted: bytes | None,
    oauth_encrypted: bytes | None = None,
    *,
    new_credentials: bool = False,
) -> StoredDestination:
    """New credentials lift a pause that was waiting for them (paused_reason set)."""
    row = await con.fetchrow(
        """
        UPDATE destinations
        SET name = $2, url = $3, method = $4, body_format = $5, body = $6, header_names = $7,
            headers_encrypted = $8, success = $9, timeout_ms = $10, enabled = $11, post_test_leads = $12,
            body_template = $13, preset = $14, batch_size = $15, oauth = $16, oauth_encrypted = $17,
            paused_until = CASE WHEN $18 AND paused_reason <> '' THEN NULL ELSE paused_until END,
            paused_reason = CASE WHEN $18 THEN '' ELSE paused_reason END,
            updated_at = now()
        WHERE destination_id = $1
        RETURNING *
        """,
        destination_id,
        *_columns(spec),
        headers_encrypted,
        spec.success.as_json(),
        spec.timeout_ms,
        spec.enabled,
        spec.post_test_leads,
        *_crm_columns(spec),
        oauth_encrypted,
        new_credentials,
    )
    return _destination(row)  # type: ignore[arg-type]  # the servicer found the account's destination first


async def pause_destination(con: Connection, destination_id: UUID, reason: str) -> None:
    """Pauses until a person acts (new credentials, or ResumeDestination): deliveries wait, unclaimed."""
    await con.execute(
        """
        UPDATE destinations SET paused_until = 'infinity', paused_reason = $2, updated_at = now()
        WHERE destination_id = $1
        """,
        destination_id,
        reason,
    )


async def get_destination(con: Connection, destination_id: UUID) -> StoredDestination | None:
    row = await con.fetchrow("SELECT * FROM destinations WHERE destination_id = $1", destination_id)
    return None if row is None else _destination(row)


async def get_destinations(con: Connection, destination_ids: Collection[UUID]) -> list[StoredDestination]:
    rows = await con.fetch("SELECT * FROM destinations WHERE destination_id = ANY($1::uuid[])", list(destination_ids))
    return [_destination(r) for r in rows]


async def list_destinations(
    con: Connection, account_id: UUID, source_id: UUID | None, limit: int, after: tuple[datetime, UUID] | None
) -> list[StoredDestination]:
    rows = await con.fetch(
        """
        SELECT * FROM destinations
        WHERE account_id = $1 AND ($2::uuid IS NULL OR source_id = $2)
          AND ($3::timestamptz IS NULL OR (created_at, destination_id) > ($3, $4))
        ORDER BY created_at, destination_id
        LIMIT $5
        """,
        account_id,
        source_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_destination(r) for r in rows]


async def resume_destination(con: Connection, destination_id: UUID) -> StoredDestination:
    row = await con.fetchrow(
        """
        UPDATE destinations SET paused_until = NULL, paused_reason = '', consecutive_failures = 0, updated_at = now()
        WHERE destination_id = $1 RETURNING *
        """,
        destination_id,
    )
    return _destination(row)  # type: ignore[arg-type]  # the servicer found the account's destination first


async def update_breakers(
    con: Connection,
    changes: Sequence[tuple[UUID, bool, int]],
    threshold: int,
    cooldown_seconds: float,
) -> None:
    """(destination_id, reset, failures) per destination: a success resets the count to the failures
    that came after it; otherwise they add up. Reaching the threshold with a new failure pauses the
    destination for the cool-down.

    The count is read from the row being updated (`d`), never from a join: when two workers' batches
    update one destination at once, the second waits for the first and then re-reads the row, so both
    increments count. A joined copy of the row would still hold the value from before the first
    committed, and the second would write over the first's failures (seen: a destination paused with
    a count below the threshold)."""
    if not changes:
        return
    ordered = sorted(changes)
    await con.execute(
        """
        UPDATE destinations d
        SET consecutive_failures = CASE WHEN c.reset THEN c.failures ELSE d.consecutive_failures + c.failures END,
            -- A pause waiting for a person (paused_reason) outlasts what the breaker decides.
            paused_until = CASE WHEN d.paused_reason <> '' THEN d.paused_until
                                WHEN c.failures > 0 AND $4 > 0
                                     AND CASE WHEN c.reset THEN c.failures
                                              ELSE d.consecutive_failures + c.failures END >= $4
                                THEN now() + make_interval(secs => $5)
                                WHEN c.reset THEN NULL ELSE d.paused_until END
        FROM unnest($1::uuid[], $2::bool[], $3::int[]) AS c(destination_id, reset, failures)
        WHERE d.destination_id = c.destination_id
          -- A success on a healthy destination changes nothing: leaving its row alone keeps every
          -- worker's recording from queueing on that one row lock.
          AND (c.failures > 0 OR d.consecutive_failures <> 0 OR d.paused_until IS NOT NULL)
        """,
        [c[0] for c in ordered],
        [c[1] for c in ordered],
        [c[2] for c in ordered],
        threshold,
        cooldown_seconds,
    )


# ---- deliveries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One attempt's result, to be written: the attempt row and the delivery's new state."""

    lead_id: UUID
    destination_id: UUID
    account_id: UUID
    lease_token: UUID
    attempt: int
    at: datetime
    status: str  # the delivery's new status
    status_code: int
    duration_ms: int
    outcome: str  # posted, rejected, retry, failed
    reason: str
    excerpt: str
    record_id: str
    next_attempt_at: datetime | None
    # What was sent: method, masked URL, the record's body (truncated).
    request: str = ""


_EVENT_TYPES = {POSTED: "posted", REJECTED_BY_DESTINATION: "post_rejected", FAILED: "post_failed"}

# A lead's delivery summary is the last of these that any of its deliveries has: in flight shows
# first, then FAILED, REJECTED_BY_DESTINATION, and POSTED once every one is (SQL: rank by position).
_SUMMARY_ORDER = "ARRAY['POSTED', 'REJECTED_BY_DESTINATION', 'FAILED', 'PENDING', 'RETRYING']"


# One statement (one round trip) per recorded batch: the attempt rows in the order the results came,
# the deliveries' new states and the audit events of the deliveries that reached an end. Each result
# is applied unless its delivery is already POSTED, or its lease passed to another worker (then that
# worker's result counts; a success counts whoever reports it). The deliveries are updated in
# (lead, destination) order, as the arrays come, so two batches lock shared rows in one order.
#
# It also returns each changed lead's new summary (refresh_lead_status's, without a statement and a
# second read of every delivery of its own): a statement does not see its own changes, so the
# changed deliveries count with their new status and the lead's others as the snapshot has them. The
# caller locked the leads first (`leads_store.lock_leads`), so that snapshot holds every delivery of
# theirs recorded before. (Writing the summary in this statement too was slower: each audit event's
# foreign-key check then locks a lead row this statement has just rewritten, ~100 us a lead.)
_RECORD = f"""
WITH attempts AS (
    INSERT INTO post_out_attempts
        (lead_id, destination_id, account_id, attempt, at, status_code, duration_ms, outcome, reason,
         response_excerpt, request_excerpt)
    SELECT a.lead_id, a.destination_id, a.account_id, a.attempt, a.at, a.code, a.duration_ms, a.outcome,
           a.reason, a.excerpt, a.request
    FROM unnest($1::uuid[], $2::uuid[], $10::uuid[], $11::int[], $9::timestamptz[], $5::int[], $12::int[],
                $13::text[], $6::text[], $14::text[], $17::int[], $18::text[])
         AS a(lead_id, destination_id, account_id, attempt, at, code, duration_ms, outcome, reason, excerpt, pos,
              request)
    ORDER BY a.pos
), changed AS (
    UPDATE post_outs p
    SET status = r.status, attempts = p.attempts + 1, last_status_code = r.code,
        last_error = r.reason, record_id = CASE WHEN r.status = 'POSTED' THEN r.record_id ELSE p.record_id END,
        posted_at = CASE WHEN r.status = 'POSTED' THEN r.at ELSE p.posted_at END,
        next_attempt_at = coalesce(r.next_at, p.next_attempt_at), lease_token = NULL, lease_until = NULL,
        updated_at = now()
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[],
                $8::timestamptz[], $9::timestamptz[], $15::text[], $16::text[])
         AS r(lead_id, destination_id, token, status, code, reason, record_id, next_at, at, event_type,
              event_detail)
    WHERE p.lead_id = r.lead_id AND p.destination_id = r.destination_id AND p.status <> 'POSTED'
      AND (p.lease_token = r.token OR r.status = 'POSTED')
    RETURNING p.lead_id, p.destination_id, p.account_id, p.status, r.event_type, r.event_detail
), events AS (
    INSERT INTO lead_events (lead_id, account_id, type, detail)
    SELECT lead_id, account_id, event_type, event_detail FROM changed WHERE event_type <> ''
), by_lead AS (
    SELECT lead_id, array_agg(destination_id) AS destinations,
           max(array_position({_SUMMARY_ORDER}, status)) AS rank
    FROM changed GROUP BY lead_id
)
SELECT b.lead_id, ({_SUMMARY_ORDER})[greatest(
           b.rank,
           (SELECT max(array_position({_SUMMARY_ORDER}, o.status))
            FROM post_outs o WHERE o.lead_id = b.lead_id AND o.destination_id <> ALL (b.destinations)))] AS summary
FROM by_lead b
ORDER BY b.lead_id
"""


async def record_attempts(con: Connection, results: Sequence[Recorded]) -> None:
    """Writes the attempts, applies each result to its delivery and refreshes the summary
    (leads.post_out_status) of each lead whose delivery changed (see _RECORD); the caller holds the
    leads locked."""
    if not results:
        return
    order = sorted(range(len(results)), key=lambda i: (results[i].lead_id, results[i].destination_id))
    ordered = [results[i] for i in order]
    # For the rest of the caller's transaction: the batch's deliveries and leads are found by key.
    # Without it, on a small table the planner hashes a whole-table scan of post_outs for a batch of
    # 100 (~12 us a lead) where 100 index probes cost a fraction; on a large table it probes anyway.
    await con.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
    rows = await con.fetch(
        _RECORD,
        [r.lead_id for r in ordered],
        [r.destination_id for r in ordered],
        [r.lease_token for r in ordered],
        [r.status for r in ordered],
        [r.status_code for r in ordered],
        [r.reason for r in ordered],
        [r.record_id for r in ordered],
        [r.next_attempt_at for r in ordered],
        [r.at for r in ordered],
        [r.account_id for r in ordered],
        [r.attempt for r in ordered],
        [r.duration_ms for r in ordered],
        [r.outcome for r in ordered],
        [r.excerpt for r in ordered],
        [_EVENT_TYPES.get(r.status, "") for r in ordered],
        [_event_detail(r) for r in ordered],
        order,
        [r.request for r in ordered],
    )
    await leads_store.set_post_out_status(con, [r["lead_id"] for r in rows], [r["summary"] for r in rows])


def _event_detail(r: Recorded) -> str:
    detail = f"destination {r.destination_id}"
    if r.status == POSTED:
        return f"{detail}, record {r.record_id}" if r.record_id else detail
    return f"{detail}: {r.reason}"


async def refresh_lead_status(con: Connection, lead_ids: Sequence[UUID]) -> None:
    """Keeps leads.post_out_status the summary of the lead's deliveries: in flight (RETRYING, then
    PENDING) shows first, then FAILED, REJECTED_BY_DESTINATION, and POSTED once every one is. A test
    lead that no destination takes shows NOT_POSTED. The caller holds the leads locked from an
    earlier statement (`leads_store.lock_leads`, or judging's FOR UPDATE), so the summary (a new
    statement, so a new snapshot) sees every delivery recorded before."""
    ids = sorted(set(lead_ids))
    rows = await con.fetch(
        f"""
        SELECT x.lead_id, coalesce(
            (SELECT ({_SUMMARY_ORDER})[max(array_position({_SUMMARY_ORDER}, p.status))]
             FROM post_outs p WHERE p.lead_id = x.lead_id),
            CASE WHEN x.is_test AND EXISTS (SELECT 1 FROM destinations d
                                            WHERE d.source_id = x.source_id AND d.enabled)
                 THEN 'NOT_POSTED' ELSE '' END) AS summary
        FROM leads x WHERE x.lead_id = ANY($1::uuid[])
        """,
        ids,
    )
    await leads_store.set_post_out_status(con, [r["lead_id"] for r in rows], [r["summary"] for r in rows])


# ---- lists and retries ---------------------------------------------------------------------------


async def list_post_outs(
    con: Connection,
    account_id: UUID,
    *,
    source_id: UUID | None,
    destination_id: UUID | None,
    lead_id: UUID | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, UUID, UUID] | None,
) -> list[asyncpg.Record]:
    """Newest first."""
    return await con.fetch(
        """
        SELECT * FROM post_outs
        WHERE account_id = $1
          AND ($2::uuid IS NULL OR source_id = $2) AND ($3::uuid IS NULL OR destination_id = $3)
          AND ($4::uuid IS NULL OR lead_id = $4) AND ($5::text IS NULL OR status = $5)
          AND ($6::timestamptz IS NULL OR (created_at, lead_id, destination_id) < ($6, $7, $8))
        ORDER BY created_at DESC, lead_id DESC, destination_id DESC
        LIMIT $9
        """,
        account_id,
        source_id,
        destination_id,
        lead_id,
        status,
        *(after or (None, None, None)),
        limit,
    )


async def list_attempts(
    con: Connection,
    account_id: UUID,
    *,
    lead_id: UUID | None,
    destination_id: UUID | None,
    limit: int,
    after: int,
) -> list[asyncpg.Record]:
    """Oldest first, as the attempts happened."""
    return await con.fetch(
        """
        SELECT * FROM post_out_attempts
        WHERE account_id = $1 AND ($2::uuid IS NULL OR lead_id = $2) AND ($3::uuid IS NULL OR destination_id = $3)
          AND attempt_id > $4
        ORDER BY attempt_id
        LIMIT $5
        """,
        account_id,
        lead_id,
        destination_id,
        after,
        limit,
    )


async def resendable(con: Connection, lead_ids: Sequence[UUID]) -> list[UUID]:
    """Those of the leads with a delivery RetryPostOuts sends again: ended without success (FAILED,
    REJECTED_BY_DESTINATION) or waiting for its next retry (not claimed by a worker)."""
    rows = await con.fetch(
        """SELECT DISTINCT lead_id FROM post_outs
           WHERE lead_id = ANY($1::uuid[])
             AND (status IN ('FAILED', 'REJECTED_BY_DESTINATION') OR (status = 'RETRYING' AND lease_token IS NULL))
           ORDER BY lead_id""",
        list(lead_ids),
    )
    return [r[0] for r in rows]


async def retry_now(con: Connection, lead_ids: Sequence[UUID]) -> int:
    """Deliveries of these leads that are waiting for a retry are due now, with a fresh horizon."""
    result = await con.execute(
        """
        UPDATE post_outs SET next_attempt_at = now(), enqueued_at = now(), updated_at = now()
        WHERE lead_id = ANY($1::uuid[]) AND status = 'RETRYING' AND lease_token IS NULL
        """,
        list(lead_ids),
    )
    return int(result.split()[-1])


async def retry_failed_of_source(con: Connection, source_id: UUID) -> list[UUID]:
    """Makes the source's FAILED deliveries due again; returns the lead of each. Their leads are
    locked first, as judging and the workers lock them, before any delivery: no deadlock."""
    failed = await con.fetch(
        "SELECT DISTINCT lead_id FROM post_outs WHERE source_id = $1 AND status = 'FAILED'", source_id
    )
    locked = await leads_store.lock_leads(con, [r["lead_id"] for r in failed])
    rows = await con.fetch(
        """
        UPDATE post_outs
        SET status = 'PENDING', next_attempt_at = now(), enqueued_at = now(), lease_token = NULL, lease_until = NULL,
            updated_at = now()
        WHERE source_id = $1 AND status = 'FAILED' AND lead_id = ANY($2::uuid[])
        RETURNING lead_id
        """,
        source_id,
        locked,
    )
    return [r["lead_id"] for r in rows]


async def blank_destination_answers(con: Connection, lead_ids: Sequence[UUID]) -> None:
    """An erased lead's deliveries and their logs keep their status, outcome and status code; what the
    destination answered (which can echo the lead's values) is blanked."""
    await con.execute(
        """UPDATE post_out_attempts SET response_excerpt = '', reason = '', request_excerpt = ''
            WHERE lead_id = ANY($1::uuid[]) AND (response_excerpt <> '' OR reason <> '' OR request_excerpt <> '')""",
        list(lead_ids),
    )
    await con.execute(
        "UPDATE post_outs SET last_error = '' WHERE lead_id = ANY($1::uuid[]) AND last_error <> ''", list(lead_ids)
    )
