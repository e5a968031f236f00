"""SQL for notification_alerts (what started and cleared: the history page and the alert list),
notification_mails (the outbox the notifier sends from, claimed FOR UPDATE SKIP LOCKED) and
notification_watermarks (from when ended jobs are told about)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from leadrelay.db import Connection
from reports_app.notifications.conditions import Alert, cleared_message, cleared_title

MAX_ATTEMPTS: Final = 5


async def jobs_since(con: Connection, account_id: UUID, now: datetime) -> datetime:
    """From when ended jobs are news; the first look starts now (nothing from before is told)."""
    await con.execute(
        "INSERT INTO notification_watermarks (account_id, jobs_since) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        account_id,
        now,
    )
    since: datetime = await con.fetchval(
        "SELECT jobs_since FROM notification_watermarks WHERE account_id = $1", account_id
    )
    return since


async def move_jobs_since(con: Connection, account_id: UUID, to: datetime) -> None:
    await con.execute(
        "UPDATE notification_watermarks SET jobs_since = greatest(jobs_since, $2) WHERE account_id = $1",
        account_id,
        to,
    )


async def open_alerts(con: Connection, account_id: UUID) -> dict[str, dict[str, Any]]:
    rows = await con.fetch(
        """SELECT alert_id, condition_key, kind, title, message, started_at FROM notification_alerts
           WHERE account_id = $1 AND cleared_at IS NULL ORDER BY started_at, alert_id""",
        account_id,
    )
    return {r["condition_key"]: dict(r) for r in rows}


async def start(con: Connection, account_id: UUID, alert: Alert, now: datetime) -> bool:
    """Opens the alert (and closes it at once for an event) with its one message queued; False when
    an event was already told (a job is news once)."""
    if alert.event and await con.fetchval(
        "SELECT 1 FROM notification_alerts WHERE account_id = $1 AND condition_key = $2", account_id, alert.key
    ):
        return False
    alert_id = await con.fetchval(
        """INSERT INTO notification_alerts (account_id, condition_key, kind, title, message, started_at, cleared_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $6::timestamptz END) RETURNING alert_id""",
        account_id,
        alert.key,
        alert.kind,
        alert.title,
        alert.message,
        now,
        alert.event,
    )
    await _queue(con, alert_id, account_id, "started", alert.title, alert.message)
    return True


async def clear(con: Connection, account_id: UUID, key: str, now: datetime) -> None:
    row = await con.fetchrow(
        """UPDATE notification_alerts SET cleared_at = $3
           WHERE account_id = $1 AND condition_key = $2 AND cleared_at IS NULL
           RETURNING alert_id, kind, title""",
        account_id,
        key,
        now,
    )
    if row is not None:
        await _queue(
            con,
            row["alert_id"],
            account_id,
            "cleared",
            cleared_title(row["title"]),
            cleared_message(row["kind"], row["title"]),
        )


async def _queue(con: Connection, alert_id: int, account_id: UUID, event: str, subject: str, body: str) -> None:
    await con.execute(
        """INSERT INTO notification_mails (alert_id, account_id, event, subject, body)
           VALUES ($1, $2, $3, $4, $5)""",
        alert_id,
        account_id,
        event,
        subject,
        body,
    )


async def claim_mail(con: Connection, now: datetime, skip: Sequence[int]) -> dict[str, Any] | None:
    """The next due mail not tried in this pass, locked for this transaction."""
    row = await con.fetchrow(
        """SELECT m.mail_id, m.account_id, m.subject, m.body, m.attempts, a.name AS account_name
           FROM notification_mails m JOIN accounts a USING (account_id)
           WHERE m.status = 'PENDING' AND m.next_attempt_at <= $1 AND NOT (m.mail_id = ANY($2::bigint[]))
           ORDER BY m.next_attempt_at, m.mail_id LIMIT 1 FOR UPDATE OF m SKIP LOCKED""",
        now,
        list(skip),
    )
    return None if row is None else dict(row)


async def mail_sent(con: Connection, mail_id: int, recipients: list[str], now: datetime) -> None:
    await con.execute(
        """UPDATE notification_mails SET status = 'SENT', recipients = $2, sent_at = $3, attempts = attempts + 1,
                  error = '' WHERE mail_id = $1""",
        mail_id,
        recipients,
        now,
    )


async def mail_failed(con: Connection, mail_id: int, recipients: list[str], error: str, retry_in: timedelta) -> str:
    """Records a failed attempt; after MAX_ATTEMPTS the mail is FAILED for good. Returns its status."""
    status: str = await con.fetchval(
        """UPDATE notification_mails
           SET attempts = attempts + 1, recipients = $2, error = left($3, 500),
               status = CASE WHEN attempts + 1 >= $4 THEN 'FAILED' ELSE 'PENDING' END,
               next_attempt_at = now() + $5::interval
           WHERE mail_id = $1 RETURNING status""",
        mail_id,
        recipients,
        error,
        MAX_ATTEMPTS,
        retry_in,
    )
    return status


async def history(
    con: Connection, account_id: UUID, *, kind: str = "", open_only: bool = False, limit: int = 500
) -> list[dict[str, Any]]:
    """Alerts newest first, each with how its messages went (sent to whom, or why not)."""
    rows = await con.fetch(
        """SELECT a.alert_id, a.kind, a.title, a.message, a.started_at, a.cleared_at,
                  coalesce(json_agg(json_build_object('event', m.event, 'status', m.status, 'recipients', m.recipients,
                                                      'error', m.error, 'sent_at', m.sent_at) ORDER BY m.mail_id)
                           FILTER (WHERE m.mail_id IS NOT NULL), '[]') AS mails
           FROM notification_alerts a LEFT JOIN notification_mails m USING (alert_id)
           WHERE a.account_id = $1 AND ($2 = '' OR a.kind = $2) AND (NOT $3 OR a.cleared_at IS NULL)
           GROUP BY a.alert_id ORDER BY a.started_at DESC, a.alert_id DESC LIMIT $4""",
        account_id,
        kind,
        open_only,
        limit,
    )
    return [dict(r) for r in rows]
