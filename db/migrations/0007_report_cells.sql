-- Enlace schema, version 7: the programme report's grid, pre-aggregated.
--
-- Each table holds one indicator's grid cells (db/report_cells.h: the
-- indicator's key, a department, a calendar month) split by the agencies a
-- record's ownership depends on, with the number of records in each. Every
-- change to a record moves it between cells in the change's own transaction
-- (db/mysql_report_grid.h), so a report reads a few thousand cell rows
-- whatever the number of records: before, it grouped every record of the
-- period (8.4 s for a year with 10^6 arrivals stored).
--
-- The primary keys start with the month, so a report's period is one index
-- range. `records` may reach 0 (a referral that moved on): such rows are
-- ignored by readers.
--
-- The cells of records that already exist are counted by `enlace-server
-- --migrate` right after this migration (report_grid_state.recounted_at_us is
-- NULL until then). Stop the serving replicas of the previous version before
-- migrating: they would change records without moving their cells.

CREATE TABLE report_returnee_cells (
  grid_month CHAR(7) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  submitted_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  records BIGINT NOT NULL,
  PRIMARY KEY (grid_month, department_code, submitted_by)
) ENGINE=InnoDB;

CREATE TABLE report_case_cells (
  grid_month CHAR(7) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status TINYINT NOT NULL,
  case_role TINYINT NOT NULL,
  owner_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  records BIGINT NOT NULL,
  PRIMARY KEY (grid_month, department_code, status, case_role, owner_agency)
) ENGINE=InnoDB;

CREATE TABLE report_referral_cells (
  grid_month CHAR(7) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  from_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  to_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status TINYINT NOT NULL,
  records BIGINT NOT NULL,
  PRIMARY KEY (grid_month, department_code, from_agency, to_agency, status)
) ENGINE=InnoDB;

CREATE TABLE report_service_cells (
  grid_month CHAR(7) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  service TINYINT NOT NULL,
  case_owner VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  recorded_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  records BIGINT NOT NULL,
  PRIMARY KEY (grid_month, department_code, service, case_owner, recorded_by)
) ENGINE=InnoDB;

CREATE TABLE report_initiative_cells (
  grid_month CHAR(7) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  owner_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  records BIGINT NOT NULL,
  PRIMARY KEY (grid_month, department_code, owner_agency)
) ENGINE=InnoDB;

CREATE TABLE report_grid_state (
  id TINYINT NOT NULL PRIMARY KEY,
  recounted_at_us BIGINT NULL
) ENGINE=InnoDB;

INSERT INTO report_grid_state (id, recounted_at_us) VALUES (1, NULL);
