// End to end over mTLS with a real MariaDB: the audit log as a transparency
// log (docs/audit.md, "Trust II"). What a database administrator can do to
// the log, what the hash chain alone says about it (nothing), and what a
// checkpoint held by a witness proves:
//   - checkpoints are signed by the log key, proofs verify, sizes are checked;
//   - the tail cut and the chain head set back: the chain says intact, the
//     earlier checkpoint names the first missing event;
//   - a middle event rewritten and the chain recomputed: named;
//   - forged or altered checkpoints and cosignatures are refused;
//   - a log nobody cosigned is NOT_SERVING as enlace.audit.Witnessed, and the
//     gauge says for how long;
//   - `enlacectl audit witness` end to end: two rounds, then a tail cut (tree
//     and checkpoints rebuilt too, server restarted) makes it refuse.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "db/audit_chain.h"
#include "db/merkle.h"
#include "db/mysql_audit_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/checkpoint.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::ServerFixture;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

constexpr char kOrigin[] = "enlace.local/audit";

db::AuditRecord ToRecord(const v1::AuditEvent& e) {
  db::AuditRecord r;
  r.seq = e.sequence();
  r.at_us = google::protobuf::util::TimeUtil::TimestampToMicroseconds(e.time());
  r.principal = e.principal();
  r.method = e.method();
  r.decision = e.decision();
  r.status_code = e.status_code();
  r.record_ids.assign(e.record_ids().begin(), e.record_ids().end());
  r.detail = e.detail();
  r.peer = e.peer();
  r.actor = e.actor();
  return r;
}

std::vector<std::string> Hashes(const google::protobuf::RepeatedPtrField<std::string>& hashes) {
  return std::vector<std::string>(hashes.begin(), hashes.end());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AuditLogTest : public ServerFixture {
 protected:
  void Configure(server::ServerConfig& config) override {
    config.audit_log_key = log_key_path_;
    config.audit_tree_poll = absl::Milliseconds(50);
    config.audit_checkpoint_on_request = absl::ZeroDuration();
    config.metrics_addr = "127.0.0.1:0";
  }

  std::unique_ptr<v1::AdminService::Stub> AdminAs(const auth::IssuedCertificate& cert) {
    return v1::AdminService::NewStub(Channel(&cert, pki_.ca_cert_pem()));
  }

  // `n` audited calls (each appends one event).
  void MakeEvents(int n) {
    for (int i = 0; i < n; ++i) {
      v1::ListAgenciesRequest request;
      v1::ListAgenciesResponse response;
      ASSERT_TRUE(Admin()->ListAgencies(Context().get(), request, &response).ok());
    }
  }

  int64_t HeadSeq() {
    return database_->QueryInt("SELECT last_seq FROM audit_chain_head WHERE id = 1");
  }

  // The latest checkpoint as `cert` sees it.
  v1::AuditCheckpoint Checkpoint(const auth::IssuedCertificate* cert = nullptr) {
    v1::AuditCheckpoint checkpoint;
    grpc::Status status =
        AdminAs(cert ? *cert : admin_cert_)->GetAuditCheckpoint(Context().get(), {}, &checkpoint);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return checkpoint;
  }

  // A checkpoint covering at least every event written so far.
  v1::AuditCheckpoint CheckpointOfAll() {
    const int64_t head = HeadSeq();
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    v1::AuditCheckpoint checkpoint;
    do {
      checkpoint = Checkpoint();
      if (checkpoint.tree_size() >= head) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    EXPECT_GE(checkpoint.tree_size(), head);
    return checkpoint;
  }

  grpc::Status Verify(const v1::AuditCheckpoint* checkpoint, v1::VerifyAuditLogResponse* out) {
    v1::VerifyAuditLogRequest request;
    if (checkpoint != nullptr) *request.mutable_checkpoint() = *checkpoint;
    return Admin()->VerifyAuditLog(Context().get(), request, out);
  }

  // The tail after `keep` removed and the chain head set back to it, as a
  // database administrator can: the chain is then whole again.
  void CutTail(int64_t keep) {
    database_->Execute(absl::StrCat("DELETE FROM audit_events WHERE seq > ", keep));
    database_->Execute(absl::StrCat("DELETE FROM audit_event_records WHERE audit_seq > ", keep));
    database_->Execute(
        absl::StrCat("UPDATE audit_chain_head h JOIN audit_events e ON e.seq = ", keep,
                     " SET h.last_seq = e.seq, h.last_hash = e.hash WHERE h.id = 1"));
  }

  // Rewrites event `seq`'s detail and recomputes the chain from there on, so
  // that the chain verifies.
  void RewriteEvent(int64_t seq) {
    db::MysqlAuditStore store(&database_->pool());
    db::AuditQuery query;
    query.after_seq = seq - 2 < 0 ? 0 : seq - 2;
    query.limit = 100000;
    absl::StatusOr<db::AuditPage> page = store.List(query);
    ASSERT_TRUE(page.ok()) << page.status();
    std::string prev = seq == 1 ? db::GenesisHash() : page->records.front().hash;
    for (db::AuditRecord& r : page->records) {
      if (r.seq < seq) continue;
      if (r.seq == seq) {
        r.detail = "nothing happened here";
        database_->Execute(
            absl::StrCat("UPDATE audit_events SET detail = '", r.detail, "' WHERE seq = ", r.seq));
      }
      r.prev_hash = prev;
      r.hash = db::ChainHash(prev, r);
      database_->Execute(absl::StrCat("UPDATE audit_events SET prev_hash = UNHEX('",
                                      absl::BytesToHexString(r.prev_hash), "'), hash = UNHEX('",
                                      absl::BytesToHexString(r.hash), "') WHERE seq = ", r.seq));
      prev = r.hash;
    }
    database_->Execute(absl::StrCat("UPDATE audit_chain_head SET last_hash = UNHEX('",
                                    absl::BytesToHexString(prev),
                                    "'), last_seq = ", page->records.back().seq, " WHERE id = 1"));
  }

  // A checkpoint note for `size` and `root` signed by `key` under the origin.
  static std::string SignedCheckpoint(uint64_t size, const std::string& root,
                                      const tlog::Ed25519Key& key) {
    tlog::Note note;
    note.text = tlog::FormatCheckpoint(tlog::Checkpoint{kOrigin, size, root, {}});
    note.signatures.push_back(tlog::SignText(note.text, kOrigin, key));
    return tlog::FormatNote(note);
  }

  std::string HealthOf(const std::string& service) {
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = grpc::health::v1::Health::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()))
                              ->Check(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return HealthCheckResponse::ServingStatus_Name(response.status());
  }

  // The value of a gauge on the metrics port.
  double Gauge(const std::string& name) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server_->metrics_port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string body;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) body.append(buffer, n);
    close(fd);
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      if (absl::StartsWith(line, name + " ")) {
        double value = -1;
        EXPECT_TRUE(absl::SimpleAtod(line.substr(name.size() + 1), &value)) << line;
        return value;
      }
    }
    ADD_FAILURE() << name << " not in the metrics:\n" << body;
    return -1;
  }

  const tlog::Ed25519Key log_key_ = tlog::Ed25519Key::Generate();
  const std::string log_key_path_ = pki_.WriteFile("audit_log.key", log_key_.ToPem());
  const tlog::Verifier log_verifier_{kOrigin, tlog::kEd25519, log_key_.PublicKey()};
};

TEST_F(AuditLogTest, CheckpointsAreSignedByTheLogKeyAndProofsVerify) {
  MakeEvents(12);
  v1::AuditCheckpoint first = CheckpointOfAll();
  absl::StatusOr<tlog::Note> note = tlog::ParseNote(first.note());
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(tlog::VerifyNote(*note, {log_verifier_}).ok());
  absl::StatusOr<tlog::Checkpoint> body = tlog::ParseCheckpoint(note->text);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->origin, kOrigin);
  EXPECT_EQ(static_cast<int64_t>(body->tree_size), first.tree_size());
  EXPECT_EQ(body->root_hash, first.root_hash());

  // Every agency reads checkpoints and proofs (it is a witness)...
  v1::AuditCheckpoint as_iom = Checkpoint(&iom_cert_);
  EXPECT_GE(as_iom.tree_size(), first.tree_size());
  v1::GetAuditConsistencyProofRequest consistency;
  consistency.set_from_size(first.tree_size());
  consistency.set_to_size(as_iom.tree_size());
  v1::GetAuditConsistencyProofResponse consistency_proof;
  ASSERT_TRUE(AdminAs(unhcr_cert_)
                  ->GetAuditConsistencyProof(Context().get(), consistency, &consistency_proof)
                  .ok());
  EXPECT_TRUE(db::merkle::VerifyConsistency(first.tree_size(), as_iom.tree_size(),
                                            first.root_hash(), as_iom.root_hash(),
                                            Hashes(consistency_proof.hashes())));
  // ...but neither registers witness keys nor verifies the whole log.
  v1::WitnessKey key;
  EXPECT_EQ(AdminAs(iom_cert_)->RegisterWitnessKey(Context().get(), {}, &key).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::VerifyAuditLogResponse verdict;
  EXPECT_EQ(AdminAs(iom_cert_)->VerifyAuditLog(Context().get(), {}, &verdict).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Each event is in the tree, its leaf recomputed from ListAuditEvents.
  v1::ListAuditEventsRequest list;
  list.set_page_size(500);
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(Admin()->ListAuditEvents(Context().get(), list, &events).ok());
  int checked = 0;
  for (const v1::AuditEvent& event : events.events()) {
    if (event.sequence() > first.tree_size()) break;
    v1::GetAuditInclusionProofRequest request;
    request.set_sequence(event.sequence());
    request.set_tree_size(first.tree_size());
    v1::GetAuditInclusionProofResponse proof;
    ASSERT_TRUE(AdminAs(iom_cert_)->GetAuditInclusionProof(Context().get(), request, &proof).ok());
    const std::string leaf = db::merkle::HashLeaf(db::AuditLeafBytes(ToRecord(event)));
    EXPECT_TRUE(db::merkle::VerifyInclusion(event.sequence() - 1, first.tree_size(), leaf,
                                            Hashes(proof.hashes()), first.root_hash()))
        << event.sequence();
    ++checked;
  }
  EXPECT_EQ(checked, first.tree_size());

  // Impossible sizes are INVALID_ARGUMENT naming the field.
  auto inclusion = [&](int64_t sequence, int64_t tree_size) {
    v1::GetAuditInclusionProofRequest request;
    request.set_sequence(sequence);
    request.set_tree_size(tree_size);
    v1::GetAuditInclusionProofResponse proof;
    return Admin()->GetAuditInclusionProof(Context().get(), request, &proof);
  };
  auto consistent = [&](int64_t from, int64_t to) {
    v1::GetAuditConsistencyProofRequest request;
    request.set_from_size(from);
    request.set_to_size(to);
    v1::GetAuditConsistencyProofResponse proof;
    return Admin()->GetAuditConsistencyProof(Context().get(), request, &proof);
  };
  for (const auto& [status, field] : std::vector<std::pair<grpc::Status, std::string>>{
           {inclusion(0, 5), "sequence"},
           {inclusion(6, 5), "sequence"},
           {inclusion(1, 0), "tree_size"},
           {inclusion(1, 1000000), "tree_size"},
           {consistent(-1, 5), "from_size"},
           {consistent(6, 5), "to_size"},
           {consistent(1, 1000000), "to_size"},
       }) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(field + ":"));
  }
  // The edges that are possible: a size to itself, from 0.
  EXPECT_TRUE(consistent(5, 5).ok());
  EXPECT_TRUE(consistent(0, 5).ok());
  EXPECT_TRUE(inclusion(1, 1).ok());
}

TEST_F(AuditLogTest, ATailCutWithTheChainRepairedFoolsTheChainButNotAnEarlierCheckpoint) {
  MakeEvents(20);
  v1::AuditCheckpoint checkpoint = CheckpointOfAll();
  v1::VerifyAuditLogResponse verdict;
  ASSERT_TRUE(Verify(&checkpoint, &verdict).ok());
  EXPECT_TRUE(verdict.intact()) << verdict.detail();
  EXPECT_TRUE(verdict.checkpoint_consistent());

  const int64_t keep = checkpoint.tree_size() - 6;
  CutTail(keep);
  // With the checkpoint, at once: the first missing event is named.
  ASSERT_TRUE(Verify(&checkpoint, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_TRUE(verdict.chain_intact());
  EXPECT_FALSE(verdict.checkpoint_consistent());
  EXPECT_EQ(verdict.first_broken_sequence(), keep + 1);
  EXPECT_THAT(verdict.detail(), HasSubstr(absl::StrCat("event ", keep + 1, " is missing")));
  // Without one the server checks against the latest checkpoint it stored:
  // the same finding, though the chain alone was cut and repaired.
  ASSERT_TRUE(Verify(nullptr, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_TRUE(verdict.chain_intact());
  EXPECT_FALSE(verdict.checkpoint_consistent());
  EXPECT_EQ(verdict.first_broken_sequence(), keep + 1);
  // New events now stand where the removed ones did: still named.
  MakeEvents(10);
  ASSERT_TRUE(Verify(&checkpoint, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_TRUE(verdict.chain_intact());
  EXPECT_EQ(verdict.first_broken_sequence(), keep + 1);
  // And the server builds no tree on top of the changed log.
  const std::string tree_size =
      "SELECT MAX(node_index) + 1 FROM audit_tree_nodes WHERE node_level = 0";
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t stalled = database_->QueryInt(tree_size);
  MakeEvents(3);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(database_->QueryInt(tree_size), stalled);
}

TEST_F(AuditLogTest, AMiddleEventRewrittenWithTheChainRecomputedIsNamed) {
  MakeEvents(30);
  v1::AuditCheckpoint checkpoint = CheckpointOfAll();
  const int64_t target = checkpoint.tree_size() / 2;
  RewriteEvent(target);
  v1::VerifyAuditLogResponse verdict;
  // The latest stored checkpoint tells, without one given.
  ASSERT_TRUE(Verify(nullptr, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_TRUE(verdict.chain_intact()) << "the chain was recomputed: it cannot tell";
  EXPECT_EQ(verdict.first_broken_sequence(), target);
  // A forged checkpoint planted in the database (the largest, so the latest)
  // does not verify with the log's key: said so.
  database_->Execute(
      "INSERT INTO audit_checkpoints (tree_size, root_hash, note, created_at_us) VALUES "
      "(1000000000, UNHEX(REPEAT('ab', 32)), 'enlace.local/audit\\n1000000000\\n', 1)");
  ASSERT_TRUE(Verify(nullptr, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_THAT(verdict.detail(), HasSubstr("planted or altered"));
  ASSERT_TRUE(Verify(&checkpoint, &verdict).ok());
  EXPECT_FALSE(verdict.intact());
  EXPECT_TRUE(verdict.chain_intact());
  EXPECT_FALSE(verdict.checkpoint_consistent());
  EXPECT_EQ(verdict.first_broken_sequence(), target);
  EXPECT_THAT(verdict.detail(), HasSubstr(absl::StrCat("event ", target, " ")));
}

TEST_F(AuditLogTest, ForgedOrAlteredCheckpointsAreRefused) {
  MakeEvents(5);
  v1::AuditCheckpoint checkpoint = CheckpointOfAll();
  const std::string size_line = absl::StrCat("\n", checkpoint.tree_size(), "\n");
  auto verify_note = [&](const std::string& note, int64_t size = 0) {
    v1::AuditCheckpoint forged;
    forged.set_note(note);
    forged.set_tree_size(size);
    v1::VerifyAuditLogResponse verdict;
    return Verify(&forged, &verdict);
  };
  // The size altered, the root altered, a note signed by another key.
  std::string bigger = absl::StrReplaceAll(
      checkpoint.note(), {{size_line, absl::StrCat("\n", checkpoint.tree_size() + 1, "\n")}});
  std::string other_root =
      SignedCheckpoint(checkpoint.tree_size(), std::string(32, 'x'), tlog::Ed25519Key::Generate());
  tlog::Note rerooted = *tlog::ParseNote(checkpoint.note());
  rerooted.text = tlog::FormatCheckpoint(tlog::Checkpoint{
      kOrigin, static_cast<uint64_t>(checkpoint.tree_size()), std::string(32, 'x'), {}});
  for (const std::string& note :
       {bigger, other_root, tlog::FormatNote(rerooted), std::string("not a note")}) {
    grpc::Status status = verify_note(note);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << note;
    EXPECT_THAT(status.error_message(), ::testing::StartsWith("checkpoint"));
  }
  // The fields beside the note must agree with it.
  grpc::Status status = verify_note(checkpoint.note(), checkpoint.tree_size() + 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::StartsWith("checkpoint.tree_size"));
  // The genuine one passes.
  EXPECT_TRUE(verify_note(checkpoint.note()).ok());
}

TEST_F(AuditLogTest, OnlyRegisteredWitnessesCosignAndForgedCosignaturesAreRefused) {
  const tlog::SignerKey iom{"iom.example/witness", tlog::kCosignatureV1,
                            tlog::Ed25519Key::Generate()};
  const tlog::SignerKey stranger{"stranger.example/witness", tlog::kCosignatureV1,
                                 tlog::Ed25519Key::Generate()};
  auto register_key = [&](const std::string& agency, const std::string& public_key,
                          v1::WitnessKey* out) {
    v1::RegisterWitnessKeyRequest request;
    request.set_agency(agency);
    request.set_public_key(public_key);
    return Admin()->RegisterWitnessKey(Context().get(), request, out);
  };
  const std::string iom_vkey = tlog::FormatVerifierKey(iom.verifier());
  v1::WitnessKey key;
  ASSERT_TRUE(register_key("iom", iom_vkey, &key).ok());
  EXPECT_EQ(key.key_name(), "iom.example/witness");
  EXPECT_EQ(key.key_id(), absl::BytesToHexString(iom.verifier().key_id()));
  EXPECT_EQ(key.public_key(), iom_vkey);
  EXPECT_TRUE(register_key("iom", iom_vkey, &key).ok());  // again: harmless
  EXPECT_EQ(register_key("undp", iom_vkey, &key).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(register_key("nope", iom_vkey, &key).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  grpc::Status bad = register_key("iom", "iom.example/witness+00000000+AAAA", &key);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), ::testing::StartsWith("public_key:"));
  const tlog::Verifier note_key{"iom.example/other", tlog::kEd25519, iom.key.PublicKey()};
  EXPECT_EQ(register_key("iom", tlog::FormatVerifierKey(note_key), &key).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  MakeEvents(3);
  v1::AuditCheckpoint checkpoint = Checkpoint(&iom_cert_);
  const std::string text = tlog::ParseNote(checkpoint.note())->text;
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  auto cosign = [&](const auth::IssuedCertificate& cert, const std::string& note,
                    const std::string& line, v1::AuditCheckpoint* out) {
    v1::AddAuditCosignatureRequest request;
    request.set_note(note);
    request.set_cosignature(line);
    return AdminAs(cert)->AddAuditCosignature(Context().get(), request, out);
  };
  const std::string line = tlog::Cosign(text, now, iom).Line();
  v1::AuditCheckpoint cosigned;
  ASSERT_TRUE(cosign(iom_cert_, checkpoint.note(), line, &cosigned).ok());
  EXPECT_EQ(cosigned.tree_size(), checkpoint.tree_size());
  EXPECT_THAT(cosigned.cosignatures(), ::testing::ElementsAre(line));
  // The cosigned note verifies for anyone who knows the witness key.
  absl::StatusOr<tlog::Note> whole = tlog::ParseNote(cosigned.note() + cosigned.cosignatures(0));
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(tlog::VerifyNote(*whole, {iom.verifier()}).ok());

  auto expect = [&](grpc::StatusCode code, const std::string& prefix, grpc::Status status) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(prefix));
  };
  // Forged (a byte of the signature flipped), over another body, from the future.
  tlog::NoteSignature flipped = tlog::Cosign(text, now, iom);
  flipped.signature[30] ^= 1;
  expect(grpc::StatusCode::INVALID_ARGUMENT,
         "cosignature:", cosign(iom_cert_, checkpoint.note(), flipped.Line(), &cosigned));
  const std::string other_text = tlog::FormatCheckpoint(tlog::Checkpoint{
      kOrigin, static_cast<uint64_t>(checkpoint.tree_size()) + 1, checkpoint.root_hash(), {}});
  expect(
      grpc::StatusCode::INVALID_ARGUMENT, "cosignature:",
      cosign(iom_cert_, checkpoint.note(), tlog::Cosign(other_text, now, iom).Line(), &cosigned));
  expect(
      grpc::StatusCode::INVALID_ARGUMENT, "cosignature:",
      cosign(iom_cert_, checkpoint.note(), tlog::Cosign(text, now + 86400, iom).Line(), &cosigned));
  expect(grpc::StatusCode::INVALID_ARGUMENT,
         "cosignature:", cosign(iom_cert_, checkpoint.note(), "— not a signature line", &cosigned));
  // An altered note, and a well-signed checkpoint the log never issued.
  expect(grpc::StatusCode::INVALID_ARGUMENT, "note:",
         cosign(iom_cert_,
                absl::StrReplaceAll(checkpoint.note(),
                                    {{absl::StrCat("\n", checkpoint.tree_size(), "\n"),
                                      absl::StrCat("\n", checkpoint.tree_size() + 1, "\n")}}),
                line, &cosigned));
  const std::string never_issued =
      SignedCheckpoint(checkpoint.tree_size() + 1000, std::string(32, 'n'), log_key_);
  expect(grpc::StatusCode::INVALID_ARGUMENT, "note: not a checkpoint this log issued",
         cosign(iom_cert_, never_issued, line, &cosigned));
  // A key nobody registered; iom's key used by another agency.
  expect(grpc::StatusCode::PERMISSION_DENIED, "cosignature:",
         cosign(iom_cert_, checkpoint.note(), tlog::Cosign(text, now, stranger).Line(), &cosigned));
  expect(grpc::StatusCode::PERMISSION_DENIED,
         "cosignature:", cosign(undp_cert_, checkpoint.note(), line, &cosigned));
  // An administrator may relay a registered witness's cosignature.
  EXPECT_TRUE(cosign(admin_cert_, checkpoint.note(), line, &cosigned).ok());
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_cosignatures"), 1);
  // Every call was audited, the refused ones too.
  EXPECT_EQ(AuditEvents("spiffe://enlace/agency/iom").events_size() > 0, true);
}

class WitnessAlertTest : public AuditLogTest {
 protected:
  void Configure(server::ServerConfig& config) override {
    AuditLogTest::Configure(config);
    config.audit_witness_alert = absl::Seconds(3);
  }
};

TEST_F(WitnessAlertTest, AnUnwitnessedLogIsNotServingAsWitnessedWhileTheServerServes) {
  MakeEvents(2);
  Checkpoint();  // a checkpoint nobody cosigns
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (HealthOf("enlace.audit.Witnessed") != "NOT_SERVING" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(HealthOf("enlace.audit.Witnessed"), "NOT_SERVING");
  EXPECT_EQ(HealthOf(""), "SERVING");
  EXPECT_EQ(HealthOf("enlace.v1.ArrivalService"), "SERVING");
  EXPECT_GT(Gauge("enlace_audit_seconds_since_cosigned"), 3.0);

  // A witness cosigns: witnessed again.
  const tlog::SignerKey iom{"iom.example/witness", tlog::kCosignatureV1,
                            tlog::Ed25519Key::Generate()};
  v1::RegisterWitnessKeyRequest registration;
  registration.set_agency("iom");
  registration.set_public_key(tlog::FormatVerifierKey(iom.verifier()));
  v1::WitnessKey key;
  ASSERT_TRUE(Admin()->RegisterWitnessKey(Context().get(), registration, &key).ok());
  v1::AuditCheckpoint checkpoint = Checkpoint(&iom_cert_);
  v1::AddAuditCosignatureRequest request;
  request.set_note(checkpoint.note());
  request.set_cosignature(
      tlog::Cosign(tlog::ParseNote(checkpoint.note())->text, absl::ToUnixSeconds(absl::Now()), iom)
          .Line());
  v1::AuditCheckpoint cosigned;
  ASSERT_TRUE(AdminAs(iom_cert_)->AddAuditCosignature(Context().get(), request, &cosigned).ok());
  EXPECT_EQ(HealthOf("enlace.audit.Witnessed"), "SERVING");
  EXPECT_LT(Gauge("enlace_audit_seconds_since_cosigned"), 3.0);
}

// ---- enlacectl audit witness, end to end ----

class WitnessCliTest : public AuditLogTest {
 protected:
  struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  // enlacectl `args` as `cert` (its files written once).
  Run Ctl(const std::vector<std::string>& args, const auth::IssuedCertificate* cert) {
    std::string command = ENLACE_CTL_BINARY;
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    if (cert != nullptr) {
      const std::string name = cert == &admin_cert_ ? "cli-admin" : "cli-iom";
      TestPki::Files files = pki_.WriteCertificate(name, *cert);
      absl::StrAppend(&command, " --addr localhost:", server_->tls_port(), " --ca '",
                      pki_.ca_cert_path(), "' --cert '", files.certificate_path, "' --key '",
                      files.private_key_path, "'");
    }
    const std::string out = absl::StrCat(pki_.dir(), "/ctl.out");
    const std::string err = absl::StrCat(pki_.dir(), "/ctl.err");
    absl::StrAppend(&command, " >'", out, "' 2>'", err, "' </dev/null");
    int status = std::system(command.c_str());
    Run run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out);
    run.err = ReadFile(err);
    return run;
  }

  using TestPki = ::enlace::testing::TestPki;
};

TEST_F(WitnessCliTest, TwoConsistentRoundsThenATailCutMakesTheWitnessRefuse) {
  const std::string dir = pki_.dir();
  const std::string witness_key = dir + "/iom-witness.key";
  const std::string state = dir + "/iom-witness.state";
  const std::string log_pub = pki_.WriteFile("audit_log.pub", log_key_.PublicKeyPem());

  Run made =
      Ctl({"audit", "witness-key", "--name", "iom.example/witness", "--out", witness_key}, nullptr);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string vkey(absl::StripAsciiWhitespace(made.out));
  EXPECT_TRUE(tlog::ParseVerifierKey(vkey).ok()) << vkey;
  Run help = Ctl({"audit", "witness", "--help"}, nullptr);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Example:"));
  Run registered =
      Ctl({"audit", "register-witness", "--agency", "iom", "--public-key", vkey}, &admin_cert_);
  ASSERT_EQ(registered.exit_code, 0) << registered.err;

  const std::vector<std::string> witness = {"audit",         "witness",   "--log-key", log_pub,
                                            "--witness-key", witness_key, "--state",   state};
  MakeEvents(5);
  Run first = Ctl(witness, &iom_cert_);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("first checkpoint"));
  const std::string first_state = ReadFile(state);
  const uint64_t first_size = tlog::ParseCheckpoint(tlog::ParseNote(first_state)->text)->tree_size;

  MakeEvents(7);
  Run second = Ctl(witness, &iom_cert_);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr(absl::StrCat("consistent with the one of ", first_size)));
  EXPECT_THAT(second.out, HasSubstr("cosigned as iom.example/witness"));
  const std::string second_state = ReadFile(state);
  const uint64_t second_size =
      tlog::ParseCheckpoint(tlog::ParseNote(second_state)->text)->tree_size;
  EXPECT_GT(second_size, first_size);
  EXPECT_GE(database_->QueryInt("SELECT COUNT(*) FROM audit_cosignatures"), 2);
  Run verified = Ctl({"audit", "verify", "--checkpoint", state}, &admin_cert_);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;

  // A witness given the wrong log key refuses whatever the log says.
  const std::string other_pub =
      pki_.WriteFile("other.pub", tlog::Ed25519Key::Generate().PublicKeyPem());
  Run wrong_key = Ctl({"audit", "witness", "--log-key", other_pub, "--witness-key", witness_key,
                       "--state", dir + "/other.state"},
                      &iom_cert_);
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_THAT(wrong_key.err, HasSubstr("DATA_LOSS: the log's checkpoint is not signed"));

  // The database administrator cuts the tail below the witness's checkpoint,
  // repairs the chain, rebuilds the tree and the checkpoints after it, and
  // restarts the server (which forgets what it signed): a consistent-looking
  // log of new events grows past the old size.
  const int64_t keep = static_cast<int64_t>(first_size) + 2;
  server_.reset();
  CutTail(keep);
  database_->Execute(
      absl::StrCat("DELETE FROM audit_tree_nodes WHERE ((node_index + 1) << "
                   "node_level) > ",
                   keep));
  database_->Execute(absl::StrCat("DELETE FROM audit_checkpoints WHERE tree_size > ", keep));
  StartServer(database_->server_dsn_string());  // as SetUp: the server's own user
  MakeEvents(static_cast<int>(second_size - keep) + 5);
  Run refused = Ctl(witness, &iom_cert_);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_THAT(refused.err, HasSubstr("DATA_LOSS: the log is not consistent with the checkpoint"));
  EXPECT_EQ(ReadFile(state), second_state) << "the witness keeps what it verified";
  // The checkpoint the witness holds proves the log changed. The stored tree
  // was rebuilt too, so what is named is a bound: the first checkpoint that
  // survived proves the events up to it unchanged.
  // (A checkpoint the restarted server signed at `keep`, of the unchanged
  // prefix, may prove up to there.)
  Run broken = Ctl({"audit", "verify", "--checkpoint", state}, &admin_cert_);
  EXPECT_EQ(broken.exit_code, 1);
  int64_t proven = 0, from = 0, to = 0;
  const std::string needle = "events 1..";
  const size_t at = broken.err.find(needle);
  ASSERT_NE(at, std::string::npos) << broken.err;
  ASSERT_EQ(std::sscanf(broken.err.c_str() + at,
                        "events 1..%ld are proven unchanged; the first change is between "
                        "sequences %ld and %ld",
                        &proven, &from, &to),
            3)
      << broken.err;
  EXPECT_GE(proven, static_cast<int64_t>(first_size));
  EXPECT_LE(proven, keep);
  EXPECT_EQ(from, proven + 1);
  EXPECT_EQ(to, static_cast<int64_t>(second_size));
  EXPECT_THAT(broken.err, HasSubstr(absl::StrCat("broken at sequence ", from, " ")));
}

}  // namespace
}  // namespace enlace
