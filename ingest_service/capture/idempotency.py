"""SubmitLeads with an `idempotency-key`: a retried batch returns its first outcome, stored nothing new.

A client whose call failed (UNAVAILABLE after a crash, a deadline) cannot know whether its leads
were stored; leads without a platform lead id would be stored again by a plain retry. With a key,
the first call claims it (committed) with the lead ids it will use, then stores and judges, then
records its answer. A retry within `KEEP_HOURS` with the same request gets that answer; if the first
call never finished, the retry stores under the claimed lead ids, so whatever the first call stored
is found (duplicate = true) and nothing is doubled. The same key with another request is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any
from uuid import UUID

from ingest_service.capture import idempotency_store, intake
from ingest_service.resources import IngestResources
from leadrelay.background import every
from leadrelay.capture.leads import IncomingLead
from leadrelay.errors import InvalidArgument, LeadRelayError
from leadrelay.protoconv import outcome_to_proto
from leadrelay.v1 import ingest_pb2

HEADER = "idempotency-key"
KEEP_HOURS = 24.0
MAX_KEY_LENGTH = 200


def key_of(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The call's idempotency key ("" when it sent none), checked."""
    key = next((v for k, v in metadata if k.lower() == HEADER and isinstance(v, str)), "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(HEADER, f"{len(key)} characters; at most {MAX_KEY_LENGTH}")
    return key


async def submit(
    deps: IngestResources,
    account_id: UUID,
    key: str,
    request: ingest_pb2.SubmitLeadsRequest,
    leads: Sequence[IncomingLead],
) -> ingest_pb2.SubmitLeadsResponse:
    digest = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
    async with deps.pool.acquire() as con:
        claimed = await idempotency_store.claim(
            con, account_id, key, digest, intake.new_lead_ids(len(leads)), KEEP_HOURS
        )
    if claimed["request_hash"] != digest:
        raise InvalidArgument(
            HEADER, f"{key!r} was used for a different SubmitLeads request in the last 24 h; send a new key"
        )
    if claimed["response"] is not None:
        return ingest_pb2.SubmitLeadsResponse.FromString(claimed["response"])
    try:
        outcomes = await intake.submit(
            deps, account_id, leads, unknown_forms="refuse", via="SubmitLeads", lead_ids=claimed["lead_ids"]
        )
    except LeadRelayError:
        # Refused before anything was stored (an unknown source or form): the key is free again.
        async with deps.pool.acquire() as con:
            await idempotency_store.release(con, account_id, key)
        raise
    response = ingest_pb2.SubmitLeadsResponse(outcomes=[outcome_to_proto(o) for o in outcomes])
    async with deps.pool.acquire() as con:
        await idempotency_store.finish(con, account_id, key, response.SerializeToString(deterministic=True))
    return response


async def forget_expired(deps: IngestResources, limit: int = 10_000) -> int:
    """Deletes up to `limit` keys older than KEEP_HOURS; returns how many."""
    async with deps.pool.acquire() as con:
        return await idempotency_store.forget_expired(con, KEEP_HOURS, limit)


def expiry_loop(deps: IngestResources) -> Coroutine[Any, Any, None]:
    return every(600.0, lambda: forget_expired(deps), name="idempotency-expiry")
