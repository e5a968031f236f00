"""ImportLeads end to end: real servers, real PostgreSQL, files streamed over gRPC."""

from __future__ import annotations

import codecs

import grpc

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import Api, rpc_error
from tests.ingest_service.file_support import csv_bytes, file_source, final, run, xlsx_bytes

HEADER = ["E-mail", "First Name", "Country", "Phone Number"]
ROWS = [
    HEADER,
    ["ana@example.com", "Ana", "Germany", "+49 30 1234567"],
    ["not-an-email", "Bo", "Germany", ""],
    ["cy@example.com", "Cy", "Narnia", ""],
    ["", "Di", "United States", ""],
    ["ed@example.com", "Éd", "united states", "=cmd"],
]


async def _leads(api: Api, source_id: str) -> dict[str, ingest_pb2.Lead]:
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source_id, page_size=100))
    return {lead.platform_lead_id.rsplit(":", 1)[1]: lead for lead in listed.leads}


async def test_import_stores_every_row_and_reports_the_failed_ones(api: Api) -> None:
    source_id = await file_source(api)
    spec = ingest_pb2.ImportSpec(source_id=source_id, file_name="fair.csv")
    messages = await run(api.ingest.ImportLeads, spec, csv_bytes(ROWS))
    done, failed = final(messages)
    assert (done.rows_read, done.rows_accepted, done.rows_rejected, done.rows_errored) == (5, 2, 3, 0)
    assert not done.dry_run and done.import_id
    assert [(f[0], f[3]) for f in failed] == [
        (3, "REJECT_LEAD_INVALID_EMAIL"),
        (4, "REJECT_LEAD_INVALID_LIST_VALUE"),
        (5, "REJECT_LEAD_MISSING_REQUIRED_FIELD"),
    ]
    assert failed[2][4] == "email: is required but empty"
    leads = await _leads(api, source_id)
    assert sorted(leads) == ["2", "3", "4", "5", "6"]
    assert {k: common_pb2.LeadStatus.Name(v.status) for k, v in leads.items()} == {
        "2": "LEAD_STATUS_ACCEPTED",
        "3": "LEAD_STATUS_REJECTED",
        "4": "LEAD_STATUS_REJECTED",
        "5": "LEAD_STATUS_REJECTED",
        "6": "LEAD_STATUS_ACCEPTED",
    }
    # The failed rows name the stored leads.
    assert [f[1] for f in failed] == [leads["3"].lead_id, leads["4"].lead_id, leads["5"].lead_id]
    ana = leads["2"]
    assert dict(ana.fields) == {
        "email": "ana@example.com",
        "phone": "+49 30 1234567",
        "first_name": "Ana",
        "country": "Germany",
        "lead_source": "Trade show",
        "notes": "",
    }
    assert [(a.name, list(a.values)) for a in ana.answers] == [
        ("email", ["ana@example.com"]),
        ("first_name", ["Ana"]),
        ("country", ["Germany"]),
        ("phone", ["+49 30 1234567"]),
    ]
    # A formula-looking cell is data, stored as written.
    assert leads["6"].fields["phone"] == "=cmd"


async def test_an_imported_row_is_stored_as_intake_stores_the_same_answers(api: Api) -> None:
    # The bulk path (COPY + one INSERT) must give the lead SubmitLeads gives for the same answers.
    source_id = await file_source(api)
    rows = [["E-mail", "First Name", "Country", "Phone"], ["ana@example.com", "Ana", "germany", "+1 415"]]
    rows += [["", "Bo", "Narnia", ""]]
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(rows)))
    imported = await _leads(api, source_id)
    answers = {
        "2": [("email", "ana@example.com"), ("first_name", "Ana"), ("country", "germany"), ("phone", "+1 415")],
        "3": [("first_name", "Bo"), ("country", "Narnia")],
    }
    submitted = await api.ingest.SubmitLeads(
        ingest_pb2.SubmitLeadsRequest(
            leads=[
                ingest_pb2.SubmitLeadRequest(
                    source_id=source_id,
                    platform_lead_id=f"api-{row}",
                    answers=[common_pb2.Answer(name=n, values=[v]) for n, v in pairs],
                )
                for row, pairs in answers.items()
            ]
        )
    )
    for row, outcome in zip(answers, submitted.outcomes, strict=True):
        mine = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=imported[row].lead_id))
        theirs = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=outcome.lead_id))
        assert [(a.name, list(a.values)) for a in mine.answers] == [(a.name, list(a.values)) for a in theirs.answers]
        assert dict(mine.fields) == dict(theirs.fields)
        assert (mine.status, mine.disposition_code, mine.custom_reason) == (
            theirs.status,
            theirs.disposition_code,
            theirs.custom_reason,
        )
        assert (mine.form_id, mine.is_test) == (theirs.form_id, theirs.is_test)
        # One event says how it came and the verdict: the `received` and `validated` of intake in one.
        [(kind, detail)] = [(e.type, e.detail) for e in mine.events]
        verdict = [e.detail for e in theirs.events if e.type == "validated"]
        assert [e.type for e in theirs.events] == ["received", "validated"]
        assert (kind, detail) == ("imported", f"import {done.import_id}: {verdict[0]}")
    assert dict((await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=imported["2"].lead_id))).fields) == {
        "email": "ana@example.com",
        "phone": "+1 415",
        "first_name": "Ana",
        "country": "Germany",  # the picklist's own spelling, once judged
        "lead_source": "Trade show",
        "notes": "",
    }


async def test_dry_run_judges_every_row_and_stores_nothing(api: Api) -> None:
    source_id = await file_source(api)
    spec = ingest_pb2.ImportSpec(source_id=source_id, dry_run=True)
    done, failed = final(await run(api.ingest.ImportLeads, spec, csv_bytes(ROWS)))
    assert done.dry_run
    assert (done.rows_read, done.rows_accepted, done.rows_rejected) == (5, 2, 3)
    assert [(f[0], f[1], f[3]) for f in failed] == [
        (3, "", "REJECT_LEAD_INVALID_EMAIL"),
        (4, "", "REJECT_LEAD_INVALID_LIST_VALUE"),
        (5, "", "REJECT_LEAD_MISSING_REQUIRED_FIELD"),
    ]
    assert await _leads(api, source_id) == {}


async def test_progress_is_streamed_in_batches(api: Api, monkeypatch) -> None:
    from ingest_service.files import importer

    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    source_id = await file_source(api)
    messages = await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS))
    assert [m.rows_read for m in messages] == [0, 2, 4, 5, 5]
    assert messages[0].message == "5 rows to import"
    assert messages[-1].message == "5 rows read, 2 accepted, 3 rejected"


async def test_xlsx_import_with_numbers_and_blank_rows(api: Api) -> None:
    source_id = await file_source(api)
    data = xlsx_bytes(
        [["email", "phone", "country"], ["x@example.com", 4915112345678, "Germany"], [], ["bad", None, "Germany"]]
    )
    done, failed = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), data))
    assert (done.rows_read, done.rows_accepted, done.rows_rejected) == (2, 1, 1)
    assert [f[0] for f in failed] == [4]
    leads = await _leads(api, source_id)
    assert leads["2"].fields["phone"] == "4915112345678"


async def test_utf16_tab_separated_excel_unicode_text(api: Api) -> None:
    source_id = await file_source(api)
    text = "Email\tFirst name\tCountry\r\nzoë@example.com\tZoë\tGermany\r\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), data))
    assert (done.rows_read, done.rows_accepted) == (1, 1)
    assert (await _leads(api, source_id))["2"].fields["first_name"] == "Zoë"


async def test_cp1252_semicolon_file(api: Api) -> None:
    source_id = await file_source(api)
    data = csv_bytes([["E-Mail", "Vorname", "Country"], ["jo@example.de", "Jürgen", "Germany"]], "cp1252", ";")
    spec = ingest_pb2.ImportSpec(
        source_id=source_id, columns=[ingest_pb2.ColumnMapping(header="Vorname", column="first_name")]
    )
    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    assert done.rows_accepted == 1
    assert (await _leads(api, source_id))["2"].fields["first_name"] == "Jürgen"


async def test_manual_mapping_can_ignore_a_column(api: Api) -> None:
    source_id = await file_source(api)
    data = csv_bytes([["email", "Badge number", "country"], ["a@example.com", "77", "Germany"]])
    spec = ingest_pb2.ImportSpec(
        source_id=source_id, columns=[ingest_pb2.ColumnMapping(header="Badge number", column="")]
    )
    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    assert done.rows_accepted == 1
    lead = (await _leads(api, source_id))["2"]
    assert [a.name for a in lead.answers] == ["email", "country"]


async def test_no_header_maps_by_position(api: Api) -> None:
    source_id = await file_source(api)
    data = csv_bytes([["a@example.com", "+1 415 555 0100", "Al", "United States"]])
    spec = ingest_pb2.ImportSpec(source_id=source_id, has_header=False)
    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    assert (done.rows_read, done.rows_accepted) == (1, 1)
    lead = (await _leads(api, source_id))["1"]
    assert (lead.fields["email"], lead.fields["phone"], lead.fields["first_name"]) == (
        "a@example.com",
        "+1 415 555 0100",
        "Al",
    )


async def test_no_header_with_positional_mapping(api: Api) -> None:
    source_id = await file_source(api)
    data = csv_bytes([["ignored", "Germany", "b@example.com"]])
    spec = ingest_pb2.ImportSpec(
        source_id=source_id,
        has_header=False,
        columns=[
            ingest_pb2.ColumnMapping(position=3, column="email"),
            ingest_pb2.ColumnMapping(position=2, column="country"),
        ],
    )
    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    assert done.rows_accepted == 1
    lead = (await _leads(api, source_id))["1"]
    assert [(a.name, list(a.values)) for a in lead.answers] == [("country", ["Germany"]), ("email", ["b@example.com"])]


async def test_several_sources_in_one_file(api: Api, account) -> None:
    first = await file_source(api, "Fair A")
    second = await file_source(api, "Fair B")
    other_api_source = "00000000-0000-0000-0000-000000000001"
    data = csv_bytes(
        [
            ["flow_id", "email", "country"],
            [first, "a@example.com", "Germany"],
            [second, "b@example.com", "Germany"],
            [other_api_source, "c@example.com", "Germany"],
            ["nonsense", "d@example.com", "Germany"],
        ]
    )
    done, failed = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(multi_source=True), data))
    assert (done.rows_read, done.rows_accepted, done.rows_errored) == (4, 2, 2)
    assert failed == [
        (4, "", "flow_id", "", f"source '{other_api_source}' not found"),
        (5, "", "flow_id", "", "'nonsense' is not a source id"),
    ]
    assert sorted(await _leads(api, first)) == ["2"]
    assert sorted(await _leads(api, second)) == ["3"]


async def test_another_accounts_source_is_permission_denied(api: Api, servers, pool) -> None:
    from tests.harness import new_account

    other = await new_account(pool)
    other_api = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await file_source(other_api)
    finally:
        await other_api.close()
    err = await rpc_error(run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=theirs), csv_bytes(ROWS)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


# Bad files: refused whole, nothing stored, the error names row and column.


async def _refused(api: Api, data: bytes, **spec) -> str:
    source_id = await file_source(api)
    err = await rpc_error(run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id, **spec), data))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert await _leads(api, source_id) == {}
    return err.details()


async def test_ragged_row_refuses_the_file(api: Api) -> None:
    data = b"email,country\r\na@example.com,Germany\r\nb@example.com\r\n"
    assert (
        await _refused(api, data)
        == "file: row 3, column B: the row has 1 fields but the header has 2 (column B is missing)"
    )


async def test_extra_value_refuses_the_file_but_trailing_empty_fields_do_not(api: Api) -> None:
    data = b"email,country\r\na@example.com,Germany,,\r\nb@example.com,Germany,oops\r\n"
    assert await _refused(api, data) == "file: row 3, column C: a value beyond the last of the 2 header columns"


async def test_unclosed_quote_refuses_the_file(api: Api) -> None:
    data = b'email,country\r\na@example.com,Germany\r\n"b@example.com,Germany\r\nc@example.com,Germany\r\n'
    assert await _refused(api, data) == "file: row 3, column A: a quoted field is never closed (missing closing quote)"


async def test_empty_file_is_refused(api: Api) -> None:
    assert await _refused(api, b"") == "data: row 1: the file is empty"
    assert await _refused(api, b"\r\n\r\n") == "file: row 1: the file is empty"


async def test_header_without_rows_is_refused(api: Api) -> None:
    assert await _refused(api, b"email,country\r\n") == "file: row 2: the file has a header row but no data rows"


async def test_header_that_maps_to_nothing_goes_to_the_catch_all_or_is_ignored(api: Api) -> None:
    source_id = await file_source(api)
    data = b"email,Shoe size,country\r\na@example.com,44,Germany\r\n"
    messages = await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), data)
    assert [(c.column, c.header, c.use) for c in messages[0].columns_outside] == [("B", "Shoe size", "catch_all")]
    assert messages[0].message == "1 rows to import; columns outside the source's: B (Shoe size): catch_all"
    assert [dict(lead.fields)["notes"] for lead in (await _leads(api, source_id)).values()] == ["Shoe size: 44"]
    ignored = ingest_pb2.ImportSpec(
        source_id=source_id, unmatched_columns=ingest_pb2.UNMATCHED_COLUMNS_IGNORE, file_name="again.csv"
    )
    messages = await run(api.ingest.ImportLeads, ignored, data.replace(b"44", b"45"))
    assert [c.use for c in messages[0].columns_outside] == ["ignore"]
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source_id, page_size=10))
    assert sorted(lead.fields["notes"] for lead in listed.leads) == ["", "Shoe size: 44"]


async def test_two_headers_for_one_column_take_the_first_non_empty(api: Api) -> None:
    source_id = await file_source(api)
    data = b"Email,E-mail,country\r\na@example.com,x@example.com,Germany\r\n,b@example.com,Germany\r\n"
    await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), data)
    emails = sorted(dict(lead.fields)["email"] for lead in (await _leads(api, source_id)).values())
    assert emails == ["a@example.com", "b@example.com"]


async def test_too_many_rows_is_refused(api: Api, servers) -> None:
    deps = servers.ingest.deps
    old = deps.settings
    deps.settings = old.replace(import_max_rows=2)
    try:
        data = b"email\r\na@example.com\r\nb@example.com\r\nc@example.com\r\n"
        assert await _refused(api, data) == "file: row 4: the file has more than 2 rows (LEADRELAY_IMPORT_MAX_ROWS)"
    finally:
        deps.settings = old


async def test_oversize_file_is_refused(api: Api, servers) -> None:
    deps = servers.ingest.deps
    old = deps.settings
    deps.settings = old.replace(import_max_bytes=50)
    try:
        data = b"email\r\n" + b"a@example.com\r\n" * 10
        assert await _refused(api, data) == "data: the file is larger than 50 bytes (LEADRELAY_IMPORT_MAX_BYTES)"
    finally:
        deps.settings = old


async def test_the_first_chunk_must_be_the_spec(api: Api) -> None:
    err = await rpc_error(_collect(api.ingest.ImportLeads(iter([ingest_pb2.ImportChunk(data=b"x")]))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "spec: the first chunk must carry the spec"


async def _collect(stream) -> list:
    return [m async for m in stream]


async def test_rows_stay_processing_when_validation_cannot_be_reached(api: Api, account, servers) -> None:
    import dataclasses
    import io
    import uuid

    from ingest_service.files import import_plan, importer
    from ingest_service.files.file_budget import Budget
    from leadrelay.v1 import validation_pb2_grpc

    source_id = await file_source(api)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:  # nothing listens there
        deps = dataclasses.replace(servers.ingest.deps, validation=validation_pb2_grpc.ValidationServiceStub(channel))
        request = import_plan.ImportRequest(uuid.UUID(source_id))
        file = io.BytesIO(csv_bytes(ROWS))
        budget = Budget.from_settings(deps.settings)
        messages = [p async for p in importer.run_import(deps, account.account_id, request, file, budget)]
    done = messages[-1]
    assert done.done and (done.rows_read, done.rows_waiting, done.rows_accepted, done.rows_rejected) == (5, 5, 0, 0)
    assert done.message == "5 rows read, 0 accepted, 0 rejected, 5 stored and waiting for validation"
    leads = await _leads(api, source_id)
    assert sorted(leads) == ["2", "3", "4", "5", "6"]
    assert {lead.status for lead in leads.values()} == {common_pb2.LEAD_STATUS_PROCESSING}
