// Parsing and evaluation of the authorization policy (see policy.h).
#include "auth/policy.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace enlace::auth {
namespace {

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

}  // namespace

bool Policy::Rule::Matches(const Principal& principal, absl::string_view called) const {
  if (principal.kind != kind) return false;
  if (!name.empty() && principal.name != name) return false;
  return method_is_prefix ? absl::StartsWith(called, method) : called == method;
}

absl::StatusOr<Policy> Policy::Parse(absl::string_view text,
                                     const std::vector<std::string>& known_methods) {
  Policy policy;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    if (words.size() != 3) {
      return LineError(line_number, "expected `allow|deny|require-actor <principal> <method>`");
    }
    Rule rule;
    if (words[0] == "allow") {
      rule.action = Action::kAllow;
    } else if (words[0] == "deny") {
      rule.action = Action::kDeny;
    } else if (words[0] == "require-actor") {
      rule.action = Action::kRequireActor;
    } else {
      return LineError(line_number, absl::StrCat("unknown action `", words[0],
                                                 "` (expected allow, deny or require-actor)"));
    }

    absl::string_view who = words[1];
    if (absl::ConsumePrefix(&who, "agency:")) {
      rule.kind = PrincipalKind::kAgency;
    } else if (absl::ConsumePrefix(&who, "admin:")) {
      rule.kind = PrincipalKind::kAdmin;
    } else {
      return LineError(line_number, absl::StrCat("unknown principal `", words[1],
                                                 "` (expected agency:<code>, agency:*, "
                                                 "admin:<name> or admin:*)"));
    }
    if (who != "*") {
      if (!IsValidName(who)) {
        return LineError(line_number, absl::StrCat("invalid name in `", words[1], "`"));
      }
      rule.name = std::string(who);
    }

    absl::string_view method = words[2];
    if (absl::EndsWith(method, "/*")) {
      rule.method = std::string(method.substr(0, method.size() - 1));
      rule.method_is_prefix = true;
      // Exactly "/<service>/": a bare "/*" or "/pkg.Serv*" names no service.
      absl::string_view service = absl::string_view(rule.method).substr(1, rule.method.size() - 2);
      bool well_formed = rule.method.size() > 2 && rule.method[0] == '/' &&
                         service.find('/') == absl::string_view::npos;
      bool known = well_formed && std::any_of(known_methods.begin(), known_methods.end(),
                                              [&](const std::string& m) {
                                                return absl::StartsWith(m, rule.method);
                                              });
      if (!known) {
        return LineError(line_number, absl::StrCat("unknown service in `", method, "`"));
      }
    } else {
      rule.method = std::string(method);
      if (std::find(known_methods.begin(), known_methods.end(), rule.method) ==
          known_methods.end()) {
        return LineError(line_number, absl::StrCat("unknown method `", method, "`"));
      }
    }
    policy.rules_.push_back(std::move(rule));
  }
  return policy;
}

bool Policy::Allows(const Principal& principal, absl::string_view method) const {
  bool allowed = false;
  for (const Rule& rule : rules_) {
    if (rule.action == Action::kRequireActor || !rule.Matches(principal, method)) continue;
    if (rule.action == Action::kDeny) return false;  // deny wins over any allow
    allowed = true;
  }
  return allowed;
}

bool Policy::RequiresActor(const Principal& principal, absl::string_view method) const {
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& rule) {
    return rule.action == Action::kRequireActor && rule.Matches(principal, method);
  });
}

}  // namespace enlace::auth
