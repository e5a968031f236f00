"""The shared bootstrap, through the real services: auth, health, reflection, errors."""

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from leadrelay import clients
from leadrelay.auth import internal_metadata
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, validation_pb2
from tests.harness import rpc_error

API_SERVICES = {
    "leadrelay.v1.IngestService": ingest_pb2,
    "leadrelay.v1.ValidationService": validation_pb2,
    "leadrelay.v1.PostOutService": validation_pb2,
}


async def test_health_is_serving_without_a_key(servers):
    for target in (servers.ingest_target, servers.validation_target, servers.feedback_target):
        async with clients.channel(target) as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def _reflected_services(target):
    async with clients.channel(target) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        async for response in responses:
            return {s.name for s in response.list_services_response.service}
    return set()


async def test_reflection_lists_every_service(servers):
    assert {"leadrelay.v1.IngestService", "grpc.health.v1.Health"} <= await _reflected_services(servers.ingest_target)
    assert {"leadrelay.v1.ValidationService", "leadrelay.v1.PostOutService"} <= await _reflected_services(
        servers.validation_target
    )
    assert "leadrelay.v1.FeedbackService" in await _reflected_services(servers.feedback_target)


def _v1_message(name):
    """A grpc.reflection.v1 message class, as a v1 client (grpc-js, grpcurl) builds it."""
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(f"grpc.reflection.v1.{name}")
    )


async def test_reflection_v1_lists_every_service_and_describes_itself(servers):
    request_type, response_type = _v1_message("ServerReflectionRequest"), _v1_message("ServerReflectionResponse")
    async with clients.channel(servers.ingest_target) as ch:
        info = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )
        requests = [
            request_type(list_services=""),
            request_type(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
        ]
        listed, described = [r async for r in info(iter(requests))]
    names = {s.name for s in listed.list_services_response.service}
    assert {"leadrelay.v1.IngestService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= names
    assert "grpc.reflection.v1alpha.ServerReflection" in names
    [raw] = described.file_descriptor_response.file_descriptor_proto
    described_file = descriptor_pb2.FileDescriptorProto.FromString(raw)
    assert (described_file.package, described_file.service[0].name) == ("grpc.reflection.v1", "ServerReflection")


async def test_invalid_argument_names_the_field_in_bad_request_details(api):
    err = await rpc_error(api.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name="x")))
    status = rpc_status.from_call(err)
    assert status is not None and status.message == err.details()
    [detail] = status.details
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    [violation] = bad_request.field_violations
    assert violation.field == "platform"
    assert err.details() == f"platform: {violation.description}"


async def test_invalid_argument_details_name_an_indexed_field(api):
    source = await api.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name="x", platform=common_pb2.PLATFORM_CSV))
    request = ingest_pb2.SetMappingRequest(
        source_id=source.source_id, mappings=[common_pb2.FieldMapping(column=" ", form_field="email")]
    )
    err = await rpc_error(api.ingest.SetDefaultMapping(request))
    bad_request = error_details_pb2.BadRequest()
    rpc_status.from_call(err).details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["mappings[0].column"]


async def test_call_without_a_key_is_unauthenticated(servers):
    async with clients.channel(servers.ingest_target) as ch:
        err = await rpc_error(ingest_pb2_grpc.IngestServiceStub(ch).ListSources(ingest_pb2.ListSourcesRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization" in err.details()


async def test_unknown_key_is_unauthenticated_and_named_by_prefix(servers):
    async with clients.api_key_channel(servers.ingest_target, "lr_deadbeef_nope") as ch:
        err = await rpc_error(ingest_pb2_grpc.IngestServiceStub(ch).ListSources(ingest_pb2.ListSourcesRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "lr_deadbeef_" in err.details() and "nope" not in err.details()


async def test_revoked_key_stops_working(servers, pool, account):
    from leadrelay import accounts

    async with pool.acquire() as con:
        await accounts.revoke_key(con, account.api_key.split("_")[1])
    async with clients.api_key_channel(servers.ingest_target, account.api_key) as ch:
        err = await rpc_error(ingest_pb2_grpc.IngestServiceStub(ch).ListSources(ingest_pb2.ListSourcesRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_internal_token_needs_an_account_header(servers):
    token = servers.settings.internal_token
    async with clients.channel(servers.ingest_target, (("authorization", f"Bearer {token}"),)) as ch:
        err = await rpc_error(ingest_pb2_grpc.IngestServiceStub(ch).ListSources(ingest_pb2.ListSourcesRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-leadrelay-account" in err.details()


async def test_internal_token_with_an_account_passes_auth(servers, account):
    metadata = internal_metadata(servers.settings.internal_token, account.account_id)
    async with clients.channel(servers.ingest_target, metadata) as ch:
        try:
            await ingest_pb2_grpc.IngestServiceStub(ch).ListSources(ingest_pb2.ListSourcesRequest())
        except grpc.aio.AioRpcError as exc:  # a capability not built yet still got past auth
            assert exc.code() not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def test_every_rpc_of_the_contract_is_in_the_protos():
    from leadrelay.v1 import feedback_pb2

    expected = {
        ("IngestService", ingest_pb2): {
            "CreateSource",
            "GetSource",
            "ListSources",
            "UpdateSource",
            "UpsertForm",
            "ListForms",
            "SetDefaultMapping",
            "SetFormMapping",
            "SubmitLead",
            "SubmitLeads",
            "SyncLeads",
            "GetLead",
            "ListLeads",
            "ImportLeads",
            "ReuploadLeads",
            "ExportLeads",
            "GetSourceCounts",
        },
        ("ValidationService", validation_pb2): {
            "SetAcceptanceCriteria",
            "GetAcceptanceCriteria",
            "ValidateLeads",
            "EvaluateLeads",
            "ListDispositionCodes",
            "ForgetLeads",
            "RevalidateLeads",
        },
        ("PostOutService", validation_pb2): {
            "CreateDestination",
            "UpdateDestination",
            "ListDestinations",
            "ListPostOuts",
            "RetryPostOuts",
        },
        ("FeedbackService", feedback_pb2): {
            "SetFeedbackConfig",
            "SetStageMapping",
            "RecordStageChanges",
            "Backfill",
            "Flush",
            "GetFeedbackStatus",
        },
    }
    for (service, module), rpcs in expected.items():
        declared = {m.name for m in module.DESCRIPTOR.services_by_name[service].methods}
        assert rpcs <= declared, (service, rpcs - declared)


async def test_the_actor_is_the_consoles_user_only_with_the_internal_token(pool, account):
    """Audit trails name who acted: a console user (trusted only with the internal token), an API key
    by its prefix, or nobody (the system)."""
    from uuid import uuid4

    from leadrelay.auth import ACTOR_HEADER, Authenticator, Unauthenticated

    auth = Authenticator(pool, "internal-secret")
    user = uuid4()
    assert await auth.account_for(internal_metadata("internal-secret", account.account_id, user)) == (
        account.account_id,
        f"user:{user}",
    )
    assert await auth.account_for(internal_metadata("internal-secret", account.account_id)) == (account.account_id, "")
    prefix = account.api_key.split("_")[1]
    spoofed = (("authorization", f"Bearer {account.api_key}"), (ACTOR_HEADER, str(user)))
    assert await auth.account_for(spoofed) == (account.account_id, f"key:{prefix}")
    try:
        await auth.account_for(internal_metadata("internal-secret", account.account_id, "not-a-uuid"))
    except Unauthenticated as exc:
        assert ACTOR_HEADER in str(exc)
    else:
        raise AssertionError("a malformed actor was accepted")
