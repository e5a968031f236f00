-- The Lifecycle page's counts, kept like the report counts: its funnel counted the distinct leads
-- of every lifecycle event of the account on each load (1.4 s at a million leads), and its status
-- and unmapped-stage tables, the Overview's alerts and the feedback setup page counted every event.
--
-- lifecycle_event_counts: events per (CRM stage, stage, status). lifecycle_stage_leads: the leads
-- that reached each stage, a lead counted once however many events took it there. Both are kept
-- from deltas a statement-level trigger appends (one row per group a statement changed), folded by
-- console_rollup. For "once per lead" the trigger keeps each lead's events per stage
-- (lifecycle_lead_stages, one row per lead and stage): a lead adds to its stage's count when its
-- row goes from 0 events to more, and takes back when it returns to 0. The row's lock (the upsert)
-- orders two statements adding the same lead's first events at once, so it is counted once.
CREATE TABLE lifecycle_event_deltas (
    account_id  uuid NOT NULL,
    crm_stage   text NOT NULL,
    meta_stage  text NOT NULL,
    status      text NOT NULL,
    n           bigint NOT NULL
);
CREATE INDEX lifecycle_event_deltas_account ON lifecycle_event_deltas (account_id);

CREATE TABLE lifecycle_event_counts (
    account_id  uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    crm_stage   text NOT NULL,
    meta_stage  text NOT NULL,
    status      text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (account_id, crm_stage, meta_stage, status)
);

CREATE TABLE lifecycle_lead_stages (
    lead_id     uuid NOT NULL,
    meta_stage  text NOT NULL,
    account_id  uuid NOT NULL,
    events      integer NOT NULL,
    PRIMARY KEY (lead_id, meta_stage)
);

CREATE TABLE lifecycle_stage_lead_deltas (
    account_id  uuid NOT NULL,
    meta_stage  text NOT NULL,
    n           bigint NOT NULL
);
CREATE INDEX lifecycle_stage_lead_deltas_account ON lifecycle_stage_lead_deltas (account_id);

CREATE TABLE lifecycle_stage_leads (
    account_id  uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    meta_stage  text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (account_id, meta_stage)
);

-- The events a statement added (+1) and took away (-1), as `changed`.
CREATE FUNCTION lifecycle_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols constant text := 'account_id, lead_id, crm_stage, meta_stage, status';
    changed text;
BEGIN
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %s, 1 AS n FROM new_rows', cols)
        WHEN 'DELETE' THEN format('SELECT %s, -1 AS n FROM old_rows', cols)
        ELSE format('SELECT %1$s, 1 AS n FROM new_rows UNION ALL SELECT %1$s, -1 FROM old_rows', cols)
    END;
    EXECUTE format($sql$
        WITH changed AS (%s),
        events AS (
            INSERT INTO lifecycle_event_deltas
            SELECT account_id, crm_stage, meta_stage, status, sum(n) FROM changed
            GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
        per_lead AS (
            SELECT account_id, lead_id, meta_stage, sum(n)::integer AS n FROM changed
            GROUP BY 1, 2, 3 HAVING sum(n) <> 0),
        kept AS (
            INSERT INTO lifecycle_lead_stages AS s (lead_id, meta_stage, account_id, events)
            SELECT lead_id, meta_stage, account_id, n FROM per_lead ORDER BY 1, 2
            ON CONFLICT (lead_id, meta_stage) DO UPDATE SET events = s.events + EXCLUDED.events
            RETURNING s.lead_id, s.meta_stage, s.events)
        INSERT INTO lifecycle_stage_lead_deltas
        SELECT p.account_id, p.meta_stage, sum((k.events > 0)::integer - (k.events - p.n > 0)::integer)
        FROM kept k JOIN per_lead p USING (lead_id, meta_stage)
        GROUP BY 1, 2 HAVING sum((k.events > 0)::integer - (k.events - p.n > 0)::integer) <> 0
    $sql$, changed);
    -- A lead's stage row at 0 events counts nothing: dropped, not left behind for every lead that
    -- moved or was deleted. (A statement adding to it meanwhile waits on its lock and inserts anew.)
    IF TG_OP <> 'INSERT' THEN
        EXECUTE format($sql$
            DELETE FROM lifecycle_lead_stages s USING (SELECT DISTINCT lead_id, meta_stage FROM (%s) c) AS c
            WHERE s.lead_id = c.lead_id AND s.meta_stage = c.meta_stage AND s.events = 0
        $sql$, changed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER feedback_events_counts_insert AFTER INSERT ON feedback_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_counts_delta();
CREATE TRIGGER feedback_events_counts_update AFTER UPDATE ON feedback_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_counts_delta();
CREATE TRIGGER feedback_events_counts_delete AFTER DELETE ON feedback_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_counts_delta();

-- The backfill, after the triggers (whose lock holds writers back until this commits).
INSERT INTO lifecycle_lead_stages (lead_id, meta_stage, account_id, events)
SELECT lead_id, meta_stage, account_id, count(*) FROM feedback_events GROUP BY 1, 2, 3;
INSERT INTO lifecycle_event_counts
SELECT e.account_id, e.crm_stage, e.meta_stage, e.status, count(*)
FROM feedback_events e JOIN accounts a USING (account_id) GROUP BY 1, 2, 3, 4;
INSERT INTO lifecycle_stage_leads
SELECT s.account_id, s.meta_stage, count(*)
FROM lifecycle_lead_stages s JOIN accounts a USING (account_id) GROUP BY 1, 2;

-- The Lifecycle page's newest expired and failed events, read in order (as 0033 for deliveries).
CREATE INDEX feedback_events_account_problems ON feedback_events (account_id, changed_at DESC)
    WHERE status IN ('FAILED', 'EXPIRED', 'NOT_SENDABLE');

CREATE OR REPLACE FUNCTION console_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    more bigint;
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
    WITH moved AS (DELETE FROM lifecycle_event_deltas RETURNING *),
    counts AS (
        INSERT INTO lifecycle_event_counts AS c
        SELECT m.account_id, m.crm_stage, m.meta_stage, m.status, sum(m.n)
        FROM moved m JOIN accounts a USING (account_id)
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (account_id, crm_stage, meta_stage, status) DO UPDATE SET n = c.n + EXCLUDED.n)
    SELECT count(*) INTO more FROM moved;
    folded := folded + more;
    WITH moved AS (DELETE FROM lifecycle_stage_lead_deltas RETURNING *),
    counts AS (
        INSERT INTO lifecycle_stage_leads AS c
        SELECT m.account_id, m.meta_stage, sum(m.n)
        FROM moved m JOIN accounts a USING (account_id)
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (account_id, meta_stage) DO UPDATE SET n = c.n + EXCLUDED.n)
    SELECT count(*) INTO more FROM moved;
    RETURN folded + more;
END
$$;

-- The feedback setup page's last change of each CRM stage: the end of this index, per stage.
CREATE INDEX feedback_events_account_stage ON feedback_events (account_id, crm_stage, changed_at);
