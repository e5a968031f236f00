-- Reports: lead-count aggregates kept current as leads change, reports-app users, scheduled exports
-- and their delivery history, and the read-only role the reports app queries as.

-- Every INSERT/UPDATE/DELETE statement on leads appends its net change per group here (statement
-- triggers over transition tables: one small INSERT per statement, whatever its row count). Appending
-- instead of upserting keeps ingest free of hot-row locks and deadlocks between concurrent writers;
-- `report_rollup()` folds the deltas into the two tables below, and readers add the unfolded rest.
CREATE TABLE report_lead_deltas (
    account_id        uuid NOT NULL,
    source_id         uuid NOT NULL,
    day               date NOT NULL,
    status            text NOT NULL,
    disposition_code  text NOT NULL,
    post_out_status   text NOT NULL,
    -- Only for REJECTED leads (the rejection-reason breakdown); '' otherwise.
    custom_reason     text NOT NULL,
    n                 bigint NOT NULL
);
CREATE INDEX report_lead_deltas_account ON report_lead_deltas (account_id, day);

-- Leads per account, UTC day (of received_at), source, status, disposition and post-out status.
CREATE TABLE report_lead_counts (
    account_id        uuid NOT NULL,
    day               date NOT NULL,
    source_id         uuid NOT NULL,
    status            text NOT NULL,
    disposition_code  text NOT NULL,
    post_out_status   text NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (account_id, day, source_id, status, disposition_code, post_out_status)
);

-- Rejected leads per account, UTC day, source, disposition and reason (the offending values).
CREATE TABLE report_rejection_reasons (
    account_id        uuid NOT NULL,
    day               date NOT NULL,
    source_id         uuid NOT NULL,
    disposition_code  text NOT NULL,
    custom_reason     text NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (account_id, day, source_id, disposition_code, custom_reason)
);

CREATE FUNCTION report_leads_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_lead_deltas
        SELECT account_id, source_id, (received_at AT TIME ZONE 'UTC')::date, status, disposition_code,
               post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END,
               count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_lead_deltas
        SELECT account_id, source_id, (received_at AT TIME ZONE 'UTC')::date, status, disposition_code,
               post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END,
               -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSE
        -- Updates that change none of the grouped columns (fields, updated_at, ...) net to nothing.
        INSERT INTO report_lead_deltas
        SELECT account_id, source_id, (received_at AT TIME ZONE 'UTC')::date, status, disposition_code,
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

CREATE TRIGGER leads_report_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_leads_delta();
CREATE TRIGGER leads_report_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_leads_delta();
CREATE TRIGGER leads_report_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_leads_delta();

-- Folds the appended deltas into the aggregates. Safe to run concurrently (a second run finds the
-- rows already deleted); returns the number of delta rows folded. Groups that emptied (PROCESSING
-- leads once judged) stay as zero rows: harmless, every reader sums.
CREATE FUNCTION report_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH moved AS (DELETE FROM report_lead_deltas RETURNING *),
    counts AS (
        INSERT INTO report_lead_counts AS c
        SELECT account_id, day, source_id, status, disposition_code, post_out_status, sum(n)
        FROM moved GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (account_id, day, source_id, status, disposition_code, post_out_status)
        DO UPDATE SET n = c.n + EXCLUDED.n),
    reasons AS (
        INSERT INTO report_rejection_reasons AS r
        SELECT account_id, day, source_id, disposition_code, custom_reason, sum(n)
        FROM moved WHERE status = 'REJECTED' GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (account_id, day, source_id, disposition_code, custom_reason)
        DO UPDATE SET n = r.n + EXCLUDED.n)
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END
$$;

-- Whatever leads exist already (an upgrade of a running installation).
INSERT INTO report_lead_deltas
SELECT account_id, source_id, (received_at AT TIME ZONE 'UTC')::date, status, disposition_code,
       post_out_status, CASE WHEN status = 'REJECTED' THEN left(custom_reason, 200) ELSE '' END, count(*)
FROM leads GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- People who sign in to the reports app: one account each; viewers read and download, admins also
-- edit schedules, value mappers and retries. Only an argon2 hash of the password is stored.
CREATE TABLE report_users (
    user_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id     uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);
CREATE UNIQUE INDEX report_users_email ON report_users (lower(email));

-- Scheduled exports. `cron` is the effective expression (daily and weekly are stored as cron too);
-- `next_run_at` is the next slot, in UTC, of that expression in `timezone`.
CREATE TABLE report_schedules (
    schedule_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name         text NOT NULL,
    report       text NOT NULL CHECK (report IN ('LEADS', 'SOURCE', 'REJECTIONS')),
    filters      jsonb NOT NULL DEFAULT '{}',
    format       text NOT NULL CHECK (format IN ('CSV', 'XLSX')),
    cadence      text NOT NULL CHECK (cadence IN ('DAILY', 'WEEKLY', 'CRON')),
    cron         text NOT NULL,
    timezone     text NOT NULL DEFAULT 'UTC',
    recipients   text[] NOT NULL,
    paused       boolean NOT NULL DEFAULT false,
    next_run_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_schedules_account ON report_schedules (account_id);
CREATE INDEX report_schedules_due ON report_schedules (next_run_at) WHERE NOT paused;

-- One row per slot sent (or "run now"): a replica claims it FOR UPDATE SKIP LOCKED, and the unique
-- (schedule_id, scheduled_for) makes a second claim of the same slot impossible.
CREATE TABLE report_schedule_runs (
    run_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id      uuid NOT NULL REFERENCES report_schedules ON DELETE CASCADE,
    account_id       uuid NOT NULL,
    scheduled_for    timestamptz NOT NULL,
    manual           boolean NOT NULL DEFAULT false,
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    filename         text NOT NULL DEFAULT '',
    rows             bigint NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX report_schedule_runs_pending ON report_schedule_runs (next_attempt_at) WHERE status = 'PENDING';

-- Every delivery attempt of a run: sent, or failed with the reason.
CREATE TABLE report_schedule_deliveries (
    delivery_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES report_schedule_runs ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL CHECK (status IN ('SENT', 'FAILED')),
    recipients   text[] NOT NULL,
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX report_schedule_deliveries_run ON report_schedule_deliveries (run_id, delivery_id);

-- The read-only role the reports app's pages query as (SET ROLE within a read-only transaction).
-- Roles are cluster-wide: several databases on one server share it, so create it only once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leadrelay_reader') THEN
        CREATE ROLE leadrelay_reader NOLOGIN;
    END IF;
    -- The migrating user must be able to SET ROLE to it (superusers always can).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT leadrelay_reader TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO leadrelay_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO leadrelay_reader;
-- Tables of later migrations are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO leadrelay_reader;
-- Credentials stay out of reach of report queries.
REVOKE SELECT ON api_keys, report_users FROM leadrelay_reader;
