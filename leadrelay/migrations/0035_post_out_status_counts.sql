-- The Post-outs page's deliveries per destination and status, kept like the report counts (0007,
-- 0031): it counted every delivery of the account on each load (0.43 s at a million leads).
--
-- A statement-level trigger appends what each statement changed, grouped, to post_out_status_deltas:
-- one row per (destination, status) a statement moved, however many deliveries it touched, so a
-- batch of deliveries pays one small insert, and no row is updated by every worker (appends only,
-- nothing for concurrent workers to wait on). Claims change no status and append nothing. The fold
-- (console_rollup, with the report rollup) moves the deltas into post_out_status_counts; readers
-- sum both, so the counts are exact at any moment.
CREATE TABLE post_out_status_deltas (
    account_id      uuid NOT NULL,
    destination_id  uuid NOT NULL,
    status          text NOT NULL,
    n               bigint NOT NULL
);
CREATE INDEX post_out_status_deltas_account ON post_out_status_deltas (account_id);

CREATE TABLE post_out_status_counts (
    account_id      uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    destination_id  uuid NOT NULL,
    status          text NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (account_id, destination_id, status)
);

CREATE FUNCTION post_out_status_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO post_out_status_deltas
        SELECT account_id, destination_id, status, count(*) FROM new_rows GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO post_out_status_deltas
        SELECT account_id, destination_id, status, -count(*) FROM old_rows GROUP BY 1, 2, 3;
    ELSE
        -- Claims and retries' bookkeeping that keep the status net to nothing: nothing appended.
        INSERT INTO post_out_status_deltas
        SELECT account_id, destination_id, status, sum(n)
        FROM (SELECT account_id, destination_id, status, 1 AS n FROM new_rows
              UNION ALL
              SELECT account_id, destination_id, status, -1 FROM old_rows) AS changed
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;

-- Created before the backfill: the trigger's lock holds writers back until this commits, and the
-- backfill (a later statement, a later snapshot) counts every delivery committed before.
CREATE TRIGGER post_outs_status_insert AFTER INSERT ON post_outs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION post_out_status_delta();
CREATE TRIGGER post_outs_status_update AFTER UPDATE ON post_outs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION post_out_status_delta();
CREATE TRIGGER post_outs_status_delete AFTER DELETE ON post_outs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION post_out_status_delta();

INSERT INTO post_out_status_counts
SELECT p.account_id, p.destination_id, p.status, count(*)
FROM post_outs p JOIN accounts a USING (account_id)
GROUP BY 1, 2, 3;

-- Folds every pending console delta (this migration's and 0036's) into its counts; called with the
-- report rollup, under its lock (leadrelay.report_counts). Deltas of deleted accounts are dropped.
CREATE FUNCTION console_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH moved AS (DELETE FROM post_out_status_deltas RETURNING *),
    counts AS (
        INSERT INTO post_out_status_counts AS c
        SELECT m.account_id, m.destination_id, m.status, sum(m.n)
        FROM moved m JOIN accounts a USING (account_id)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (account_id, destination_id, status) DO UPDATE SET n = c.n + EXCLUDED.n)
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END
$$;

-- The Delivery log lists an account's attempts of a window, newest first (200 at most). With no
-- index for it, it read every attempt of the account in the window and sorted them (107 ms for a
-- week at a million leads, growing with the window's attempts); this reads them in the page's order.
CREATE INDEX post_out_attempts_account_at ON post_out_attempts (account_id, at DESC, attempt_id DESC);
