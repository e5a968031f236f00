"""The mapping screens' RPCs against the sandbox: a form's fields from the platform's questions with
sample answers from leads, a field the form gained after the mapping was saved flagged, a draft
mapping previewed on the newest leads, and forms named by the platform's id or ours alike."""

from __future__ import annotations

import grpc

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import rpc_error
from tests.ingest_service.connector_support import facebook_source, post


def _lead(form_ref: str, n: int, budget: str) -> ingest_pb2.SubmitLeadRequest:
    return ingest_pb2.SubmitLeadRequest(
        form_id=form_ref,
        platform_lead_id=f"fb-{n}",
        answers=[
            common_pb2.Answer(name="full_name", values=[f"Ada {n}"]),
            common_pb2.Answer(name="email", values=[f"ada{n}@example.com"]),
            common_pb2.Answer(name="what_is_your_budget?", values=[budget]),
        ],
    )


def _mapping(*rows: tuple[str, str]) -> list[common_pb2.FieldMapping]:
    out = []
    for column, field in rows:
        if field == "*":
            out.append(common_pb2.FieldMapping(column=column, unmapped_fields=True))
        else:
            out.append(
                common_pb2.FieldMapping(
                    column=column, form_field=field, column_type="email" if column == "Email" else ""
                )
            )
    return out


async def test_form_fields_samples_new_field_flag_preview_and_form_refs(api, sandbox, web):
    fb = await facebook_source(api, sandbox, web)
    form_ref = fb.form_ids[0]
    for n, budget in enumerate(["<$1k", "$10k+", "<$1k"]):  # one call each: received one after another
        lead = _lead(form_ref, n, budget)
        lead.source_id = fb.source_id
        await api.ingest.SubmitLead(lead)

    listed = await api.ingest.ListFormFields(ingest_pb2.ListFormFieldsRequest(source_id=fb.source_id, form_id=form_ref))
    by_name = {f.name: f for f in listed.fields}
    assert [f.name for f in listed.fields][:3] == ["full_name", "email", "phone_number"]
    assert by_name["email"].label == "Email" and by_name["email"].type == "EMAIL" and by_name["email"].defined
    assert list(by_name["what_is_your_budget?"].samples) == ["<$1k", "$10k+"]  # newest first, distinct
    assert listed.leads_sampled == 3
    assert not any(f.new_since_mapping for f in listed.fields)  # no mapping yet

    saved = await api.ingest.SetDefaultMapping(
        ingest_pb2.SetMappingRequest(
            source_id=fb.source_id, mappings=_mapping(("Name", "full_name"), ("Email", "email"), ("Notes", "*"))
        )
    )
    assert saved.mappings[1].column_type == "email"
    # The form gains a question on the platform; a refresh records it.
    questions = [
        {"key": "full_name", "label": "Full name", "type": "FULL_NAME"},
        {"key": "email", "label": "Email", "type": "EMAIL"},
        {"key": "preferred_time", "label": "When may we call?", "type": "CUSTOM"},
    ]
    await post(web, f"{sandbox.url}/graph/_control/forms/{form_ref}/questions", {"questions": questions})
    refreshed = await api.ingest.RefreshForms(ingest_pb2.RefreshFormsRequest(source_id=fb.source_id))
    assert [f.platform_form_id for f in refreshed.forms] == [form_ref]
    listed = await api.ingest.ListFormFields(ingest_pb2.ListFormFieldsRequest(source_id=fb.source_id, form_id=form_ref))
    flagged = {f.name for f in listed.fields if f.new_since_mapping}
    assert flagged == {"preferred_time"}
    assert {f.name: f.label for f in listed.fields}["preferred_time"] == "When may we call?"

    # A draft with a constant, previewed on the newest leads (newest first), nothing saved.
    draft = _mapping(("Name", "full_name"), ("Notes", "*"))
    draft.insert(1, common_pb2.FieldMapping(column="Campaign", constant=common_pb2.Constant(lookup_value="CMP-7")))
    preview = await api.ingest.PreviewMapping(
        ingest_pb2.PreviewMappingRequest(source_id=fb.source_id, form_id=form_ref, mappings=draft)
    )
    assert list(preview.columns) == ["Name", "Campaign", "Notes"]
    assert [list(r.values) for r in preview.rows] == [
        [f"Ada {n}", "CMP-7", f"email: ada{n}@example.com\nwhat_is_your_budget?: {b}"]
        for n, b in reversed(list(enumerate(["<$1k", "$10k+", "<$1k"])))
    ]
    assert [r.platform_lead_id for r in preview.rows] == ["fb-2", "fb-1", "fb-0"]
    still = await api.ingest.GetMapping(ingest_pb2.GetMappingRequest(source_id=fb.source_id))
    assert [m.column for m in still.mappings] == ["Name", "Email", "Notes"]

    # The form's own mapping, named by the platform's form id; read back by LeadRelay's id.
    own = await api.ingest.SetFormMapping(
        ingest_pb2.SetMappingRequest(source_id=fb.source_id, form_id=form_ref, mappings=draft)
    )
    assert not own.is_default and own.HasField("saved_at")
    again = await api.ingest.GetMapping(ingest_pb2.GetMappingRequest(form_id=own.form_id))
    assert [m.column for m in again.mappings] == ["Name", "Campaign", "Notes"]
    # preferred_time is still unmapped under the form's own mapping, but it was there before this save.
    listed = await api.ingest.ListFormFields(ingest_pb2.ListFormFieldsRequest(form_id=own.form_id))
    assert not any(f.new_since_mapping for f in listed.fields)

    # Switched off by LeadRelay's form id through UpsertForm.
    off = await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(source_id=fb.source_id, platform_form_id=own.form_id, enabled=False)
    )
    assert off.form_id == own.form_id and off.platform_form_id == form_ref and not off.enabled

    # A platform form id without its source cannot be found; an unknown one names itself.
    err = await rpc_error(api.ingest.GetMapping(ingest_pb2.GetMappingRequest(form_id=form_ref)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "source_id" in (err.details() or "")
    err = await rpc_error(
        api.ingest.ListFormFields(ingest_pb2.ListFormFieldsRequest(source_id=fb.source_id, form_id="404404"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND and "404404" in (err.details() or "")
    err = await rpc_error(
        api.ingest.SetDefaultMapping(
            ingest_pb2.SetMappingRequest(
                source_id=fb.source_id,
                mappings=[common_pb2.FieldMapping(column="Notes", unmapped_fields=True, column_type="colour")],
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "mappings[0].column_type" in (err.details() or "")
