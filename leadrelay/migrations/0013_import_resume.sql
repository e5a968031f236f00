-- Resumable imports (issue 20): an import is claimed by one call at a time (a lease its call renews),
-- its fingerprint (the file's SHA-256 with the spec) finds it again when the same file is sent again,
-- and its status says whether it finished, was interrupted (a crash, a cancelled call) or abandoned.

ALTER TABLE imports
    ADD COLUMN status      text NOT NULL DEFAULT 'running'
                           CHECK (status IN ('running', 'interrupted', 'finished', 'abandoned')),
    ADD COLUMN fingerprint text NOT NULL DEFAULT '',
    ADD COLUMN lease_until timestamptz;

UPDATE imports SET status = CASE WHEN finished_at IS NULL THEN 'interrupted' ELSE 'finished' END;

-- One live import per file and spec: two calls sending the same file resume the same import.
CREATE UNIQUE INDEX imports_fingerprint ON imports (account_id, fingerprint)
    WHERE fingerprint <> '' AND status <> 'abandoned';
