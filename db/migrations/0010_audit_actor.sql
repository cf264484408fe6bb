-- Enlace schema, version 10: each audit event names the staff member on
-- whose behalf the calling agency acted (the `enlace-actor` request
-- metadata: an opaque identifier of at most 64 ASCII characters, never a
-- name or an e-mail address; auth/identity.h IsValidActor). Events written
-- before this version name none (''), and their hashes do not change: an
-- event without an actor keeps the canonical content of version 1
-- (db/audit_chain.h, docs/audit.md).

-- ListAuditEvents filtered by actor ("what did staff member X do") reads
-- its (actor, seq) index, like the principal, method and decision filters.

ALTER TABLE audit_events
  ADD COLUMN actor VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  ADD KEY k_audit_actor (actor, seq);
