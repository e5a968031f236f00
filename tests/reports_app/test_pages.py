"""The pages through Streamlit's AppTest against the real database (and the real validation service
for the picklist mapper)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadrelay import accounts
from leadrelay.v1 import validation_pb2
from reports_app import users
from tests.harness import new_account
from tests.reports_app import seed
from tests.reports_app.pages_support import app_env, button, open_page, run, signed_in

PASSWORD = "correct horse battery"


async def _user(pool, account, role):
    email = f"{role}-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, role)
    return email


async def _leads(pool, account_id):
    now = datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as con:
        ev = await seed.source(con, account_id, "Events")
        web = await seed.source(con, account_id, "Web", "FACEBOOK")
        await seed.lead(con, account_id, ev, now, post_out="POSTED")
        await seed.lead(
            con,
            account_id,
            ev,
            now - timedelta(minutes=1),
            status="REJECTED",
            code="REJECT_LEAD_INVALID_LIST_VALUE",
            reason='country: "Deutschland" is not on the picklist',
        )
        await seed.lead(con, account_id, web, now - timedelta(minutes=2))
    return ev, web


async def test_every_page_shows_only_the_accounts_own_data(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    await _leads(pool, account.account_id)
    other = await new_account(pool, "other")
    await _leads(pool, other.account_id)
    at = await signed_in(pool, await _user(pool, account, "viewer"))
    # Today: received, accepted, rejected, being checked; sent, waiting, not sent, failed (they add up).
    assert [m.value for m in at.metric][:8] == ["3", "2", "1", "0", "1", "0", "1", "0"]
    await open_page(at, "Sources")
    table = at.dataframe[0].value
    assert table[
        ["Source", "Received", "Accepted", "Acceptance", "Rejected", "Not on the picklist", "Sent to the CRM"]
    ].values.tolist() == [
        ["Events", 2, 1, 50.0, 1, 1, 1],
        ["Web", 1, 1, 100.0, 0, 0, 0],
        ["Total", 3, 2, 66.7, 1, 1, 1],
    ]
    await open_page(at, "Leads")
    assert len(at.dataframe[0].value) == 3
    at.selectbox(key="leads_status").set_value("REJECTED")
    await run(at)
    leads = at.dataframe[0].value
    assert leads["Status"].tolist() == ["Rejected"] and leads["Source"].tolist() == ["Events"]
    assert leads["Disposition"].tolist() == ["Not on the picklist"]
    # Viewers see personal data masked, and lead files (personal data) are for admins.
    assert not [b for b in at.button if b.label == "Prepare file"]
    await open_page(at, "Rejections")
    assert at.dataframe[1].value[["Column", "Value", "Leads"]].values.tolist() == [["country", "Deutschland", 1]]
    assert not [b for b in at.button if b.label == "Add to mapper"]  # viewers cannot
    for page in ("Post-outs", "Lifecycle", "Schedules"):
        await open_page(at, page)
    assert not [b for b in at.button if b.label == "Save schedule"]


async def test_admin_creates_a_schedule(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    at = await open_page(await signed_in(pool, await _user(pool, account, "admin")), "Schedules")
    at.text_input(key="sch_name_new").input("Weekly rejections")
    at.selectbox(key="sch_report_new").set_value("REJECTIONS")
    at.selectbox(key="sch_format_new").set_value("XLSX")
    at.selectbox(key="sch_cadence_new").set_value("WEEKLY")
    at.text_input(key="sch_at_new").input("09:15")
    at.selectbox(key="sch_weekday_new").set_value(4)
    at.text_input(key="sch_tz_new").input("America/New_York")
    at.text_area(key="sch_recipients_new").input("a@example.com; b@example.com")
    button(at, "Save schedule").click()
    await run(at)
    assert not at.exception
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT * FROM report_schedules WHERE account_id = $1", account.account_id)
    assert (
        row["name"],
        row["report"],
        row["format"],
        row["cadence"],
        row["cron"],
        row["timezone"],
        row["recipients"],
        row["filters"],
    ) == (
        "Weekly rejections",
        "REJECTIONS",
        "XLSX",
        "WEEKLY",
        "15 9 * * 5",
        "America/New_York",
        ["a@example.com", "b@example.com"],
        {"days": 7},
    )
    assert at.dataframe[0].value["Cadence"].tolist() == ["weekly on Friday at 09:15 (America/New_York)"]
    # The confirmation stays after the rerun that shows the new schedule.
    assert [m.value for m in at.success] == [
        "Saved “Weekly rejections”\\: weekly on Friday at 09\\:15 \\(America/New\\_York\\)\\."
    ]

    # Deleting asks first; keeping it changes nothing.
    at.selectbox(key="sch_choice").set_value(str(row["schedule_id"]))
    await run(at)
    button(at, "Delete…").click()
    await run(at)
    assert at.warning[0].value.startswith("Delete “Weekly rejections” and its delivery history?")
    button(at, "Keep it").click()
    await run(at)
    async with pool.acquire() as con:
        assert (
            await con.fetchval("SELECT count(*) FROM report_schedules WHERE account_id = $1", account.account_id) == 1
        )
    button(at, "Delete…").click()
    await run(at)
    button(at, "Yes, delete it").click()
    await run(at)
    async with pool.acquire() as con:
        assert (
            await con.fetchval("SELECT count(*) FROM report_schedules WHERE account_id = $1", account.account_id) == 0
        )
    assert [m.value for m in at.success] == ["Deleted “Weekly rejections”\\."]


async def test_admin_adds_an_offending_value_to_the_picklist_mapper(pool, account, settings, servers, api, monkeypatch):
    app_env(monkeypatch, settings, servers.validation_target)
    ev, _ = await _leads(pool, account.account_id)
    picklist = validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany", "France"]))
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=str(ev), rules=[picklist])
    )
    async with pool.acquire() as con:  # the rejected lead holds the value its reason names
        rejected = await con.fetchval(
            """UPDATE leads SET fields = fields || '{"country": "Deutschland"}'
               WHERE source_id = $1 AND status = 'REJECTED' RETURNING lead_id""",
            ev,
        )
    at = await open_page(await signed_in(pool, await _user(pool, account, "admin")), "Rejections")
    assert button(at, "Add to mapper").disabled  # no target is preselected
    at.selectbox(key="rej_map_target").set_value("Germany")
    await run(at)
    button(at, "Add to mapper").click()
    await run(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    current = await api.validation.GetAcceptanceCriteria(validation_pb2.GetAcceptanceCriteriaRequest(source_id=str(ev)))
    assert dict(current.rules[0].picklist.mapper) == {"Deutschland": "Germany"}
    assert list(current.rules[0].picklist.allowed) == ["Germany", "France"]
    assert [s.value for s in at.success] == [
        "“Deutschland” now maps to “Germany” in country \\(criteria version 2\\)\\. "
        "Re\\-judged 1 lead\\: 1 accepted \\(sent on to the CRM\\), 0 still rejected\\.",
        "No lead was rejected in these days. Widen the received days to look further back.",
    ]
    async with pool.acquire() as con:  # re-judged with the mapping (the box is ticked by default)
        assert await con.fetchval("SELECT status FROM leads WHERE lead_id = $1", rejected) == "ACCEPTED"


async def test_viewers_see_personal_data_masked_unless_the_account_allows_it(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    now = datetime.now(UTC)
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events", columns=("email", "phone", "first_name", "country"))
        lead_id = await seed.lead(
            con,
            account.account_id,
            src,
            now,
            status="REJECTED",
            code="REJECT_LEAD_INVALID_EMAIL",
            reason='email: "jane.doe@bad" is not valid',
            fields={"email": "jane.doe@bad", "phone": "+49 30 1234567", "first_name": "Jane", "country": "Germany"},
        )
    viewer = await _user(pool, account, "viewer")

    async def lead_page():
        at = await signed_in(pool, viewer)
        at.query_params["lead"] = str(lead_id)
        await open_page(at, "Leads")
        shown = at.dataframe[0].value
        fields = dict(at.dataframe[2].value[["Column", "Value"]].values.tolist())
        answers = at.dataframe[3].value["Answer"].tolist()
        return shown["Reason"].tolist(), fields, answers

    reasons, fields, answers = await lead_page()
    assert reasons == ['email: "•••" is not valid']
    assert fields == {"email": "j•••@bad", "phone": "•••67", "first_name": "J•••", "country": "Germany"}
    assert answers == ["•••"] * 4
    async with pool.acquire() as con:
        await con.execute(
            "UPDATE accounts SET viewers_see_personal_data = true WHERE account_id = $1", account.account_id
        )
    reasons, fields, answers = await lead_page()
    assert reasons == ['email: "jane.doe@bad" is not valid']
    assert fields["email"] == "jane.doe@bad" and "Jane" in answers


async def test_times_show_in_the_accounts_time_zone(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events")
        await seed.lead(con, account.account_id, src, today)
        await accounts.set_console_settings(con, account.account_id, time_zone="Europe/Berlin")
    at = await open_page(await signed_in(pool, await _user(pool, account, "viewer")), "Leads")
    offset = today.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")  # 13:00 in winter, 14:00 in summer
    assert at.dataframe[0].value["Received"].tolist() == [f"{today:%Y-%m-%d} {offset}"]
    assert "times in Europe/Berlin" in at.caption[0].value


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        accounts.check_time_zone("Mars/Olympus")
