-- The Post-outs page lists an account's newest failed and CRM-rejected deliveries (500 at most). With
-- no index for it, it read every delivery of the account and sorted the failed ones: 1.3 s at a
-- million leads on a busy machine (bench.console_pages). This index holds the failed ones only, in
-- the order the page shows them. Claims never change status or updated_at, so they stay HOT updates.
CREATE INDEX post_outs_account_failed ON post_outs (account_id, updated_at DESC)
    WHERE status IN ('FAILED', 'REJECTED_BY_DESTINATION');
