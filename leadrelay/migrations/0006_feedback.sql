-- Lifecycle feedback to Meta: per-account Conversions API configuration, the advertiser's stage
-- mapping, and every recorded stage change with its dispatch status.

CREATE TABLE feedback_configs (
    account_id         uuid PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    dataset_id         text NOT NULL,
    -- Fernet ciphertext (leadrelay.crypto.SecretBox); never returned by any RPC.
    access_token       bytea,
    lead_event_source  text NOT NULL,
    mode               text NOT NULL DEFAULT 'IMMEDIATE' CHECK (mode IN ('IMMEDIATE', 'DAILY')),
    test_event_code    text NOT NULL DEFAULT '',
    daily_hour         integer NOT NULL DEFAULT 0 CHECK (daily_hour BETWEEN 0 AND 23),
    time_zone          text NOT NULL DEFAULT 'UTC',
    -- ISO 3166 region whose country code is added to national phone numbers before hashing.
    phone_region       text NOT NULL DEFAULT 'US',
    -- Non-empty while Meta refuses the token (code 190): dispatch waits for a new token.
    paused_reason      text NOT NULL DEFAULT '',
    paused_at          timestamptz,
    -- DAILY: the last run (set when the config is saved, so the first run is at the next slot).
    daily_last_run_at  timestamptz,
    last_sent_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feedback_stage_mappings (
    account_id  uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    crm_stage   text NOT NULL,
    meta_stage  text NOT NULL CHECK (meta_stage IN ('LEAD', 'MARKETING_QUALIFIED_LEAD', 'SALES_OPPORTUNITY',
                                                    'CONVERTED', 'DISQUALIFIED', 'LOST', 'NOT_ASSIGNED')),
    PRIMARY KEY (account_id, crm_stage)
);

CREATE TABLE feedback_events (
    event_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    lead_id          uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    -- Both stages are kept, always: the advertiser's own name and Meta's stage it mapped to.
    crm_stage        text NOT NULL,
    meta_stage       text NOT NULL CHECK (meta_stage IN ('LEAD', 'MARKETING_QUALIFIED_LEAD', 'SALES_OPPORTUNITY',
                                                         'CONVERTED', 'DISQUALIFIED', 'LOST', 'NOT_ASSIGNED')),
    changed_at       timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'EXPIRED', 'NOT_SENDABLE')),
    -- Why the event is FAILED / EXPIRED / NOT_SENDABLE, or the last transient error while PENDING.
    reason           text NOT NULL DEFAULT '',
    fbtrace_id       text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    -- An identical repeat (same lead, stage and time) is one change.
    UNIQUE (lead_id, crm_stage, changed_at)
);
CREATE INDEX feedback_events_pending ON feedback_events (account_id, changed_at, event_id)
    WHERE status = 'PENDING';
CREATE INDEX feedback_events_account ON feedback_events (account_id, status);
