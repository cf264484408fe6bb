-- Enlace schema, version 1: agencies, arrivals with their consent, and the
-- hash-chained audit log. Accepted by MySQL 8 and MariaDB 10.11.
-- Instants are BIGINT microseconds since the Unix epoch (UTC), so no time zone
-- conversion ever happens between the server, the driver and the database.

CREATE TABLE agencies (
  code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  display_name VARCHAR(200) NOT NULL,
  created_at_us BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO agencies (code, display_name, created_at_us) VALUES
  ('mfa', 'Ministry of Foreign Affairs (Vice Ministry for Salvadorans Abroad)', 0),
  ('iom', 'International Organization for Migration', 0),
  ('unhcr', 'UN High Commissioner for Refugees', 0),
  ('undp', 'UN Development Programme', 0);

-- One row per recorded arrival. (submitted_by, external_id) is the idempotency
-- key; content_hash is the SHA-256 of the record as first submitted, so a
-- resend can be told apart from a conflicting one.
CREATE TABLE arrivals (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  arrival_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  submitted_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  external_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  content_hash BINARY(32) NOT NULL,
  arrival_date DATE NOT NULL,
  mode TINYINT NOT NULL,
  origin_country CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  given_name VARCHAR(100) NOT NULL,
  family_name VARCHAR(100) NOT NULL,
  birth_date DATE NOT NULL,
  sex TINYINT NOT NULL,
  document_number VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  municipality VARCHAR(100) NOT NULL,
  needs_mask INT UNSIGNED NOT NULL,
  consent_purposes_mask INT UNSIGNED NOT NULL,
  consent_given_at_us BIGINT NULL,
  consent_version INT NOT NULL,
  recorded_at_us BIGINT NOT NULL,
  UNIQUE KEY uk_arrivals_arrival_id (arrival_id),
  UNIQUE KEY uk_arrivals_submitter_external (submitted_by, external_id),
  KEY k_arrivals_department_date (department_code, arrival_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The agencies named in an arrival's current consent: what record-level
-- visibility is decided on.
CREATE TABLE arrival_consent_agencies (
  arrival_seq BIGINT NOT NULL,
  agency_code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (arrival_seq, agency_code),
  KEY k_consent_agency (agency_code, arrival_seq)
) ENGINE=InnoDB;

-- Every consent an arrival ever had, version 1 being the one given at arrival
-- time (kept in `arrivals` until the first change, then copied here).
CREATE TABLE consent_versions (
  arrival_seq BIGINT NOT NULL,
  version INT NOT NULL,
  agencies VARCHAR(1100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  purposes_mask INT UNSIGNED NOT NULL,
  given_at_us BIGINT NULL,
  changed_by VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  changed_at_us BIGINT NOT NULL,
  PRIMARY KEY (arrival_seq, version)
) ENGINE=InnoDB;

-- The audit log: append-only, each row's hash = SHA-256(previous hash ||
-- canonical content), see db/audit_chain.h. seq is assigned by the writer
-- under the row lock on audit_chain_head, so replicas extend one chain.
CREATE TABLE audit_events (
  seq BIGINT NOT NULL PRIMARY KEY,
  at_us BIGINT NOT NULL,
  principal VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  method VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  decision TINYINT NOT NULL,
  status_code INT NOT NULL,
  record_ids MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  detail VARCHAR(1000) NOT NULL,
  peer VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  prev_hash BINARY(32) NOT NULL,
  hash BINARY(32) NOT NULL,
  KEY k_audit_principal (principal, seq),
  KEY k_audit_method (method, seq),
  KEY k_audit_at (at_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE audit_chain_head (
  id TINYINT NOT NULL PRIMARY KEY,
  last_seq BIGINT NOT NULL,
  last_hash BINARY(32) NOT NULL
) ENGINE=InnoDB;

INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, UNHEX(REPEAT('00', 32)));
