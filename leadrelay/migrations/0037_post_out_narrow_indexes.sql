-- Fewer index entries for each delivery recorded (issue 18).
--
-- Recording an outcome changes post_outs.status, which post_outs_due's predicate reads, so the row's
-- new version is never a HOT update: every index that holds the row gets a new entry. Two of them
-- held one value for a great many rows (every delivery of a destination; every delivery of a source
-- in a status), and an entry into such a run of duplicates is the most expensive kind (B-tree
-- deduplication of posting lists): about two thirds of the recording statement's time.
--
-- post_outs_source_status served one reader, the retry of a source's FAILED deliveries: a partial
-- index of those alone serves it and takes no entry for a delivery that posted. post_outs_destination
-- served the console's counts per destination, which now read the account's deliveries through
-- post_outs_account, and the cascade of a destination's deletion, which the product never does
-- (destinations are disabled, not deleted).
DROP INDEX post_outs_source_status;
CREATE INDEX post_outs_source_failed ON post_outs (source_id) WHERE status = 'FAILED';
DROP INDEX post_outs_destination;
