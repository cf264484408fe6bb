// Parsing and printing of Enlace SPIFFE IDs (see identity.h).
#include "auth/identity.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace enlace::auth {
namespace {
constexpr absl::string_view kAgencyPrefix = "spiffe://enlace/agency/";
constexpr absl::string_view kAdminPrefix = "spiffe://enlace/admin/";
}  // namespace

std::string Principal::SpiffeId() const {
  return absl::StrCat(is_agency() ? kAgencyPrefix : kAdminPrefix, name);
}

std::string Principal::PolicyName() const {
  return absl::StrCat(is_agency() ? "agency:" : "admin:", name);
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  if (name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidActor(absl::string_view actor) {
  if (actor.empty() || actor.size() > 64) return false;
  for (char c : actor) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<Principal> ParseSpiffeId(absl::string_view uri) {
  Principal principal;
  absl::string_view name;
  if (absl::StartsWith(uri, kAgencyPrefix)) {
    principal.kind = PrincipalKind::kAgency;
    name = uri.substr(kAgencyPrefix.size());
  } else if (absl::StartsWith(uri, kAdminPrefix)) {
    principal.kind = PrincipalKind::kAdmin;
    name = uri.substr(kAdminPrefix.size());
  } else {
    return absl::InvalidArgumentError(
        "not an Enlace SPIFFE ID: expected spiffe://enlace/agency/<code> or "
        "spiffe://enlace/admin/<name>");
  }
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(
        "SPIFFE ID names no valid agency or admin ([a-z][a-z0-9_-]{0,31})");
  }
  principal.name = std::string(name);
  return principal;
}

}  // namespace enlace::auth
