-- What each delivery attempt sent (method, URL with its secrets masked, and the body, truncated),
-- beside what the CRM answered: the console's delivery log shows both. Blanked with the answer when
-- the lead's personal data is erased.
ALTER TABLE post_out_attempts ADD COLUMN request_excerpt text NOT NULL DEFAULT '';
