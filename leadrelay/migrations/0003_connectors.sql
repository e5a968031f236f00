-- Social connectors: platform connections (encrypted tokens), poll watermarks, the webhook inbox,
-- and historical sync runs.

-- One row per connected Facebook Page / LinkedIn ad account source. Deleting the row is revoking.
CREATE TABLE source_connections (
    source_id              uuid PRIMARY KEY REFERENCES sources ON DELETE CASCADE,
    account_id             uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- Fernet ciphertext (leadrelay.crypto.SecretBox), never the token itself.
    access_token           bytea NOT NULL,
    refresh_token          bytea,
    connected_at           timestamptz NOT NULL DEFAULT now(),
    last_polled_at         timestamptz,
    last_error             text NOT NULL DEFAULT '',
    -- Rate limited: no calls for this source before this time; doubles with each refusal.
    backoff_until          timestamptz,
    backoff_seconds        double precision NOT NULL DEFAULT 0
);

-- Where the pull backup / LinkedIn polling resumes. scope: a Facebook form id, or '' for a LinkedIn
-- ad account. position: Unix seconds (Facebook time_created) or epoch milliseconds (LinkedIn submittedAt).
CREATE TABLE connector_watermarks (
    source_id   uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    scope       text NOT NULL DEFAULT '',
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, scope)
);

-- Every webhook notification, stored before the platform gets its 200 and processed after.
-- One row per leadgen change / LinkedIn LEAD_ACTION; a malformed POST is one row with its raw body.
CREATE TABLE webhook_inbox (
    inbox_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform         text NOT NULL CHECK (platform IN ('FACEBOOK', 'LINKEDIN')),
    -- Facebook leadgen_id; LinkedIn response id + ':' + action; NULL for a body we could not read.
    dedupe_key       text,
    external_account_id text NOT NULL DEFAULT '',
    platform_form_id text NOT NULL DEFAULT '',
    payload          jsonb,
    raw_body         text,
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'DONE', 'FAILED', 'IGNORED')),
    reason           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz
);
-- Repeats (at-least-once delivery, duplicate storms) are one row.
CREATE UNIQUE INDEX webhook_inbox_dedupe ON webhook_inbox (platform, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX webhook_inbox_pending ON webhook_inbox (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_inbox_account ON webhook_inbox (platform, external_account_id, received_at DESC);

-- Historical syncs (SyncLeads): progress and the checkpoint an interrupted run resumes from.
CREATE TABLE sync_runs (
    sync_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    source_id    uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    -- The platform form id, or '' for every form of the source.
    form_scope   text NOT NULL DEFAULT '',
    since        timestamptz NOT NULL,
    until        timestamptz NOT NULL,
    -- Everything before this instant of the window is done.
    checkpoint   timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'RUNNING'
                 CHECK (state IN ('RUNNING', 'INTERRUPTED', 'DONE', 'FAILED')),
    pages_read   bigint NOT NULL DEFAULT 0,
    leads_seen   bigint NOT NULL DEFAULT 0,
    leads_new    bigint NOT NULL DEFAULT 0,
    leads_known  bigint NOT NULL DEFAULT 0,
    message      text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_runs_window ON sync_runs (source_id, form_scope, since, until);
