"""The `make run` post-out hook against the test servers: every source of the account gets the
sandbox CRM and Marketo destinations once, through the public RPCs, with the source's mapped columns in its body."""

import asyncio

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from ops.demo.post_out import DEMO_DESTINATION, DEMO_MARKETO, demo_post_out


def _port(target: str) -> int:
    return int(target.rsplit(":", 1)[1])


async def test_every_source_gets_the_sandbox_crm_once_with_its_columns(api, servers, sandbox):
    settings = servers.settings.replace(
        host="127.0.0.1",
        sandbox_port=sandbox.port,
        ingest_grpc_port=_port(servers.ingest_target),
        validation_grpc_port=_port(servers.validation_target),
    )
    mapped = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(name="Fair", platform=common_pb2.PLATFORM_CSV)
    )
    await api.ingest.SetDefaultMapping(
        ingest_pb2.SetMappingRequest(
            source_id=mapped.source_id,
            mappings=[
                common_pb2.FieldMapping(column="email", form_field="email"),
                common_pb2.FieldMapping(column="company", form_field="company_name"),
                common_pb2.FieldMapping(column="not_mapped_fields", unmapped_fields=True),
            ],
        )
    )
    unmapped = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(name="API", platform=common_pb2.PLATFORM_API)
    )

    await asyncio.to_thread(demo_post_out, settings, api.account.api_key)
    await asyncio.to_thread(demo_post_out, settings, api.account.api_key)  # a second `make run` adds nothing

    bodies = {}
    for source in (mapped, unmapped):
        found = await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=source.source_id))
        assert sorted(d.name for d in found.destinations) == sorted([DEMO_DESTINATION, DEMO_MARKETO])
        [destination] = [d for d in found.destinations if d.name == DEMO_DESTINATION]
        [marketo] = [d for d in found.destinations if d.name == DEMO_MARKETO]
        assert (marketo.preset, marketo.url, marketo.batch_size) == (
            "marketo",
            f"http://127.0.0.1:{sandbox.port}/vendors/marketo/demo/rest/v1/leads.json",
            300,
        )
        assert (marketo.oauth.grant_type, marketo.oauth.client_secret) == ("client_credentials", "")
        assert (destination.name, destination.url) == (
            DEMO_DESTINATION,
            f"http://127.0.0.1:{sandbox.port}/crm/demo/leads",
        )
        assert list(destination.headers) == ["Authorization"]  # names only: the value is secret
        assert (destination.success.result_json_path, list(destination.success.accepted_values)) == (
            "$.status",
            ["accepted"],
        )
        bodies[source.source_id] = [(m.column, m.lead_column or m.constant.string_value) for m in destination.body]
    assert bodies[mapped.source_id] == [
        ("lead_id", "lead_id"),
        ("source_id", "source_id"),
        ("company", "company"),
        ("email", "email"),
        ("not_mapped_fields", "not_mapped_fields"),
        ("lead_source", "LeadRelay"),
    ]
    assert bodies[unmapped.source_id] == [
        ("lead_id", "lead_id"),
        ("source_id", "source_id"),
        ("email", "email"),
        ("lead_source", "LeadRelay"),
    ]
