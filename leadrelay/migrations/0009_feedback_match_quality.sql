-- Conversions API match quality and privacy: which lead columns feed each hashed identifier, and
-- Meta's Limited Data Use (US state privacy laws).

ALTER TABLE feedback_configs
    -- {"fn": ["Given name"], "zp": []}: a key listed replaces the default column names, [] never sends it.
    ADD COLUMN identifier_columns   jsonb NOT NULL DEFAULT '{}',
    -- Every event with data_processing_options ["LDU"]; otherwise only leads that opted out.
    ADD COLUMN ldu_all_events       boolean NOT NULL DEFAULT false,
    -- Lead columns carrying the opt-out; empty: the default names.
    ADD COLUMN ldu_opt_out_columns  text[] NOT NULL DEFAULT '{}';
