-- Enlace schema, version 15: data-sharing agreements, and objections.
--
-- `sharing_agreements` holds the information-sharing protocols between two
-- organisations (party_low < party_high, agency codes): records flow between
-- them only while one is in force, for a purpose it covers (purposes_mask:
-- bit 1 << enlace.v1.Purpose). In force: valid_from <= today (UTC) <=
-- valid_until and not ended. Ending or expiry deletes nothing; a renewal is a
-- new row (db/visibility.h applies the rule, docs/data-protection.md §10).
--
-- So that nothing that works today stops on upgrade, the programme's own
-- agreements are registered here: the ministry with each agency and the
-- agencies with each other, for every purpose, from 2017-01-01. Their
-- reference says they stand for the programme's protocol until the signed
-- one is registered in their place (AdminService.RegisterSharingAgreement,
-- then EndSharingAgreement of these).
--
-- `arrivals.objected_purposes_mask`: the purposes the returnee objected to
-- (ArrivalService.RecordObjection, by the submitter). An objection withdraws
-- the purpose from the consent, and no later consent may give it back;
-- `consent_versions` keeps it with each version.
CREATE TABLE sharing_agreements (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  agreement_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  party_low VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  party_high VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  purposes_mask INT UNSIGNED NOT NULL,
  valid_from DATE NOT NULL,
  valid_until DATE NOT NULL,
  reference VARCHAR(200) NOT NULL,
  registered_by VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  registered_at_us BIGINT NOT NULL,
  ended_by VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ended_at_us BIGINT NULL,
  end_reason VARCHAR(500) NULL,
  UNIQUE KEY uk_sharing_agreements_id (agreement_id),
  KEY k_sharing_agreements_parties (party_low, party_high)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO sharing_agreements (agreement_id, party_low, party_high, purposes_mask, valid_from,
                                valid_until, reference, registered_by, registered_at_us)
SELECT LOWER(HEX(RANDOM_BYTES(16))), p.low, p.high, 14, '2017-01-01', '2099-12-31',
       'Programme agreement registered at upgrade (schema 15)', 'migration', 0
FROM (SELECT 'iom' AS low, 'mfa' AS high UNION ALL SELECT 'mfa', 'unhcr'
      UNION ALL SELECT 'mfa', 'undp' UNION ALL SELECT 'iom', 'unhcr'
      UNION ALL SELECT 'iom', 'undp' UNION ALL SELECT 'undp', 'unhcr') p;

ALTER TABLE arrivals ADD COLUMN objected_purposes_mask INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE consent_versions ADD COLUMN objected_purposes_mask INT UNSIGNED NOT NULL DEFAULT 0;
