"""The floor under any SubmitLead figure: a bare gRPC server that answers SubmitLead with a constant.

    .venv/bin/python -m bench.echo_server PORT

Same runtime as our services (grpc.aio on uvloop, collector frozen after start-up, same server
options), but no key check, no logging, no database: what a call costs this machine's gRPC stack
alone. `bench.submit_leads` drives it with the very client and load it drives SubmitLead with, in
the same run, so the two figures share the machine's speed and load.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys

import grpc
import uvloop

from leadrelay.server import SERVER_OPTIONS
from leadrelay.v1 import common_pb2, ingest_pb2_grpc

# Shaped like SubmitLead's answer for bench.submit_leads' leads: an id, the status, the mapped fields.
OUTCOME = common_pb2.LeadOutcome(
    lead_id="5f0c6d1e-8a51-4a4b-9a57-0d7e3c1c2b11",
    platform_lead_id="s-1234",
    status=common_pb2.LEAD_STATUS_ACCEPTED,
    fields={
        "email": "person1234@example70.com",
        "phone": "+14155551234",
        "first_name": "Ann",
        "last_name": "Lee1234",
        "company": "Acme Corporation",
        "country": "United States",
        "lead_source": "LinkedIn",
        "notes": "How did you hear about us?: A colleague\ninterests: CRM;Ads",
    },
)


class Echo(ingest_pb2_grpc.IngestServiceServicer):
    async def SubmitLead(self, request, context):
        return OUTCOME


async def serve(port: int) -> None:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(Echo(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
