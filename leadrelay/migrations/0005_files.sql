-- File imports and re-uploads: one row per run with its summary (dry runs store nothing, so no row).
-- Imported leads carry platform_lead_id 'import:<import_id>:<row>', tying each lead to its file row.

CREATE TABLE imports (
    import_id      uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('import', 'reupload')),
    source_id      uuid REFERENCES sources ON DELETE SET NULL,
    file_name      text NOT NULL DEFAULT '',
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    rows_read      bigint NOT NULL DEFAULT 0,
    rows_accepted  bigint NOT NULL DEFAULT 0,
    rows_rejected  bigint NOT NULL DEFAULT 0,
    rows_updated   bigint NOT NULL DEFAULT 0,
    rows_skipped   bigint NOT NULL DEFAULT 0,
    rows_errored   bigint NOT NULL DEFAULT 0,
    rows_waiting   bigint NOT NULL DEFAULT 0,
    summary        text NOT NULL DEFAULT ''
);
CREATE INDEX imports_account ON imports (account_id, started_at DESC);
