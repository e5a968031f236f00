-- People and keys: invited console users (no password until they set one by an e-mailed link),
-- the notification role (who receives the integration's system messages), the one-time links,
-- when an API key was last used, and the audit log of set-up changes.

-- An invited user has no password until they follow their link; such a user cannot sign in.
ALTER TABLE report_users
    ALTER COLUMN password_hash DROP NOT NULL,
    -- In the role that receives system messages (when nobody is, the account's admins receive them).
    ADD COLUMN notify boolean NOT NULL DEFAULT false,
    ADD COLUMN invited_at timestamptz;

-- One-time links to set a password (an invitation, or a reset an admin asked for). The e-mail
-- carries a random token; only its SHA-256 is kept, so a copy of this table sets no password.
CREATE TABLE report_password_links (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES report_users ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX report_password_links_user ON report_password_links (user_id);
REVOKE SELECT ON report_password_links FROM leadrelay_reader;

-- Moved at most every few minutes by the key lookup (a coarse "last used", not a write per call).
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;

-- Set-up changes: who (`user:<id>`, `key:<prefix>` or '' for the system), when, what. Details
-- never hold secret values (tokens, header values, passwords, keys): only names and shapes.
CREATE TABLE audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL DEFAULT '',
    area        text NOT NULL,
    action      text NOT NULL,
    -- The id of what changed (a source, form, destination, user, key prefix), '' when the account.
    subject_id  text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_account ON audit_log (account_id, at DESC, audit_id DESC);
