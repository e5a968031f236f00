"""What a search box's text is taken for, and the search against real PostgreSQL through migration
0022's indexes: exact keys however they are typed, words inside names and companies, nothing else."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from leadrelay.capture import lead_search, leads_store
from leadrelay.capture.lead_search import LeadSearch, parse
from tests.harness import new_account


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
                    """INSERT INTO leads (lead_id, account_id, source_id, platform_lead_id, fields, status)
                       VALUES ($1, $2, $3, $4, $5, 'REJECTED')""",
                    lead_id,
                    acct.account_id,
                    source,
                    plid,
                    fields,
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
