"""The re-upload's preview (dry run) and its spreadsheet-damage hold, against real servers: an exported
file's cells damaged with the spreadsheets' own transformations, next to real fixes and refused rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import asyncpg

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api, new_account
from tests.ingest_service.file_support import csv_bytes, export, file_source, final, run
from tests.ingest_service.spreadsheet_saves import (
    apostrophe_taken_as_text_marker,
    date_reformatted,
    read_as_number_excel_column,
    read_as_number_general,
    saved_as_1252_with_low_bytes,
    saved_as_1252_with_question_marks,
    utf8_read_as_1252,
)
from tests.validation_service.post_out_support import Crm
from tests.waiting import eventually

COLUMNS = ["email", "first_name", "phone", "zip", "event_date", "city", "country"]
MAPPING = [
    *(common_pb2.FieldMapping(column=c, form_field=c) for c in COLUMNS),
    common_pb2.FieldMapping(column="notes", unmapped_fields=True),
]
RULES = [validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany"]))]
IMPORTED = [
    COLUMNS,
    ["ana@example.com", "Ana", "", "", "", "", "Germany"],  # ACCEPTED on import
    ["lodz@example.com", "Łódź", "", "", "", "", "Narnia"],
    ["ivan@example.com", "Иван", "", "", "", "", "Narnia"],
    ["zoe@example.com", "Zoë", "", "", "", "", "Narnia"],
    ["zip@example.com", "Zed", "", "01234", "", "", "Narnia"],
    ["card@example.com", "Cara", "9765120000000123", "", "", "", "Narnia"],
    ["date@example.com", "Dan", "", "", "2026-03-01", "", "Narnia"],
    ["city@example.com", "Cis", "", "", "", "'s-Hertogenbosch", "Narnia"],
    ["bo-at-example.com", "Bo", "", "", "", "", "Narnia"],  # a real fix of email and country
    ["same@example.com", "Sam", "", "", "", "", "Narnia"],  # sent unchanged
    ["twice@example.com", "Tia", "", "", "", "", "Narnia"],  # its LeadID on two rows
]
# email -> (column, the spreadsheet's transformation, the damage it is)
DAMAGED = {
    "lodz@example.com": ("first_name", saved_as_1252_with_low_bytes, "low_bytes"),
    "ivan@example.com": ("first_name", saved_as_1252_with_question_marks, "question_marks"),
    "zoe@example.com": ("first_name", utf8_read_as_1252, "mojibake"),
    "zip@example.com": ("zip", read_as_number_general, "leading_zeros"),
    "card@example.com": ("phone", read_as_number_excel_column, "long_number"),
    "date@example.com": ("event_date", date_reformatted, "date"),
    "city@example.com": ("city", apostrophe_taken_as_text_marker, "apostrophe"),
}
UNKNOWN = "0190f5d2-0000-7000-8000-000000000000"


@dataclass
class Setup:
    source_id: str
    crm: Crm
    header: list[str]
    # email -> the exported row
    exported: dict[str, list[str]]
    # email -> its row number in the re-uploaded file
    file_row: dict[str, int]
    data: bytes
    theirs: str


async def _setup(api: Api, pool: asyncpg.Pool, servers, sandbox) -> Setup:  # type: ignore[no-untyped-def]
    source_id = await file_source(api, rules=RULES, mapping=MAPPING)
    crm = Crm(sandbox.url)
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source_id,
            name="CRM",
            url=crm.url,
            body=[
                common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
                common_pb2.FieldMapping(column="Email", lead_column="email"),
            ],
        )
    )
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(IMPORTED)))
    assert (done.rows_accepted, done.rows_rejected) == (1, 10)
    rows = list(csv.reader(io.StringIO((await export(api, source_id=source_id)).decode("utf-8-sig"))))
    header = rows[0]
    exported = {r[header.index("email")]: r for r in rows[1:]}

    other = await new_account(pool)
    other_api = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        their_source = await file_source(other_api, rules=RULES, mapping=MAPPING)
        final(
            await run(other_api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=their_source), csv_bytes(IMPORTED))
        )
        theirs = list(csv.reader(io.StringIO((await export(other_api, source_id=their_source)).decode("utf-8-sig"))))
    finally:
        await other_api.close()

    def fixed(email: str) -> list[str]:
        row = list(exported[email])
        if email in DAMAGED:
            column, save, _ = DAMAGED[email]
            i = header.index(column)
            row[i] = save(row[i])
        if email != "same@example.com":
            row[header.index("country")] = "Germany"
        if email == "bo-at-example.com":
            row[header.index("email")] = "bo@example.com"
        return row

    width = len(header)
    file_rows = [header]
    file_row: dict[str, int] = {}
    for email in [r[0] for r in IMPORTED[1:]]:
        file_row[email] = len(file_rows) + 1
        file_rows.append(fixed(email))
    file_rows += [
        fixed("twice@example.com"),  # the second occurrence
        [UNKNOWN] + [""] * (width - 1),
        ["not-a-uuid"] + [""] * (width - 1),
        [theirs[1][0], *theirs[1][1:]],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(file_rows)
    return Setup(source_id, crm, header, exported, file_row, b"\xef\xbb\xbf" + buffer.getvalue().encode(), theirs[1][0])


def _changes(messages: list[ingest_pb2.ImportProgress]) -> dict[int, tuple]:
    """row -> (lead_id, held, [(column, old, new, damage)]) over the whole stream."""
    out = {}
    for m in messages:
        for r in m.changed_rows:
            assert r.row not in out
            out[r.row] = (r.lead_id, r.held, [(c.column, c.old_value, c.new_value, c.damage) for c in r.changes])
    return out


async def _lead(api: Api, lead_id: str) -> common_pb2.Lead:
    return await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))


async def test_dry_run_shows_changes_refusals_and_damage_and_changes_nothing(
    api: Api, pool: asyncpg.Pool, servers, sandbox
) -> None:  # type: ignore[no-untyped-def]
    s = await _setup(api, pool, servers, sandbox)
    messages = await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(dry_run=True), s.data)
    done, failed = final(messages)
    assert done.dry_run and done.import_id == ""
    assert (done.rows_read, done.rows_updated, done.rows_held, done.rows_skipped, done.rows_errored) == (15, 2, 7, 1, 5)
    assert (done.rows_accepted, done.rows_rejected) == (0, 0)
    assert (
        done.message == "15 rows read, 2 to update, 7 held (spreadsheet damage), 1 skipped (already accepted), 5 errors"
    )

    changes = _changes(messages)
    lead = {email: row[0] for email, row in s.exported.items()}
    expected = {}
    for email, (column, save, kind) in DAMAGED.items():
        stored = s.exported[email][s.header.index(column)]
        cells = [(column, stored, save(stored), kind), ("country", "Narnia", "Germany", "")]
        expected[s.file_row[email]] = (lead[email], True, sorted(cells, key=lambda c: COLUMNS.index(c[0])))
    expected[s.file_row["bo-at-example.com"]] = (
        lead["bo-at-example.com"],
        False,
        [("email", "bo-at-example.com", "bo@example.com", ""), ("country", "Narnia", "Germany", "")],
    )
    assert changes == expected
    lodz = changes[s.file_row["lodz@example.com"]][2][0]
    assert lodz == ("first_name", "Łódź", "Aódz", "low_bytes")

    twice = lead["twice@example.com"]
    reasons = {(f[0], f[2]): f[4] for f in failed}
    held = "fix the cell, or re-upload with accept_damage to apply it as it is"
    assert reasons == {
        (s.file_row["ana@example.com"], "LeadID"): (
            f"lead {lead['ana@example.com']} is ACCEPTED: a re-upload never changes an accepted lead"
        ),
        **{
            (s.file_row[email], column): f"held: {reason}; {held}"
            for email, (column, _, kind) in DAMAGED.items()
            for reason in [_description(kind)]
        },
        (s.file_row["twice@example.com"], "LeadID"): (
            f"LeadID {twice} appears more than once in the file (also row 13); the lead is left unchanged"
        ),
        (13, "LeadID"): (
            f"LeadID {twice} appears more than once in the file (also row {s.file_row['twice@example.com']}); "
            "the lead is left unchanged"
        ),
        (14, "LeadID"): f"lead {UNKNOWN} not found",
        (15, "LeadID"): "'not-a-uuid' is not a LeadID",
        (16, "LeadID"): f"lead {s.theirs} belongs to another account",
    }

    # Nothing changed: no lead, no event, no import recorded, nothing posted but Ana.
    for email, row in s.exported.items():
        got = await _lead(api, row[0])
        assert "reuploaded" not in [e.type for e in got.events]
        assert got.fields["country"] == ("Germany" if email == "ana@example.com" else "Narnia")
    imports = (await api.ingest.ListImports(ingest_pb2.ListImportsRequest())).imports
    assert [i.kind for i in imports] == ["import"]
    await eventually(lambda: _received_once(s.crm, [lead["ana@example.com"]]), what="Ana posted once")


def _description(kind: str) -> str:
    from ingest_service.files.damage import DESCRIPTIONS

    return DESCRIPTIONS[kind]


async def _received_once(crm: Crm, lead_ids: list[str]) -> bool:
    per_lead = (await crm.stats())["per_lead"]
    return {k: v["created"] for k, v in per_lead.items()} == dict.fromkeys(lead_ids, 1)


async def test_apply_holds_damaged_rows_applies_the_rest_and_accepting_damage_applies_them(
    api: Api, pool: asyncpg.Pool, servers, sandbox
) -> None:  # type: ignore[no-untyped-def]
    s = await _setup(api, pool, servers, sandbox)
    lead = {email: row[0] for email, row in s.exported.items()}

    messages = await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(file_name="fixed.csv"), s.data)
    done, failed = final(messages)
    assert (done.rows_updated, done.rows_held, done.rows_accepted, done.rows_rejected) == (2, 7, 1, 1)
    changes = _changes(messages)
    # Applied rows name their changed columns only; held rows carry the damaged cell's values.
    assert changes[s.file_row["bo-at-example.com"]] == (
        lead["bo-at-example.com"],
        False,
        [("email", "", "", ""), ("country", "", "", "")],
    )
    assert changes[s.file_row["zip@example.com"]] == (
        lead["zip@example.com"],
        True,
        [("zip", "01234", "1234", "leading_zeros"), ("country", "", "", "")],
    )
    assert (s.file_row["same@example.com"], lead["same@example.com"], "", "REJECT_LEAD_INVALID_LIST_VALUE") in [
        f[:4] for f in failed
    ]

    bo = await _lead(api, lead["bo-at-example.com"])
    assert (bo.status, bo.fields["email"]) == (common_pb2.LEAD_STATUS_ACCEPTED, "bo@example.com")
    [event] = [e for e in bo.events if e.type == "reuploaded"]
    assert event.detail == f"re-upload {done.import_id}: changed email, country"
    for email in DAMAGED:
        held = await _lead(api, lead[email])
        assert held.status == common_pb2.LEAD_STATUS_REJECTED
        assert held.fields["country"] == "Narnia"
        assert "reuploaded" not in [e.type for e in held.events]
    await eventually(
        lambda: _received_once(s.crm, [lead["ana@example.com"], lead["bo-at-example.com"]]),
        what="Ana and Bo posted once each",
    )

    # The same file, damage accepted: the held rows apply as they are; Bo is ACCEPTED now and skipped.
    messages = await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(accept_damage=True), s.data)
    done, _ = final(messages)
    assert (done.rows_updated, done.rows_held, done.rows_accepted, done.rows_skipped) == (8, 0, 7, 2)
    assert not any(r.held for m in messages for r in m.changed_rows)
    for email, (column, save, _) in DAMAGED.items():
        applied = await _lead(api, lead[email])
        stored = s.exported[email][s.header.index(column)]
        assert (applied.status, applied.fields[column]) == (common_pb2.LEAD_STATUS_ACCEPTED, save(stored))
        [event] = [e for e in applied.events if e.type == "reuploaded"]
        assert event.detail == (
            f"re-upload {done.import_id}: changed {column}, country; spreadsheet damage accepted in {column}"
        )
    posted = [lead["ana@example.com"], lead["bo-at-example.com"], *(lead[e] for e in DAMAGED)]
    await eventually(lambda: _received_once(s.crm, posted), what="every accepted lead posted once")

    async def all_posted() -> bool:
        async with pool.acquire() as con:
            statuses = await con.fetch(
                "SELECT status, count(*) FROM post_outs WHERE source_id = $1::uuid GROUP BY status", s.source_id
            )
        return dict(statuses) == {"POSTED": len(posted)}

    await eventually(all_posted, what="every delivery POSTED")
    assert await _received_once(s.crm, posted)
