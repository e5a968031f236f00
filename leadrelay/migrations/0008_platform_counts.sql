-- The platforms' own lead counts, written by the connectors (after each successful poll, for the UTC
-- days it covers, and by GetSourceCounts for the window asked), so the reports can show "the
-- platform's reported count and the difference" without asking the platform from a page.

-- One row per source and counted window (the newest check wins). Beside the platform's count, the
-- connector stores LeadRelay's count of the same source's leads created (captured_at) in the same
-- window at the same moment: the platforms count by creation time, while the report aggregates are
-- per UTC day of received_at (a sync of old leads receives them today), so only a same-moment,
-- same-window count is a fair comparison.
CREATE TABLE platform_counts (
    source_id          uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    account_id         uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    -- The UTC day when the window is exactly one UTC day (what the reports read); NULL otherwise.
    day                date,
    platform_reported  bigint NOT NULL CHECK (platform_reported >= 0),
    leadrelay_count    bigint NOT NULL CHECK (leadrelay_count >= 0),
    checked_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX platform_counts_account_day ON platform_counts (account_id, day) WHERE day IS NOT NULL;

-- 0007's ALTER DEFAULT PRIVILEGES only covers tables created by the role that ran 0007; this
-- migration may run as another one, so grant explicitly (GRANT is idempotent).
GRANT SELECT ON platform_counts TO leadrelay_reader;
