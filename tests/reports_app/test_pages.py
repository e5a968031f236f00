"""The pages through Streamlit's AppTest against the real database (and the real validation service
for the picklist mapper)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


async def test_sign_in_refuses_a_wrong_password(pool, account, settings, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.reports_app.pages_support import APP

    app_env(monkeypatch, settings)
    email = await _user(pool, account, "viewer")
    at = AppTest.from_file(APP, default_timeout=30)
    await run(at)
    at.text_input(key="signin_email").input(email)
    at.text_input(key="signin_password").input("wrong password")
    button(at, "Sign in").click()
    await run(at)
    assert [e.value for e in at.error] == ["Wrong email or password."]
    assert "user" not in at.session_state


async def test_every_page_shows_only_the_accounts_own_data(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    await _leads(pool, account.account_id)
    other = await new_account(pool, "other")
    await _leads(pool, other.account_id)
    at = await signed_in(await _user(pool, account, "viewer"), PASSWORD)
    assert [m.value for m in at.metric][:5] == ["3", "2", "1", "1", "0"]  # today: received ... post-failed
    await open_page(at, "Source Report")
    table = at.dataframe[0].value
    assert table[
        ["Source", "Received", "Accepted", "Rejected", "REJECT_LEAD_INVALID_LIST_VALUE", "Posted"]
    ].values.tolist() == [["Events", 2, 1, 1, 1, 1], ["Web", 1, 1, 0, 0, 0]]
    await open_page(at, "Leads Report")
    assert len(at.dataframe[0].value) == 3
    at.selectbox(key="leads_status").set_value("REJECTED")
    await run(at)
    leads = at.dataframe[0].value
    assert leads["Status"].tolist() == ["REJECTED"] and leads["Source"].tolist() == ["Events"]
    button(at, "Prepare file").click()
    await run(at)
    assert not at.exception
    await open_page(at, "Rejections")
    assert at.dataframe[1].value[["column", "value", "leads"]].values.tolist() == [["country", "Deutschland", 1]]
    assert not [b for b in at.button if b.label == "Add to mapper"]  # viewers cannot
    for page in ("Post-outs", "Lifecycle", "Schedules"):
        await open_page(at, page)
    assert not [b for b in at.button if b.label == "Save schedule"]


async def test_admin_creates_a_schedule(pool, account, settings, monkeypatch):
    app_env(monkeypatch, settings)
    at = await open_page(await signed_in(await _user(pool, account, "admin"), PASSWORD), "Schedules")
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
    assert at.dataframe[0].value["cadence"].tolist() == ["weekly on Friday at 09:15 (America/New_York)"]


async def test_admin_adds_an_offending_value_to_the_picklist_mapper(pool, account, settings, servers, api, monkeypatch):
    app_env(monkeypatch, settings, servers.validation_target)
    ev, _ = await _leads(pool, account.account_id)
    picklist = validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany", "France"]))
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=str(ev), rules=[picklist])
    )
    at = await open_page(await signed_in(await _user(pool, account, "admin"), PASSWORD), "Rejections")
    at.selectbox(key="rej_map_target").set_value("Germany")
    button(at, "Add to mapper").click()
    await run(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    current = await api.validation.GetAcceptanceCriteria(validation_pb2.GetAcceptanceCriteriaRequest(source_id=str(ev)))
    assert dict(current.rules[0].picklist.mapper) == {"Deutschland": "Germany"}
    assert list(current.rules[0].picklist.allowed) == ["Germany", "France"]
