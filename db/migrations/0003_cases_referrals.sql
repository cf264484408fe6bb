-- Enlace schema, version 3: reintegration cases, services delivered,
-- economic initiatives, referrals between agencies, and the referral feed.
--
-- referral_events is the feed behind WatchReferrals. Its seq is assigned by
-- the writer while it holds the row lock on referral_feed_head, in the same
-- transaction as the change, so seq order is commit order and has no gaps:
-- a watcher that resumes after seq N misses nothing and sees nothing twice,
-- whichever server replica made the change.

CREATE TABLE cases (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  case_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  arrival_seq BIGINT NOT NULL,
  owner_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status TINYINT NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  municipality VARCHAR(100) NOT NULL,
  summary TEXT NOT NULL,
  psychosocial_notes TEXT NOT NULL,
  version INT NOT NULL,
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL,
  UNIQUE KEY uk_cases_case_id (case_id),
  UNIQUE KEY uk_cases_arrival_owner (arrival_seq, owner_agency),
  KEY k_cases_owner (owner_agency, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE case_services (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  service_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  case_seq BIGINT NOT NULL,
  service TINYINT NOT NULL,
  delivered_on DATE NOT NULL,
  notes TEXT NOT NULL,
  recorded_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  recorded_at_us BIGINT NOT NULL,
  UNIQUE KEY uk_case_services_service_id (service_id),
  KEY k_case_services_case (case_seq, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE initiatives (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  initiative_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  case_seq BIGINT NOT NULL,
  owner_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name VARCHAR(200) NOT NULL,
  sector VARCHAR(100) NOT NULL,
  department_code VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  municipality VARCHAR(100) NOT NULL,
  registered_at_us BIGINT NOT NULL,
  UNIQUE KEY uk_initiatives_initiative_id (initiative_id),
  KEY k_initiatives_case (case_seq),
  KEY k_initiatives_municipality (municipality)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE referrals (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  referral_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  case_seq BIGINT NOT NULL,
  from_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  to_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  service TINYINT NOT NULL,
  reason TEXT NOT NULL,
  status TINYINT NOT NULL,
  decline_reason TEXT NOT NULL,
  outcome TEXT NOT NULL,
  version INT NOT NULL,
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL,
  UNIQUE KEY uk_referrals_referral_id (referral_id),
  KEY k_referrals_to (to_agency, seq),
  KEY k_referrals_from (from_agency, seq),
  KEY k_referrals_case (case_seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE referral_events (
  seq BIGINT NOT NULL PRIMARY KEY,
  referral_seq BIGINT NOT NULL,
  type TINYINT NOT NULL,
  from_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  to_agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  committed_at_us BIGINT NOT NULL,
  snapshot MEDIUMBLOB NOT NULL,
  KEY k_referral_events_from (from_agency, seq),
  KEY k_referral_events_to (to_agency, seq)
) ENGINE=InnoDB;

CREATE TABLE referral_feed_head (
  id TINYINT NOT NULL PRIMARY KEY,
  last_seq BIGINT NOT NULL
) ENGINE=InnoDB;

INSERT INTO referral_feed_head (id, last_seq) VALUES (1, 0);

-- Which audit events touched which records: GetCaseAccessLog reads it.
CREATE TABLE audit_event_records (
  record_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  audit_seq BIGINT NOT NULL,
  PRIMARY KEY (record_id, audit_seq)
) ENGINE=InnoDB;
