-- Accounts, API keys, sources, forms, leads and their audit trail.

CREATE TABLE accounts (
    account_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only a key's SHA-256 is stored; the key itself is shown once, when created.
CREATE TABLE api_keys (
    key_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE sources (
    source_id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id           uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name                 text NOT NULL,
    platform             text NOT NULL CHECK (platform IN ('LINKEDIN', 'FACEBOOK', 'CSV', 'API')),
    external_account_id  text NOT NULL DEFAULT '',
    enabled              boolean NOT NULL DEFAULT true,
    state                text NOT NULL DEFAULT 'ACTIVE'
                         CHECK (state IN ('ACTIVE', 'NEEDS_RECONNECT', 'DISCONNECTED')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sources_account ON sources (account_id);
-- One LinkedIn ad account or Facebook Page is one source within an account.
CREATE UNIQUE INDEX sources_external ON sources (account_id, platform, external_account_id)
    WHERE external_account_id <> '';

CREATE TABLE forms (
    form_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id         uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    account_id        uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    platform_form_id  text NOT NULL,
    name              text NOT NULL DEFAULT '',
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, platform_form_id)
);

CREATE TABLE leads (
    lead_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id        uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    source_id         uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    form_id           uuid REFERENCES forms ON DELETE SET NULL,
    platform_lead_id  text NOT NULL,
    status            text NOT NULL DEFAULT 'PROCESSING'
                      CHECK (status IN ('PROCESSING', 'ACCEPTED', 'REJECTED')),
    disposition_code  text NOT NULL DEFAULT '',
    custom_reason     text NOT NULL DEFAULT '',
    -- The raw submission, [{"name": ..., "values": [...]}], kept so a lead can always be re-mapped.
    answers           jsonb NOT NULL DEFAULT '[]',
    -- The mapped CRM columns, {"column": "value"}.
    fields            jsonb NOT NULL DEFAULT '{}',
    -- Platform context: ad_id, campaign_id, is_organic, ...
    platform_context  jsonb NOT NULL DEFAULT '{}',
    is_test           boolean NOT NULL DEFAULT false,
    criteria_version  integer NOT NULL DEFAULT 0,
    -- Summary of the lead's deliveries ('' none, PENDING, RETRYING, POSTED, FAILED,
    -- REJECTED_BY_DESTINATION, NOT_POSTED), kept current by the post-out workers for lists and exports.
    post_out_status   text NOT NULL DEFAULT '',
    captured_at       timestamptz NOT NULL DEFAULT now(),
    received_at       timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- The same platform lead for the same source is one lead (webhook retries, overlapping syncs).
    UNIQUE (source_id, platform_lead_id)
);
CREATE INDEX leads_account_received ON leads (account_id, received_at DESC);
CREATE INDEX leads_source_received ON leads (source_id, received_at DESC);
CREATE INDEX leads_processing ON leads (received_at) WHERE status = 'PROCESSING';

-- Every state change of a lead: the audit trail a manager or an auditor reads.
CREATE TABLE lead_events (
    event_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    account_id  uuid NOT NULL,
    type        text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, event_id);
