// Tests of the audit log's hash chain (db/audit_chain.h): the canonical bytes
// are pinned and unambiguous, the hash covers every field, and ChainVerifier
// finds the first broken record for each kind of tampering (change, deletion,
// reordering, truncation, a forged head).
#include "db/audit_chain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::db {
namespace {

AuditRecord SampleRecord() {
  AuditRecord record;
  record.seq = 7;
  record.at_us = 1717171717000042;
  record.principal = "spiffe://enlace/agency/iom";
  record.method = "/enlace.v1.ArrivalService/GetArrival";
  record.decision = 1;
  record.status_code = 0;
  record.record_ids = {"ar_1", "ar_2"};
  record.detail = "consent_version=3";
  record.peer = "ipv4:10.0.0.7:41000";
  record.prev_hash = std::string(32, '\x11');
  return record;
}

// A well-formed chain of `n` records, seq 1..n.
std::vector<AuditRecord> MakeChain(int n) {
  std::vector<AuditRecord> chain;
  std::string prev = GenesisHash();
  for (int i = 1; i <= n; ++i) {
    AuditRecord record;
    record.seq = i;
    record.at_us = 1717171717000000 + i;
    record.principal = i % 2 ? "spiffe://enlace/agency/mfa" : "spiffe://enlace/admin/ana";
    record.method = "/enlace.v1.ArrivalService/RecordArrival";
    record.decision = 1;
    record.status_code = 0;
    record.record_ids = {absl::StrCat("ar_", i), absl::StrCat("ar_", i, "b")};
    record.detail = absl::StrCat("detail ", i);
    record.peer = "ipv4:10.0.0.1:5000";
    record.prev_hash = prev;
    record.hash = ChainHash(prev, record);
    prev = record.hash;
    chain.push_back(std::move(record));
  }
  return chain;
}

// Runs the verifier as its header prescribes: stop at the first false, then
// compare with the head.
ChainVerifier Verify(const std::vector<AuditRecord>& records, int64_t head_seq,
                     const std::string& head_hash) {
  ChainVerifier verifier;
  for (const AuditRecord& record : records) {
    if (!verifier.Add(record)) break;
  }
  verifier.Finish(head_seq, head_hash);
  return verifier;
}

// Verifies against the head of the untampered chain `original`.
ChainVerifier VerifyAgainst(const std::vector<AuditRecord>& records,
                            const std::vector<AuditRecord>& original) {
  return Verify(records, original.back().seq, original.back().hash);
}

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// ---------------------------------------------------------------------------
// Genesis, canonical content, hashing.

TEST(AuditChainTest, GenesisIs32ZeroBytes) { EXPECT_EQ(GenesisHash(), std::string(32, '\0')); }

TEST(AuditChainTest, CanonicalContentIsPinned) {
  // These bytes are hashed into chains already stored: they must not change
  // without a new version tag.
  const std::string expected =
      "enlace-audit-v1\n"
      "1:7\n"
      "16:1717171717000042\n"
      "26:spiffe://enlace/agency/iom\n"
      "36:/enlace.v1.ArrivalService/GetArrival\n"
      "1:1\n"
      "1:0\n"
      "1:2\n"
      "4:ar_1\n"
      "4:ar_2\n"
      "17:consent_version=3\n"
      "19:ipv4:10.0.0.7:41000\n";
  EXPECT_EQ(CanonicalContent(SampleRecord()), expected);
}

TEST(AuditChainTest, AnEventWithAnActorIsVersion2WithTheActorLast) {
  AuditRecord record = SampleRecord();
  const std::string without_actor = CanonicalContent(record);
  record.actor = "iom-staff-0042";
  const std::string expected = "enlace-audit-v2\n" +
                               without_actor.substr(std::string("enlace-audit-v1\n").size()) +
                               "14:iom-staff-0042\n";
  EXPECT_EQ(CanonicalContent(record), expected);
  // The actor is covered: another actor, another hash.
  AuditRecord other = record;
  other.actor = "iom-staff-0043";
  EXPECT_NE(ChainHash(GenesisHash(), record), ChainHash(GenesisHash(), other));
  EXPECT_NE(ChainHash(GenesisHash(), record), ChainHash(GenesisHash(), SampleRecord()));
}

TEST(AuditChainTest, CanonicalContentLeavesOutBothHashes) {
  AuditRecord record = SampleRecord();
  const std::string content = CanonicalContent(record);
  record.prev_hash = std::string(32, 'p');
  record.hash = std::string(32, 'h');
  EXPECT_EQ(CanonicalContent(record), content);
}

TEST(AuditChainTest, ChainHashIsSha256OfPrevHashThenContent) {
  const AuditRecord record = SampleRecord();
  const std::string hash = ChainHash(record.prev_hash, record);
  EXPECT_EQ(hash.size(), 32u);
  EXPECT_EQ(hash, Sha256(record.prev_hash + CanonicalContent(record)));
}

TEST(AuditChainTest, ChainHashIsDeterministic) {
  const AuditRecord record = SampleRecord();
  const AuditRecord copy = SampleRecord();
  EXPECT_EQ(ChainHash(record.prev_hash, record), ChainHash(record.prev_hash, record));
  EXPECT_EQ(ChainHash(record.prev_hash, record), ChainHash(copy.prev_hash, copy));
  EXPECT_EQ(ChainHash(GenesisHash(), record), ChainHash(GenesisHash(), copy));
}

TEST(AuditChainTest, ChainHashIgnoresTheStoredHashField) {
  AuditRecord record = SampleRecord();
  const std::string hash = ChainHash(record.prev_hash, record);
  record.hash = std::string(32, 'x');
  EXPECT_EQ(ChainHash(record.prev_hash, record), hash);
}

TEST(AuditChainTest, ChainHashChangesWithTheHashBefore) {
  const AuditRecord record = SampleRecord();
  const std::string hash = ChainHash(record.prev_hash, record);
  std::string flipped = record.prev_hash;
  flipped[31] ^= 1;
  EXPECT_NE(ChainHash(flipped, record), hash);
  EXPECT_NE(ChainHash(GenesisHash(), record), hash);
  EXPECT_NE(ChainHash("", record), ChainHash(GenesisHash(), record));
}

struct Mutation {
  const char* name;
  std::function<void(AuditRecord&)> apply;
};

const std::vector<Mutation>& SingleFieldMutations() {
  static const auto* mutations = new std::vector<Mutation>{
      {"seq+1", [](AuditRecord& r) { r.seq += 1; }},
      {"seq-1", [](AuditRecord& r) { r.seq -= 1; }},
      {"at_us+1", [](AuditRecord& r) { r.at_us += 1; }},
      {"principal", [](AuditRecord& r) { r.principal = "spiffe://enlace/agency/mfa"; }},
      {"principal case", [](AuditRecord& r) { r.principal = "spiffe://enlace/agency/IOM"; }},
      {"principal empty", [](AuditRecord& r) { r.principal.clear(); }},
      {"method", [](AuditRecord& r) { r.method = "/enlace.v1.ArrivalService/ListArrivals"; }},
      {"decision", [](AuditRecord& r) { r.decision = 2; }},
      {"decision negative", [](AuditRecord& r) { r.decision = -1; }},
      {"status_code", [](AuditRecord& r) { r.status_code = 7; }},
      {"record_ids order", [](AuditRecord& r) { std::swap(r.record_ids[0], r.record_ids[1]); }},
      {"record_ids one more", [](AuditRecord& r) { r.record_ids.push_back("ar_3"); }},
      {"record_ids one less", [](AuditRecord& r) { r.record_ids.pop_back(); }},
      {"record_ids none", [](AuditRecord& r) { r.record_ids.clear(); }},
      {"record_ids extra empty", [](AuditRecord& r) { r.record_ids.push_back(""); }},
      {"record_ids one changed", [](AuditRecord& r) { r.record_ids[1] = "ar_9"; }},
      {"record_ids duplicated", [](AuditRecord& r) { r.record_ids[1] = r.record_ids[0]; }},
      {"detail", [](AuditRecord& r) { r.detail = "consent_version=4"; }},
      {"detail empty", [](AuditRecord& r) { r.detail.clear(); }},
      {"detail trailing newline", [](AuditRecord& r) { r.detail += "\n"; }},
      {"peer", [](AuditRecord& r) { r.peer = "ipv4:10.0.0.8:41000"; }},
      {"actor named", [](AuditRecord& r) { r.actor = "iom-staff-0042"; }},
  };
  return *mutations;
}

TEST(AuditChainTest, ChainHashChangesWhenAnySingleFieldChanges) {
  const AuditRecord base = SampleRecord();
  const std::string base_content = CanonicalContent(base);
  const std::string base_hash = ChainHash(base.prev_hash, base);
  std::vector<std::string> hashes = {base_hash};
  for (const Mutation& mutation : SingleFieldMutations()) {
    SCOPED_TRACE(mutation.name);
    AuditRecord changed = SampleRecord();
    mutation.apply(changed);
    EXPECT_NE(CanonicalContent(changed), base_content);
    const std::string hash = ChainHash(changed.prev_hash, changed);
    EXPECT_NE(hash, base_hash);
    hashes.push_back(hash);
  }
  // And no two mutations collide with each other either.
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());
}

// Pairs of records that a naive encoding (concatenation, a separator) would
// confuse. Each pair must have different canonical bytes and hashes.
struct Ambiguity {
  const char* name;
  std::function<void(AuditRecord&)> a;
  std::function<void(AuditRecord&)> b;
};

TEST(AuditChainTest, CanonicalContentIsUnambiguous) {
  const std::vector<Ambiguity> cases = {
      {"ids with a space vs two ids", [](AuditRecord& r) { r.record_ids = {"a b"}; },
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
       }},
      {"ids with a comma vs two ids", [](AuditRecord& r) { r.record_ids = {"a,b"}; },
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
       }},
      {"ids with a newline vs two ids", [](AuditRecord& r) { r.record_ids = {"a\nb"}; },
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
       }},
      {"ids joined vs split", [](AuditRecord& r) { r.record_ids = {"ab"}; },
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
       }},
      {"no id vs one empty id", [](AuditRecord& r) { r.record_ids = {}; },
       [](AuditRecord& r) { r.record_ids = {""}; }},
      {"one empty id vs two", [](AuditRecord& r) { r.record_ids = {""}; },
       [](AuditRecord& r) {
         r.record_ids = {"", ""};
       }},
      {"id that looks like an encoded id", [](AuditRecord& r) { r.record_ids = {"a\n1:b"}; },
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
       }},
      {"last id vs detail",
       [](AuditRecord& r) {
         r.record_ids = {"a", "b"};
         r.detail = "";
       },
       [](AuditRecord& r) {
         r.record_ids = {"a"};
         r.detail = "b";
       }},
      {"principal/method boundary",
       [](AuditRecord& r) {
         r.principal = "x";
         r.method = "y\n";
       },
       [](AuditRecord& r) {
         r.principal = "x\n";
         r.method = "y";
       }},
      {"principal/method shift",
       [](AuditRecord& r) {
         r.principal = "xy";
         r.method = "";
       },
       [](AuditRecord& r) {
         r.principal = "x";
         r.method = "y";
       }},
      {"principal swallowing an encoded method",
       [](AuditRecord& r) {
         r.principal = "x\n1:y";
         r.method = "";
       },
       [](AuditRecord& r) {
         r.principal = "x";
         r.method = "y";
       }},
      {"detail/peer shift",
       [](AuditRecord& r) {
         r.detail = "ab";
         r.peer = "";
       },
       [](AuditRecord& r) {
         r.detail = "a";
         r.peer = "b";
       }},
      {"peer/actor shift",
       [](AuditRecord& r) {
         r.peer = "ab";
         r.actor = "c";
       },
       [](AuditRecord& r) {
         r.peer = "a";
         r.actor = "bc";
       }},
      {"decision/status_code swap",
       [](AuditRecord& r) {
         r.decision = 1;
         r.status_code = 2;
       },
       [](AuditRecord& r) {
         r.decision = 2;
         r.status_code = 1;
       }},
      {"seq/at_us digits",
       [](AuditRecord& r) {
         r.seq = 12;
         r.at_us = 3;
       },
       [](AuditRecord& r) {
         r.seq = 1;
         r.at_us = 23;
       }},
  };
  for (const Ambiguity& c : cases) {
    SCOPED_TRACE(c.name);
    AuditRecord a = SampleRecord();
    AuditRecord b = SampleRecord();
    c.a(a);
    c.b(b);
    EXPECT_NE(CanonicalContent(a), CanonicalContent(b));
    EXPECT_NE(ChainHash(GenesisHash(), a), ChainHash(GenesisHash(), b));
  }
}

TEST(AuditChainTest, ToHexIsLowerCaseHex) {
  EXPECT_EQ(ToHex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(ToHex(GenesisHash()), std::string(64, '0'));
}

// ---------------------------------------------------------------------------
// ChainVerifier.

TEST(ChainVerifierTest, GoodChainIsIntact) {
  const std::vector<AuditRecord> chain = MakeChain(5);
  ChainVerifier verifier;
  for (const AuditRecord& record : chain) EXPECT_TRUE(verifier.Add(record)) << record.seq;
  verifier.Finish(5, chain.back().hash);
  EXPECT_TRUE(verifier.intact());
  EXPECT_EQ(verifier.checked(), 5);
  EXPECT_EQ(verifier.first_broken_sequence(), 0);
}

TEST(ChainVerifierTest, EmptyChainWithGenesisHeadIsIntact) {
  ChainVerifier verifier = Verify({}, 0, GenesisHash());
  EXPECT_TRUE(verifier.intact());
  EXPECT_EQ(verifier.checked(), 0);
  EXPECT_EQ(verifier.first_broken_sequence(), 0);
}

TEST(ChainVerifierTest, EmptyChainWithAForgedHeadHashIsBrokenAtOne) {
  ChainVerifier verifier = Verify({}, 0, std::string(32, '\x01'));
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 1);
}

TEST(ChainVerifierTest, AllRecordsDeletedIsBrokenAtOne) {
  const std::vector<AuditRecord> chain = MakeChain(5);
  ChainVerifier verifier = VerifyAgainst({}, chain);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 1);
}

TEST(ChainVerifierTest, ChangedDetailIsBrokenAtThatRecord) {
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain[2].detail = "nothing to see";
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 3);
  EXPECT_EQ(verifier.checked(), 3);
}

TEST(ChainVerifierTest, EveryFieldOfEveryRecordIsCovered) {
  const std::vector<AuditRecord> original = MakeChain(5);
  for (size_t i = 0; i < original.size(); ++i) {
    for (const Mutation& mutation : SingleFieldMutations()) {
      // A changed seq is a gap or a replay: see the deletion and replay tests.
      if (absl::string_view(mutation.name).substr(0, 3) == "seq") continue;
      SCOPED_TRACE(absl::StrCat("record ", i + 1, ": ", mutation.name));
      std::vector<AuditRecord> chain = original;
      mutation.apply(chain[i]);
      if (CanonicalContent(chain[i]) == CanonicalContent(original[i])) continue;  // no-op here
      ChainVerifier verifier = VerifyAgainst(chain, original);
      EXPECT_FALSE(verifier.intact());
      EXPECT_EQ(verifier.first_broken_sequence(), static_cast<int64_t>(i + 1));
    }
  }
}

TEST(ChainVerifierTest, ChangedPrevHashIsBrokenAtThatRecord) {
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain[2].prev_hash[0] ^= 1;
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_EQ(verifier.first_broken_sequence(), 3);
}

TEST(ChainVerifierTest, RehashedRecordBreaksTheLinkOfTheNext) {
  // A forger who changes record 3 and recomputes its hash still breaks 4.
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain[2].detail = "forged";
  chain[2].hash = ChainHash(chain[2].prev_hash, chain[2]);
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 4);
}

TEST(ChainVerifierTest, RehashedTailIsCaughtByTheHead) {
  // Rewriting record 3 and every hash after it leaves a self-consistent chain:
  // only the head the writer kept tells.
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain[2].detail = "forged";
  for (size_t i = 2; i < chain.size(); ++i) {
    chain[i].prev_hash = chain[i - 1].hash;
    chain[i].hash = ChainHash(chain[i].prev_hash, chain[i]);
  }
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.checked(), 5);
  EXPECT_NE(verifier.first_broken_sequence(), 0);
}

TEST(ChainVerifierTest, DeletedRecordIsBrokenAtItsSequence) {
  const std::vector<AuditRecord> original = MakeChain(5);
  for (size_t deleted = 0; deleted < original.size(); ++deleted) {
    SCOPED_TRACE(absl::StrCat("deleted record ", deleted + 1));
    std::vector<AuditRecord> chain = original;
    chain.erase(chain.begin() + deleted);
    ChainVerifier verifier = VerifyAgainst(chain, original);
    EXPECT_FALSE(verifier.intact());
    EXPECT_EQ(verifier.first_broken_sequence(), static_cast<int64_t>(deleted + 1));
  }
}

TEST(ChainVerifierTest, DeletedAndRenumberedRecordIsBrokenAtItsSequence) {
  // Closing the gap by renumbering does not help: the link to record 2 is gone.
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain.erase(chain.begin() + 2);
  for (size_t i = 2; i < chain.size(); ++i) chain[i].seq -= 1;
  ChainVerifier verifier = Verify(chain, 4, chain.back().hash);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 3);
}

TEST(ChainVerifierTest, SwappedRecordsAreBrokenAtTheFirstSwapped) {
  const std::vector<AuditRecord> original = MakeChain(5);
  struct Swap {
    size_t i, j;
  };
  for (Swap swap : {Swap{1, 3}, Swap{2, 3}, Swap{0, 4}, Swap{3, 4}}) {
    SCOPED_TRACE(absl::StrCat("swapped ", swap.i + 1, " and ", swap.j + 1));
    std::vector<AuditRecord> chain = original;
    std::swap(chain[swap.i], chain[swap.j]);
    ChainVerifier verifier = VerifyAgainst(chain, original);
    EXPECT_FALSE(verifier.intact());
    EXPECT_EQ(verifier.first_broken_sequence(), static_cast<int64_t>(swap.i + 1));
  }
}

TEST(ChainVerifierTest, SwappedContentsKeepingSequenceNumbersAreBroken) {
  // Exchanging everything but seq between records 2 and 4.
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  std::swap(chain[1], chain[3]);
  std::swap(chain[1].seq, chain[3].seq);
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 2);
}

TEST(ChainVerifierTest, TruncatedTailIsBrokenAfterTheLastKept) {
  const std::vector<AuditRecord> original = MakeChain(5);
  for (size_t kept = 0; kept < original.size(); ++kept) {
    SCOPED_TRACE(absl::StrCat("kept ", kept));
    std::vector<AuditRecord> chain(original.begin(), original.begin() + kept);
    ChainVerifier verifier = VerifyAgainst(chain, original);
    EXPECT_FALSE(verifier.intact());
    EXPECT_EQ(verifier.checked(), static_cast<int64_t>(kept));
    EXPECT_EQ(verifier.first_broken_sequence(), static_cast<int64_t>(kept + 1));
  }
}

TEST(ChainVerifierTest, HeadHashMismatchIsDetected) {
  const std::vector<AuditRecord> chain = MakeChain(5);
  std::string wrong = chain.back().hash;
  wrong[0] ^= 1;
  ChainVerifier verifier = Verify(chain, 5, wrong);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.checked(), 5);
  EXPECT_EQ(verifier.first_broken_sequence(), 5);
}

TEST(ChainVerifierTest, HeadBehindTheRecordsIsDetected) {
  // Records beyond the head are not accounted for by the writer.
  const std::vector<AuditRecord> chain = MakeChain(5);
  ChainVerifier verifier = Verify(chain, 3, chain[2].hash);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 4);
}

TEST(ChainVerifierTest, ReplayedRecordIsBroken) {
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain.insert(chain.begin() + 3, original[2]);  // 1 2 3 3 4 5
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
}

TEST(ChainVerifierTest, InsertedRecordIsBroken) {
  // A record slipped in after 2 with a correct link to 2 and the seq 3.
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  AuditRecord forged = original[2];
  forged.detail = "slipped in";
  forged.hash = ChainHash(forged.prev_hash, forged);
  chain.insert(chain.begin() + 2, forged);
  for (size_t i = 3; i < chain.size(); ++i) chain[i].seq += 1;
  ChainVerifier verifier = VerifyAgainst(chain, original);
  EXPECT_FALSE(verifier.intact());
  EXPECT_EQ(verifier.first_broken_sequence(), 4);
}

TEST(ChainVerifierTest, StopsCheckingAfterTheFirstBreak) {
  const std::vector<AuditRecord> original = MakeChain(5);
  std::vector<AuditRecord> chain = original;
  chain[1].detail = "changed";
  ChainVerifier verifier;
  EXPECT_TRUE(verifier.Add(chain[0]));
  EXPECT_FALSE(verifier.Add(chain[1]));
  EXPECT_FALSE(verifier.Add(chain[2]));  // ignored once broken
  verifier.Finish(5, original.back().hash);
  EXPECT_EQ(verifier.checked(), 2);
  EXPECT_EQ(verifier.first_broken_sequence(), 2);
}

TEST(ChainVerifierTest, RefusedRecordIsNeverReportedIntact) {
  // audit_chain.h: Add "returns false once the chain is broken". A first
  // record numbered 0 (or negative) is refused, so the chain is broken, and
  // it must stay broken whatever Finish is told.
  for (int64_t seq : {int64_t{0}, int64_t{-1}}) {
    SCOPED_TRACE(seq);
    AuditRecord record = MakeChain(1)[0];
    record.seq = seq;
    record.hash = ChainHash(record.prev_hash, record);
    ChainVerifier verifier;
    EXPECT_FALSE(verifier.Add(record));
    EXPECT_FALSE(verifier.intact());
    EXPECT_NE(verifier.first_broken_sequence(), 0);
    verifier.Finish(0, GenesisHash());
    EXPECT_FALSE(verifier.intact());
  }
}

}  // namespace
}  // namespace enlace::db
