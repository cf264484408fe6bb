// Fuzz harness: the authorization policy parser and its decisions
// (auth/policy.h), with the methods the server really serves. The bytes are
// policy text. Invariants: parsing is deterministic; a refusal is
// INVALID_ARGUMENT naming its line; a parsed policy allows nothing outside
// the served services, nothing at all unless an allow rule exists, and
// treats two agencies the text never names alike; a deny rule appended for
// every service leaves nothing allowed (deny wins); an allow rule appended
// never takes a permission away.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/served_methods.h"

namespace {

using enlace::auth::Policy;
using enlace::auth::Principal;
using enlace::auth::PrincipalKind;

std::vector<Principal> Principals() {
  return {{PrincipalKind::kAgency, "mfa"},  {PrincipalKind::kAgency, "iom"},
          {PrincipalKind::kAdmin, "admin"}, {PrincipalKind::kAdmin, "iom"},
          {PrincipalKind::kAgency, "zzq"},  {PrincipalKind::kAgency, "zzr"}};
}

std::vector<std::string> Services() {
  std::vector<std::string> services;
  for (const std::string& method : enlace::fuzz::ServedMethods()) {
    std::string service = method.substr(0, method.rfind('/') + 1);
    if (services.empty() || services.back() != service) services.push_back(service);
  }
  return services;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string>& methods = enlace::fuzz::ServedMethods();
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Policy> policy = Policy::Parse(text, methods);
  absl::StatusOr<Policy> again = Policy::Parse(text, methods);
  FUZZ_CHECK(policy.ok() == again.ok(), "parsing is not deterministic");
  if (!policy.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(policy.status()) &&
                   absl::StartsWith(policy.status().message(), "line "),
               policy.status().ToString());
    FUZZ_CHECK(policy.status() == again.status(), "parsing is not deterministic");
    return 0;
  }
  FUZZ_CHECK(policy->rule_count() == again->rule_count(), "parsing is not deterministic");
  FUZZ_CHECK(
      policy->rule_count() <= static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1,
      "more rules than lines");

  bool names_zz = absl::StrContains(text, "zzq") || absl::StrContains(text, "zzr");
  bool has_allow = absl::StrContains(text, "allow");
  for (const Principal& principal : Principals()) {
    FUZZ_CHECK(!policy->Allows(principal, "/x.Y/Z") && !policy->Allows(principal, ""),
               "a method outside the served services allowed");
    for (const std::string& method : methods) {
      bool allowed = policy->Allows(principal, method);
      FUZZ_CHECK(!allowed || has_allow, "allowed without any allow rule: " + method);
      if (!names_zz && principal.name == "zzq") {
        FUZZ_CHECK(allowed == policy->Allows({PrincipalKind::kAgency, "zzr"}, method),
                   "two agencies the policy never names decided differently: " + method);
      }
    }
  }

  // Deny wins over every allow.
  std::string denied(text);
  for (const std::string& service : Services()) {
    absl::StrAppend(&denied, "\ndeny agency:* ", service, "*\ndeny admin:* ", service, "*");
  }
  absl::StatusOr<Policy> locked = Policy::Parse(denied, methods);
  FUZZ_CHECK(locked.ok(), "deny rules for served services refused: " + locked.status().ToString());
  // An allow appended only adds.
  std::string widened =
      absl::StrCat(text, "\nallow agency:iom /enlace.v1.ArrivalService/GetArrival");
  absl::StatusOr<Policy> wider = Policy::Parse(widened, methods);
  FUZZ_CHECK(wider.ok(), "an allow rule for a served method refused: " + wider.status().ToString());
  for (const Principal& principal : Principals()) {
    for (const std::string& method : methods) {
      FUZZ_CHECK(!locked->Allows(principal, method), "allowed despite a deny rule: " + method);
      if (policy->Allows(principal, method)) {
        FUZZ_CHECK(wider->Allows(principal, method), "an appended allow took a permission away");
      }
    }
  }
  return 0;
}
