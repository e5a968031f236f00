"""Sources, forms and mappings through the real ingest server."""

from __future__ import annotations

from uuid import UUID

import grpc

from ingest_service.capture import intake
from leadrelay.capture import sources_store
from leadrelay.capture.leads import Answer, IncomingLead
from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import rpc_error
from tests.ingest_service.capture_support import STANDARD_MAPPING, lead, new_source

CATCH_ALL = common_pb2.FieldMapping(column="other", unmapped_fields=True)


async def test_create_get_list_and_update_sources(api):
    fb = await new_source(api, "Acme Page", common_pb2.PLATFORM_FACEBOOK, "page-1")
    csv = await new_source(api, "Fair", common_pb2.PLATFORM_CSV, mapping=None)
    assert (fb.platform, fb.external_account_id, fb.enabled) == (common_pb2.PLATFORM_FACEBOOK, "page-1", True)
    assert list(fb.columns) == ["email", "phone", "country", "job_function", "lead_source", "notes"]
    assert list(csv.columns) == []
    page1 = await api.ingest.ListSources(ingest_pb2.ListSourcesRequest(page_size=1))
    page2 = await api.ingest.ListSources(ingest_pb2.ListSourcesRequest(page_size=1, page_token=page1.next_page_token))
    assert [s.source_id for s in (*page1.sources, *page2.sources)] == [fb.source_id, csv.source_id]
    assert page2.next_page_token == ""
    only_csv = await api.ingest.ListSources(ingest_pb2.ListSourcesRequest(platform=common_pb2.PLATFORM_CSV))
    assert [s.source_id for s in only_csv.sources] == [csv.source_id]
    renamed = await api.ingest.UpdateSource(ingest_pb2.UpdateSourceRequest(source_id=csv.source_id, name="Fair 2026"))
    assert (renamed.name, renamed.enabled) == ("Fair 2026", True)
    err = await rpc_error(
        api.ingest.CreateSource(
            ingest_pb2.CreateSourceRequest(
                name="Again", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id="page-1"
            )
        )
    )
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    for request, field in [
        (ingest_pb2.CreateSourceRequest(name="", platform=common_pb2.PLATFORM_CSV), "name:"),
        (ingest_pb2.CreateSourceRequest(name="x"), "platform:"),
        (ingest_pb2.CreateSourceRequest(name="x", platform=common_pb2.PLATFORM_LINKEDIN), "external_account_id:"),
    ]:
        err = await rpc_error(api.ingest.CreateSource(request))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith(field)
    missing = "00000000-0000-4000-8000-0000000000cc"
    err = await rpc_error(api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=missing)))
    assert err.code() == grpc.StatusCode.NOT_FOUND and missing in err.details()


async def test_form_mapping_replaces_the_default_and_an_empty_list_restores_it(api):
    source = await new_source(api)
    form = await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(source_id=source.source_id, platform_form_id="li-form-1", name="Webinar")
    )
    custom = [common_pb2.FieldMapping(column="Work Email", form_field="email"), CATCH_ALL]
    mapped = await api.ingest.SetFormMapping(ingest_pb2.SetMappingRequest(form_id=form.form_id, mappings=custom))
    assert (list(mapped.mappings), mapped.is_default) == (custom, False)
    forms = await api.ingest.ListForms(ingest_pb2.ListFormsRequest(source_id=source.source_id))
    assert [(f.platform_form_id, f.name, f.custom_mapping) for f in forms.forms] == [("li-form-1", "Webinar", True)]

    by_form = await api.ingest.SubmitLead(
        lead(source.source_id, "m-1", form_id="li-form-1", email="a@example.com", country="Germany")
    )
    by_our_id = await api.ingest.SubmitLead(lead(source.source_id, "m-2", form_id=form.form_id, email="b@example.com"))
    plain = await api.ingest.SubmitLead(lead(source.source_id, "m-3", email="c@example.com", country="Germany"))
    assert dict(by_form.fields) == {"Work Email": "a@example.com", "other": "country: Germany"}
    assert dict(by_our_id.fields) == {"Work Email": "b@example.com", "other": ""}
    assert dict(plain.fields) == {
        "email": "c@example.com",
        "phone": "",
        "country": "Germany",
        "job_function": "",
        "lead_source": "LinkedIn Ads",
        "notes": "",
    }

    restored = await api.ingest.SetFormMapping(ingest_pb2.SetMappingRequest(form_id=form.form_id))
    assert restored.is_default and list(restored.mappings) == STANDARD_MAPPING
    got = await api.ingest.GetMapping(ingest_pb2.GetMappingRequest(form_id=form.form_id))
    assert got.is_default and got.form_id == form.form_id
    # Raw answers are kept: the earlier lead can be re-mapped from them.
    stored = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=by_form.lead_id))
    assert [(a.name, list(a.values)) for a in stored.answers] == [
        ("email", ["a@example.com"]),
        ("country", ["Germany"]),
    ]


async def test_mapping_errors_name_the_row(api):
    source = await new_source(api, mapping=None)
    err = await rpc_error(
        api.ingest.SetDefaultMapping(
            ingest_pb2.SetMappingRequest(
                source_id=source.source_id, mappings=[common_pb2.FieldMapping(column="email", form_field="email")]
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no not_mapped_fields catch-all column" in err.details()
    err = await rpc_error(
        api.ingest.SetDefaultMapping(
            ingest_pb2.SetMappingRequest(
                source_id=source.source_id,
                mappings=[
                    CATCH_ALL,
                    common_pb2.FieldMapping(column="d", constant=common_pb2.Constant(date_value="soon")),
                ],
            )
        )
    )
    assert err.details().startswith("mappings[1].constant.date_value:")
    err = await rpc_error(
        api.ingest.SetFormMapping(
            ingest_pb2.SetMappingRequest(form_id="00000000-0000-4000-8000-0000000000dd", mappings=[CATCH_ALL])
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_typed_constants_round_trip(api):
    source = await new_source(api, mapping=None)
    rows = [
        common_pb2.FieldMapping(column="s", constant=common_pb2.Constant(string_value="x")),
        common_pb2.FieldMapping(column="n", constant=common_pb2.Constant(decimal_value=2.5)),
        common_pb2.FieldMapping(column="b", constant=common_pb2.Constant(bool_value=True)),
        common_pb2.FieldMapping(column="d", constant=common_pb2.Constant(date_value="2026-02-01")),
        common_pb2.FieldMapping(column="l", constant=common_pb2.Constant(lookup_value="OWNER-1")),
        CATCH_ALL,
    ]
    await api.ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=source.source_id, mappings=rows))
    got = await api.ingest.GetMapping(ingest_pb2.GetMappingRequest(source_id=source.source_id))
    assert list(got.mappings) == rows
    outcome = await api.ingest.SubmitLead(lead(source.source_id, "k", q="a"))
    assert dict(outcome.fields) == {
        "s": "x",
        "n": "2.5",
        "b": "true",
        "d": "2026-02-01",
        "l": "OWNER-1",
        "other": "q: a",
    }


async def test_connector_traffic_for_an_unknown_form_registers_it_and_source_columns(api, servers, pool):
    source = await new_source(api)
    outcomes = await intake.submit(
        servers.ingest.deps,
        api.account.account_id,
        [
            IncomingLead(
                source_id=UUID(source.source_id),
                answers=(Answer("email", ("z@example.com",)),),
                form_ref="new-fb-form",
                platform_lead_id="fb-1",
            ),
        ],
        via="webhook",
    )
    assert outcomes[0].status == "ACCEPTED"
    forms = await api.ingest.ListForms(ingest_pb2.ListFormsRequest(source_id=source.source_id))
    assert [(f.platform_form_id, f.enabled) for f in forms.forms] == [("new-fb-form", True)]
    async with pool.acquire() as con:
        assert await sources_store.source_columns(con, UUID(source.source_id)) == list(source.columns)


async def test_a_lone_surrogate_from_a_platform_is_stored_as_a_replacement_character(api, servers, pool):
    # json.loads('"\\ud800"') gives one: a platform's JSON may carry it; no JSON encoder or
    # PostgreSQL stores it, and the lead must not be lost for it.
    source = await new_source(api)
    (outcome,) = await intake.submit(
        servers.ingest.deps,
        api.account.account_id,
        [
            IncomingLead(
                source_id=UUID(source.source_id),
                answers=(Answer("email", ("s@example.com",)), Answer("city", ("Ber\ud800lin",))),
                platform_lead_id="fb-surrogate",
            )
        ],
        via="webhook",
    )
    assert outcome.status == "ACCEPTED"
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT answers, fields FROM leads WHERE lead_id = $1", outcome.lead_id)
    assert row["answers"][1] == {"name": "city", "values": ["Ber\ufffdlin"]}
    assert row["fields"]["notes"] == "city: Ber\ufffdlin"  # the catch-all column


async def test_a_mapping_change_applies_to_the_very_next_lead_while_intake_caches_mappings(api):
    source = await new_source(api)
    form = await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(source_id=source.source_id, platform_form_id="cached-form", name="Cached")
    )
    for i in range(2):  # the first call fills the intake cache, the second is answered from it
        warm = await api.ingest.SubmitLead(lead(source.source_id, f"c-{i}", form_id="cached-form", email="a@x.com"))
        assert warm.fields["email"] == "a@x.com"
    renamed = [common_pb2.FieldMapping(column="Email Address", form_field="email"), CATCH_ALL]
    await api.ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=source.source_id, mappings=renamed))
    after_default = await api.ingest.SubmitLead(lead(source.source_id, "c-2", form_id="cached-form", email="b@x.com"))
    assert dict(after_default.fields) == {"Email Address": "b@x.com", "other": ""}
    custom = [common_pb2.FieldMapping(column="Form Email", form_field="email"), CATCH_ALL]
    await api.ingest.SetFormMapping(ingest_pb2.SetMappingRequest(form_id=form.form_id, mappings=custom))
    after_form = await api.ingest.SubmitLead(lead(source.source_id, "c-3", form_id="cached-form", email="c@x.com"))
    assert dict(after_form.fields) == {"Form Email": "c@x.com", "other": ""}
