-- Each lifecycle backfill run, so the notification role hears when one finished or failed (as it
-- does for imports, uploads and syncs): the Backfill RPC only streams its progress. No lead data.
CREATE TABLE feedback_backfills (
    backfill_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    since           timestamptz NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    ok              boolean,
    summary         text NOT NULL DEFAULT ''
);
CREATE INDEX feedback_backfills_ended ON feedback_backfills (account_id, finished_at);
GRANT SELECT ON feedback_backfills TO leadrelay_reader;
