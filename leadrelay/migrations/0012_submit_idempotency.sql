-- SubmitLeads idempotency keys: a batch retried with the same `idempotency-key` (per account, for 24 h)
-- returns its first outcome instead of storing its leads again. The lead ids are chosen and written
-- here before the leads are stored, so a retry after a crash mid-call stores under the same ids
-- (and finds the leads already there) instead of doubling them.
CREATE TABLE submit_idempotency (
    account_id    uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    key           text NOT NULL,
    -- SHA-256 of the request (deterministic protobuf bytes): the same key with another batch is refused.
    request_hash  bytea NOT NULL,
    lead_ids      uuid[] NOT NULL,
    -- The SubmitLeadsResponse (protobuf bytes) once the first call finished; NULL until then.
    response      bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX submit_idempotency_created ON submit_idempotency (created_at);
