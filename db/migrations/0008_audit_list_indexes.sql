-- Enlace schema, version 8: ListAuditEvents filtered by decision (e.g. every
-- denial) driven by an index whatever the log's size, like the principal
-- and method filters (k_audit_principal, k_audit_method of version 1): a page
-- was the primary key read from the keyset position and filtered row by
-- row, its cost growing with every allowed event before the page.

ALTER TABLE audit_events ADD KEY k_audit_decision (decision, seq);
