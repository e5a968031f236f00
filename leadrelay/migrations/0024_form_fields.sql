-- Set-up screens: a form's fields as the platform defines them, and when each mapping was last saved,
-- so a field a form gained afterwards can be flagged (its answers go to the catch-all until mapped).

-- One row per field of a form, recorded when its forms are listed from the platform (connect, refresh).
CREATE TABLE form_fields (
    form_id        uuid NOT NULL REFERENCES forms ON DELETE CASCADE,
    -- The answer name leads carry (Facebook's question key, LinkedIn's predefined field or name).
    name           text NOT NULL,
    label          text NOT NULL DEFAULT '',
    type           text NOT NULL DEFAULT '',
    -- The platform's order of the questions.
    position       integer NOT NULL DEFAULT 0,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (form_id, name)
);

ALTER TABLE sources ADD COLUMN default_mapping_saved_at timestamptz;
ALTER TABLE forms ADD COLUMN mapping_saved_at timestamptz;
-- Mappings saved before this migration: their last change is the best time known.
UPDATE sources SET default_mapping_saved_at = updated_at WHERE default_mapping <> '[]';
UPDATE forms SET mapping_saved_at = updated_at WHERE mapping IS NOT NULL;

-- The migration may run as another role than the one that made the reader's default privileges.
GRANT SELECT ON form_fields TO leadrelay_reader;
