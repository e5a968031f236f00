-- Notifications to the role: every condition that started (and when it cleared), the e-mails
-- they cause (an outbox the console's scheduler sends from), and per account the moment from
-- which finished jobs (imports, uploads, syncs) are told about.

CREATE TABLE notification_alerts (
    alert_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- What holds, e.g. 'destination:<id>'; one open alert per key.
    condition_key  text NOT NULL,
    kind           text NOT NULL,
    title          text NOT NULL,
    message        text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    cleared_at     timestamptz
);
CREATE UNIQUE INDEX notification_alerts_open ON notification_alerts (account_id, condition_key)
    WHERE cleared_at IS NULL;
CREATE INDEX notification_alerts_account ON notification_alerts (account_id, started_at DESC);

CREATE TABLE notification_mails (
    mail_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES notification_alerts ON DELETE CASCADE,
    account_id       uuid NOT NULL,
    event            text NOT NULL CHECK (event IN ('started', 'cleared')),
    subject          text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    recipients       text[] NOT NULL DEFAULT '{}',
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX notification_mails_due ON notification_mails (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX notification_mails_alert ON notification_mails (alert_id);

CREATE TABLE notification_watermarks (
    account_id  uuid PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    jobs_since  timestamptz NOT NULL
);

-- The notifier reads when a platform authorisation runs out, never its tokens.
GRANT SELECT (grant_id, account_id, platform, reconnect_by, failed_at) ON platform_grants TO leadrelay_reader;
