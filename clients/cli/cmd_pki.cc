// enlacectl pki: the platform PKI offline (no server needed): a development
// PKI (CA, server and client certificates), and one more client certificate
// signed with an existing CA.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "auth/pki.h"
#include "clients/cli/cli.h"

namespace enlace::cli {
namespace {

absl::StatusOr<int> ParseValidityDays(const Flags& flags) {
  std::optional<std::string> text = flags.Get("validity-days");
  if (!text.has_value()) return 365;
  int days = 0;
  if (!absl::SimpleAtoi(*text, &days)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--validity-days: not a number: \"", *text, "\""));
  }
  return days;
}

// Prints what was done (`log`), then `status` as "<path>: <message>" when it
// failed. Returns the exit status.
int Finish(const Invocation& call, const absl::Status& status,
           const std::vector<std::string>& log) {
  for (const std::string& line : log) std::cout << line << "\n";
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << call.path() << ": " << status.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl pki init

constexpr absl::string_view kPkiInitUsage =
    R"(Create a development PKI in a directory: a CA, a server certificate, and a
client certificate per agency and administrator. Files that already exist are
kept (re-running is harmless); only missing ones are created. Keys are EC P-256,
written with mode 0600. For development and tests: in production the CA key
lives elsewhere and agencies send CSRs, never keys.

Usage: enlacectl pki init --dir DIR [flags]

Flags:
  --dir DIR                  where to write the files (created if missing)
  --agencies LIST            agency codes; default mfa,iom,unhcr,undp
                             -> DIR/<code>.crt/.key, spiffe://enlace/agency/<code>
  --admins LIST              administrator names; default admin
                             -> DIR/<name>.crt/.key, spiffe://enlace/admin/<name>
  --server-names LIST        DNS names and IP addresses of the server;
                             default localhost,127.0.0.1 -> DIR/server.crt/.key
  --validity-days N          validity of the leaf certificates; default 365
                             (the CA "Enlace dev CA", DIR/ca.crt/.key: 10 years)

LIST is comma-separated; names match [a-z][a-z0-9_-]{0,31}. Flags take
"--name value" or "--name=value".

Example:
  enlacectl pki init --dir ./dev-pki --agencies mfa,iom,unhcr,undp,wfp \
      --server-names localhost,127.0.0.1,enlace.example.org
)";

int RunPkiInit(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl pki init", Tr(kPkiInitUsage),
                     {"dir", "agencies", "admins", "server-names", "validity-days"},
                     /*max_positionals=*/0, /*offline=*/true);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"dir"})) return *exit;
  const Flags& flags = call.flags();
  auth::DevPkiOptions options;
  options.dir = *flags.Get("dir");
  if (auto agencies = flags.GetList("agencies")) options.agencies = *agencies;
  if (auto admins = flags.GetList("admins")) options.admins = *admins;
  if (auto names = flags.GetList("server-names")) options.server_names = *names;
  absl::StatusOr<int> days = ParseValidityDays(flags);
  if (!days.ok()) return call.Value(days.status().message());
  options.validity_days = *days;
  if (absl::Status status = auth::ValidateDevPkiOptions(options); !status.ok()) {
    return call.Value(status.message());
  }

  std::vector<std::string> log;
  return Finish(call, auth::InitDevPki(options, &log), log);
}

// ---------------------------------------------------------------------------
// enlacectl pki issue

constexpr absl::string_view kPkiIssueUsage =
    R"(Issue one more client certificate offline, signed with DIR/ca.key (as made
by 'enlacectl pki init'). Writes OUT/<name>.crt and OUT/<name>.key (0600); never
overwrites a file.

Usage: enlacectl pki issue --dir DIR --kind agency|admin --name NAME [flags]

Flags:
  --dir DIR              the PKI directory holding ca.crt and ca.key
  --kind agency|admin    spiffe://enlace/agency/NAME or spiffe://enlace/admin/NAME
  --name NAME            agency code or administrator name, [a-z][a-z0-9_-]{0,31}
  --out-dir OUT          where to write; default DIR (created if missing)
  --validity-days N      default 365

Example:
  enlacectl pki issue --dir ./dev-pki --kind agency --name iom --out-dir ./iom-2
)";

int RunPkiIssue(const Args& args) {
  static const Leaf leaf = WholeUsageLeaf("enlacectl pki issue", Tr(kPkiIssueUsage),
                                          {"dir", "kind", "name", "out-dir", "validity-days"},
                                          /*max_positionals=*/0, /*offline=*/true);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"dir", "kind", "name"})) return *exit;
  const Flags& flags = call.flags();
  auth::DevIssueOptions options;
  options.dir = *flags.Get("dir");
  const std::string kind = *flags.Get("kind");
  options.name = *flags.Get("name");
  if (absl::Status status = CheckKindAndName(kind, options.name); !status.ok()) {
    return call.Value(status.message());
  }
  options.kind = kind == "agency" ? auth::PrincipalKind::kAgency : auth::PrincipalKind::kAdmin;
  options.out_dir = flags.Get("out-dir").value_or("");
  absl::StatusOr<int> days = ParseValidityDays(flags);
  if (!days.ok()) return call.Value(days.status().message());
  options.validity_days = *days;

  std::vector<std::string> log;
  return Finish(call, auth::IssueDevCertificate(options, &log).status(), log);
}

}  // namespace

int RunPki(const Args& args) {
  static const auto* group = new Group{
      "enlacectl pki",
      "Manage the platform PKI offline (no server needed).",
      {
          {"init", "create a development PKI (CA, server and client certificates)", &RunPkiInit},
          {"issue", "issue one more client certificate with an existing CA", &RunPkiIssue},
      },
      "enlacectl pki init --dir ./dev-pki"};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
