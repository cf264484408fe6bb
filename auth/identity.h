// Caller identities. In Enlace the client certificate is the identity: its URI
// SAN is a SPIFFE ID in the trust domain "enlace", naming an agency or an
// administrator:
//
//   spiffe://enlace/agency/iom   -> Principal{kAgency, "iom"}
//   spiffe://enlace/admin/ana    -> Principal{kAdmin, "ana"}
//
// Nothing in a request body or metadata can change a Principal; it is built
// only from the verified TLS peer (see server/call_gate.h).
#ifndef ENLACE_AUTH_IDENTITY_H_
#define ENLACE_AUTH_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::auth {

enum class PrincipalKind { kAgency, kAdmin };

struct Principal {
  PrincipalKind kind = PrincipalKind::kAgency;
  std::string name;  // agency code or admin name; matches IsValidName()

  bool is_agency() const { return kind == PrincipalKind::kAgency; }
  bool is_admin() const { return kind == PrincipalKind::kAdmin; }
  // "spiffe://enlace/agency/iom" or "spiffe://enlace/admin/ana".
  std::string SpiffeId() const;
  // "agency:iom" or "admin:ana": the form the policy file uses.
  std::string PolicyName() const;

  friend bool operator==(const Principal& a, const Principal& b) {
    return a.kind == b.kind && a.name == b.name;
  }
};

// True for agency codes and admin names: [a-z][a-z0-9_-]{0,31}.
bool IsValidName(absl::string_view name);

// True for actors: the opaque identifier of the staff member on whose behalf
// an agency's system calls (request metadata `enlace-actor`, recorded in the
// audit log). 1 to 64 characters of [A-Za-z0-9._:-]: no '@' and no space, so
// an e-mail address or a full name is refused; the agency alone maps the
// identifier to a person.
bool IsValidActor(absl::string_view actor);

// Parses an Enlace SPIFFE ID. Anything else (another trust domain, another
// path, a query, upper case, trailing slash) is InvalidArgument.
absl::StatusOr<Principal> ParseSpiffeId(absl::string_view uri);

}  // namespace enlace::auth

#endif  // ENLACE_AUTH_IDENTITY_H_
