-- Who saved each acceptance-criteria version ("user:<id>", "key:<prefix>", "" for the system) and
-- why (a rollback names the version it restores): the console's version history reads both.
ALTER TABLE acceptance_criteria
    ADD COLUMN actor text NOT NULL DEFAULT '',
    ADD COLUMN note  text NOT NULL DEFAULT '';
