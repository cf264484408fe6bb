// Fuzz harness: the pure decision core every handler relies on, with the
// caller's identity as an input. The input is four lines: the URI SAN a
// client certificate presents, the method called, the agencies an arrival's
// consent names (comma-separated) and its purposes (comma-separated
// numbers). The core is what the call gate and the stores decide from them:
// the principal (auth::ParseSpiffeId, as CallGate::IdentityOf), the
// shipped policy's decision (auth::Policy::Allows), and the record rule
// (db::ConsentAllows) for each kind of record.
// Invariants: an identity that fails parsing is never allowed anything; one
// that parses is canonical (prints back as the same URI, a valid name); a
// principal the consent does not name, or named without a purpose that
// allows the record, never sees it, and one named with such a purpose does;
// STATISTICS alone shows nothing; the shipped policy never lets an admin
// at records, nor mfa at cases and referrals, nor an agency other than mfa
// record arrivals.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "db/visibility.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/served_methods.h"

namespace {

using enlace::auth::Principal;
using enlace::db::ConsentState;
using enlace::db::Reach;

const enlace::auth::Policy& ShippedPolicy() {
  static const enlace::auth::Policy* policy = [] {
    absl::StatusOr<enlace::auth::Policy> parsed = enlace::auth::Policy::Parse(
        enlace::fuzz::ShippedPolicyText(), enlace::fuzz::ServedMethods());
    if (!parsed.ok()) std::abort();
    return new enlace::auth::Policy(*std::move(parsed));
  }();
  return *policy;
}

// Admission as the call gate makes it: the identity, then the policy.
bool Admitted(absl::string_view uri_san, absl::string_view method) {
  absl::StatusOr<Principal> principal = enlace::auth::ParseSpiffeId(uri_san);
  if (!principal.ok()) return false;
  return ShippedPolicy().Allows(*principal, method);
}

// A hash that is the same in every build and run, so a seed always picks the
// same method.
uint64_t Fnv1a(absl::string_view text) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

bool Served(absl::string_view method) {
  for (const std::string& m : enlace::fuzz::ServedMethods()) {
    if (m == method) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::string_view(reinterpret_cast<const char*>(data), size), '\n');
  lines.resize(4);
  const std::string& uri = lines[0];
  // gRPC answers a method it does not serve (UNIMPLEMENTED) before the gate:
  // the gate only ever decides for served methods, named by the handlers. So
  // a line that names none picks one of them (a service pattern such as
  // /enlace.v1.AdminService/* matches any text under it, served or not).
  const std::vector<std::string>& served = enlace::fuzz::ServedMethods();
  const std::string& method = Served(lines[1]) ? lines[1] : served[Fnv1a(lines[1]) % served.size()];

  // The identity.
  absl::StatusOr<Principal> principal = enlace::auth::ParseSpiffeId(uri);
  if (principal.ok()) {
    FUZZ_CHECK(enlace::auth::IsValidName(principal->name), "a parsed name is not valid");
    FUZZ_CHECK(principal->SpiffeId() == uri, "a parsed identity does not print back as its URI");
    FUZZ_CHECK(principal->PolicyName() ==
                   absl::StrCat(principal->is_agency() ? "agency:" : "admin:", principal->name),
               "policy name " + principal->PolicyName());
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(principal.status()), principal.status().ToString());
    FUZZ_CHECK(!Admitted(uri, method), "an identity that failed parsing was admitted");
    for (const std::string& m : enlace::fuzz::ServedMethods()) {
      FUZZ_CHECK(!Admitted(uri, m), "an identity that failed parsing was admitted");
    }
  }
  // Every valid name in either form parses, to itself.
  for (absl::string_view prefix : {"spiffe://enlace/agency/", "spiffe://enlace/admin/"}) {
    if (!absl::StartsWith(uri, prefix)) continue;
    absl::string_view name = absl::string_view(uri).substr(prefix.size());
    FUZZ_CHECK(enlace::auth::IsValidName(name) == principal.ok(),
               "a SPIFFE ID refused or accepted against its name's validity");
  }

  // The policy's decision.
  if (principal.ok()) {
    bool allowed = ShippedPolicy().Allows(*principal, method);
    if (allowed && principal->is_admin()) {
      FUZZ_CHECK(!absl::StartsWith(method, "/enlace.v1.ArrivalService/") &&
                     !absl::StartsWith(method, "/enlace.v1.CaseService/") &&
                     !absl::StartsWith(method, "/enlace.v1.ReferralService/"),
                 "an admin allowed at records: " + method);
    }
    if (allowed && principal->is_agency() && principal->name == "mfa") {
      FUZZ_CHECK(!absl::StartsWith(method, "/enlace.v1.CaseService/") &&
                     !absl::StartsWith(method, "/enlace.v1.ReferralService/"),
                 "mfa allowed at cases or referrals: " + method);
    }
    if (allowed && principal->is_agency() && principal->name != "mfa") {
      FUZZ_CHECK(method != "/enlace.v1.ArrivalService/RecordArrival" &&
                     method != "/enlace.v1.ArrivalService/RecordArrivals" &&
                     method != "/enlace.v1.ArrivalService/UpdateConsent",
                 "an agency other than mfa allowed to record arrivals: " + method);
    }
  }

  // The record rule, for the principal's name (or the raw text when it
  // failed parsing: the rule itself must still hold).
  ConsentState consent;
  consent.version = 1;
  for (absl::string_view agency : absl::StrSplit(lines[2], ',', absl::SkipEmpty())) {
    consent.agencies.emplace_back(agency);
  }
  std::vector<enlace::v1::Purpose> purposes;
  for (absl::string_view number : absl::StrSplit(lines[3], ',', absl::SkipEmpty())) {
    int value = 0;
    // Stored consent passed validation: only known purposes reach the rule.
    if (absl::SimpleAtoi(number, &value) && enlace::v1::Purpose_IsValid(value) && value != 0) {
      purposes.push_back(static_cast<enlace::v1::Purpose>(value));
    }
  }
  consent.purposes_mask = enlace::db::PurposesMaskOf(purposes);
  std::string viewer = principal.ok() ? principal->name : uri;
  bool named = false;
  for (const std::string& agency : consent.agencies) named = named || agency == viewer;
  bool reintegration = false, protection = false;
  for (enlace::v1::Purpose p : purposes) {
    reintegration = reintegration || p == enlace::v1::PURPOSE_REINTEGRATION;
    protection = protection || p == enlace::v1::PURPOSE_PROTECTION;
  }
  for (Reach reach : {Reach::kArrivalRecord, Reach::kCase, Reach::kReferral, Reach::kInitiative}) {
    bool sees = enlace::db::ConsentAllows(reach, viewer, consent);
    bool purpose_allows =
        reach == Reach::kArrivalRecord ? (reintegration || protection) : reintegration;
    FUZZ_CHECK(
        sees == (!viewer.empty() && named && purpose_allows),
        absl::StrCat("the record rule is not 'named with an allowing purpose' for ", viewer));
    std::string sql =
        enlace::db::ConsentAllowsSql(reach, "a.seq", "a.consent_purposes_mask", "a.submitted_by");
    FUZZ_CHECK(std::count(sql.begin(), sql.end(), '?') == 1,
               "the rule's SQL has not one placeholder");
  }
  return 0;
}
