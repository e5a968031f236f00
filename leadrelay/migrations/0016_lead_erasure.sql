-- A member's deletion (LinkedIn DELETED notification) erases the lead's personal data; the lead row
-- stays (status, disposition, dates: the anonymous counts) and says when it was erased, so nothing
-- re-fills it later (a resubmission is never applied to an erased lead).
ALTER TABLE leads ADD COLUMN erased_at timestamptz;
