-- Enlace schema, version 12: corrections of an arrival keep every version.
--
-- `arrivals.version` is 1 as recorded and grows with each CorrectArrival.
-- The versions of a corrected arrival are kept in `arrival_versions`, the
-- first one entering it at the first correction (as consent_versions does):
-- an arrival never corrected has no rows here. Each row is the content of
-- one version, why it was made (`reason`, "" for version 1), by which agency
-- and when. The consent is not part of a version: it has its own history.
-- `content_hash` stays the hash of the content first recorded, so resending
-- the original record is still ALREADY_RECORDED.

ALTER TABLE arrivals ADD COLUMN version INT NOT NULL DEFAULT 1;

CREATE TABLE arrival_versions (
  arrival_seq BIGINT NOT NULL,
  version INT NOT NULL,
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
  reason VARCHAR(500) NOT NULL,
  corrected_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  corrected_at_us BIGINT NOT NULL,
  PRIMARY KEY (arrival_seq, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
