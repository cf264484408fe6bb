-- Enlace schema, version 5: the audit log as a transparency log
-- (docs/audit.md): an RFC 9162 Merkle tree over audit_events, the signed
-- checkpoints of that tree, and the agencies' witness keys and cosignatures.
--
-- Every table here is insert-only for the server: it never updates or
-- deletes a row of them, so its database user needs INSERT and SELECT on
-- them and nothing more.

-- The complete subtrees of the tree: (node_level, node_index) covers the
-- leaves [node_index * 2^node_level, (node_index + 1) * 2^node_level); leaf i
-- is the event with seq i + 1, its hash SHA-256(0x00 || AuditLeafBytes), a
-- node's SHA-256(0x01 || left || right) (db/merkle.h). Written by every
-- replica's builder with INSERT IGNORE: the same facts, whoever writes first.
CREATE TABLE audit_tree_nodes (
  node_level TINYINT NOT NULL,
  node_index BIGINT NOT NULL,
  hash BINARY(32) NOT NULL,
  PRIMARY KEY (node_level, node_index)
) ENGINE=InnoDB;

-- Checkpoints the log signed (C2SP tlog-checkpoint signed notes), one per
-- tree size.
CREATE TABLE audit_checkpoints (
  tree_size BIGINT NOT NULL PRIMARY KEY,
  root_hash BINARY(32) NOT NULL,
  note TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at_us BIGINT NOT NULL
) ENGINE=InnoDB;

-- The agencies' witness keys (C2SP tlog-cosignature, Ed25519): key names are
-- printable ASCII without spaces or '+'; a name belongs to one agency.
CREATE TABLE audit_witness_keys (
  key_name VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_id BINARY(4) NOT NULL,
  public_key BINARY(32) NOT NULL,
  agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  registered_by VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  registered_at_us BIGINT NOT NULL,
  PRIMARY KEY (key_name, key_id),
  KEY k_audit_witness_keys_agency (agency)
) ENGINE=InnoDB;

-- Cosignatures of checkpoints by registered witness keys: one per key and
-- tree size (the first one received).
CREATE TABLE audit_cosignatures (
  tree_size BIGINT NOT NULL,
  key_name VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_id BINARY(4) NOT NULL,
  agency VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  cosigned_at BIGINT NOT NULL,
  signature_line VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  received_at_us BIGINT NOT NULL,
  PRIMARY KEY (tree_size, key_name, key_id),
  KEY k_audit_cosignatures_received (received_at_us)
) ENGINE=InnoDB;
