// Shared request field checks (see request_checks.h).
#include "server/request_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/arrival_validation.h"
#include "server/call_gate.h"

namespace enlace::server {

absl::Status RequireId(absl::string_view value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (!IsRecordId(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not an id this server issued ([A-Za-z0-9._:/-], at most 64)"));
  }
  return absl::OkStatus();
}

absl::Status CheckFreeText(absl::string_view value, absl::string_view field, size_t max_code_points,
                           bool required) {
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  if (required && absl::StripAsciiWhitespace(value).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  }
  if (CountCodePoints(value) > max_code_points) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", max_code_points, " characters"));
  }
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": control characters are not allowed"));
    }
  }
  // C1 controls (U+0080..U+009F) are two bytes: 0xC2 0x80..0x9F.
  for (size_t i = 0; i + 1 < value.size(); ++i) {
    if (static_cast<unsigned char>(value[i]) == 0xC2 &&
        static_cast<unsigned char>(value[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(value[i + 1]) <= 0x9F) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": control characters are not allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNeed(int value, absl::string_view field) {
  if (value == enlace::v1::NEED_UNSPECIFIED || !enlace::v1::Need_IsValid(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a known service type is required (e.g. NEED_TRAINING)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPastDate(absl::string_view value, absl::string_view field, absl::CivilDay today) {
  std::optional<absl::CivilDay> day = ParseDate(value);
  if (!day) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a real date YYYY-MM-DD"));
  }
  if (*day > today) return absl::InvalidArgumentError(absl::StrCat(field, ": is in the future"));
  if (*day < absl::CivilDay(1990, 1, 1)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": before 1990-01-01"));
  }
  return absl::OkStatus();
}

}  // namespace enlace::server
