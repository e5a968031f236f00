-- An attempt belongs to its delivery: one foreign key to post_outs (lead, destination) instead of one
-- to leads and one to destinations. Each attempt row was checked twice (two look-ups per row, ~11 us
-- a delivered lead in a batch of 100); the delivery's row implies both, and deleting a lead or a
-- destination still removes its attempts, through the delivery that cascades from either.
ALTER TABLE post_out_attempts
    DROP CONSTRAINT post_out_attempts_lead_id_fkey,
    DROP CONSTRAINT post_out_attempts_destination_id_fkey,
    ADD CONSTRAINT post_out_attempts_delivery_fkey FOREIGN KEY (lead_id, destination_id)
        REFERENCES post_outs (lead_id, destination_id) ON DELETE CASCADE NOT VALID;
ALTER TABLE post_out_attempts VALIDATE CONSTRAINT post_out_attempts_delivery_fkey;
