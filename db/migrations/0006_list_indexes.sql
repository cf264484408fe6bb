-- Enlace schema, version 6: lists driven by an index whatever the table's size.
--
-- A viewer's arrivals are those it submitted and those whose consent names
-- it. ListArrivals reads the first page of each from an index in seq order
-- and merges them (db/mysql_arrival_store.cc, ArrivalListSql): the consent's
-- (agency_code, arrival_seq) key existed; this adds the submitter's. Before,
-- the page was a scan of arrivals filtered row by row, whose cost grew with
-- the number of arrivals naming the viewer (3 s for a first page at 10^6).
-- ListCases likewise merges the cases a viewer owns ((owner_agency, seq),
-- which existed) and those it was referred, in case order: (to_agency,
-- case_seq) is added for it (db/mysql_case_store.cc, CaseListSql).

ALTER TABLE arrivals ADD KEY k_arrivals_submitter_seq (submitted_by, seq);
ALTER TABLE referrals ADD KEY k_referrals_to_case (to_agency, case_seq);
