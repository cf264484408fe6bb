// Opaque, keyset-based page tokens for List RPCs, and the resume tokens of
// WatchReferrals: both carry a position and are authenticated.
//
// A token carries the keyset position after which the next page starts (or
// the last string key returned), the id of the key that signed it, and an
// HMAC (server/token_keys.h) over all that and a fingerprint of the query it
// belongs to: the caller's identity and the filters. So a token cannot be
// made or altered by a client, nor replayed with other filters or by another
// caller: any of those is INVALID_ARGUMENT naming the token's field. Tokens
// stay valid under concurrent inserts: positions only grow.
//
//   PageTokens tokens(&keys);
//   std::string fp = QueryFingerprint({caller, request.department_code(), ...});
//   absl::StatusOr<int64_t> after = tokens.Decode(request.page_token(), fp);
//   ... next_page_token = tokens.Encode(page.last_position, fp);
#ifndef ENLACE_SERVER_PAGE_TOKEN_H_
#define ENLACE_SERVER_PAGE_TOKEN_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/token_keys.h"

namespace enlace::server {

// The parts of a query that a token is bound to, joined unambiguously.
std::string QueryFingerprint(std::initializer_list<absl::string_view> parts);

class PageTokens {
 public:
  // `keys` must outlive this object.
  explicit PageTokens(const TokenKeys* keys) : keys_(keys) {}

  std::string Encode(int64_t position, absl::string_view fingerprint) const;
  // The position in `token`; 0 for an empty token (the first page).
  // INVALID_ARGUMENT naming `field` for a malformed, altered or foreign
  // token, one made for another query or caller, or one signed by a key no
  // longer held.
  absl::StatusOr<int64_t> Decode(absl::string_view token, absl::string_view fingerprint,
                                 absl::string_view field = "page_token") const;

  // The same for lists ordered by a string key (e.g. a certificate serial):
  // the token carries the last key returned. An empty token decodes to "".
  std::string EncodeKey(absl::string_view key, absl::string_view fingerprint) const;
  absl::StatusOr<std::string> DecodeKey(absl::string_view token,
                                        absl::string_view fingerprint) const;

 private:
  std::string Seal(char kind, absl::string_view payload, absl::string_view fingerprint) const;
  absl::StatusOr<std::string> Open(char kind, absl::string_view token,
                                   absl::string_view fingerprint, absl::string_view field) const;

  const TokenKeys* const keys_;
};

// page_size as docs/api.md ("Paging") defines it: 0 means 50; 1..500 as
// given; else INVALID_ARGUMENT naming `page_size`.
absl::StatusOr<int> EffectivePageSize(int32_t requested);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_PAGE_TOKEN_H_
