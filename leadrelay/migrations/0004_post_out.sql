-- Post-out: destinations (the customer's MA/CRM endpoints), one delivery per lead and destination
-- (the outbox the workers claim), and every attempt (the Post Out Logs).

CREATE TABLE destinations (
    destination_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id            uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    source_id             uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    name                  text NOT NULL,
    url                   text NOT NULL,
    method                text NOT NULL DEFAULT 'POST' CHECK (method IN ('POST', 'PUT', 'PATCH')),
    body_format           text NOT NULL DEFAULT 'JSON' CHECK (body_format IN ('JSON', 'FORM')),
    -- [{"column": ..., "lead_column": ...} | {"column": ..., "constant": {"kind": ..., "value": ...}}]
    body                  jsonb NOT NULL DEFAULT '[]',
    -- Header names are shown; their values are secrets, kept only encrypted (a JSON object).
    header_names          text[] NOT NULL DEFAULT '{}',
    headers_encrypted     bytea,
    -- SuccessCriteria as JSON (status_ranges, result_json_path, accepted_values, ...).
    success               jsonb NOT NULL DEFAULT '{}',
    timeout_ms            integer NOT NULL DEFAULT 10000,
    enabled               boolean NOT NULL DEFAULT true,
    post_test_leads       boolean NOT NULL DEFAULT false,
    -- The circuit breaker: failures in a row, and until when the destination is paused.
    consecutive_failures  integer NOT NULL DEFAULT 0,
    paused_until          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX destinations_source ON destinations (source_id);
CREATE INDEX destinations_account ON destinations (account_id, created_at);

-- One row per (lead, destination): its status is the delivery's state, and while PENDING or RETRYING
-- it is the outbox entry. A worker claims a row by pushing next_attempt_at one lease ahead and
-- stamping lease_token, so a crashed worker's rows become due again when the lease runs out.
CREATE TABLE post_outs (
    lead_id            uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    destination_id     uuid NOT NULL REFERENCES destinations ON DELETE CASCADE,
    account_id         uuid NOT NULL,
    source_id          uuid NOT NULL,
    status             text NOT NULL DEFAULT 'PENDING'
                       CHECK (status IN ('PENDING', 'RETRYING', 'POSTED', 'REJECTED_BY_DESTINATION', 'FAILED')),
    -- Sent as the Idempotency-Key header; the same for every attempt of the pair, forever.
    idempotency_key    text NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    last_status_code   integer NOT NULL DEFAULT 0,
    last_error         text NOT NULL DEFAULT '',
    record_id          text NOT NULL DEFAULT '',
    -- The retry horizon counts from here (reset by RetryPostOuts and re-acceptance).
    enqueued_at        timestamptz NOT NULL DEFAULT now(),
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    lease_token        uuid,
    posted_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lead_id, destination_id)
);
CREATE INDEX post_outs_due ON post_outs (next_attempt_at) WHERE status IN ('PENDING', 'RETRYING');
CREATE INDEX post_outs_account ON post_outs (account_id, created_at DESC, lead_id, destination_id);
CREATE INDEX post_outs_source_status ON post_outs (source_id, status);
CREATE INDEX post_outs_destination ON post_outs (destination_id);

CREATE TABLE post_out_attempts (
    attempt_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id           uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    destination_id    uuid NOT NULL REFERENCES destinations ON DELETE CASCADE,
    account_id        uuid NOT NULL,
    attempt           integer NOT NULL,
    at                timestamptz NOT NULL DEFAULT now(),
    status_code       integer NOT NULL DEFAULT 0,
    duration_ms       integer NOT NULL DEFAULT 0,
    outcome           text NOT NULL CHECK (outcome IN ('posted', 'rejected', 'retry', 'failed')),
    reason            text NOT NULL DEFAULT '',
    response_excerpt  text NOT NULL DEFAULT ''
);
CREATE INDEX post_out_attempts_lead ON post_out_attempts (lead_id, destination_id, attempt_id);
CREATE INDEX post_out_attempts_destination ON post_out_attempts (destination_id, attempt_id);
