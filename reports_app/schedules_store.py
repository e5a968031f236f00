"""Scheduled exports (SQL for report_schedules, report_schedule_runs, report_schedule_deliveries).

A due schedule becomes one run per slot; a run is claimed FOR UPDATE SKIP LOCKED by one scheduler
replica, sent, and every attempt is a delivery row (sent, or failed with the reason)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from email_validator import EmailNotValidError, validate_email

from leadrelay.db import Connection
from leadrelay.errors import InvalidArgument, NotFound, PermissionDenied
from reports_app.cadence import Cadence, next_run
from reports_app.filters import FORMATS, REPORTS

MAX_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    report: str
    filters: dict[str, Any]
    format: str
    cadence: Cadence
    recipients: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidArgument("name", "a schedule needs a name")
        if self.report not in REPORTS:
            raise InvalidArgument("report", f"{self.report!r} is not one of {', '.join(REPORTS)}")
        if self.format not in FORMATS:
            raise InvalidArgument("format", f"{self.format!r} is not one of {', '.join(FORMATS)}")
        if not self.recipients:
            raise InvalidArgument("recipients", "at least one recipient")
        for i, r in enumerate(self.recipients):
            try:
                validate_email(r, check_deliverability=False)
            except EmailNotValidError as exc:
                raise InvalidArgument(f"recipients[{i}]", f"{r!r} is not an email address: {exc}") from None


def parse_recipients(text: str) -> tuple[str, ...]:
    return tuple(r.strip() for r in text.replace(";", ",").replace("\n", ",").split(",") if r.strip())


async def _owned(con: Connection, account_id: UUID, schedule_id: UUID) -> None:
    owner = await con.fetchval("SELECT account_id FROM report_schedules WHERE schedule_id = $1", schedule_id)
    if owner is None:
        raise NotFound("schedule", str(schedule_id))
    if owner != account_id:
        raise PermissionDenied("schedule", str(schedule_id))


async def create(con: Connection, account_id: UUID, spec: ScheduleSpec, now: datetime) -> UUID:
    return await con.fetchval(
        """INSERT INTO report_schedules (account_id, name, report, filters, format, cadence, cron, timezone,
                                         recipients, next_run_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING schedule_id""",
        account_id,
        *_columns(spec, now),
    )


def _columns(spec: ScheduleSpec, now: datetime) -> tuple[object, ...]:
    """A schedule's stored columns, name through next_run_at, in the order create and update write them."""
    return (
        spec.name.strip(),
        spec.report,
        spec.filters,
        spec.format,
        spec.cadence.kind,
        spec.cadence.cron,
        spec.cadence.timezone,
        list(spec.recipients),
        next_run(spec.cadence, now),
    )


async def update(con: Connection, account_id: UUID, schedule_id: UUID, spec: ScheduleSpec, now: datetime) -> None:
    await _owned(con, account_id, schedule_id)
    await con.execute(
        """UPDATE report_schedules SET name = $3, report = $4, filters = $5, format = $6, cadence = $7,
                  cron = $8, timezone = $9, recipients = $10, next_run_at = $11, updated_at = now()
           WHERE schedule_id = $1 AND account_id = $2""",
        schedule_id,
        account_id,
        *_columns(spec, now),
    )


async def set_paused(con: Connection, account_id: UUID, schedule_id: UUID, paused: bool, now: datetime) -> None:
    """Pausing stops runs; resuming starts from the next slot after now (no catch-up of the pause)."""
    await _owned(con, account_id, schedule_id)
    row = await con.fetchrow("SELECT cadence, cron, timezone FROM report_schedules WHERE schedule_id = $1", schedule_id)
    await con.execute(
        """UPDATE report_schedules SET paused = $3, next_run_at = $4, updated_at = now()
           WHERE schedule_id = $1 AND account_id = $2""",
        schedule_id,
        account_id,
        paused,
        next_run(Cadence(row["cadence"], row["cron"], row["timezone"]), now),  # type: ignore[index]  # _owned raised if there is no schedule
    )


async def delete(con: Connection, account_id: UUID, schedule_id: UUID) -> None:
    await _owned(con, account_id, schedule_id)
    await con.execute(
        "DELETE FROM report_schedules WHERE schedule_id = $1 AND account_id = $2", schedule_id, account_id
    )


async def list_for(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    rows = await con.fetch(
        """SELECT s.*, (SELECT max(d.at) FROM report_schedule_runs r JOIN report_schedule_deliveries d
                        USING (run_id) WHERE r.schedule_id = s.schedule_id AND d.status = 'SENT') AS last_sent_at
           FROM report_schedules s WHERE s.account_id = $1 ORDER BY lower(s.name), s.schedule_id""",
        account_id,
    )
    return [dict(r) for r in rows]


async def get(con: Connection, account_id: UUID, schedule_id: UUID) -> dict[str, Any]:
    await _owned(con, account_id, schedule_id)
    return dict(await con.fetchrow("SELECT * FROM report_schedules WHERE schedule_id = $1", schedule_id))  # type: ignore[arg-type]  # _owned raised if there is no schedule


async def run_now(con: Connection, account_id: UUID, schedule_id: UUID) -> UUID:
    await _owned(con, account_id, schedule_id)
    return await con.fetchval(
        """INSERT INTO report_schedule_runs (schedule_id, account_id, scheduled_for, manual)
           VALUES ($1, $2, clock_timestamp(), true) RETURNING run_id""",
        schedule_id,
        account_id,
    )


async def history(con: Connection, account_id: UUID, schedule_id: UUID, limit: int = 50) -> list[dict[str, Any]]:
    """Each run (newest first) with its delivery attempts."""
    await _owned(con, account_id, schedule_id)
    rows = await con.fetch(
        """SELECT r.run_id, r.scheduled_for, r.manual, r.status, r.attempts, r.filename, r.rows, r.error,
                  r.finished_at,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('at', d.at, 'status', d.status,
                                                                'recipients', d.recipients, 'detail', d.detail)
                                             ORDER BY d.delivery_id)
                            FROM report_schedule_deliveries d WHERE d.run_id = r.run_id), '[]') AS deliveries
           FROM report_schedule_runs r WHERE r.schedule_id = $1 AND r.account_id = $2
           ORDER BY r.scheduled_for DESC LIMIT $3""",
        schedule_id,
        account_id,
        limit,
    )
    return [dict(r) for r in rows]


# ---- the scheduler's side ------------------------------------------------------------------------


async def open_due_runs(con: Connection, now: datetime, limit: int = 100) -> int:
    """Turns every due schedule into one run and moves it to its next slot after `now`: a schedule
    that missed ten slots while the scheduler was down sends once. Replicas skip each other's rows."""
    due = await con.fetch(
        """SELECT schedule_id, account_id, cadence, cron, timezone, next_run_at FROM report_schedules
           WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    for s in due:
        await con.execute(
            """INSERT INTO report_schedule_runs (schedule_id, account_id, scheduled_for, next_attempt_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (schedule_id, scheduled_for) DO NOTHING""",
            s["schedule_id"],
            s["account_id"],
            s["next_run_at"],
            now,
        )
        await con.execute(
            "UPDATE report_schedules SET next_run_at = $2 WHERE schedule_id = $1",
            s["schedule_id"],
            next_run(Cadence(s["cadence"], s["cron"], s["timezone"]), now),
        )
    return len(due)


async def claim_run(con: Connection, now: datetime, skip: Sequence[UUID] = ()) -> dict[str, Any] | None:
    """One pending run that is due (and not in `skip`: tried already this pass), locked until the
    caller's transaction ends (so no other replica sends it), with its schedule."""
    row = await con.fetchrow(
        """SELECT r.run_id, r.scheduled_for, r.manual, r.attempts, s.schedule_id, s.account_id, s.name,
                  s.report, s.filters, s.format, s.recipients, s.cadence, s.cron, s.timezone, a.name AS account_name,
                  a.time_zone AS account_time_zone
           FROM report_schedule_runs r JOIN report_schedules s USING (schedule_id)
           JOIN accounts a ON a.account_id = s.account_id
           WHERE r.status = 'PENDING' AND r.next_attempt_at <= $1 AND NOT r.run_id = ANY($2::uuid[])
           ORDER BY r.next_attempt_at LIMIT 1 FOR UPDATE OF r SKIP LOCKED""",
        now,
        list(skip),
    )
    return dict(row) if row else None


async def record_sent(
    con: Connection, run_id: UUID, recipients: Sequence[str], filename: str, rows: int, detail: str
) -> None:
    await con.execute(
        """UPDATE report_schedule_runs SET status = 'SENT', attempts = attempts + 1, filename = $2, rows = $3,
                  error = '', finished_at = now() WHERE run_id = $1""",
        run_id,
        filename,
        rows,
    )
    await con.execute(
        "INSERT INTO report_schedule_deliveries (run_id, status, recipients, detail) VALUES ($1, 'SENT', $2, $3)",
        run_id,
        list(recipients),
        detail,
    )


async def record_failed(
    con: Connection, run_id: UUID, recipients: Sequence[str], reason: str, retry_in: timedelta, now: datetime
) -> str:
    """Records a failed attempt; the run is retried after `retry_in` until MAX_ATTEMPTS, then FAILED."""
    status = await con.fetchval(
        """UPDATE report_schedule_runs
           SET attempts = attempts + 1, error = $2, next_attempt_at = $3,
               status = CASE WHEN attempts + 1 >= $4 THEN 'FAILED' ELSE 'PENDING' END,
               finished_at = CASE WHEN attempts + 1 >= $4 THEN now() END
           WHERE run_id = $1 RETURNING status""",
        run_id,
        reason,
        now + retry_in,
        MAX_ATTEMPTS,
    )
    await con.execute(
        "INSERT INTO report_schedule_deliveries (run_id, status, recipients, detail) VALUES ($1, 'FAILED', $2, $3)",
        run_id,
        list(recipients),
        reason,
    )
    return str(status)
