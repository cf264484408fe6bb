// TokenKeys: the key ring behind authenticated tokens (see token_keys.h).
#include "server/token_keys.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/pki.h"

namespace enlace::server {
namespace {

constexpr size_t kMinSecretBytes = 32;

bool IsKeyId(absl::string_view id) {
  if (id.empty() || id.size() > 16) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string Mac(absl::string_view secret, absl::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), TokenKeys::kMacBytes);
}

}  // namespace

absl::StatusOr<std::vector<TokenKeys::Key>> TokenKeys::ParseKeys(absl::string_view text) {
  std::vector<Key> keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(trimmed, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": expected \"<key id> <base64 secret>\""));
    }
    if (!IsKeyId(fields[0])) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": a key id is 1-16 characters of [A-Za-z0-9_-]"));
    }
    std::string secret;
    if (!absl::Base64Unescape(fields[1], &secret) || secret.size() < kMinSecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": the secret must be base64 of at least ",
                       kMinSecretBytes, " bytes (e.g. openssl rand -base64 32)"));
    }
    for (const Key& key : keys) {
      if (key.id == fields[0]) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": key id ", fields[0], " appears twice"));
      }
    }
    keys.push_back(Key{std::string(fields[0]), std::move(secret)});
  }
  if (keys.empty()) return absl::InvalidArgumentError("no key: the file must hold at least one");
  return keys;
}

absl::StatusOr<std::unique_ptr<TokenKeys>> TokenKeys::Parse(absl::string_view text) {
  absl::StatusOr<std::vector<Key>> keys = ParseKeys(text);
  if (!keys.ok()) return keys.status();
  return std::unique_ptr<TokenKeys>(new TokenKeys(*std::move(keys)));
}

absl::StatusOr<std::unique_ptr<TokenKeys>> TokenKeys::Load(const std::string& path) {
  absl::StatusOr<std::string> text = auth::ReadFileToString(path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  absl::StatusOr<std::unique_ptr<TokenKeys>> keys = Parse(*text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", keys.status().message()));
  }
  (*keys)->path_ = path;
  absl::MutexLock lock(&(*keys)->mu_);
  (*keys)->text_ = *std::move(text);
  return keys;
}

std::unique_ptr<TokenKeys> TokenKeys::Ephemeral() {
  std::string secret(kMinSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    abort();  // no randomness: nothing safe can be made
  }
  return std::unique_ptr<TokenKeys>(new TokenKeys({Key{"ephemeral", std::move(secret)}}));
}

absl::Status TokenKeys::ReloadIfChanged() {
  if (path_.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> text = auth::ReadFileToString(path_);
  if (!text.ok()) return absl::UnavailableError(absl::StrCat("cannot read ", path_));
  {
    absl::MutexLock lock(&mu_);
    if (*text == text_) return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Key>> keys = ParseKeys(*text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", keys.status().message()));
  }
  absl::MutexLock lock(&mu_);
  keys_ = *std::move(keys);
  text_ = *std::move(text);
  return absl::OkStatus();
}

void TokenKeys::Sign(absl::FunctionRef<std::string(absl::string_view key_id)> message_for,
                     std::string* key_id, std::string* mac) const {
  absl::ReaderMutexLock lock(&mu_);
  *key_id = keys_.front().id;
  *mac = Mac(keys_.front().secret, message_for(*key_id));
}

absl::StatusOr<bool> TokenKeys::Verify(absl::string_view key_id, absl::string_view message,
                                       absl::string_view mac) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const Key& key : keys_) {
    if (key.id != key_id) continue;
    std::string expected = Mac(key.secret, message);
    return mac.size() == expected.size() &&
           CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) == 0;
  }
  return absl::NotFoundError("no such key");
}

}  // namespace enlace::server
