-- The manager's console: sign-in sessions held server-side, sign-in throttling, and two settings of
-- the account (its time zone for times and day windows shown; whether viewers see personal data).

-- A browser session of a reports user. The browser holds a random token in an HttpOnly cookie;
-- only its SHA-256 is stored, so a copy of this table signs no one in. A session ends when idle
-- longer than REPORTS_SESSION_IDLE_HOURS, when revoked (sign-out), or when its user is disabled.
CREATE TABLE report_sessions (
    session_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash    bytea NOT NULL UNIQUE,
    user_id       uuid NOT NULL REFERENCES report_users ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX report_sessions_user ON report_sessions (user_id);

-- Failed sign-ins per key (a keyed hash of the email, or of the client address: never the raw
-- email). Each failure past the free ones locks the key for a growing time.
CREATE TABLE report_sign_in_failures (
    key_hash         bytea PRIMARY KEY,
    failures         integer NOT NULL DEFAULT 0,
    last_failure_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz
);

ALTER TABLE accounts
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN viewers_see_personal_data boolean NOT NULL DEFAULT false;

-- Credentials stay out of reach of report queries (the default privileges granted SELECT).
REVOKE SELECT ON report_sessions, report_sign_in_failures FROM leadrelay_reader;
