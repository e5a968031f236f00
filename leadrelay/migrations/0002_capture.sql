-- Capture core: mappings, acceptance criteria, duplicate keys, and the indexes intake and the
-- sweeper query by.

-- The source's default mapping ([{"column": ..., "form_field" | "constant" | "unmapped_fields"}]);
-- '[]' means "not set": every answer becomes a column of its own name.
ALTER TABLE sources ADD COLUMN default_mapping jsonb NOT NULL DEFAULT '[]';
-- The current acceptance-criteria version (0 = none): joined into ValidateLeads' one lead query so
-- the parsed rules can be cached per (source, version).
ALTER TABLE sources ADD COLUMN criteria_version integer NOT NULL DEFAULT 0;

-- A form's own mapping; NULL means the source default applies.
ALTER TABLE forms ADD COLUMN mapping jsonb;

-- Ordered rule lists, one row per version; a version is never changed once written.
CREATE TABLE acceptance_criteria (
    source_id   uuid NOT NULL REFERENCES sources ON DELETE CASCADE,
    version     integer NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    rules       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, version)
);

-- The duplicate rule's memory: one row per judged lead and duplicate rule, keyed by the rule's
-- columns and the lead's normalised values (email and/or phone). Written only for sources that
-- have a duplicate rule, so it costs nothing elsewhere.
CREATE TABLE lead_keys (
    lead_id      uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    account_id   uuid NOT NULL,
    source_id    uuid NOT NULL,
    key          text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (lead_id, key)
);
CREATE INDEX lead_keys_source ON lead_keys (source_id, key, received_at);
CREATE INDEX lead_keys_account ON lead_keys (account_id, key, received_at);

-- Re-enabling a source or form re-drives the leads it rejected while switched off.
CREATE INDEX leads_source_disabled ON leads (source_id) WHERE disposition_code = 'REJECT_LEAD_SOURCE_DISABLED';
-- ListLeads filters by status within a source.
CREATE INDEX leads_source_status ON leads (source_id, status, received_at DESC);
