"""`make run`'s acceptance-criteria demo: the demo sources get the checks a real customer would set
(required, valid email, valid phone, a job-function picklist fed by LinkedIn's free text), so the
sandbox's share of bad emails and phones shows up as rejected leads with reasons. The mapper leaves
"Informatique" unmapped on purpose: the Rejections page's one-click mapper fix has something to fix."""

from __future__ import annotations

import grpc

from leadrelay.auth import bearer_metadata
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, validation_pb2, validation_pb2_grpc

JOB_FUNCTIONS = [
    "Engineering",
    "Marketing",
    "Sales",
    "Operations",
    "Business Development",
    "Human Resources",
    "Information Technology",
]
JOB_FUNCTION_MAPPER = {
    "Ingeniería": "Engineering",
    "Eng.": "Engineering",
    "Vertrieb": "Sales",
    "Recursos Humanos": "Human Resources",
}


def rules(platform: int) -> list[validation_pb2.Rule]:
    out = [
        validation_pb2.Rule(column="email", required=validation_pb2.Required()),
        validation_pb2.Rule(column="email", email=validation_pb2.EmailCheck()),
        validation_pb2.Rule(column="phone", phone=validation_pb2.PhoneCheck(default_region="US")),
        validation_pb2.Rule(column="company", max_length=validation_pb2.MaxLength(max=80)),
    ]
    if platform == common_pb2.PLATFORM_LINKEDIN:
        out.append(
            validation_pb2.Rule(
                column="job_function",
                picklist=validation_pb2.Picklist(
                    allowed=JOB_FUNCTIONS, mapper=JOB_FUNCTION_MAPPER, case_insensitive=True
                ),
            )
        )
    return out


def demo_criteria(settings: Settings, api_key: str) -> None:
    meta = bearer_metadata(api_key)
    with (
        grpc.insecure_channel(f"{settings.host}:{settings.ingest_grpc_port}") as ingest_channel,
        grpc.insecure_channel(f"{settings.host}:{settings.validation_grpc_port}") as validation_channel,
    ):
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
        validation = validation_pb2_grpc.ValidationServiceStub(validation_channel)
        sources = ingest.ListSources(ingest_pb2.ListSourcesRequest(page_size=100), metadata=meta).sources
        named = []
        for source in sources:
            if source.platform not in (common_pb2.PLATFORM_FACEBOOK, common_pb2.PLATFORM_LINKEDIN):
                continue
            current = validation.GetAcceptanceCriteria(
                validation_pb2.GetAcceptanceCriteriaRequest(source_id=source.source_id), metadata=meta
            )
            if current.version == 0:  # a second `make run` keeps what the user changed
                validation.SetAcceptanceCriteria(
                    validation_pb2.SetAcceptanceCriteriaRequest(
                        source_id=source.source_id, rules=rules(source.platform)
                    ),
                    metadata=meta,
                )
            named.append(source.name)
    if named:
        print(
            f"  criteria    {', '.join(named)}: required email, valid email and phone, job-function picklist",
            flush=True,
        )
