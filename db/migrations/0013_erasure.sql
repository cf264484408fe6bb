-- Enlace schema, version 13: a returnee's identifying fields can be erased
-- (ArrivalService.EraseReturnee, and the retention job): when, by whom (the
-- agency's code, or "retention") and why. Nothing else changes shape: erasure
-- overwrites the identifying columns of every table in place
-- (db/mysql_returnee_store.cc).
ALTER TABLE arrivals
  ADD COLUMN erased_at_us BIGINT NULL,
  ADD COLUMN erased_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN erasure_reason VARCHAR(500) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL;
-- The retention job (server/retention.h) finds arrivals not erased yet and
-- recorded before a cutoff through this index.
ALTER TABLE arrivals ADD KEY k_arrivals_retention (erased_at_us, recorded_at_us);
