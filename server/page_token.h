// Opaque, keyset-based page tokens for List RPCs.
//
// A token carries the keyset position after which the next page starts and a
// fingerprint of the query it belongs to (the caller and the filters), so a
// token cannot be replayed with other filters or by another caller. Tokens
// stay valid under concurrent inserts: positions only grow.
//
//   std::string fp = QueryFingerprint({caller, request.department_code(), ...});
//   absl::StatusOr<int64_t> after = DecodePageToken(request.page_token(), fp);
//   ... next_page_token = EncodePageToken(page.last_position, fp);
#ifndef ENLACE_SERVER_PAGE_TOKEN_H_
#define ENLACE_SERVER_PAGE_TOKEN_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::server {

// A short digest of the parts of a query that a token is bound to.
std::string QueryFingerprint(std::initializer_list<absl::string_view> parts);

std::string EncodePageToken(int64_t position, absl::string_view fingerprint);

// The position in `token`; 0 for an empty token (the first page).
// INVALID_ARGUMENT naming `page_token` for a malformed token or one made for
// another query.
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view fingerprint);

// The same for lists ordered by a string key (e.g. a certificate serial):
// the token carries the last key returned. An empty token decodes to "".
std::string EncodeKeyPageToken(absl::string_view key, absl::string_view fingerprint);
absl::StatusOr<std::string> DecodeKeyPageToken(absl::string_view token,
                                               absl::string_view fingerprint);

// page_size as API.md defines it: 0 means 50; 1..500 as given; else
// INVALID_ARGUMENT naming `page_size`.
absl::StatusOr<int> EffectivePageSize(int32_t requested);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_PAGE_TOKEN_H_
