"""The scheduler end to end against the sandbox SMTP server."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import socket
from datetime import UTC, datetime, timedelta

from reports_app import cadence, schedules_store
from reports_app.scheduler import Scheduler
from tests.reports_app import seed


def _recipient() -> str:
    return f"mgr-{secrets.token_hex(4)}@example.com"


def _mine(sandbox, rcpt):
    return [m for m in sandbox.extra["mailbox"].messages if rcpt in m.rcpt_tos]


async def _schedule(pool, account, rcpt, report="LEADS", missed_days=3):
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events")
        now = datetime.now(UTC)
        await seed.lead(con, account.account_id, src, now, platform_lead_id="today-1")
        await seed.lead(con, account.account_id, src, now - timedelta(days=30), platform_lead_id="old")
        spec = schedules_store.ScheduleSpec(
            "Daily leads", report, {"days": 1}, "CSV", cadence.cadence("DAILY", "Europe/Berlin", at="07:30"), (rcpt,)
        )
        sid = await schedules_store.create(con, account.account_id, spec, now)
        # The scheduler was down: the 07:30 slots of the last few days were all missed.
        await con.execute(
            "UPDATE report_schedules SET next_run_at = $2 WHERE schedule_id = $1",
            sid,
            now - timedelta(days=missed_days),
        )
    return sid


async def test_a_due_schedule_sends_exactly_one_email_with_the_file(pool, account, settings, sandbox):
    rcpt = _recipient()
    sid = await _schedule(pool, account, rcpt)
    # Two replicas tick at the same time, then again: the missed slots collapse into one run, sent once.
    a, b = Scheduler(settings, pool), Scheduler(settings, pool)
    await asyncio.gather(a.tick(), b.tick())
    await asyncio.gather(a.tick(), b.tick())
    mails = _mine(sandbox, rcpt)
    assert len(mails) == 1
    msg = mails[0].message()
    assert msg["Subject"] == "Leads report: Daily leads"
    assert "1 leads" in msg.get_body(("plain",)).get_content()
    [(name, data)] = mails[0].attachments()
    assert name.startswith("leads-") and name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["LeadID", "SourceID", "FormID"]
    assert [r[4] for r in rows[1:]] == ["today-1"]
    async with pool.acquire() as con:
        runs = await schedules_store.history(con, account.account_id, sid)
        next_run = await con.fetchval("SELECT next_run_at FROM report_schedules WHERE schedule_id = $1", sid)
    assert [(r["status"], r["attempts"], r["rows"], [d["status"] for d in r["deliveries"]]) for r in runs] == [
        ("SENT", 1, 1, ["SENT"])
    ]
    assert next_run > datetime.now(UTC)
    assert next_run.astimezone(cadence.zone("Europe/Berlin")).strftime("%H:%M") == "07:30"


async def test_a_failed_send_is_recorded_with_its_reason_and_retried(pool, account, settings, sandbox):
    rcpt = _recipient()
    sid = await _schedule(pool, account, rcpt, report="SOURCE")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    await Scheduler(settings.replace(smtp_port=closed), pool, retry_base_seconds=0).tick()
    async with pool.acquire() as con:
        [run] = await schedules_store.history(con, account.account_id, sid)
    assert (run["status"], run["attempts"]) == ("PENDING", 1)
    assert [d["status"] for d in run["deliveries"]] == ["FAILED"]
    assert f"127.0.0.1:{closed}" in run["deliveries"][0]["detail"]
    assert _mine(sandbox, rcpt) == []
    await Scheduler(settings, pool, retry_base_seconds=0).tick()
    async with pool.acquire() as con:
        [run] = await schedules_store.history(con, account.account_id, sid)
    assert (run["status"], run["attempts"], [d["status"] for d in run["deliveries"]]) == ("SENT", 2, ["FAILED", "SENT"])
    [mail] = _mine(sandbox, rcpt)
    [(name, data)] = mail.attachments()
    assert name.startswith("source-report-")
    # Received, accepted, rejected, processing, every disposition column, posted, post-failed.
    assert data.decode("utf-8-sig").splitlines()[1] == "Events,CSV,1,1,0,0," + "0," * 9 + "0,0,,"


async def test_run_now_and_paused_schedules(pool, account, settings, sandbox):
    rcpt = _recipient()
    sid = await _schedule(pool, account, rcpt, report="REJECTIONS")
    async with pool.acquire() as con:
        await schedules_store.set_paused(con, account.account_id, sid, True, datetime.now(UTC))
    await Scheduler(settings, pool).tick()
    assert _mine(sandbox, rcpt) == []  # paused: the missed slot is not sent
    async with pool.acquire() as con:
        await schedules_store.run_now(con, account.account_id, sid)
    await Scheduler(settings, pool).tick()
    [mail] = _mine(sandbox, rcpt)
    assert "(run now)" in mail.message().get_body(("plain",)).get_content()
    assert mail.attachments()[0][1].decode("utf-8-sig").splitlines() == ["Source,DispositionCode,Rejected"]
