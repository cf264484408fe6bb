// The field rules of the programme's outcomes (see outcome_validation.h).
#include "server/outcome_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/request_checks.h"

namespace enlace::server {
namespace {

absl::Status OnlyFor(absl::string_view field, absl::string_view service) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": only a ", service, " service carries it; leave it unset"));
}

}  // namespace

absl::Status CheckServiceOutcome(const enlace::v1::RecordServiceRequest& request) {
  const bool seed = request.service() == enlace::v1::NEED_SEED_CAPITAL;
  const bool training = request.service() == enlace::v1::NEED_TRAINING;
  if (seed) {
    if (request.amount_usd_cents() < 1 || request.amount_usd_cents() > kMaxDisbursementUsdCents) {
      return absl::InvalidArgumentError(
          absl::StrCat("amount_usd_cents: required for SEED_CAPITAL: 1 to ",
                       kMaxDisbursementUsdCents, " (US$ 0.01 to US$ 1,000,000)"));
    }
    if (request.initiative_id().empty()) {
      return absl::InvalidArgumentError(
          "initiative_id: required for SEED_CAPITAL: the initiative the money went to");
    }
    if (absl::Status s = RequireId(request.initiative_id(), "initiative_id"); !s.ok()) return s;
  } else {
    if (request.amount_usd_cents() != 0) return OnlyFor("amount_usd_cents", "SEED_CAPITAL");
    if (!request.initiative_id().empty()) return OnlyFor("initiative_id", "SEED_CAPITAL");
  }
  if (training) {
    double hours = request.training_hours();
    if (!std::isfinite(hours) || hours < 0.25 || hours > kMaxTrainingHours ||
        std::fmod(hours * 4, 1.0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("training_hours: required for TRAINING: 0.25 to ", kMaxTrainingHours,
                       " hours, in quarter hours"));
    }
  } else {
    if (request.training_hours() != 0) return OnlyFor("training_hours", "TRAINING");
    if (request.training_completed()) return OnlyFor("training_completed", "TRAINING");
  }
  return absl::OkStatus();
}

absl::Status CheckInitiativeOutcome(int status, int32_t jobs_created, absl::string_view prefix,
                                    bool allow_unspecified_status) {
  if (!enlace::v1::InitiativeStatus_IsValid(status) ||
      (!allow_unspecified_status && status == enlace::v1::INITIATIVE_STATUS_UNSPECIFIED)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "status: must be INITIATIVE_STATUS_PLANNED, _ACTIVE or _CLOSED"));
  }
  if (jobs_created < 0 || jobs_created > kMaxJobsCreated) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "jobs_created: 0 to ", kMaxJobsCreated));
  }
  return absl::OkStatus();
}

}  // namespace enlace::server
