-- What each post-out attempt sent (an excerpt of the body; never the headers, which carry the CRM's
-- credentials), shown beside the CRM's answer on the lead's page. It holds the lead's values, so a
-- member's erasure blanks it with the answer (ForgetLeads).
ALTER TABLE post_out_attempts ADD COLUMN request_excerpt text NOT NULL DEFAULT '';
