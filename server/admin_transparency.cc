// AdminService handlers of the audit log's transparency (see admin_service.h
// and docs/audit.md): checkpoints, proofs, witness keys, cosignatures, and
// VerifyAuditLog's check against a checkpoint. Through the call gate like
// every handler: authorized by the policy, audited.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/admin_service.h"

namespace enlace::server {
namespace {

constexpr char kGetAuditCheckpoint[] = "/enlace.v1.AdminService/GetAuditCheckpoint";
constexpr char kGetAuditConsistencyProof[] = "/enlace.v1.AdminService/GetAuditConsistencyProof";
constexpr char kGetAuditInclusionProof[] = "/enlace.v1.AdminService/GetAuditInclusionProof";
constexpr char kRegisterWitnessKey[] = "/enlace.v1.AdminService/RegisterWitnessKey";
constexpr char kAddAuditCosignature[] = "/enlace.v1.AdminService/AddAuditCosignature";

absl::Status NoTransparency() {
  return absl::FailedPreconditionError("this server does not keep the audit transparency log");
}

void ToProto(const CheckpointView& view, enlace::v1::AuditCheckpoint* out) {
  out->set_note(view.checkpoint.note);
  out->set_tree_size(view.checkpoint.tree_size);
  out->set_root_hash(view.checkpoint.root_hash);
  for (const db::CosignatureRecord& c : view.cosignatures) out->add_cosignatures(c.signature_line);
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::GetAuditCheckpoint(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetAuditCheckpointRequest*,
    enlace::v1::AuditCheckpoint* response) {
  return gate_->Unary(ctx, kGetAuditCheckpoint, [=](const Caller&, AuditNote* note) {
    if (transparency_ == nullptr) return NoTransparency();
    absl::StatusOr<CheckpointView> view = transparency_->CurrentCheckpoint();
    if (!view.ok()) return view.status();
    ToProto(*view, response);
    note->detail = absl::StrCat("tree_size=", view->checkpoint.tree_size,
                                " cosignatures=", view->cosignatures.size());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetAuditConsistencyProof(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetAuditConsistencyProofRequest* request,
    enlace::v1::GetAuditConsistencyProofResponse* response) {
  return gate_->Unary(ctx, kGetAuditConsistencyProof, [=](const Caller&, AuditNote* note) {
    if (transparency_ == nullptr) return NoTransparency();
    note->detail =
        absl::StrCat("from_size=", request->from_size(), " to_size=", request->to_size());
    absl::StatusOr<std::vector<std::string>> proof =
        transparency_->ConsistencyProof(request->from_size(), request->to_size());
    if (!proof.ok()) return proof.status();
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetAuditInclusionProof(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetAuditInclusionProofRequest* request,
    enlace::v1::GetAuditInclusionProofResponse* response) {
  return gate_->Unary(ctx, kGetAuditInclusionProof, [=](const Caller&, AuditNote* note) {
    if (transparency_ == nullptr) return NoTransparency();
    note->detail =
        absl::StrCat("sequence=", request->sequence(), " tree_size=", request->tree_size());
    absl::StatusOr<std::vector<std::string>> proof =
        transparency_->InclusionProof(request->sequence(), request->tree_size());
    if (!proof.ok()) return proof.status();
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RegisterWitnessKey(
    grpc::CallbackServerContext* ctx, const enlace::v1::RegisterWitnessKeyRequest* request,
    enlace::v1::WitnessKey* response) {
  return gate_->Unary(ctx, kRegisterWitnessKey, [=](const Caller& caller, AuditNote* note) {
    if (transparency_ == nullptr) return NoTransparency();
    if (!auth::IsValidName(request->agency())) {
      return absl::InvalidArgumentError("agency: must match [a-z][a-z0-9_-]{0,31}");
    }
    note->record_ids.push_back(request->agency());
    absl::StatusOr<bool> registered = registry_->AgencyExists(request->agency());
    if (!registered.ok()) return registered.status();
    if (!*registered) {
      return absl::FailedPreconditionError(
          absl::StrCat("agency: ", request->agency(), " is not registered; RegisterAgency first"));
    }
    note->detail = "register witness key";
    absl::StatusOr<db::WitnessKeyRecord> key = transparency_->RegisterWitnessKey(
        request->agency(), request->public_key(), caller.principal.SpiffeId(), note->ForChange());
    if (!key.ok()) return key.status();
    response->set_agency(key->agency);
    response->set_key_name(key->key_name);
    response->set_key_id(absl::BytesToHexString(key->key_id));
    response->set_public_key(tlog::FormatVerifierKey(
        tlog::Verifier{key->key_name, tlog::kCosignatureV1, key->public_key}));
    response->set_registered_by(key->registered_by);
    *response->mutable_registered_at() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(key->registered_at_us);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::AddAuditCosignature(
    grpc::CallbackServerContext* ctx, const enlace::v1::AddAuditCosignatureRequest* request,
    enlace::v1::AuditCheckpoint* response) {
  return gate_->Unary(ctx, kAddAuditCosignature, [=](const Caller& caller, AuditNote* note) {
    if (transparency_ == nullptr) return NoTransparency();
    // An agency adds its own witnesses' cosignatures; an administrator may
    // relay any registered witness's.
    const std::string agency = caller.principal.is_agency() ? caller.principal.name : "";
    note->detail = "cosign checkpoint";
    absl::StatusOr<CheckpointView> view = transparency_->AddCosignature(
        agency, request->note(), request->cosignature(), note->ForChange());
    if (!view.ok()) return view.status();
    ToProto(*view, response);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<tlog::Checkpoint>> AdminServiceImpl::CheckpointToVerify(
    const enlace::v1::VerifyAuditLogRequest& request) const {
  if (!request.has_checkpoint()) return std::optional<tlog::Checkpoint>();
  if (transparency_ == nullptr) return NoTransparency();
  const enlace::v1::AuditCheckpoint& given = request.checkpoint();
  absl::StatusOr<tlog::Checkpoint> checkpoint =
      transparency_->CheckSignedCheckpoint(given.note(), "checkpoint.note");
  if (!checkpoint.ok()) return checkpoint.status();
  // The note is what is signed; the fields beside it, when given, must say the same.
  if (given.tree_size() != 0 && given.tree_size() != static_cast<int64_t>(checkpoint->tree_size)) {
    return absl::InvalidArgumentError("checkpoint.tree_size: not the size its note states");
  }
  if (!given.root_hash().empty() && given.root_hash() != checkpoint->root_hash) {
    return absl::InvalidArgumentError("checkpoint.root_hash: not the root its note states");
  }
  return std::optional<tlog::Checkpoint>(*std::move(checkpoint));
}

absl::Status AdminServiceImpl::VerifyAgainstCheckpoint(const tlog::Checkpoint& checkpoint,
                                                       enlace::v1::VerifyAuditLogResponse* response,
                                                       AuditNote* note) {
  absl::StatusOr<TreeCheck> check = transparency_->VerifyAgainst(checkpoint);
  if (!check.ok()) return check.status();
  response->set_checkpoint_consistent(check->consistent);
  response->set_checked(std::max(response->checked(), check->checked));
  absl::StrAppend(&note->detail, " checkpoint=", checkpoint.tree_size,
                  " consistent=", check->consistent);
  if (check->consistent) {
    response->set_detail(
        absl::StrCat("the log extends the checkpoint of ", checkpoint.tree_size, " events"));
    if (!response->chain_intact()) {
      response->set_detail(absl::StrCat(response->detail(), "; the hash chain is broken at ",
                                        response->first_broken_sequence()));
    }
    return absl::OkStatus();
  }
  response->set_intact(false);
  const int64_t chain_broken = response->first_broken_sequence();
  if (chain_broken == 0 || check->first_differing_sequence < chain_broken) {
    response->set_first_broken_sequence(check->first_differing_sequence);
  }
  response->set_detail(check->detail);
  absl::StrAppend(&note->detail, " first_differing_sequence=", check->first_differing_sequence);
  return absl::OkStatus();
}

}  // namespace enlace::server
