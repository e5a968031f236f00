-- Report day windows in the account's time zone (accounts.time_zone, default UTC).
--
-- The aggregates stay one row per day, but the day is the account's local day. Considered instead:
-- aggregates per UTC hour, summed into any zone's days at read time. Zones at :30 and :45 offsets
-- (Asia/Kolkata +05:30, Asia/Kathmandu +05:45, Australia/Eucla +08:45, America/St_Johns -03:30)
-- would need quarter-hour rows, up to 96 times today's rows, and every report would sum that many
-- more (a 90-day Source Report at 10M leads: ~8 ms today, most of a second then). A zone changes
-- seldom, so it pays for itself instead: the account's aggregates are rebuilt from its leads.
--
-- So that a zone change can never count a lead on the wrong day, the deltas the triggers append
-- carry no zone: each keeps the quarter hour (UTC) its leads were received in, which falls in one
-- local day in every zone in use (every offset is a multiple of 15 minutes). The rollup turns a
-- quarter hour into the account's day as it folds; readers do the same for the deltas not folded.
-- report_rebuild() replaces an account's aggregates and deltas from one snapshot of its leads.

-- What is pending was counted by UTC day: fold it with the old function before the deltas change.
SELECT report_rollup();
DELETE FROM report_lead_deltas;

ALTER TABLE report_lead_deltas
    DROP COLUMN day,
    ADD COLUMN slot timestamptz NOT NULL;
CREATE INDEX report_lead_deltas_slot ON report_lead_deltas (account_id, slot);

-- The quarter hour (UTC) a moment falls in.
CREATE FUNCTION report_slot(at timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
$$;

CREATE OR REPLACE FUNCTION report_leads_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_lead_deltas
            (account_id, source_id, slot, status, disposition_code, post_out_status, custom_reason, n)
        SELECT account_id, source_id, report_slot(received_at), status, disposition_code,
               post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END,
               count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_lead_deltas
            (account_id, source_id, slot, status, disposition_code, post_out_status, custom_reason, n)
        SELECT account_id, source_id, report_slot(received_at), status, disposition_code,
               post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END,
               -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSE
        -- Updates that change none of the grouped columns (fields, updated_at, ...) net to nothing.
        INSERT INTO report_lead_deltas
            (account_id, source_id, slot, status, disposition_code, post_out_status, custom_reason, n)
        SELECT account_id, source_id, report_slot(received_at), status, disposition_code,
               post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END,
               sum(n)
        FROM (SELECT account_id, source_id, received_at, status, disposition_code, post_out_status,
                     custom_reason, 1 AS n FROM new_rows
              UNION ALL
              SELECT account_id, source_id, received_at, status, disposition_code, post_out_status,
                     custom_reason, -1 FROM old_rows) AS changed
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;

-- As before, with each quarter hour turned into its account's local day as it is folded. The
-- caller holds the rollup lock (leadrelay.report_counts), which report_rebuild's callers take too.
CREATE OR REPLACE FUNCTION report_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH moved AS (DELETE FROM report_lead_deltas RETURNING *),
    located AS (
        SELECT m.account_id, (m.slot AT TIME ZONE a.time_zone)::date AS day, m.source_id, m.status,
               m.disposition_code, m.post_out_status, m.custom_reason, m.n
        FROM moved m JOIN accounts a USING (account_id)),
    counts AS (
        INSERT INTO report_lead_counts AS c
        SELECT account_id, day, source_id, status, disposition_code, post_out_status, sum(n)
        FROM located GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (account_id, day, source_id, status, disposition_code, post_out_status)
        DO UPDATE SET n = c.n + EXCLUDED.n),
    reasons AS (
        INSERT INTO report_rejection_reasons AS r
        SELECT account_id, day, source_id, disposition_code, custom_reason, sum(n)
        FROM located WHERE status = 'REJECTED' GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (account_id, day, source_id, disposition_code, custom_reason)
        DO UPDATE SET n = r.n + EXCLUDED.n)
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END
$$;

-- An account's aggregates, counted again from its leads by its current zone's days; its pending
-- deltas are dropped, being counted already. Run it in a REPEATABLE READ transaction that began
-- after taking the rollup lock: one snapshot then sees a lead exactly when it sees that lead's
-- deltas, so a lead stored meanwhile is counted once, by the rollup, after this commits.
CREATE FUNCTION report_rebuild(account uuid) RETURNS void LANGUAGE sql AS $$
    DELETE FROM report_lead_deltas WHERE account_id = account;
    DELETE FROM report_lead_counts WHERE account_id = account;
    DELETE FROM report_rejection_reasons WHERE account_id = account;
    INSERT INTO report_lead_counts
    SELECT l.account_id, (l.received_at AT TIME ZONE a.time_zone)::date, l.source_id, l.status,
           l.disposition_code, l.post_out_status, count(*)
    FROM leads l JOIN accounts a USING (account_id)
    WHERE l.account_id = account
    GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO report_rejection_reasons
    SELECT l.account_id, (l.received_at AT TIME ZONE a.time_zone)::date, l.source_id, l.disposition_code,
           left(l.custom_reason, 200), count(*)
    FROM leads l JOIN accounts a USING (account_id)
    WHERE l.account_id = account AND l.status = 'REJECTED'
    GROUP BY 1, 2, 3, 4, 5;
$$;

-- Accounts already set to another zone were counted by UTC days until now.
SELECT report_rebuild(account_id) FROM accounts WHERE time_zone <> 'UTC';
