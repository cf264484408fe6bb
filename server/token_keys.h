// The secret keys that authenticate the opaque tokens the server hands out
// (list page tokens, WatchReferrals resume tokens): HMAC-SHA256 under a key
// every replica holds, so a token made by one replica is honoured by the
// others and no caller can make or alter one.
//
// The key file has one key per line, "<key id> <secret in base64>", '#'
// comments and blank lines ignored:
//
//   # the first key signs new tokens; every key listed still verifies
//   k2 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
//   k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
//
// Key ids are 1-16 characters [A-Za-z0-9_-]; secrets at least 32 bytes.
// Rotation without a restart: put the new key first and keep the old one
// below it until the tokens it signed may expire (clients hold resume tokens
// across restarts: keep it for as long as a watcher may be away), then drop
// it. The file is re-read when it changes; an invalid new version is
// refused and the keys in force stay.
//
// Thread safety: all methods may be called concurrently.
#ifndef ENLACE_SERVER_TOKEN_KEYS_H_
#define ENLACE_SERVER_TOKEN_KEYS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

class TokenKeys {
 public:
  // Parses key file text (format above). INVALID_ARGUMENT naming the line.
  static absl::StatusOr<std::unique_ptr<TokenKeys>> Parse(absl::string_view text);
  // Loads `path`, remembering it for ReloadIfChanged().
  static absl::StatusOr<std::unique_ptr<TokenKeys>> Load(const std::string& path);
  // One random key held only by this process: tokens do not survive a
  // restart and are refused by other replicas (for a lone development server).
  static std::unique_ptr<TokenKeys> Ephemeral();

  // Re-reads the file given to Load() if it changed. OK when unchanged or
  // reloaded; the error when the new content is invalid (keys unchanged).
  absl::Status ReloadIfChanged() ABSL_LOCKS_EXCLUDED(mu_);

  // Signs with the first key: sets `key_id` to its id and `mac` to the
  // 16-byte MAC of message_for(key id) (the message may include the id).
  void Sign(absl::FunctionRef<std::string(absl::string_view key_id)> message_for,
            std::string* key_id, std::string* mac) const ABSL_LOCKS_EXCLUDED(mu_);
  // True when `mac` is the MAC of `message` under the key `key_id`, if that
  // key is held. NOT_FOUND when it is not (rotated out or never ours).
  absl::StatusOr<bool> Verify(absl::string_view key_id, absl::string_view message,
                              absl::string_view mac) const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr size_t kMacBytes = 16;

 private:
  struct Key {
    std::string id;
    std::string secret;
  };
  explicit TokenKeys(std::vector<Key> keys) : keys_(std::move(keys)) {}
  static absl::StatusOr<std::vector<Key>> ParseKeys(absl::string_view text);

  std::string path_;
  mutable absl::Mutex mu_;
  std::vector<Key> keys_ ABSL_GUARDED_BY(mu_);  // first signs
  std::string text_ ABSL_GUARDED_BY(mu_);  // the file content in force
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_TOKEN_KEYS_H_
