// Page tokens: base64url("v1" | position | fingerprint) (see page_token.h).
#include "server/page_token.h"

#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace enlace::server {
namespace {
constexpr size_t kFingerprintBytes = 12;
constexpr char kVersion[] = "v1";     // position tokens
constexpr char kKeyVersion[] = "k1";  // string-key tokens
}  // namespace

std::string QueryFingerprint(std::initializer_list<absl::string_view> parts) {
  std::string joined;
  for (absl::string_view part : parts) absl::StrAppend(&joined, part.size(), ":", part, ";");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), kFingerprintBytes);
}

std::string EncodePageToken(int64_t position, absl::string_view fingerprint) {
  std::string raw = kVersion;
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((static_cast<uint64_t>(position) >> shift) & 0xff));
  }
  raw.append(fingerprint.data(), fingerprint.size());
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view fingerprint) {
  if (token.empty()) return 0;
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() != 2 + 8 + fingerprint.size() || raw.compare(0, 2, kVersion) != 0) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  if (absl::string_view(raw).substr(10) != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token: belongs to another query; repeat the same filters or start without a token");
  }
  uint64_t position = 0;
  for (int i = 2; i < 10; ++i) position = (position << 8) | static_cast<unsigned char>(raw[i]);
  if (position > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  return static_cast<int64_t>(position);
}

std::string EncodeKeyPageToken(absl::string_view key, absl::string_view fingerprint) {
  return absl::WebSafeBase64Escape(absl::StrCat(kKeyVersion, fingerprint, key));
}

absl::StatusOr<std::string> DecodeKeyPageToken(absl::string_view token,
                                               absl::string_view fingerprint) {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 2 + fingerprint.size() ||
      raw.compare(0, 2, kKeyVersion) != 0) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  if (absl::string_view(raw).substr(2, fingerprint.size()) != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token: belongs to another query; repeat the same filters or start without a token");
  }
  return raw.substr(2 + fingerprint.size());
}

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested == 0) return 50;
  if (requested < 0 || requested > 500) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 500 (0 means 50)");
  }
  return requested;
}

}  // namespace enlace::server
