// Fuzz harness: list page tokens (server/page_token.h) and the token key file
// (server/token_keys.h), as a client or an operator could send them.
// The bytes are used four ways:
//  1. as an untrusted page token, decoded with fixed keys for a fixed query:
//     it is refused with INVALID_ARGUMENT naming page_token, or it is a real
//     token (a seed), which then decodes for no other query and caller, not as
//     a string-key token, and re-encodes to a token decoding to the same place;
//  2. as a position and query to encode: the token decodes back to the
//     position, and the same token altered at any one byte (chosen by the
//     input), or cut short, never decodes;
//  3. as a string key (certificate serial lists): EncodeKey/DecodeKey round
//     trip, and a key token never decodes as a position token;
//  4. as a key file: parsed or refused naming a line; parsed keys make tokens
//     that verify under themselves and not under the fixed keys.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/page_token.h"
#include "server/token_keys.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/token_fuzz_keys.h"

namespace {

using enlace::server::PageTokens;
using enlace::server::QueryFingerprint;

const std::string& ListFingerprint() {
  static const std::string* fp = new std::string(
      QueryFingerprint({"spiffe://enlace/agency/iom", "SV-SS", "", "2024-01-01", ""}));
  return *fp;
}

void CheckRefusal(const absl::Status& status) {
  FUZZ_CHECK(absl::IsInvalidArgument(status), status.ToString());
  FUZZ_CHECK(absl::StartsWith(status.message(), "page_token: "), status.ToString());
}

void FuzzUntrustedToken(absl::string_view token) {
  PageTokens tokens(&enlace::fuzz::FuzzKeys());
  absl::StatusOr<int64_t> position = tokens.Decode(token, ListFingerprint());
  if (!position.ok()) {
    CheckRefusal(position.status());
    return;
  }
  FUZZ_CHECK(*position >= 0, "a negative position decoded");
  if (token.empty()) {
    FUZZ_CHECK(*position == 0, "the empty token is not the first page");
    return;
  }
  // A real token: bound to its query and caller, and to its kind.
  FUZZ_CHECK(!tokens
                  .Decode(token, QueryFingerprint({"spiffe://enlace/agency/undp", "SV-SS", "",
                                                   "2024-01-01", ""}))
                  .ok(),
             "a token decoded for another caller");
  FUZZ_CHECK(!tokens.Decode(token, ListFingerprint() + "x").ok(),
             "a token decoded for another query");
  FUZZ_CHECK(!tokens.DecodeKey(token, ListFingerprint()).ok(),
             "a position token decoded as a key token");
  absl::StatusOr<int64_t> again =
      tokens.Decode(tokens.Encode(*position, ListFingerprint()), ListFingerprint());
  FUZZ_CHECK(again.ok() && *again == *position, "re-encoded token does not round trip");
}

// Alters one byte of the token's raw form and checks it no longer decodes.
void CheckAlteredRefused(const PageTokens& tokens, const std::string& token,
                         absl::string_view fingerprint, size_t where, uint8_t flip) {
  std::string raw;
  FUZZ_CHECK(absl::WebSafeBase64Unescape(token, &raw) && !raw.empty(), "own token not base64url");
  std::string altered = raw;
  altered[where % altered.size()] = static_cast<char>(altered[where % altered.size()] ^ (flip | 1));
  FUZZ_CHECK(!tokens.Decode(absl::WebSafeBase64Escape(altered), fingerprint).ok() &&
                 !tokens.DecodeKey(absl::WebSafeBase64Escape(altered), fingerprint).ok(),
             "an altered token decoded");
  // Cut short, but not to nothing: the empty token is the first page.
  std::string cut = raw.substr(0, 1 + where % (raw.size() - 1));
  FUZZ_CHECK(!tokens.Decode(absl::WebSafeBase64Escape(cut), fingerprint).ok() &&
                 !tokens.DecodeKey(absl::WebSafeBase64Escape(cut), fingerprint).ok(),
             "a truncated token decoded");
}

void FuzzRoundTrip(const uint8_t* data, size_t size) {
  if (size < 10) return;
  PageTokens tokens(&enlace::fuzz::FuzzKeys());
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | data[i];
  int64_t position = static_cast<int64_t>(bits & 0x7fffffffffffffffULL);
  size_t where = data[8];
  uint8_t flip = data[9];
  absl::string_view rest(reinterpret_cast<const char*>(data + 10), size - 10);
  std::string fingerprint = QueryFingerprint({"spiffe://enlace/agency/iom", rest});

  std::string token = tokens.Encode(position, fingerprint);
  absl::StatusOr<int64_t> decoded = tokens.Decode(token, fingerprint);
  FUZZ_CHECK(decoded.ok() && *decoded == position, "an encoded position does not decode back");
  FUZZ_CHECK(!tokens.Decode(token, ListFingerprint() == fingerprint ? "" : ListFingerprint()).ok(),
             "a token decoded for another query");
  CheckAlteredRefused(tokens, token, fingerprint, where, flip);
  // Signed by k2, which the rotated key set no longer holds.
  PageTokens rotated(&enlace::fuzz::RotatedKeys());
  absl::StatusOr<int64_t> stale = rotated.Decode(token, fingerprint);
  FUZZ_CHECK(absl::IsInvalidArgument(stale.status()) &&
                 absl::StrContains(stale.status().message(), "no longer holds"),
             stale.status().ToString());

  // String keys (e.g. certificate serials) are any bytes.
  std::string key_token = tokens.EncodeKey(rest, fingerprint);
  absl::StatusOr<std::string> key = tokens.DecodeKey(key_token, fingerprint);
  FUZZ_CHECK(key.ok() && *key == rest, "an encoded key does not decode back");
  FUZZ_CHECK(!tokens.Decode(key_token, fingerprint).ok(), "a key token decoded as a position");
  CheckAlteredRefused(tokens, key_token, fingerprint, where, flip);
}

void FuzzKeyFile(absl::string_view text) {
  absl::StatusOr<std::unique_ptr<enlace::server::TokenKeys>> keys =
      enlace::server::TokenKeys::Parse(text);
  if (!keys.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(keys.status()), keys.status().ToString());
    return;
  }
  PageTokens own(keys->get());
  std::string token = own.Encode(42, ListFingerprint());
  absl::StatusOr<int64_t> decoded = own.Decode(token, ListFingerprint());
  FUZZ_CHECK(decoded.ok() && *decoded == 42, "a token does not verify under its own keys");
  PageTokens fixed(&enlace::fuzz::FuzzKeys());
  absl::StatusOr<int64_t> foreign = fixed.Decode(token, ListFingerprint());
  // The same key id and secret as a fixed key would verify: only a file that
  // restates one of the fixed keys may.
  if (foreign.ok()) {
    FUZZ_CHECK(absl::StrContains(text, "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg") ||
                   absl::StrContains(text, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"),
               "a token signed by other keys verified");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzUntrustedToken(text);
  FuzzRoundTrip(data, size);
  FuzzKeyFile(text);
  absl::StatusOr<int> page_size = enlace::server::EffectivePageSize(
      size >= 4 ? static_cast<int32_t>(static_cast<uint32_t>(data[0]) << 24 | data[1] << 16 |
                                       data[2] << 8 | data[3])
                : 0);
  FUZZ_CHECK(page_size.ok() ? (*page_size >= 1 && *page_size <= 500)
                            : absl::IsInvalidArgument(page_size.status()),
             "page size out of range");
  return 0;
}
