-- Enlace schema, version 11: the guardian who gave consent for a minor.
--
-- A returnee under 18 on the arrival date shares data with an agency only on
-- a guardian's consent, and the consent names that guardian: their name and
-- how they are related to the returnee (enlace.v1.GuardianRelationship).
-- NULL name: no guardian (an adult's consent, or one recorded before this
-- version). The name is personal data like the returnee's own, readable by
-- exactly those who may read the arrival.

ALTER TABLE arrivals
  ADD COLUMN consent_guardian_name VARCHAR(100)
    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
  ADD COLUMN consent_guardian_relationship TINYINT UNSIGNED NOT NULL DEFAULT 0;

ALTER TABLE consent_versions
  ADD COLUMN guardian_name VARCHAR(100)
    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
  ADD COLUMN guardian_relationship TINYINT UNSIGNED NOT NULL DEFAULT 0;
