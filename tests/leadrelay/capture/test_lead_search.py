"""What a search box's text is taken for, what a stored lead is found by (the same normalisation,
leadrelay.capture.lead_search, agreeing with migration 0022's SQL functions it replaced), and the
search against real PostgreSQL through migration 0034's columns and indexes: exact keys however they
are typed, words inside names and companies, nothing else, after every path that writes a lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from leadrelay.capture import erasure_store, lead_search, leads_store
from leadrelay.capture.lead_search import LeadSearch, fields_of, parse, search_keys, search_words
from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import new_account
from tests.ingest_service.capture_support import lead, new_source


def test_a_uuid_is_a_lead_id() -> None:
    lead = uuid4()
    assert parse(f"  {lead} ") == LeadSearch(str(lead), lead_id=lead)
    assert parse(str(lead)).kind == "LeadID"


def test_an_email_is_exact_and_lower_cased() -> None:
    found = parse("Ana.Lopez@Example.COM")
    assert (found.keys, found.words, found.kind) == (("ana.lopez@example.com",), "", "email")


def test_a_phone_is_its_digits_as_well_as_typed() -> None:
    assert parse("+1 (415) 555-0100").keys == ("+1 (415) 555-0100", "14155550100")
    assert parse("+1 (415) 555-0100").words == ""


def test_other_text_is_an_exact_platform_id_or_words_inside_names() -> None:
    found = parse("Acme  O'Brien x")
    assert found.keys == ("acme o'brien x",)
    assert found.words == "'acme':* & 'brien':*"  # "o" and "x" are too short for the index
    assert parse("ab").words == "" and parse("ab").keys == ("ab",)


def test_an_empty_search_finds_nothing_and_a_long_one_is_refused() -> None:
    assert parse("   ").empty
    with pytest.raises(lead_search.SearchTooLong, match="at most 200 characters"):
        parse("x" * 201)


async def test_finds_leads_by_exact_keys_and_words_inside_names(pool) -> None:  # type: ignore[no-untyped-def]
    account = await new_account(pool)
    other = await new_account(pool)
    people = {
        "ana": (
            {"Email": "Ana@Example.com", "first_name": "Ana", "Company": "Acme Robotics", "mobile": "+49 30 1234567"},
            "fb:1",
        ),
        "bo": ({"email": "bo@example.com", "full_name": "Bo Lindqvist", "organisation": "Borealis"}, "li:2"),
        "odd": ({"email": "x@y.z", "name": "x" * 300, "notes": "Acme " * 1000}, "3"),
        "list": (["not", "an", "object"], "4"),
    }
    ids: dict[str, UUID] = {}
    async with pool.acquire() as con:
        for acct in (account, other):
            source = await con.fetchval(
                "INSERT INTO sources (account_id, name, platform) VALUES ($1, 'S', 'CSV') RETURNING source_id",
                acct.account_id,
            )
            for key, (fields, plid) in people.items():
                lead_id = uuid4()
                await con.execute(
                    # REJECTED, not PROCESSING: the session's sweeper must never pick these up (one
                    # has fields no judging takes).
                    """INSERT INTO leads (lead_id, account_id, source_id, platform_lead_id, fields, status,
                                          search_keys, search_words)
                       VALUES ($1, $2, $3, $4, $5, 'REJECTED', $6, $7)""",
                    lead_id,
                    acct.account_id,
                    source,
                    plid,
                    fields,
                    search_keys(fields, plid),
                    search_words(fields),
                )
                if acct is account:
                    ids[key] = lead_id

        async def found(text: str) -> set[str]:
            f = leads_store.LeadFilter(search=parse(text))
            rows = await leads_store.list_leads(con, account.account_id, f, after=None, limit=50)
            return {k for k, v in ids.items() if v in {r["lead_id"] for r in rows}}

        assert await found("ANA@example.com") == {"ana"}
        assert await found("030 1234567") == set()  # the digits must be the stored number's
        assert await found("49 30 123 4567") == {"ana"}
        assert await found("FB:1") == {"ana"}
        assert await found(str(ids["bo"])) == {"bo"}
        assert await found("cme") == {"ana"}  # inside "Acme"; the notes are no name or company
        assert await found("lindq bor") == {"bo"}
        assert await found("robot borealis") == set()  # every word must be found in the one lead
        assert await found("nobody") == set()
        assert await found("4") == {"list"}  # fields that are not an object: the platform id only


# Leads whose keys and words 0022's SQL computed: odd column names, values that are not strings,
# fields that are not an object, long words and values, phones with punctuation.
TRICKY = [
    (
        {
            "Email": "  Ana.Lopez@Example.COM ",
            "Work E-Mail": "no at sign",
            "email_2": "x@" + "a" * 330,
            "phone_or_email": "Me@X.io",
            "email_phone": "415 555 0100",
            "Mobile Phone": "+49 (30) 123-4567",
            "phone": "12345",
            "fax": "+1 555 000 1111",
            "mobile": 4155550199,
            "phone2": True,
            "First Name": "Ana-María",
            "Company": "Acme_Robotics GmbH & Co. KG",
            "organization": "O'Brien",
            "Organisation": "x" * 41 + " " + "y" * 40,
            "full_name": "ab " + "a" * 250,
            "nickname": 12345,
            "name_parts": ["Ana", "Lopez"],
            "company_info": {"name": "Zed"},
            "notes": "Acme Corp ana@example.com",
        },
        "FB:Lead-1",
    ),
    ({"name": "Bo", "last_name": "Lindqvist-Sørensen 3rd", "phone": "+1" + "0" * 70 + "55"}, "li:2"),
    ({"name": "Chloé Łukasiewicz", "company": "Müller Straße", "email": "ÅSA@exämple.se"}, "Ünï-3"),
    (["not", "an", "object"], "4"),
    ("a string", "5"),
    (7, "6"),
    ({}, "7"),
]


async def test_the_python_keys_and_words_agree_with_migration_0022s_sql(pool) -> None:  # type: ignore[no-untyped-def]
    sql = (Path(lead_search.__file__).parents[1] / "migrations" / "0022_lead_search.sql").read_text()
    functions = sql[sql.index("CREATE FUNCTION") : sql.index("CREATE INDEX")]
    async with pool.acquire() as con:
        # 0034 dropped them: made again for this transaction only.
        tr = con.transaction()
        await tr.start()
        try:
            await con.execute(functions)
            # Unicode letters are letters and have a lower case only under a Unicode locale;
            # LeadRelay's databases have one (lead_search uses Python's Unicode rules everywhere).
            unicode = await con.fetchval("SELECT lower('ÅÉ') = 'åé' AND 'é' ~ '^[[:alnum:]]$'")
            for fields, plid in TRICKY:
                if not unicode and not json.dumps(fields).isascii():
                    continue
                text = json.dumps(fields, ensure_ascii=False)
                keys, words = await con.fetchrow(
                    """SELECT lead_search_keys($1::text::jsonb, $2),
                              tsvector_to_array(lead_search_words($1::text::jsonb))""",
                    text,
                    plid,
                )
                parsed = fields_of(text)
                assert (set(search_keys(parsed, plid)), search_words(parsed)) == (set(keys), sorted(set(words)))
                assert search_keys(parsed, plid)[0] == plid.lower()  # first: leads_store keeps it
        finally:
            await tr.rollback()
    first = search_keys(fields_of(json.dumps(TRICKY[0][0])), "FB:Lead-1")
    assert first[0] == "fb:lead-1"
    assert set(first) == {"fb:lead-1", "ana.lopez@example.com", "me@x.io", "4155550100", "49301234567", "4155550199"}
    assert search_words({"name": None, "company": "Acme"}) == ["acme", "cme"]  # 0022 failed on a null


def _new(source_id: UUID, plid: str, fields: dict[str, object]) -> leads_store.NewLeads:
    return leads_store.NewLeads(
        [uuid4()], [source_id], [None], [plid], ["[]"], [json.dumps(fields)], ["{}"], [False], [None]
    )


async def test_every_write_of_a_lead_keeps_it_found_by_what_it_holds_now(pool) -> None:  # type: ignore[no-untyped-def]
    account = await new_account(pool)
    async with pool.acquire() as con:
        source = await con.fetchval(
            """INSERT INTO sources (account_id, name, platform, external_account_id)
               VALUES ($1, 'Page', 'FACEBOOK', 'page-1') RETURNING source_id""",
            account.account_id,
        )

        async def found(text: str) -> set[str]:
            f = leads_store.LeadFilter(search=parse(text))
            rows = await leads_store.list_leads(con, account.account_id, f, after=None, limit=50)
            return {r["platform_lead_id"] for r in rows}

        # Intake, then a resubmission with other answers.
        new = _new(source, "fb-1", {"email": "Ann@Example.com", "full_name": "Ann Oakley", "phone": "030 1234567"})
        (ann,) = await leads_store.insert_received(con, account.account_id, new, "SubmitLead")
        assert (await found("ann@example.com"), await found("oakl"), await found("030 123 4567")) == ({"fb-1"},) * 3
        new.lead_ids[0] = ann
        new.fields[0] = json.dumps({"email": "ann@work.example", "full_name": "Ann Quill"})
        assert await leads_store.apply_resubmissions(con, account.account_id, new, "SubmitLead") == {ann}
        assert (await found("ann@example.com"), await found("oakl"), await found("030 123 4567")) == (set(),) * 3
        assert (await found("ANN@work.example"), await found("quil"), await found("FB-1")) == ({"fb-1"},) * 3

        # Judged: the fields as the judgement wrote them.
        await leads_store.record_judgements(
            con,
            [ann],
            ["REJECTED"],
            ["X"],
            [""],
            [json.dumps({"email": "ann@work.example", "full_name": "Ann Quill", "phone": "+49 30 7654321"})],
            [1],
            [account.account_id],
            "validated",
            [""],
        )
        assert (await found("+49 30 765 4321"), await found("quill ann"), await found("fb-1")) == ({"fb-1"},) * 3

        # Imported by COPY, then again with one id already stored (the staging table's path).
        now = datetime.now(UTC)

        def judged(plid: str, fields: dict[str, object]) -> leads_store.JudgedLead:
            return leads_store.JudgedLead(uuid4(), source, plid, "[]", json.dumps(fields), "REJECTED", "X", "", 1)

        await leads_store.insert_judged(
            con, account.account_id, now, [judged("imp-1", {"Company": "Zephyr Labs", "mobile": "555-0100-99"})], [""]
        )
        assert (await found("zephyr"), await found("555 0100 99"), await found("IMP-1")) == ({"imp-1"},) * 3
        async with con.transaction():  # the caller's, as an import's chunk: the staging table lives in it
            stored = await leads_store.insert_judged(
                con,
                account.account_id,
                now,
                [judged("imp-1", {"Company": "Other"}), judged("imp-2", {"company": "Borealis AB", "email": "b@c.de"})],
                ["", ""],
            )
        assert len(stored) == 1
        assert (await found("zephyr"), await found("other"), await found("reali"), await found("b@c.de")) == (
            {"imp-1"},
            set(),
            {"imp-2"},
            {"imp-2"},
        )

        # Re-uploaded fields.
        imp2 = (await con.fetchval("SELECT lead_id FROM leads WHERE platform_lead_id = 'imp-2'"),)
        await leads_store.replace_fields(con, list(imp2), [json.dumps({"company": "Nimbus", "email": "n@c.de"})])
        assert (await found("reali"), await found("b@c.de"), await found("nimb"), await found("n@c.de")) == (
            set(),
            set(),
            {"imp-2"},
            {"imp-2"},
        )

        # Erased: found by its platform lead id only (kept), never by what it held.
        assert await erasure_store.erase_platform_lead(con, "FACEBOOK", "page-1", "fb-1", "member asked") == [ann]
        assert (await found("ann@work.example"), await found("quill"), await found("+49 30 7654321")) == (set(),) * 3
        assert await found("fb-1") == {"fb-1"}


async def test_list_leads_finds_a_submitted_and_judged_lead(api) -> None:  # type: ignore[no-untyped-def]
    mapping = [
        common_pb2.FieldMapping(column="email", form_field="email"),
        common_pb2.FieldMapping(column="phone", form_field="phone_number"),
        common_pb2.FieldMapping(column="company", form_field="company_name"),
        common_pb2.FieldMapping(column="notes", unmapped_fields=True),
    ]
    source = await new_source(api, mapping=mapping)
    outcome = await api.ingest.SubmitLead(
        lead(source.source_id, "p-1", email="Eve@Example.com", phone_number="+1 (415) 555-0123", company_name="Acme")
    )

    async def found(text: str) -> list[str]:
        listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source.source_id, query=text))
        return [x.lead_id for x in listed.leads]

    for text in ("eve@example.COM", "1 415 555 0123", "cme", "P-1", outcome.lead_id):
        assert await found(text) == [outcome.lead_id], text
    assert await found("eve@example.org") == []
