// Canonical encoding and SHA-256 chaining of audit records (see audit_chain.h).
#include "db/audit_chain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace enlace::db {
namespace {

void AppendField(std::string* out, absl::string_view value) {
  absl::StrAppend(out, value.size(), ":", value, "\n");
}

}  // namespace

const std::string& GenesisHash() {
  static const std::string* genesis = new std::string(32, '\0');
  return *genesis;
}

std::string CanonicalContent(const AuditRecord& record) {
  std::string out = record.actor.empty() ? "enlace-audit-v1\n" : "enlace-audit-v2\n";
  AppendField(&out, absl::StrCat(record.seq));
  AppendField(&out, absl::StrCat(record.at_us));
  AppendField(&out, record.principal);
  AppendField(&out, record.method);
  AppendField(&out, absl::StrCat(record.decision));
  AppendField(&out, absl::StrCat(record.status_code));
  AppendField(&out, absl::StrCat(record.record_ids.size()));
  for (const std::string& id : record.record_ids) AppendField(&out, id);
  AppendField(&out, record.detail);
  AppendField(&out, record.peer);
  if (!record.actor.empty()) AppendField(&out, record.actor);
  return out;
}

std::string AuditLeafBytes(const AuditRecord& record) {
  return absl::StrCat("enlace-audit-leaf-v1\n", record.seq, "\n", CanonicalContent(record));
}

std::string ChainHash(absl::string_view prev_hash, const AuditRecord& record) {
  std::string content = CanonicalContent(record);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string digest(32, '\0');
  unsigned int length = 0;
  // SHA-256 over in-memory buffers cannot fail short of memory exhaustion;
  // a failure leaves an all-zero digest, which never verifies.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), content.data(), content.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(digest.data()), &length) !=
          1) {
    return std::string(32, '\0');
  }
  return digest;
}

bool ChainVerifier::Add(const AuditRecord& record) {
  if (first_broken_ != 0) return false;
  ++checked_;
  bool linked = record.seq == last_seq_ + 1 && record.prev_hash == last_hash_;
  if (!linked) {
    // A gap (records deleted), a repeat or a step back (records inserted or
    // replayed): either way the chain breaks right after the last good one.
    // When the sequence is right but the link is not, this record is broken.
    first_broken_ = record.seq == last_seq_ + 1 ? record.seq : last_seq_ + 1;
    return false;
  }
  if (ChainHash(last_hash_, record) != record.hash) {
    first_broken_ = record.seq;
    return false;
  }
  last_seq_ = record.seq;
  last_hash_ = record.hash;
  return true;
}

void ChainVerifier::Finish(int64_t head_seq, absl::string_view head_hash) {
  if (first_broken_ != 0) return;
  if (head_seq != last_seq_) {
    first_broken_ = std::min(head_seq, last_seq_) + 1;
  } else if (head_hash != last_hash_) {
    first_broken_ = last_seq_ == 0 ? 1 : last_seq_;
  }
}

std::string ToHex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

}  // namespace enlace::db
