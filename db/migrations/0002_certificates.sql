-- Enlace schema, version 2: the certificates the platform CA issued (or that
-- were recorded in order to revoke them). Revocation is read from here by
-- every server replica, at least every 2 seconds.

CREATE TABLE certificates (
  serial VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  kind TINYINT NOT NULL,
  name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  spiffe_id VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  certificate_pem TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  not_before_us BIGINT NOT NULL,
  not_after_us BIGINT NOT NULL,
  status TINYINT NOT NULL,
  issued_by VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  issued_at_us BIGINT NOT NULL,
  revoked_by VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NULL,
  revoked_at_us BIGINT NULL,
  revocation_reason VARCHAR(500) NULL,
  KEY k_certificates_name (name),
  KEY k_certificates_status (status, not_after_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
