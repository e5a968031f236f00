-- CRM destinations: a JSON body template (instead of the flat body), the vendor preset it came from,
-- how many leads go in one call, OAuth 2 (settings in clear, credentials only encrypted), and why a
-- destination is paused when a person has to act (its token cannot be renewed).

ALTER TABLE destinations
    ADD COLUMN body_template    text,
    ADD COLUMN preset           text NOT NULL DEFAULT '',
    ADD COLUMN batch_size       integer NOT NULL DEFAULT 1 CHECK (batch_size BETWEEN 1 AND 300),
    -- {"grant_type": ..., "token_url": ..., "scope": ..., "auth_scheme": ...}; {} without OAuth.
    ADD COLUMN oauth            jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN oauth_encrypted  bytea,
    ADD COLUMN paused_reason    text NOT NULL DEFAULT '';
