-- Enlace schema, version 9: the programme's outcomes, and a report grid that
-- breaks people down by sex and age band.
--
-- Outcomes (docs/api.md, "Outcomes and the report"):
--   - a seed-capital service is one disbursement: its amount in US cents and
--     the initiative it went to;
--   - a training service has the hours attended and whether it was completed;
--   - an initiative has a status (1 planned, 2 active, 3 closed), the jobs it
--     created, whether a woman leads it, the seed capital disbursed to it
--     (the sum of its disbursements, kept in step by each disbursement's
--     transaction, so that a list never sums services), and a version for
--     its etag.
-- Existing rows get the neutral values: 0, no initiative, planned, not
-- woman-led; an existing initiative's updated_at is its registration.
--
-- The grid (db/mysql_report_grid.h) gains the keys of the new breakdowns:
-- returnees and first cases by sex and age band on the arrival date,
-- services by training completion with the money disbursed summed, and
-- initiatives by status and woman-led with the jobs summed. Every cell is
-- counted again by `enlace-server --migrate` right after this migration
-- (report_grid_state.recounted_at_us is set back to NULL): the cells the
-- previous version kept have no sex or band.

ALTER TABLE case_services
  ADD COLUMN amount_usd_cents BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN initiative_seq BIGINT NULL,
  ADD COLUMN training_hours DECIMAL(7,2) NOT NULL DEFAULT 0,
  ADD COLUMN training_completed TINYINT NOT NULL DEFAULT 0,
  ADD KEY k_case_services_initiative (initiative_seq);

ALTER TABLE initiatives
  ADD COLUMN status TINYINT NOT NULL DEFAULT 1,
  ADD COLUMN jobs_created INT NOT NULL DEFAULT 0,
  ADD COLUMN woman_led TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN disbursed_usd_cents BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN version INT NOT NULL DEFAULT 1,
  ADD COLUMN updated_at_us BIGINT NOT NULL DEFAULT 0;

UPDATE initiatives SET updated_at_us = registered_at_us;

ALTER TABLE report_returnee_cells
  ADD COLUMN sex TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN age_band TINYINT NOT NULL DEFAULT 0,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (grid_month, department_code, sex, age_band, submitted_by);

ALTER TABLE report_case_cells
  ADD COLUMN sex TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN age_band TINYINT NOT NULL DEFAULT 0,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (grid_month, department_code, status, case_role, sex, age_band, owner_agency);

ALTER TABLE report_service_cells
  ADD COLUMN training_completed TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN amount_usd_cents BIGINT NOT NULL DEFAULT 0,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (grid_month, department_code, service, training_completed, case_owner,
                   recorded_by);

ALTER TABLE report_initiative_cells
  ADD COLUMN status TINYINT NOT NULL DEFAULT 1,
  ADD COLUMN woman_led TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN jobs_created BIGINT NOT NULL DEFAULT 0,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (grid_month, department_code, status, woman_led, owner_agency);

UPDATE report_grid_state SET recounted_at_us = NULL WHERE id = 1;
