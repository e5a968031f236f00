"""SubmitLeads with an `idempotency-key`, through the real servers and PostgreSQL: a retry returns
the first outcome and stores nothing new, even after a crash between storing and answering."""

from __future__ import annotations

import secrets
import uuid

import grpc

from ingest_service.capture import idempotency, idempotency_store
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.capture_support import lead, new_source, rule, set_rules
from tests.ingest_service.connector_support import leads_of


def _key() -> tuple[tuple[str, str], ...]:
    return (("idempotency-key", f"batch-{secrets.token_hex(8)}"),)


def _batch(source_id: str) -> ingest_pb2.SubmitLeadsRequest:
    return ingest_pb2.SubmitLeadsRequest(
        leads=[
            lead(source_id, "", email="a@example.com"),  # no platform lead id: a plain retry doubles these
            lead(source_id, "", email="not-an-email"),
            lead(source_id, "", email="c@example.com"),
            lead(source_id, "p-4", email="d@example.com"),
        ]
    )


async def test_a_retry_with_the_same_key_returns_the_first_outcome_and_stores_nothing(api, pool):
    source = await new_source(api)
    await set_rules(api, source.source_id, [rule("email", email=validation_pb2.EmailCheck())])
    key = _key()
    first = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    assert [o.status for o in first.outcomes] == [
        common_pb2.LEAD_STATUS_ACCEPTED,
        common_pb2.LEAD_STATUS_REJECTED,
        common_pb2.LEAD_STATUS_ACCEPTED,
        common_pb2.LEAD_STATUS_ACCEPTED,
    ]
    assert first.outcomes[1].disposition_code == "REJECT_LEAD_INVALID_EMAIL"
    for _ in range(2):
        again = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
        assert again == first  # the same lead ids, dispositions, reasons, and duplicate = false
    rows = await leads_of(pool, source.source_id)
    assert sorted(str(r["lead_id"]) for r in rows) == sorted(o.lead_id for o in first.outcomes)
    # Without a key the same batch is new leads (the three without a platform lead id).
    await api.ingest.SubmitLeads(_batch(source.source_id))
    assert len(await leads_of(pool, source.source_id)) == 7


async def test_a_retry_after_a_crash_before_the_answer_was_recorded_stores_nothing_twice(api, pool):
    source = await new_source(api)
    key = _key()
    first = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    async with pool.acquire() as con:  # the state a crash between storing and recording leaves
        await con.execute(
            "UPDATE submit_idempotency SET response = NULL WHERE account_id = $1 AND key = $2",
            api.account.account_id,
            key[0][1],
        )
    retried = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    assert [o.lead_id for o in retried.outcomes] == [o.lead_id for o in first.outcomes]
    assert [o.status for o in retried.outcomes] == [o.status for o in first.outcomes]
    assert all(o.duplicate for o in retried.outcomes)  # found stored, not stored again
    assert len(await leads_of(pool, source.source_id)) == 4
    assert await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key) == retried


async def test_the_same_key_with_another_batch_is_refused_naming_the_key(api, pool):
    source = await new_source(api)
    key = _key()
    await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    other = ingest_pb2.SubmitLeadsRequest(leads=[lead(source.source_id, "", email="z@example.com")])
    err = await rpc_error(api.ingest.SubmitLeads(other, metadata=key))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idempotency-key" in err.details() and key[0][1] in err.details()
    assert len(await leads_of(pool, source.source_id)) == 4


async def test_keys_are_per_account_and_a_refused_call_leaves_its_key_free(api, pool, servers):
    source = await new_source(api)
    key = _key()
    bad = ingest_pb2.SubmitLeadsRequest(leads=[lead(source.source_id, "", form_id="no-such-form", email="a@x.com")])
    err = await rpc_error(api.ingest.SubmitLeads(bad, metadata=key))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    mine = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)  # corrected, same key
    other = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs_source = await new_source(other)
        theirs = await other.ingest.SubmitLeads(_batch(theirs_source.source_id), metadata=key)
    finally:
        await other.close()
    assert {o.lead_id for o in mine.outcomes}.isdisjoint(o.lead_id for o in theirs.outcomes)
    assert len(await leads_of(pool, theirs_source.source_id)) == 4


async def test_a_key_older_than_24_hours_is_forgotten(api, pool, servers):
    source = await new_source(api)
    key = _key()
    first = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    async with pool.acquire() as con:
        await con.execute(
            "UPDATE submit_idempotency SET created_at = now() - interval '25 hours' WHERE key = $1", key[0][1]
        )
    assert await idempotency.forget_expired(servers.ingest.deps) >= 1
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM submit_idempotency WHERE key = $1", key[0][1]) == 0
    later = await api.ingest.SubmitLeads(_batch(source.source_id), metadata=key)
    assert {o.lead_id for o in later.outcomes[:3]}.isdisjoint(o.lead_id for o in first.outcomes)


async def test_an_overlong_key_is_refused(api):
    source = await new_source(api)
    err = await rpc_error(api.ingest.SubmitLeads(_batch(source.source_id), metadata=(("idempotency-key", "k" * 201),)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "idempotency-key" in err.details()


class _ReleasedAfterTheInsert:
    """The claim's connection, with another call's refusal (its release of the key) landing between
    the claim's two statements -- the one interleaving that leaves the SELECT no row."""

    def __init__(self, con, pool, account_id, key: str) -> None:
        self._con, self._pool, self._account_id, self._key = con, pool, account_id, key
        self.released = False

    async def fetchrow(self, query: str, *args):
        row = await self._con.fetchrow(query, *args)
        if query.lstrip().startswith("INSERT") and row is None and not self.released:
            self.released = True
            async with self._pool.acquire() as other:
                await idempotency_store.release(other, self._account_id, self._key)
        return row


async def test_a_key_released_while_it_is_claimed_is_claimed_anew(pool):
    account = await new_account(pool)
    first_ids, second_ids = [uuid.uuid4()], [uuid.uuid4(), uuid.uuid4()]
    async with pool.acquire() as con:
        await idempotency_store.claim(con, account.account_id, "k-1", b"first", first_ids, 24)
        racing = _ReleasedAfterTheInsert(con, pool, account.account_id, "k-1")
        row = await idempotency_store.claim(racing, account.account_id, "k-1", b"second", second_ids, 24)
    assert racing.released
    assert (row["request_hash"], list(row["lead_ids"]), row["response"]) == (b"second", second_ids, None)
