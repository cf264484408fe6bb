-- Enlace schema, version 14: one person across arrivals.
--
-- `arrivals.person_id` is the person an arrival is of: random when the
-- arrival is recorded (so that it tells nothing about other arrivals), and
-- shared by the arrivals the ministry decided are one person
-- (ArrivalService.LinkArrivals). Existing arrivals get a random one each.
--
-- `person_decisions` keeps each reviewed decision about a pair of arrivals
-- (the lower seq first): same_person 1 links them (LinkArrivals), 0 says
-- they are not one person (UnlinkArrivals) and keeps them from being
-- proposed as duplicates again. A person is a connected group of links.
-- `reason` is free text: an erasure empties it (db/mysql_returnee_store.cc).
--
-- `person_links_lock` has one row, which every link and unlink locks first:
-- they are rare, reviewed decisions, and taking them one at a time keeps
-- each one's walk of the links exact (concurrent walks over a shared chain
-- deadlocked beyond retrying, tests/db/person_store_test.cc).
--
-- The birth date and document number indexes serve FindPossibleDuplicates.
ALTER TABLE arrivals
  ADD COLUMN person_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD KEY k_arrivals_person (person_id),
  ADD KEY k_arrivals_birth_date (birth_date),
  ADD KEY k_arrivals_document (document_number);

UPDATE arrivals SET person_id = LOWER(HEX(RANDOM_BYTES(16))) WHERE person_id IS NULL;

CREATE TABLE person_decisions (
  arrival_seq_low BIGINT NOT NULL,
  arrival_seq_high BIGINT NOT NULL,
  same_person TINYINT NOT NULL,
  reason VARCHAR(500) NOT NULL,
  decided_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  decided_at_us BIGINT NOT NULL,
  PRIMARY KEY (arrival_seq_low, arrival_seq_high),
  KEY k_person_decisions_high (arrival_seq_high, arrival_seq_low)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE person_links_lock (
  id TINYINT NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

INSERT INTO person_links_lock (id) VALUES (1);
