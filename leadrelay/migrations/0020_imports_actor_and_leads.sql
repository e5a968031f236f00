-- The console's Upload leads and Import leads pages (issue 15): who started each import or
-- re-upload (the caller's actor label: "user:<report user id>", "key:<prefix>", "" for the system),
-- and the leads each re-upload changed, so its history can list them.

ALTER TABLE imports ADD COLUMN actor text NOT NULL DEFAULT '';

CREATE TABLE reupload_leads (
    import_id  uuid NOT NULL REFERENCES imports ON DELETE CASCADE,
    lead_id    uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    -- 1-based row of the file, the header being row 1.
    file_row   bigint NOT NULL,
    PRIMARY KEY (import_id, lead_id)
);
CREATE INDEX reupload_leads_lead ON reupload_leads (lead_id);
