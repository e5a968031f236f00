"""Helpers for the capture-core tests: build requests for sources, mappings, criteria and leads."""

from __future__ import annotations

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api

STANDARD_MAPPING = [
    common_pb2.FieldMapping(column="email", form_field="email"),
    common_pb2.FieldMapping(column="phone", form_field="phone_number"),
    common_pb2.FieldMapping(column="country", form_field="country"),
    common_pb2.FieldMapping(column="job_function", form_field="job_function"),
    common_pb2.FieldMapping(column="lead_source", constant=common_pb2.Constant(string_value="LinkedIn Ads")),
    common_pb2.FieldMapping(column="notes", unmapped_fields=True),
]


def answers(**values: str | list[str]) -> list[common_pb2.Answer]:
    return [common_pb2.Answer(name=k, values=v if isinstance(v, list) else [v]) for k, v in values.items()]


def lead(source_id: str, plid: str, form_id: str = "", is_test: bool = False, **values: str | list[str]):
    return ingest_pb2.SubmitLeadRequest(
        source_id=source_id, form_id=form_id, platform_lead_id=plid, answers=answers(**values), is_test=is_test
    )


async def new_source(
    api: Api,
    name: str = "Events",
    platform: int = common_pb2.PLATFORM_API,
    external: str = "",
    mapping=STANDARD_MAPPING,
) -> ingest_pb2.Source:
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(name=name, platform=platform, external_account_id=external)
    )
    if mapping:
        await api.ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=source.source_id, mappings=mapping))
    return await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=source.source_id))


def rule(column: str = "", code: str = "", reason: str = "", **kind) -> validation_pb2.Rule:
    return validation_pb2.Rule(column=column, disposition_code=code, custom_reason=reason, **kind)


STANDARD_RULES = [
    rule("email", required=validation_pb2.Required()),
    rule("email", email=validation_pb2.EmailCheck()),
    rule("phone", phone=validation_pb2.PhoneCheck(default_region="US")),
    rule(
        "country",
        picklist=validation_pb2.Picklist(
            allowed=["United States", "Germany"],
            mapper={"USA": "United States", "U.S.": "United States"},
            case_insensitive=True,
        ),
    ),
    rule("job_function", picklist=validation_pb2.Picklist(allowed=["Engineering", "Sales"])),
    rule(reject_test_leads=validation_pb2.RejectTestLeads()),
]


async def set_rules(api: Api, source_id: str, rules=STANDARD_RULES) -> validation_pb2.AcceptanceCriteria:
    return await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=source_id, rules=rules)
    )
