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

void PrintLog(const std::vector<std::string>& log) {
  for (const std::string& line : log) std::cout << line << "\n";
  std::cout.flush();
}

// ---------------------------------------------------------------------------
// enlacectl pki init

constexpr absl::string_view kPkiInitPath = "enlacectl pki init";
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
  if (WantsHelp(args)) {
    std::cout << kPkiInitUsage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      {"dir", "agencies", "admins", "server-names", "validity-days"}, args);
  if (!flags.ok()) {
    return UsageError(kPkiInitPath, flags.status().message(), kPkiInitUsage);
  }
  auth::DevPkiOptions options;
  std::optional<std::string> dir = flags->Get("dir");
  if (!dir.has_value() || dir->empty()) {
    return UsageError(kPkiInitPath, "--dir is required", kPkiInitUsage);
  }
  options.dir = *dir;
  if (auto agencies = flags->GetList("agencies")) options.agencies = *agencies;
  if (auto admins = flags->GetList("admins")) options.admins = *admins;
  if (auto names = flags->GetList("server-names"))
    options.server_names = *names;
  absl::StatusOr<int> days = ParseValidityDays(*flags);
  if (!days.ok()) {
    return ValueError(kPkiInitPath, days.status().message());
  }
  options.validity_days = *days;
  if (absl::Status status = auth::ValidateDevPkiOptions(options);
      !status.ok()) {
    return ValueError(kPkiInitPath, status.message());
  }

  std::vector<std::string> log;
  absl::Status status = auth::InitDevPki(options, &log);
  PrintLog(log);
  if (!status.ok()) {
    std::cerr << kPkiInitPath << ": " << status.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl pki issue

constexpr absl::string_view kPkiIssuePath = "enlacectl pki issue";
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
  if (WantsHelp(args)) {
    std::cout << kPkiIssueUsage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse({"dir", "kind", "name", "out-dir", "validity-days"}, args);
  if (!flags.ok()) {
    return UsageError(kPkiIssuePath, flags.status().message(), kPkiIssueUsage);
  }
  auth::DevIssueOptions options;
  for (const char* required : {"dir", "kind", "name"}) {
    std::optional<std::string> value = flags->Get(required);
    if (!value.has_value() || value->empty()) {
      return UsageError(kPkiIssuePath,
                        absl::StrCat("--", required, " is required"),
                        kPkiIssueUsage);
    }
  }
  options.dir = *flags->Get("dir");
  std::string kind = *flags->Get("kind");
  if (kind == "agency") {
    options.kind = auth::PrincipalKind::kAgency;
  } else if (kind == "admin") {
    options.kind = auth::PrincipalKind::kAdmin;
  } else {
    return ValueError(
        kPkiIssuePath,
        absl::StrCat("--kind must be agency or admin, not \"", kind, "\""));
  }
  options.name = *flags->Get("name");
  if (absl::Status status = auth::ValidatePrincipalName(
          kind == "agency" ? "agency code" : "admin name", options.name);
      !status.ok()) {
    return ValueError(kPkiIssuePath, status.message());
  }
  options.out_dir = flags->Get("out-dir").value_or("");
  absl::StatusOr<int> days = ParseValidityDays(*flags);
  if (!days.ok()) {
    return ValueError(kPkiIssuePath, days.status().message());
  }
  options.validity_days = *days;

  std::vector<std::string> log;
  absl::StatusOr<auth::IssuedCertificate> issued =
      auth::IssueDevCertificate(options, &log);
  PrintLog(log);
  if (!issued.ok()) {
    std::cerr << kPkiIssuePath << ": " << issued.status().message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

const std::vector<Command>& PkiCommands() {
  static const auto* commands = new std::vector<Command>{
      {"init", "create a development PKI (CA, server and client certificates)",
       &RunPkiInit},
      {"issue", "issue one more client certificate with an existing CA",
       &RunPkiIssue},
  };
  return *commands;
}

}  // namespace

int RunPki(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl pki", "Manage the platform PKI offline (no server needed).",
      PkiCommands(), "enlacectl pki init --dir ./dev-pki"));
  return Dispatch("enlacectl pki", PkiCommands(), *usage, args);
}

}  // namespace enlace::cli
