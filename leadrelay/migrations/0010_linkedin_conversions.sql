-- Lifecycle feedback to LinkedIn's Conversions API: per-account token and stage -> conversion rule
-- mapping; each recorded change says which API it goes to (a Facebook lead's to Meta, a LinkedIn
-- lead's to LinkedIn).

CREATE TABLE linkedin_conversion_configs (
    account_id        uuid PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    -- Fernet ciphertext (leadrelay.crypto.SecretBox); never returned by any RPC.
    access_token      bytea,
    -- The advertiser's stage name -> conversion rule URN (urn:lla:llaPartnerConversion:<id>).
    conversion_rules  jsonb NOT NULL DEFAULT '{}',
    -- Non-empty while LinkedIn refuses the token (401/403): dispatch waits for a new token.
    paused_reason     text NOT NULL DEFAULT '',
    paused_at         timestamptz,
    last_sent_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE feedback_events
    ADD COLUMN channel text NOT NULL DEFAULT 'META' CHECK (channel IN ('META', 'LINKEDIN'));

DROP INDEX feedback_events_pending;
CREATE INDEX feedback_events_pending ON feedback_events (account_id, channel, changed_at, event_id)
    WHERE status = 'PENDING';
