// Page and resume tokens (see page_token.h). Layout before base64url:
//   kind (1) | key id length (1) | key id | payload | MAC (16)
// where the MAC covers kind, key id, payload and the query fingerprint.
#include "server/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace enlace::server {
namespace {
constexpr char kPositionKind = 'P';
constexpr char kKeyKind = 'K';

std::string MacInput(char kind, absl::string_view key_id, absl::string_view payload,
                     absl::string_view fingerprint) {
  return absl::StrCat(absl::string_view(&kind, 1), key_id.size(), ":", key_id, payload.size(), ":",
                      payload, fingerprint);
}
}  // namespace

std::string QueryFingerprint(std::initializer_list<absl::string_view> parts) {
  std::string joined;
  for (absl::string_view part : parts) absl::StrAppend(&joined, part.size(), ":", part, ";");
  return joined;
}

std::string PageTokens::Seal(char kind, absl::string_view payload,
                             absl::string_view fingerprint) const {
  std::string key_id, mac;
  keys_->Sign([&](absl::string_view id) { return MacInput(kind, id, payload, fingerprint); },
              &key_id, &mac);
  std::string raw;
  raw.push_back(kind);
  raw.push_back(static_cast<char>(key_id.size()));
  absl::StrAppend(&raw, key_id, payload, mac);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> PageTokens::Open(char kind, absl::string_view token,
                                             absl::string_view fingerprint,
                                             absl::string_view field) const {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 2 + TokenKeys::kMacBytes ||
      raw[0] != kind) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a token this service issued"));
  }
  size_t id_length = static_cast<unsigned char>(raw[1]);
  if (raw.size() < 2 + id_length + TokenKeys::kMacBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a token this service issued"));
  }
  absl::string_view view(raw);
  absl::string_view key_id = view.substr(2, id_length);
  absl::string_view payload =
      view.substr(2 + id_length, raw.size() - 2 - id_length - TokenKeys::kMacBytes);
  absl::string_view mac = view.substr(raw.size() - TokenKeys::kMacBytes);
  absl::StatusOr<bool> valid =
      keys_->Verify(key_id, MacInput(kind, key_id, payload, fingerprint), mac);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": signed with a key this service no longer holds; start without a token"));
  }
  if (!*valid) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": not valid for this caller and query (altered, or made for another); "
                     "repeat the same request or start without a token"));
  }
  return std::string(payload);
}

std::string PageTokens::Encode(int64_t position, absl::string_view fingerprint) const {
  std::string payload;
  for (int shift = 56; shift >= 0; shift -= 8) {
    payload.push_back(static_cast<char>((static_cast<uint64_t>(position) >> shift) & 0xff));
  }
  return Seal(kPositionKind, payload, fingerprint);
}

absl::StatusOr<int64_t> PageTokens::Decode(absl::string_view token, absl::string_view fingerprint,
                                           absl::string_view field) const {
  if (token.empty()) return 0;
  absl::StatusOr<std::string> payload = Open(kPositionKind, token, fingerprint, field);
  if (!payload.ok()) return payload.status();
  if (payload->size() != 8) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a token this service issued"));
  }
  uint64_t position = 0;
  for (char c : *payload) position = (position << 8) | static_cast<unsigned char>(c);
  if (position > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a token this service issued"));
  }
  return static_cast<int64_t>(position);
}

std::string PageTokens::EncodeKey(absl::string_view key, absl::string_view fingerprint) const {
  return Seal(kKeyKind, key, fingerprint);
}

absl::StatusOr<std::string> PageTokens::DecodeKey(absl::string_view token,
                                                  absl::string_view fingerprint) const {
  if (token.empty()) return std::string();
  return Open(kKeyKind, token, fingerprint, "page_token");
}

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested == 0) return 50;
  if (requested < 0 || requested > 500) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 500 (0 means 50)");
  }
  return requested;
}

}  // namespace enlace::server
