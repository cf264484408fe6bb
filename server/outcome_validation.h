// The field rules of the programme's outcomes (docs/api.md, "Outcomes and
// the report"), as pure functions: what a service record may carry for its
// type, and the outcomes of an economic initiative. Each returns OK or
// INVALID_ARGUMENT naming the field first, e.g.
// "amount_usd_cents: required for SEED_CAPITAL: 1 to 100000000 (US$ 0.01 to
// US$ 1,000,000)". Table-tested in tests/unit/outcome_validation_test.cc.
//
// Rules of a RecordServiceRequest, by `service`:
//   SEED_CAPITAL  amount_usd_cents in [1, kMaxDisbursementUsdCents];
//                 initiative_id required (a server-issued id; the store
//                 checks it is an initiative of the same case);
//                 training_hours 0, training_completed false.
//   TRAINING      training_hours finite, in [0.25, kMaxTrainingHours], a
//                 multiple of 0.25; amount_usd_cents 0, initiative_id empty.
//   any other     every outcome field 0, empty or false.
// Initiatives: status a known InitiativeStatus (UNSPECIFIED only where the
// caller allows it: registration defaults it to PLANNED); jobs_created in
// [0, kMaxJobsCreated].
#ifndef ENLACE_SERVER_OUTCOME_VALIDATION_H_
#define ENLACE_SERVER_OUTCOME_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "enlace/v1/cases.pb.h"

namespace enlace::server {

inline constexpr int64_t kMaxDisbursementUsdCents = 100'000'000;  // US$ 1,000,000
inline constexpr double kMaxTrainingHours = 1000;
inline constexpr int32_t kMaxJobsCreated = 10'000;

// The outcome fields of `request` for its service (assumed a valid Need).
absl::Status CheckServiceOutcome(const enlace::v1::RecordServiceRequest& request);

// An initiative's status, jobs and woman-led flag; `prefix` is put before
// the field names ("initiative." for UpdateInitiative, "" otherwise).
absl::Status CheckInitiativeOutcome(int status, int32_t jobs_created, absl::string_view prefix,
                                    bool allow_unspecified_status);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_OUTCOME_VALIDATION_H_
