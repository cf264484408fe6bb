// The per-RPC authorization policy: which principals may call which methods.
// Default deny: a call is allowed only when an `allow` rule matches it and no
// `deny` rule does. The file is line-based:
//
//   # comment
//   allow agency:mfa  /enlace.v1.ArrivalService/*
//   allow agency:*    /enlace.v1.ArrivalService/GetArrival
//   allow admin:*     /enlace.v1.AdminService/*
//   deny  agency:acme /enlace.v1.ArrivalService/*
//   require-actor agency:* /enlace.v1.CaseService/*
//
// `require-actor` grants nothing: a call it matches must also name the staff
// member on whose behalf it is made (the `enlace-actor` request metadata,
// server/call_gate.h); without one the call is refused.
// Principal patterns: `agency:<code>`, `agency:*`, `admin:<name>`, `admin:*`.
// Method patterns: a full method `/pkg.Service/Method` or `/pkg.Service/*`.
// Every pattern must name a method or service the server really has, so a
// typo is an error rather than a silently dead rule.
//
// Record-level rules (which arrival an agency may see) are not here: they
// depend on the data and live in the stores' queries.
#ifndef ENLACE_AUTH_POLICY_H_
#define ENLACE_AUTH_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/identity.h"

namespace enlace::auth {

class Policy {
 public:
  // Parses policy text. `known_methods` lists every full method name the
  // server serves ("/enlace.v1.ArrivalService/GetArrival"). Errors name the
  // line: "line 3: unknown method /enlace.v1.ArrivalService/Get".
  static absl::StatusOr<Policy> Parse(absl::string_view text,
                                      const std::vector<std::string>& known_methods);

  // The policy that allows nothing.
  Policy() = default;

  // True when `principal` may call `method`. Thread-safe (const).
  bool Allows(const Principal& principal, absl::string_view method) const;

  // True when a `require-actor` rule matches: a call of `principal` to
  // `method` must name its actor. Thread-safe (const).
  bool RequiresActor(const Principal& principal, absl::string_view method) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  enum class Action { kAllow, kDeny, kRequireActor };
  struct Rule {
    Action action = Action::kDeny;
    PrincipalKind kind = PrincipalKind::kAgency;
    std::string name;  // empty = any name of that kind
    std::string method;  // full method, or service prefix ending in '/'
    bool method_is_prefix = false;
    bool Matches(const Principal& principal, absl::string_view method) const;
  };
  std::vector<Rule> rules_;
};

}  // namespace enlace::auth

#endif  // ENLACE_AUTH_POLICY_H_
