// enlacectl: the command-line tool of every Enlace persona. Commands nest
// ("enlacectl pki init"); each leaf command parses its own flags, so a command
// added later brings its own flag set without touching the others.
//
//   enlacectl pki init --dir ./dev-pki            # CA, server and client certs
//   enlacectl pki issue --dir ./dev-pki --kind agency --name wfp --out-dir ./x
//
// Exit status: 0 success, 1 failure, 2 usage error (unknown command or flag,
// bad flag value).
#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "auth/pki.h"

namespace enlace::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Commands and flags.

// A command: either a group of subcommands or a leaf that runs.
struct Command {
  const char* name;
  const char* summary;
  // Receives the arguments after the command's name; returns the exit status.
  int (*run)(const Args& args);
};

bool IsHelp(absl::string_view arg) {
  return arg == "--help" || arg == "-h" || arg == "help";
}

// Runs the subcommand of `path` (e.g. "enlacectl pki") named by args[0].
int Dispatch(absl::string_view path, const std::vector<Command>& commands,
             absl::string_view usage, const Args& args) {
  if (args.empty()) {
    std::cerr << usage;
    return kExitUsage;
  }
  if (IsHelp(args[0])) {
    std::cout << usage;
    return kExitOk;
  }
  for (const Command& command : commands) {
    if (args[0] == command.name) {
      return command.run(Args(args.begin() + 1, args.end()));
    }
  }
  std::cerr << path << ": unknown command \"" << args[0] << "\"\n\n" << usage;
  return kExitUsage;
}

// The usage of a command group: a summary line, the subcommands, an example.
std::string GroupUsage(absl::string_view path, absl::string_view summary,
                       const std::vector<Command>& commands,
                       absl::string_view example) {
  std::string usage = absl::StrCat(summary, "\n\nUsage: ", path,
                                   " <command> [flags]\n\nCommands:\n");
  for (const Command& command : commands) {
    const size_t width = absl::string_view(command.name).size();
    absl::StrAppend(&usage, "  ", command.name,
                    std::string(width < 10 ? 10 - width : 1, ' '),
                    command.summary, "\n");
  }
  absl::StrAppend(&usage, "\nRun '", path,
                  " <command> --help' for a command's flags.\n\nExample:\n  ",
                  example, "\n");
  return usage;
}

// Flags of a leaf command: "--name value" or "--name=value", each at most
// once; no positional arguments.
class Flags {
 public:
  // Parses `args` accepting only the flag names in `known` (without "--").
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& known,
                                     const Args& args) {
    Flags flags;
    for (size_t i = 0; i < args.size(); ++i) {
      absl::string_view arg = args[i];
      if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument \"", args[i], "\""));
      }
      std::string name;
      std::string value;
      size_t eq = arg.find('=');
      if (eq != absl::string_view::npos) {
        name = std::string(arg.substr(0, eq));
        value = std::string(arg.substr(eq + 1));
      } else {
        name = std::string(arg);
        if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " needs a value"));
        }
        value = args[++i];
      }
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown flag --", name));
      }
      if (!flags.values_.emplace(name, value).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " given twice"));
      }
    }
    return flags;
  }

  std::optional<std::string> Get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }

  // A comma-separated list; surrounding spaces and empty items are dropped.
  std::optional<std::vector<std::string>> GetList(
      const std::string& name) const {
    std::optional<std::string> value = Get(name);
    if (!value.has_value()) return std::nullopt;
    std::vector<std::string> items;
    for (absl::string_view item : absl::StrSplit(*value, ',')) {
      item = absl::StripAsciiWhitespace(item);
      if (!item.empty()) items.emplace_back(item);
    }
    return items;
  }

 private:
  std::map<std::string, std::string> values_;
};

// Prints a usage error (unknown flag, missing flag) for the leaf command
// `path` with its usage, and returns kExitUsage.
int UsageError(absl::string_view path, absl::string_view message,
               absl::string_view usage) {
  std::cerr << path << ": " << message << "\n\n" << usage;
  return kExitUsage;
}

// Prints a bad flag value error with a pointer to the usage, and returns
// kExitUsage.
int ValueError(absl::string_view path, absl::string_view message) {
  std::cerr << path << ": " << message << "\nRun '" << path
            << " --help' for usage.\n";
  return kExitUsage;
}

bool WantsHelp(const Args& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

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

// ---------------------------------------------------------------------------
// The command tree.

const std::vector<Command>& PkiCommands() {
  static const auto* commands = new std::vector<Command>{
      {"init", "create a development PKI (CA, server and client certificates)",
       &RunPkiInit},
      {"issue", "issue one more client certificate with an existing CA",
       &RunPkiIssue},
  };
  return *commands;
}

int RunPki(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl pki", "Manage the platform PKI offline (no server needed).",
      PkiCommands(), "enlacectl pki init --dir ./dev-pki"));
  return Dispatch("enlacectl pki", PkiCommands(), *usage, args);
}

const std::vector<Command>& TopCommands() {
  static const auto* commands = new std::vector<Command>{
      {"pki", "the platform PKI: CA, certificates for agencies, admins, server",
       &RunPki},
  };
  return *commands;
}

int Main(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl",
      "enlacectl: the command-line tool of Enlace, the exchange of returnee "
      "records\nbetween the Ministry of Foreign Affairs and UN agencies.",
      TopCommands(), "enlacectl pki init --dir ./dev-pki"));
  return Dispatch("enlacectl", TopCommands(), *usage, args);
}

}  // namespace
}  // namespace enlace::cli

int main(int argc, char** argv) {
  return enlace::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}
