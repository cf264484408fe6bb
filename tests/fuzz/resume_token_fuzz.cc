// Fuzz harness: the resume tokens of WatchReferrals (server/page_token.h as
// server/referral_service.cc uses it: a position bound to the watcher's
// identity, QueryFingerprint({spiffe id, "watch-referrals"}), field
// resume_token). The bytes are an untrusted resume token, then the name of
// a watcher and a position. Invariants: a token is refused with
// INVALID_ARGUMENT naming resume_token, or is real (a seed) and then resumes
// only its own watcher; an encoded position resumes there; a token altered
// at any byte, made for another identity, or a list page token never resumes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "auth/identity.h"
#include "server/page_token.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/token_fuzz_keys.h"

namespace {

using enlace::server::PageTokens;
using enlace::server::QueryFingerprint;

// As referral_service.cc's WatchFingerprint.
std::string WatchFingerprint(absl::string_view spiffe_id) {
  return QueryFingerprint({spiffe_id, "watch-referrals"});
}

void FuzzUntrusted(absl::string_view token) {
  PageTokens tokens(&enlace::fuzz::FuzzKeys());
  const std::string undp = WatchFingerprint("spiffe://enlace/agency/undp");
  absl::StatusOr<int64_t> cursor = tokens.Decode(token, undp, "resume_token");
  if (!cursor.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(cursor.status()) &&
                   absl::StartsWith(cursor.status().message(), "resume_token: "),
               cursor.status().ToString());
    return;
  }
  FUZZ_CHECK(*cursor >= 0, "a negative cursor decoded");
  if (token.empty()) return;
  for (absl::string_view other : {"spiffe://enlace/agency/iom", "spiffe://enlace/admin/undp",
                                  "spiffe://enlace/agency/undp/"}) {
    FUZZ_CHECK(!tokens.Decode(token, WatchFingerprint(other), "resume_token").ok(),
               "a resume token resumed another identity");
  }
}

void FuzzRoundTrip(const uint8_t* data, size_t size) {
  if (size < 10) return;
  PageTokens tokens(&enlace::fuzz::FuzzKeys());
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | data[i];
  int64_t cursor = static_cast<int64_t>(bits >> 1);
  size_t where = data[8];
  uint8_t flip = data[9] | 1;
  absl::string_view name(reinterpret_cast<const char*>(data + 10), size - 10);
  // The watcher: a principal when the name is valid, else any SPIFFE-like id.
  std::string watcher =
      enlace::auth::IsValidName(name)
          ? enlace::auth::Principal{enlace::auth::PrincipalKind::kAgency, std::string(name)}
                .SpiffeId()
          : absl::StrCat("spiffe://enlace/agency/", name);
  std::string fingerprint = WatchFingerprint(watcher);
  std::string token = tokens.Encode(cursor, fingerprint);
  absl::StatusOr<int64_t> resumed = tokens.Decode(token, fingerprint, "resume_token");
  FUZZ_CHECK(resumed.ok() && *resumed == cursor,
             "a resume token does not resume where it was made");
  FUZZ_CHECK(!tokens.Decode(token, WatchFingerprint(watcher + "x"), "resume_token").ok(),
             "a resume token resumed another identity");
  std::string admin = absl::StrCat("spiffe://enlace/admin/", name);
  FUZZ_CHECK(!tokens.Decode(token, WatchFingerprint(admin), "resume_token").ok(),
             "an agency's resume token resumed an admin of the same name");
  // The same position as a list page token of the same caller.
  std::string page = tokens.Encode(cursor, QueryFingerprint({watcher, "", "", "", ""}));
  FUZZ_CHECK(!tokens.Decode(page, fingerprint, "resume_token").ok(),
             "a page token resumed a watch");

  std::string raw;
  FUZZ_CHECK(absl::WebSafeBase64Unescape(token, &raw) && !raw.empty(), "own token not base64url");
  raw[where % raw.size()] = static_cast<char>(raw[where % raw.size()] ^ flip);
  absl::StatusOr<int64_t> altered =
      tokens.Decode(absl::WebSafeBase64Escape(raw), fingerprint, "resume_token");
  FUZZ_CHECK(absl::IsInvalidArgument(altered.status()), "an altered resume token resumed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzUntrusted(absl::string_view(reinterpret_cast<const char*>(data), size));
  FuzzRoundTrip(data, size);
  return 0;
}
