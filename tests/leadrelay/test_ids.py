"""Ids in requests, the one decision every service shares, over real gRPC: a malformed id is
INVALID_ARGUMENT naming the field, never NOT_FOUND."""

from __future__ import annotations

import grpc
import pytest

from leadrelay.errors import InvalidArgument
from leadrelay.ids import as_id, parse_id
from leadrelay.v1 import ingest_pb2, validation_pb2
from tests.harness import rpc_error


def test_a_malformed_or_empty_id_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as malformed:
        parse_id("lead", "nope", "lead_ids[2]")
    assert str(malformed.value) == "lead_ids[2]: 'nope' is not a lead id (a UUID)"
    with pytest.raises(InvalidArgument) as empty:
        parse_id("source", "", "source_id")
    assert str(empty.value) == "source_id: the source id is required"
    assert as_id("nope") is None


async def test_every_service_answers_a_malformed_id_with_invalid_argument_naming_the_field(api) -> None:
    calls = [
        (api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id="nope")), "lead_id:"),
        (api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id="nope")), "source_id:"),
        (api.validation.ValidateLeads(validation_pb2.ValidateLeadsRequest(lead_ids=["nope"])), "lead_ids[0]:"),
        (api.validation.ForgetLeads(validation_pb2.ForgetLeadsRequest(lead_ids=["nope"])), "lead_ids[0]:"),
        (api.postout.ListPostOuts(validation_pb2.ListPostOutsRequest(source_id="nope")), "source_id:"),
        (api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id="nope")), "source_id:"),
    ]
    for call, field in calls:
        err = await rpc_error(call)
        assert (err.code(), err.details().split(" ")[0]) == (grpc.StatusCode.INVALID_ARGUMENT, field)
