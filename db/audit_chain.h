// The audit log's hash chain: what an audit record is, its canonical bytes,
// and how a chain is checked. Pure functions, no I/O.
//
// Each record's hash is SHA-256(previous record's hash || CanonicalContent()),
// the first record's previous hash being 32 zero bytes. Changing, inserting or
// deleting any record breaks the chain at that record; deleting records at the
// end is caught by comparing with the chain head the writer keeps beside it.
#ifndef ENLACE_DB_AUDIT_CHAIN_H_
#define ENLACE_DB_AUDIT_CHAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace enlace::db {

struct AuditRecord {
  int64_t seq = 0;  // 1, 2, 3, ... with no gaps; assigned by the store
  int64_t at_us = 0;  // microseconds since the Unix epoch
  std::string principal;  // SPIFFE ID or "unauthenticated"
  std::string method;
  int decision = 0;  // enlace.v1.Decision number
  int status_code = 0;  // grpc::StatusCode number
  std::vector<std::string> record_ids;
  std::string detail;
  std::string peer;
  // The staff member on whose behalf the principal called (an opaque
  // identifier, auth::IsValidActor), or "" when the call named none.
  std::string actor;
  std::string prev_hash;  // 32 raw bytes
  std::string hash;  // 32 raw bytes
};

// 32 zero bytes: the previous hash of the first record.
const std::string& GenesisHash();

// Unambiguous bytes of everything in `record` but the two hashes: a version
// tag, then each field as "<decimal length>:<bytes>\n". A record with no
// actor has the tag "enlace-audit-v1" and the fields seq to peer; a record
// with one has "enlace-audit-v2" and the actor as one more field after peer.
// Records written before actors existed therefore keep their hashes.
std::string CanonicalContent(const AuditRecord& record);

// The leaf of `record` in the audit log's Merkle tree (db/merkle.h, leaf i
// being the event with seq i + 1; docs/audit.md), the format witnesses and
// independent verifiers recompute from ListAuditEvents:
//   "enlace-audit-leaf-v1\n" <decimal seq> "\n" CanonicalContent(record)
// It covers no hash: the tree stands on its own, beside the chain.
std::string AuditLeafBytes(const AuditRecord& record);

// SHA-256(prev_hash || CanonicalContent(record)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, const AuditRecord& record);

// Checks records handed to it in sequence order. Use:
//   ChainVerifier v;
//   for (each record in seq order) if (!v.Add(record)) break;
//   v.Finish(head_seq, head_hash);
class ChainVerifier {
 public:
  // Returns false once the chain is broken (the record is counted as checked).
  bool Add(const AuditRecord& record);
  // Compares the end of the chain with the head the writer recorded.
  void Finish(int64_t head_seq, absl::string_view head_hash);

  bool intact() const { return first_broken_ == 0; }
  int64_t checked() const { return checked_; }
  int64_t first_broken_sequence() const { return first_broken_; }

 private:
  int64_t checked_ = 0;
  int64_t last_seq_ = 0;
  std::string last_hash_ = GenesisHash();
  int64_t first_broken_ = 0;
};

std::string ToHex(absl::string_view bytes);

}  // namespace enlace::db

#endif  // ENLACE_DB_AUDIT_CHAIN_H_
