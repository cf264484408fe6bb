// The audit log as a transparency log (see audit_transparency.h).
#include "server/audit_transparency.h"

#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"

namespace enlace::server {
namespace {

// A cosignature dated further ahead than this is refused.
constexpr absl::Duration kCosignatureClockSkew = absl::Minutes(10);
// While unwitnessed, the WARNING is repeated this often.
constexpr absl::Duration kAlertRepeat = absl::Hours(1);
// Events the background thread adds to the tree per round at most.
constexpr uint64_t kBuildPerRound = 200000;
// Earlier checkpoints a verification against a checkpoint reads at most.
constexpr int kMaxAnchors = 1000;

absl::Status Field(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

}  // namespace

AuditTransparency::AuditTransparency(TransparencyOptions options, tlog::Ed25519Key log_key,
                                     db::AuditStore* events, db::AuditTreeStore* tree,
                                     Metrics* metrics, std::function<void(bool)> on_witnessed)
    : options_(std::move(options)),
      log_key_(std::move(log_key)),
      log_verifier_{options_.origin, tlog::kEd25519, log_key_.PublicKey()},
      events_(events),
      tree_(tree),
      metrics_(metrics),
      on_witnessed_(std::move(on_witnessed)),
      builder_(events, tree, options_.build_batch) {}

AuditTransparency::~AuditTransparency() { Stop(); }

void AuditTransparency::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void AuditTransparency::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void AuditTransparency::Run() {
  do {
    RunOnce(absl::Now());
  } while (!stop_.WaitForNotificationWithTimeout(options_.build_poll));
}

void AuditTransparency::RunOnce(absl::Time now) {
  absl::StatusOr<uint64_t> size = builder_.CatchUp(kBuildPerRound);
  {
    absl::MutexLock lock(&mu_);
    if (!size.ok() && !build_failing_) {
      Log(absl::IsDataLoss(size.status()) ? "ERROR " : "",
          "audit tree not extended: ", size.status().message());
    } else if (size.ok() && build_failing_) {
      Log("audit tree extended again: ", *size, " leaves");
    }
    build_failing_ = !size.ok();
  }
  if (size.ok() && metrics_ != nullptr) metrics_->SetAuditTreeLeaves(*size);
  bool due = false;
  {
    absl::MutexLock lock(&mu_);
    due = now - last_published_ >= options_.checkpoint_interval;
  }
  if (due) {
    absl::StatusOr<db::StoredCheckpoint> published = Publish(now);
    if (!published.ok() && !absl::IsNotFound(published.status())) {
      Log("audit checkpoint not published: ", published.status().message());
    }
  }
  CheckWitnessed(now);
  if (metrics_ != nullptr) {
    absl::MutexLock lock(&mu_);
    metrics_->SetAuditTreeStalled(build_failing_ || refusing_);
  }
}

absl::StatusOr<db::StoredCheckpoint> AuditTransparency::Publish(absl::Time now) {
  absl::MutexLock publishing(&publish_mu_);
  absl::StatusOr<uint64_t> size = tree_->TreeSize();
  if (!size.ok()) return size.status();
  absl::StatusOr<std::optional<db::StoredCheckpoint>> latest = tree_->LatestCheckpoint();
  if (!latest.ok()) return latest.status();
  std::optional<db::StoredCheckpoint> known = *latest;
  bool restore = false;
  {
    absl::MutexLock lock(&mu_);
    last_published_ = now;
    if (last_signed_.has_value() && (!known || known->tree_size < last_signed_->tree_size)) {
      // A checkpoint this process signed is gone from the database: put it
      // back (it is signed; nobody can make it up) and go on from it.
      Log("ERROR the audit checkpoint of ", last_signed_->tree_size,
          " events this server signed is missing from the database: storing it again");
      known = last_signed_;
      restore = true;
    }
  }
  if (restore) {
    absl::StatusOr<db::StoredCheckpoint> restored = tree_->AddCheckpoint(*known);
    if (!restored.ok()) return restored.status();
  }
  if (known.has_value() && *size <= static_cast<uint64_t>(known->tree_size)) {
    if (*size < static_cast<uint64_t>(known->tree_size)) {
      absl::MutexLock lock(&mu_);
      if (!refusing_) {
        Log("ERROR the audit tree holds ", *size, " leaves, fewer than the checkpoint of ",
            known->tree_size, ": its nodes were removed; no checkpoint is published");
      }
      refusing_ = true;
    }
    return *known;
  }
  if (known.has_value() && known->tree_size > 0) {
    // Never sign a fork: the tree must still reproduce the largest checkpoint.
    absl::StatusOr<std::string> root = db::StoredRoot(*tree_, known->tree_size);
    if (!root.ok() && !absl::IsDataLoss(root.status())) return root.status();
    if (!root.ok() || *root != known->root_hash) {
      absl::MutexLock lock(&mu_);
      if (!refusing_) {
        Log("ERROR the stored audit tree no longer reproduces the checkpoint of ", known->tree_size,
            " events (its nodes were changed): no checkpoint is published");
      }
      refusing_ = true;
      return *known;
    }
  }
  absl::StatusOr<std::string> root = db::StoredRoot(*tree_, *size);
  if (!root.ok()) return root.status();
  tlog::Note note;
  note.text = tlog::FormatCheckpoint(tlog::Checkpoint{options_.origin, *size, *root, {}});
  note.signatures.push_back(tlog::SignText(note.text, options_.origin, log_key_));
  db::StoredCheckpoint checkpoint;
  checkpoint.tree_size = static_cast<int64_t>(*size);
  checkpoint.root_hash = *root;
  checkpoint.note = tlog::FormatNote(note);
  checkpoint.created_at_us = absl::ToUnixMicros(now);
  absl::StatusOr<db::StoredCheckpoint> stored = tree_->AddCheckpoint(checkpoint);
  if (!stored.ok()) return stored.status();
  absl::MutexLock lock(&mu_);
  refusing_ = false;
  if (stored->root_hash != checkpoint.root_hash) {
    Log("ERROR another checkpoint of ", stored->tree_size,
        " events with another root is stored: the replicas disagree about the audit tree");
  }
  last_signed_ = *stored;
  return *stored;
}

absl::StatusOr<CheckpointView> AuditTransparency::CurrentCheckpoint() {
  const absl::Time now = absl::Now();
  absl::StatusOr<uint64_t> built = builder_.CatchUp(options_.max_build_per_request);
  if (!built.ok() && !absl::IsDataLoss(built.status())) return built.status();
  bool recent = false;
  {
    absl::MutexLock lock(&mu_);
    recent = now - last_published_ < options_.on_request_interval;
  }
  std::optional<db::StoredCheckpoint> current;
  if (!recent) {
    absl::StatusOr<db::StoredCheckpoint> published = Publish(now);
    if (!published.ok()) return published.status();
    current = *published;
  }
  absl::StatusOr<std::optional<db::StoredCheckpoint>> latest = tree_->LatestCheckpoint();
  if (!latest.ok()) return latest.status();
  if (latest->has_value() && (!current || (*latest)->tree_size >= current->tree_size)) {
    current = **latest;
  }
  if (!current.has_value()) {
    absl::MutexLock lock(&mu_);
    if (!last_signed_.has_value()) return absl::NotFoundError("no audit checkpoint yet");
    current = last_signed_;
  }
  absl::StatusOr<std::vector<db::CosignatureRecord>> cosignatures =
      tree_->CosignaturesOf(current->tree_size);
  if (!cosignatures.ok()) return cosignatures.status();
  return CheckpointView{*std::move(current), *std::move(cosignatures)};
}

absl::StatusOr<uint64_t> AuditTransparency::TreeSize() { return tree_->TreeSize(); }

absl::StatusOr<std::vector<std::string>> AuditTransparency::InclusionProof(int64_t sequence,
                                                                           int64_t tree_size) {
  if (tree_size < 1) return absl::InvalidArgumentError("tree_size: must be at least 1");
  if (sequence < 1 || sequence > tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence: must be between 1 and tree_size (", tree_size, ")"));
  }
  absl::StatusOr<uint64_t> size = tree_->TreeSize();
  if (!size.ok()) return size.status();
  if (static_cast<uint64_t>(tree_size) > *size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree_size: the audit tree has ", *size, " leaves"));
  }
  return db::StoredInclusionProof(*tree_, static_cast<uint64_t>(sequence - 1),
                                  static_cast<uint64_t>(tree_size));
}

absl::StatusOr<std::vector<std::string>> AuditTransparency::ConsistencyProof(int64_t from_size,
                                                                             int64_t to_size) {
  if (from_size < 0) return absl::InvalidArgumentError("from_size: must not be negative");
  if (to_size < from_size) {
    return absl::InvalidArgumentError("to_size: must be at least from_size");
  }
  absl::StatusOr<uint64_t> size = tree_->TreeSize();
  if (!size.ok()) return size.status();
  if (static_cast<uint64_t>(to_size) > *size) {
    return absl::InvalidArgumentError(
        absl::StrCat("to_size: the audit tree has ", *size, " leaves"));
  }
  return db::StoredConsistencyProof(*tree_, static_cast<uint64_t>(from_size),
                                    static_cast<uint64_t>(to_size));
}

absl::StatusOr<db::WitnessKeyRecord> AuditTransparency::RegisterWitnessKey(
    const std::string& agency, const std::string& public_key, const std::string& registered_by,
    db::AuditRecord* audit) {
  absl::StatusOr<tlog::Verifier> verifier = tlog::ParseVerifierKey(public_key);
  if (!verifier.ok()) return Field("public_key", verifier.status());
  if (verifier->type != tlog::kCosignatureV1) {
    return absl::InvalidArgumentError(
        "public_key: a witness key has signature type 4 (c2sp.org/tlog-cosignature, Ed25519)");
  }
  absl::StatusOr<std::vector<db::WitnessKeyRecord>> named = tree_->WitnessKeysNamed(verifier->name);
  if (!named.ok()) return named.status();
  for (const db::WitnessKeyRecord& key : *named) {
    if (key.agency != agency) {
      return absl::AlreadyExistsError(absl::StrCat("public_key: the key name ", verifier->name,
                                                   " is another agency's witness key"));
    }
    if (key.key_id == verifier->key_id() && key.public_key == verifier->public_key) return key;
  }
  db::WitnessKeyRecord record;
  record.key_name = verifier->name;
  record.key_id = verifier->key_id();
  record.public_key = verifier->public_key;
  record.agency = agency;
  record.registered_by = registered_by;
  record.registered_at_us = absl::ToUnixMicros(absl::Now());
  if (absl::Status s = tree_->AddWitnessKey(record, audit); !s.ok()) return s;
  return record;
}

absl::StatusOr<tlog::Checkpoint> AuditTransparency::CheckSignedCheckpoint(
    const std::string& note, absl::string_view field) const {
  absl::StatusOr<tlog::Note> parsed = tlog::ParseNote(note);
  if (!parsed.ok()) return Field(field, parsed.status());
  const tlog::Verifier verifiers[] = {log_verifier_};
  absl::StatusOr<std::vector<std::string>> signed_by = tlog::VerifyNote(*parsed, verifiers);
  if (!signed_by.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not signed by this log's key (", signed_by.status().message(), ")"));
  }
  absl::StatusOr<tlog::Checkpoint> checkpoint = tlog::ParseCheckpoint(parsed->text);
  if (!checkpoint.ok()) return Field(field, checkpoint.status());
  if (checkpoint->origin != options_.origin) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the origin is not this log's (", options_.origin, ")"));
  }
  return checkpoint;
}

absl::StatusOr<CheckpointView> AuditTransparency::AddCosignature(const std::string& caller_agency,
                                                                 const std::string& note,
                                                                 const std::string& cosignature,
                                                                 db::AuditRecord* audit) {
  absl::StatusOr<tlog::Checkpoint> checkpoint = CheckSignedCheckpoint(note, "note");
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::optional<db::StoredCheckpoint>> stored =
      tree_->CheckpointOfSize(static_cast<int64_t>(checkpoint->tree_size));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value() || (*stored)->root_hash != checkpoint->root_hash) {
    return absl::InvalidArgumentError("note: not a checkpoint this log issued");
  }
  const std::string text = tlog::FormatCheckpoint(*checkpoint);
  absl::StatusOr<tlog::NoteSignature> line = tlog::ParseSignatureLine(cosignature);
  if (!line.ok()) return Field("cosignature", line.status());
  absl::StatusOr<std::vector<db::WitnessKeyRecord>> keys = tree_->WitnessKeysNamed(line->name);
  if (!keys.ok()) return keys.status();
  const db::WitnessKeyRecord* key = nullptr;
  for (const db::WitnessKeyRecord& k : *keys) {
    if (k.key_id == line->key_id) key = &k;
  }
  if (key == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cosignature: ", line->name, " with that key id is not a registered witness key"));
  }
  if (!caller_agency.empty() && key->agency != caller_agency) {
    return absl::PermissionDeniedError(absl::StrCat("cosignature: the witness key ", line->name,
                                                    " is not registered to your agency"));
  }
  absl::StatusOr<uint64_t> timestamp = tlog::VerifyCosignature(
      text, *line, tlog::Verifier{key->key_name, tlog::kCosignatureV1, key->public_key});
  if (!timestamp.ok()) return Field("cosignature", timestamp.status());
  const absl::Time now = absl::Now();
  if (absl::FromUnixSeconds(static_cast<int64_t>(*timestamp)) > now + kCosignatureClockSkew) {
    return absl::InvalidArgumentError("cosignature: dated in the future");
  }
  db::CosignatureRecord record;
  record.tree_size = static_cast<int64_t>(checkpoint->tree_size);
  record.key_name = key->key_name;
  record.key_id = key->key_id;
  record.agency = key->agency;
  record.timestamp = static_cast<int64_t>(*timestamp);
  record.signature_line = line->Line();
  record.received_at_us = absl::ToUnixMicros(now);
  if (absl::Status s = tree_->AddCosignature(record, audit); !s.ok()) return s;
  absl::StatusOr<std::vector<db::CosignatureRecord>> all = tree_->CosignaturesOf(record.tree_size);
  if (!all.ok()) return all.status();
  CheckWitnessed(now);
  return CheckpointView{**std::move(stored), *std::move(all)};
}

absl::StatusOr<std::optional<tlog::Checkpoint>> AuditTransparency::LatestStoredCheckpoint() {
  absl::StatusOr<std::optional<db::StoredCheckpoint>> stored = tree_->LatestCheckpoint();
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<tlog::Checkpoint>();
  absl::StatusOr<tlog::Checkpoint> checkpoint =
      CheckSignedCheckpoint((*stored)->note, "the latest stored checkpoint");
  if (!checkpoint.ok() || checkpoint->tree_size != static_cast<uint64_t>((*stored)->tree_size) ||
      checkpoint->root_hash != (*stored)->root_hash) {
    return absl::DataLossError(absl::StrCat(
        "the stored checkpoint of ", (*stored)->tree_size,
        " events does not verify with the log's key: it was planted or altered in the database"));
  }
  return std::optional<tlog::Checkpoint>(*std::move(checkpoint));
}

absl::StatusOr<TreeCheck> AuditTransparency::VerifyAgainst(const tlog::Checkpoint& checkpoint) {
  // Earlier checkpoints still stored, those the log's key signed: where the
  // stored tree was rewritten they still bound what changed. The database
  // can hide them, never forge them.
  absl::StatusOr<std::vector<db::StoredCheckpoint>> earlier =
      tree_->CheckpointsBelow(static_cast<int64_t>(checkpoint.tree_size), kMaxAnchors);
  if (!earlier.ok()) return earlier.status();
  std::map<uint64_t, std::string> anchors;
  for (const db::StoredCheckpoint& stored : *earlier) {
    absl::StatusOr<tlog::Checkpoint> signed_one = CheckSignedCheckpoint(stored.note, "stored");
    if (signed_one.ok()) anchors.emplace(signed_one->tree_size, signed_one->root_hash);
  }
  return CheckLogAgainst(*events_, *tree_, checkpoint.tree_size, checkpoint.root_hash, anchors);
}

void AuditTransparency::CheckWitnessed(absl::Time now) {
  absl::StatusOr<int64_t> cosigned = tree_->LastCosignatureAtUs();
  if (!cosigned.ok()) return;
  int64_t since_us = *cosigned;
  if (since_us == 0) {
    absl::StatusOr<int64_t> first = tree_->FirstCheckpointAtUs();
    if (!first.ok()) return;
    since_us = *first;  // unwitnessed since the log began (0: nothing to witness yet)
  }
  const absl::Duration unwitnessed =
      since_us == 0 ? absl::ZeroDuration()
                    : std::max(absl::ZeroDuration(), now - absl::FromUnixMicros(since_us));
  if (metrics_ != nullptr) {
    metrics_->SetAuditSecondsSinceCosigned(absl::ToDoubleSeconds(unwitnessed));
  }
  const bool witnessed = unwitnessed <= options_.witness_alert;
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    const bool was_unwitnessed = witnessed_.has_value() && !*witnessed_;
    changed = !witnessed_.has_value() || *witnessed_ != witnessed;
    witnessed_ = witnessed;
    if (!witnessed && (changed || now - last_alert_log_ >= kAlertRepeat)) {
      last_alert_log_ = now;
      Log("WARNING no audit checkpoint has been cosigned by a witness for ",
          absl::FormatDuration(absl::Trunc(unwitnessed, absl::Seconds(1))), " (alert after ",
          absl::FormatDuration(options_.witness_alert),
          "): agencies should run `enlacectl audit witness`; health service "
          "enlace.audit.Witnessed is NOT_SERVING");
    } else if (witnessed && was_unwitnessed) {
      Log("audit log witnessed again: enlace.audit.Witnessed is SERVING");
    }
  }
  if (changed && on_witnessed_) on_witnessed_(witnessed);
}

}  // namespace enlace::server
