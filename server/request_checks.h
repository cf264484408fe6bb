// Small checks of request fields shared by the services. Each returns OK or
// INVALID_ARGUMENT whose message starts with the field's name, e.g.
// "reason: at most 2000 characters".
#ifndef ENLACE_SERVER_REQUEST_CHECKS_H_
#define ENLACE_SERVER_REQUEST_CHECKS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::server {

// A server-issued id: required, [A-Za-z0-9._:/-], at most 64 characters.
absl::Status RequireId(absl::string_view value, absl::string_view field);

// Free text written by people (reasons, notes, summaries): valid UTF-8, at
// most `max_code_points`, no control characters but newline and tab;
// `required` refuses empty or blank text.
absl::Status CheckFreeText(absl::string_view value, absl::string_view field, size_t max_code_points,
                           bool required);

// A known Need other than UNSPECIFIED.
absl::Status CheckNeed(int value, absl::string_view field);

// A real YYYY-MM-DD no later than `today` and no earlier than 1990-01-01.
absl::Status CheckPastDate(absl::string_view value, absl::string_view field, absl::CivilDay today);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REQUEST_CHECKS_H_
