-- Post-out rewrites rows on their own pages (HOT updates), without new index entries.
--
-- A claim used to push next_attempt_at (indexed by post_outs_due) one lease ahead, so each claim
-- wrote a new entry into all five of post_outs' indexes. The lease now has a column of its own that
-- no index holds: a claim changes only lease_until and lease_token, and PostgreSQL keeps the new
-- row version on the same page when there is room, which the lower fillfactor leaves. (Recording
-- the outcome changes status, which post_outs_due and post_outs_source_status hold: that update
-- cannot be HOT.) Rows claimed before this migration carry their lease in next_attempt_at and
-- come due as before.
--
-- The lead's delivery summary (leads.post_out_status) is not indexed either: with room on the
-- page, the workers' refresh of it is HOT too instead of a new entry in each of leads' seven
-- indexes. Fillfactor shapes pages written from now on; existing pages stay as they are.
ALTER TABLE post_outs ADD COLUMN lease_until timestamptz;
ALTER TABLE post_outs SET (fillfactor = 50);
ALTER TABLE leads SET (fillfactor = 90);

