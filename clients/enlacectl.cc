// enlacectl: the command-line tool of every Enlace persona. Commands nest
// ("enlacectl pki init"); each leaf command parses its own flags, so a command
// added later brings its own flag set without touching the others.
//
//   enlacectl pki init --dir ./dev-pki            # CA, server and client certs
//   enlacectl pki issue --dir ./dev-pki --kind agency --name wfp --out-dir ./x
//   enlacectl certs request --kind agency --name wfp   # offline: key + CSR
//   enlacectl certs issue --csr wfp.csr --kind agency --name wfp  # as admin
//   enlacectl agencies register wfp --display-name "World Food Programme"
//
// Commands that call the server connect with clients/connection.h: flags
// --addr --ca --cert --key (or $ENLACE_ADDR, $ENLACE_CA, ...).
//
// Exit status: 0 success, 1 failure, 2 usage error (unknown command or flag,
// bad flag value). Server commands print failures as
// "enlacectl: <gRPC code name>: <message>".
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki.h"
#include "clients/connection.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/admin.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;

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
// once; and up to `max_positionals` arguments that are not flags (anywhere
// among the flags; after "--" every argument is one).
class Flags {
 public:
  // Parses `args` accepting only the flag names in `known` (without "--").
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& known,
                                     const Args& args,
                                     size_t max_positionals = 0) {
    Flags flags;
    bool only_positionals = false;
    for (size_t i = 0; i < args.size(); ++i) {
      absl::string_view arg = args[i];
      if (!only_positionals && arg == "--") {
        only_positionals = true;
        continue;
      }
      if (only_positionals || !absl::StartsWith(arg, "-") || arg == "-") {
        if (flags.positionals_.size() >= max_positionals) {
          return absl::InvalidArgumentError(
              absl::StrCat("unexpected argument \"", args[i], "\""));
        }
        flags.positionals_.push_back(args[i]);
        continue;
      }
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

  // The arguments that are not flags, in order.
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
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
// Commands that talk to the server: connection flags, output, errors.

// The flags every server command takes, in its usage.
constexpr absl::string_view kConnectionHelp =
    R"(
Connection flags (each falls back to an environment variable):
  --addr HOST:PORT       the server's TLS port; $ENLACE_ADDR, else localhost:7443
                         (HOST must be a name in the server certificate)
  --ca FILE              the platform CA certificate; $ENLACE_CA
  --cert FILE            your client certificate (it says who you are); $ENLACE_CERT
  --key FILE             its private key; $ENLACE_KEY
  --timeout DURATION     deadline of each call, e.g. 30s (the default), 2m
)";

constexpr absl::string_view kOutputHelp =
    R"(  --output table|json    table (default) for people; json: one JSON document
                         (proto3 JSON mapping, lowerCamelCase field names)
)";

constexpr absl::string_view kExitHelp =
    R"(
Exit status: 0 success; 1 failure, with "enlacectl: <gRPC code>: <message>" on
stderr; 2 usage error.
)";

// The flag names above, for Flags::Parse.
std::vector<std::string> WithConnectionFlags(std::vector<std::string> flags,
                                             bool output) {
  for (const char* name : {"addr", "ca", "cert", "key", "timeout"}) {
    flags.emplace_back(name);
  }
  if (output) flags.emplace_back("output");
  return flags;
}

// The connection options from the flags and the environment. Errors are
// usage errors (InvalidArgument).
absl::StatusOr<client::ConnectionOptions> ConnectionFromFlags(
    const Flags& flags) {
  client::ConnectionOptions from_flags;
  std::optional<std::string> addr = flags.Get("addr");
  if (addr.has_value() && addr->empty()) {
    return absl::InvalidArgumentError("--addr must not be empty");
  }
  from_flags.address = addr.value_or("");
  from_flags.ca_path = flags.Get("ca").value_or("");
  from_flags.cert_path = flags.Get("cert").value_or("");
  from_flags.key_path = flags.Get("key").value_or("");
  if (std::optional<std::string> text = flags.Get("timeout")) {
    absl::Duration timeout;
    int64_t seconds = 0;
    if (absl::SimpleAtoi(*text, &seconds)) {
      timeout = absl::Seconds(seconds);
    } else if (!absl::ParseDuration(*text, &timeout)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--timeout: not a duration: \"", *text, "\" (e.g. 30s, 2m)"));
    }
    if (timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout must be positive and finite, not \"", *text,
                       "\""));
    }
    from_flags.timeout = timeout;
  }
  client::ConnectionOptions options =
      client::ConnectionOptionsFromEnvironment(std::move(from_flags));
  // An explicit --addr wins even when it is the default address.
  if (addr.has_value()) options.address = *addr;
  struct Required {
    const std::string& value;
    const char* flag;
    const char* variable;
    const char* what;
  };
  for (const Required& required :
       {Required{options.ca_path, "ca", "ENLACE_CA", "no CA certificate"},
        Required{options.cert_path, "cert", "ENLACE_CERT",
                 "no client certificate"},
        Required{options.key_path, "key", "ENLACE_KEY",
                 "no client private key"}}) {
    if (required.value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(required.what, ": give --", required.flag,
                       " FILE or set ", required.variable));
    }
  }
  return options;
}

enum class Output { kTable, kJson };

absl::StatusOr<Output> ParseOutput(const Flags& flags) {
  std::string output = flags.Get("output").value_or("table");
  if (output == "table") return Output::kTable;
  if (output == "json") return Output::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--output must be table or json, not \"", output, "\""));
}

// Prints "enlacectl: <code>: <message>" and returns kExitFailure.
int Fail(const absl::Status& status) {
  std::cerr << "enlacectl: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitFailure;
}

// An AdminService stub on a channel made from `options`.
absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> AdminStub(
    const client::ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::Connect(options);
  if (!channel.ok()) return channel.status();
  return v1::AdminService::NewStub(*channel);
}

// Prints `message` as one JSON document on stdout.
int PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return Fail(absl::InternalError(absl::StrCat(
        "cannot print JSON: ", std::string(status.message()))));
  }
  std::cout << json;
  if (json.empty() || json.back() != '\n') std::cout << "\n";
  std::cout.flush();
  return kExitOk;
}

// The number of characters (UTF-8 code points) of `text`, for alignment.
size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Prints `rows` under `header`, columns separated by two spaces.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&widths](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const auto& row : rows) print(row);
  std::cout.flush();
}

// "2026-05-01T12:00:00Z", or "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(timestamp.seconds()),
                          absl::UTCTimeZone());
}

// "ACTIVE", "REVOKED", "EXPIRED".
std::string StatusName(v1::CertificateStatus status) {
  std::string name = v1::CertificateStatus_Name(status);
  absl::string_view view = name;
  if (absl::ConsumePrefix(&view, "CERTIFICATE_STATUS_")) return std::string(view);
  return absl::StrCat(static_cast<int>(status));
}

// Parses --kind agency|admin.
absl::StatusOr<v1::CertificateKind> ParseKind(const std::string& kind) {
  if (kind == "agency") return v1::CERTIFICATE_KIND_AGENCY;
  if (kind == "admin") return v1::CERTIFICATE_KIND_ADMIN;
  return absl::InvalidArgumentError(
      absl::StrCat("--kind must be agency or admin, not \"", kind, "\""));
}

// Checks that every flag of `names` is present and not empty.
absl::Status RequireFlags(const Flags& flags,
                          const std::vector<const char*>& names) {
  for (const char* name : names) {
    std::optional<std::string> value = flags.Get(name);
    if (!value.has_value() || value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required"));
    }
  }
  return absl::OkStatus();
}

// The directory part of `path` with a trailing '/', or "" for a bare name.
std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return path.substr(0, slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Pages through ListCertificates with `request`'s filters; returns every
// certificate in one response.
absl::StatusOr<v1::ListCertificatesResponse> ListAllCertificates(
    v1::AdminService::Stub& stub, const client::ConnectionOptions& options,
    v1::ListCertificatesRequest request) {
  v1::ListCertificatesResponse all;
  request.set_page_size(500);
  request.clear_page_token();
  for (int pages = 0;; ++pages) {
    if (pages >= 100000) {
      return absl::InternalError("ListCertificates never ends: stopped paging");
    }
    v1::ListCertificatesResponse page;
    std::unique_ptr<grpc::ClientContext> context = client::NewContext(options);
    absl::Status status = client::FromGrpc(
        stub.ListCertificates(context.get(), request, &page));
    if (!status.ok()) return status;
    for (v1::Certificate& certificate : *page.mutable_certificates()) {
      *all.add_certificates() = std::move(certificate);
    }
    if (page.next_page_token().empty()) return all;
    if (page.next_page_token() == request.page_token()) {
      return absl::InternalError(
          "ListCertificates returned the same page token twice");
    }
    request.set_page_token(page.next_page_token());
  }
}

void PrintCertificateTable(const v1::ListCertificatesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Certificate& c : response.certificates()) {
    rows.push_back({c.serial(), c.spiffe_id(), StatusName(c.status()),
                    FormatTimestamp(c.not_after()),
                    c.issued_by().empty() ? "-" : c.issued_by()});
  }
  PrintTable({"SERIAL", "SPIFFE ID", "STATUS", "NOT AFTER", "ISSUED BY"}, rows);
}

// One certificate as "field  value" lines.
void PrintCertificateDetails(const v1::Certificate& c) {
  std::vector<std::vector<std::string>> rows = {
      {"serial", c.serial()},
      {"spiffe id", c.spiffe_id()},
      {"status", StatusName(c.status())},
      {"not before", FormatTimestamp(c.not_before())},
      {"not after", FormatTimestamp(c.not_after())},
      {"issued by", c.issued_by().empty() ? "-" : c.issued_by()},
  };
  if (c.status() == v1::CERTIFICATE_STATUS_REVOKED) {
    rows.push_back({"revoked by", c.revoked_by().empty() ? "-" : c.revoked_by()});
    rows.push_back({"revoked at", FormatTimestamp(c.revoked_at())});
    rows.push_back({"reason", c.revocation_reason()});
  }
  for (const auto& row : rows) {
    std::cout << "  " << row[0] << std::string(12 - row[0].size(), ' ')
              << row[1] << "\n";
  }
  std::cout.flush();
}

// ---------------------------------------------------------------------------
// enlacectl certs request

constexpr absl::string_view kCertsRequestPath = "enlacectl certs request";
constexpr absl::string_view kCertsRequestUsage =
    R"(Make a private key and a certificate signing request (CSR) for this
machine, offline. Run it where the key will be used: the key never leaves the
machine; only the CSR goes to the Enlace administrator, who signs it with
'enlacectl certs issue' and sends back the certificate.

Writes DIR/NAME.key (mode 0600; an existing key is never overwritten: the
command refuses) and DIR/NAME.csr (subject CN=NAME). The identity in the
certificate (spiffe://enlace/<kind>/NAME) is set by the administrator, not by
the CSR.

Usage: enlacectl certs request --kind agency|admin --name NAME [flags]

Flags:
  --kind agency|admin    what the certificate is for
  --name NAME            agency code or administrator name, [a-z][a-z0-9_-]{0,31}
  --key-type TYPE        ec-p256 (default), ec-p384, rsa-2048 or rsa-3072
  --out-dir DIR          where to write; default the current directory
                         (created with mode 0700 if missing)

Example:
  enlacectl certs request --kind agency --name wfp --out-dir ./wfp-pki

Exit status: 0 success; 1 failure, with "enlacectl: <code>: <message>" on
stderr (ALREADY_EXISTS when DIR/NAME.key exists); 2 usage error.
)";

absl::StatusOr<auth::KeyType> ParseKeyType(const std::string& text) {
  if (text == "ec-p256") return auth::KeyType::kEcP256;
  if (text == "ec-p384") return auth::KeyType::kEcP384;
  if (text == "rsa-2048") return auth::KeyType::kRsa2048;
  if (text == "rsa-3072") return auth::KeyType::kRsa3072;
  return absl::InvalidArgumentError(absl::StrCat(
      "--key-type must be ec-p256, ec-p384, rsa-2048 or rsa-3072, not \"",
      text, "\""));
}

int RunCertsRequest(const Args& args) {
  if (WantsHelp(args)) {
    std::cout << kCertsRequestUsage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse({"kind", "name", "key-type", "out-dir"}, args);
  if (!flags.ok()) {
    return UsageError(kCertsRequestPath, flags.status().message(),
                      kCertsRequestUsage);
  }
  if (absl::Status status = RequireFlags(*flags, {"kind", "name"});
      !status.ok()) {
    return UsageError(kCertsRequestPath, status.message(), kCertsRequestUsage);
  }
  const std::string kind = *flags->Get("kind");
  if (absl::StatusOr<v1::CertificateKind> parsed = ParseKind(kind);
      !parsed.ok()) {
    return ValueError(kCertsRequestPath, parsed.status().message());
  }
  const std::string name = *flags->Get("name");
  if (absl::Status status = auth::ValidatePrincipalName(
          kind == "agency" ? "agency code" : "admin name", name);
      !status.ok()) {
    return ValueError(kCertsRequestPath, status.message());
  }
  absl::StatusOr<auth::KeyType> key_type =
      ParseKeyType(flags->Get("key-type").value_or("ec-p256"));
  if (!key_type.ok()) {
    return ValueError(kCertsRequestPath, key_type.status().message());
  }
  std::optional<std::string> out_dir_flag = flags->Get("out-dir");
  if (out_dir_flag.has_value() && out_dir_flag->empty()) {
    return ValueError(kCertsRequestPath, "--out-dir must not be empty");
  }
  const std::string out_dir = out_dir_flag.value_or(".");

  struct stat st;
  if (::stat(out_dir.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(out_dir.c_str(), 0700) != 0) {
      return Fail(absl::ErrnoToStatus(
          errno, absl::StrCat("cannot create directory ", out_dir)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat(out_dir, " is not a directory")));
  }
  const std::string key_path = JoinPath(out_dir, name + ".key");
  const std::string csr_path = JoinPath(out_dir, name + ".csr");
  const std::string refusal =
      absl::StrCat(key_path,
                   " already exists: refusing to overwrite a private key "
                   "(move it away, or choose another --out-dir)");
  // Checked before the (slow) key generation; the write below makes sure.
  if (PathExists(key_path)) return Fail(absl::AlreadyExistsError(refusal));

  absl::StatusOr<std::string> key = auth::GeneratePrivateKeyPem(*key_type);
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::string> csr = auth::CreateCsrPem(*key, name);
  if (!csr.ok()) return Fail(csr.status());
  absl::Status status = auth::WriteFileAtomically(key_path, *key, 0600,
                                                  auth::IfExists::kFail);
  if (absl::IsAlreadyExists(status)) {
    return Fail(absl::AlreadyExistsError(refusal));
  }
  if (!status.ok()) return Fail(status);
  status = auth::WriteFileAtomically(csr_path, *csr, 0644);
  if (!status.ok()) {
    // The key is ours (just linked into place) and useless without its CSR.
    ::unlink(key_path.c_str());
    return Fail(status);
  }
  std::cout << "wrote " << key_path
            << "  (private key, mode 0600: keep it here, never send it)\n"
            << "wrote " << csr_path << "  (certificate signing request)\n\n"
            << "Send " << csr_path
            << " (only the .csr) to the Enlace administrator, who runs:\n"
            << "  enlacectl certs issue --csr " << name << ".csr --kind " << kind
            << " --name " << name << "\n"
            << "and sends back " << name << ".crt. Put it beside the key and "
            << "connect with:\n"
            << "  --cert " << JoinPath(out_dir, name + ".crt") << " --key "
            << key_path << "\n";
  std::cout.flush();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs issue

constexpr absl::string_view kCertsIssuePath = "enlacectl certs issue";

const std::string& CertsIssueUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(Sign a certificate signing request (made with 'enlacectl certs request')
with the platform CA, through the server (AdminService.IssueCertificate). You
need an administrator certificate (--cert/--key). The identity in the
certificate is spiffe://enlace/<kind>/NAME, whatever the CSR says; an agency
must be registered first ('enlacectl agencies register').

Writes the certificate to --out (never overwriting a file) and prints its
serial, SPIFFE ID and expiry.

Usage: enlacectl certs issue --csr FILE --kind agency|admin --name NAME [flags]

Flags:
  --csr FILE             the PKCS#10 CSR (PEM)
  --kind agency|admin    spiffe://enlace/agency/NAME or spiffe://enlace/admin/NAME
  --name NAME            agency code or administrator name
  --validity-days N      default: the server's (90); at most 398
  --out FILE             where to write the certificate; default NAME.crt in
                         the CSR's directory
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs issue --csr wfp.csr --kind agency --name wfp \
      --ca dev-pki/ca.crt --cert dev-pki/admin.crt --key dev-pki/admin.key
)",
      kExitHelp));
  return *usage;
}

int RunCertsIssue(const Args& args) {
  const std::string& usage = CertsIssueUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"csr", "kind", "name", "validity-days", "out"},
                          /*output=*/true),
      args);
  if (!flags.ok()) {
    return UsageError(kCertsIssuePath, flags.status().message(), usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"csr", "kind", "name"});
      !status.ok()) {
    return UsageError(kCertsIssuePath, status.message(), usage);
  }
  v1::IssueCertificateRequest request;
  const std::string kind = *flags->Get("kind");
  absl::StatusOr<v1::CertificateKind> parsed_kind = ParseKind(kind);
  if (!parsed_kind.ok()) {
    return ValueError(kCertsIssuePath, parsed_kind.status().message());
  }
  request.set_kind(*parsed_kind);
  request.set_name(*flags->Get("name"));
  if (absl::Status status = auth::ValidatePrincipalName(
          kind == "agency" ? "agency code" : "admin name", request.name());
      !status.ok()) {
    return ValueError(kCertsIssuePath, status.message());
  }
  if (std::optional<std::string> text = flags->Get("validity-days")) {
    int days = 0;
    if (!absl::SimpleAtoi(*text, &days) || days <= 0) {
      return ValueError(kCertsIssuePath,
                        absl::StrCat("--validity-days must be a positive "
                                     "number of days, not \"",
                                     *text, "\""));
    }
    request.set_validity_days(days);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsIssuePath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsIssuePath, options.status().message(), usage);

  const std::string csr_path = *flags->Get("csr");
  const std::string out_path = flags->Get("out").value_or(
      DirectoryOf(csr_path) + request.name() + ".crt");
  if (out_path.empty()) return ValueError(kCertsIssuePath, "--out must not be empty");
  // Before the call: a certificate that cannot be written should not be
  // issued at all.
  if (PathExists(out_path)) {
    return Fail(absl::AlreadyExistsError(
        absl::StrCat(out_path, " already exists; not overwritten (move it away "
                               "or choose another --out)")));
  }
  absl::StatusOr<std::string> csr = auth::ReadFileToString(csr_path);
  if (!csr.ok()) return Fail(csr.status());
  request.set_csr_pem(*std::move(csr));

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Certificate certificate;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->IssueCertificate(context.get(), request, &certificate));
  if (!status.ok()) return Fail(status);

  status = auth::WriteFileAtomically(out_path, certificate.certificate_pem(),
                                     0644, auth::IfExists::kFail);
  if (!status.ok()) {
    // Issued but not saved: do not lose it (it is public; 'certs list
    // --output json' also has it).
    std::cout << certificate.certificate_pem();
    std::cout.flush();
    return Fail(absl::Status(
        status.code(),
        absl::StrCat(status.message(), "; certificate ", certificate.serial(),
                     " was issued: its PEM is printed above")));
  }
  if (*output == Output::kJson) {
    std::cerr << "wrote " << out_path << "\n";
    return PrintJson(certificate);
  }
  std::cout << "issued certificate, written to " << out_path << "\n";
  PrintCertificateDetails(certificate);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs list

constexpr absl::string_view kCertsListPath = "enlacectl certs list";

const std::string& CertsListUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the certificates the platform knows (AdminService.ListCertificates):
those it issued, and offline ones recorded when revoked. Administrators only.

Usage: enlacectl certs list [flags]

Flags:
  --name NAME            only this agency code or admin name
  --status STATUS        only certificates that are active, revoked or expired
  --kind agency|admin    only agency or only admin certificates
)",
      kOutputHelp, kConnectionHelp, R"(
Table columns: SERIAL, SPIFFE ID, STATUS, NOT AFTER (UTC), ISSUED BY. The JSON
document is a ListCertificatesResponse with every page's certificates.

Example:
  enlacectl certs list --kind agency --status active
  export ENLACE_CA=pki/ca.crt ENLACE_CERT=pki/admin.crt ENLACE_KEY=pki/admin.key
  enlacectl certs list --status revoked --output json
)",
      kExitHelp));
  return *usage;
}

absl::StatusOr<v1::CertificateStatus> ParseCertificateStatus(
    const std::string& text) {
  if (text == "active") return v1::CERTIFICATE_STATUS_ACTIVE;
  if (text == "revoked") return v1::CERTIFICATE_STATUS_REVOKED;
  if (text == "expired") return v1::CERTIFICATE_STATUS_EXPIRED;
  return absl::InvalidArgumentError(absl::StrCat(
      "--status must be active, revoked or expired, not \"", text, "\""));
}

int RunCertsList(const Args& args) {
  const std::string& usage = CertsListUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"name", "status", "kind"}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kCertsListPath, flags.status().message(), usage);
  }
  v1::ListCertificatesRequest request;
  if (std::optional<std::string> name = flags->Get("name")) {
    request.set_name(*name);
  }
  if (std::optional<std::string> text = flags->Get("status")) {
    absl::StatusOr<v1::CertificateStatus> status = ParseCertificateStatus(*text);
    if (!status.ok()) return ValueError(kCertsListPath, status.status().message());
    request.set_status(*status);
  }
  if (std::optional<std::string> text = flags->Get("kind")) {
    absl::StatusOr<v1::CertificateKind> kind = ParseKind(*text);
    if (!kind.ok()) return ValueError(kCertsListPath, kind.status().message());
    request.set_kind(*kind);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsListPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsListPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  absl::StatusOr<v1::ListCertificatesResponse> all =
      ListAllCertificates(**stub, *options, request);
  if (!all.ok()) return Fail(all.status());
  if (*output == Output::kJson) return PrintJson(*all);
  PrintCertificateTable(*all);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs revoke

constexpr absl::string_view kCertsRevokePath = "enlacectl certs revoke";

const std::string& CertsRevokeUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(Revoke a certificate (AdminService.RevokeCertificate). Within 5 seconds
the server refuses it, on new and already-open connections. Administrators only.

SERIAL is as 'certs list' shows it (hexadecimal); the forms openssl prints
("0A:1B:...", "0x0A1B...") are accepted too. A certificate signed offline
('enlacectl pki'), which the platform has no record of, is revoked by giving its
PEM with --certificate; SERIAL may then be left out.

Usage: enlacectl certs revoke SERIAL --reason TEXT [flags]

Flags:
  --reason TEXT          why (required; recorded with the revocation)
  --certificate FILE     the certificate's PEM, for one issued offline
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs revoke 5f0c2e9a41d7b3 --reason "key lost"
  enlacectl certs revoke --certificate dev-pki/iom.crt --reason "replaced"
)",
      kExitHelp));
  return *usage;
}

// Lower-case hex without separators or leading zeros; InvalidArgument if
// `text` is not a hexadecimal serial.
absl::StatusOr<std::string> NormalizeSerial(absl::string_view text) {
  std::string serial;
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&rest, "0x")) absl::ConsumePrefix(&rest, "0X");
  for (char c : rest) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SERIAL must be hexadecimal (as 'certs list' shows it), not \"", text,
          "\""));
    }
    serial.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (serial.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SERIAL must be hexadecimal, not \"", text, "\""));
  }
  size_t first = serial.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : serial.substr(first);
}

int RunCertsRevoke(const Args& args) {
  const std::string& usage = CertsRevokeUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"reason", "certificate"}, /*output=*/true), args,
      /*max_positionals=*/1);
  if (!flags.ok()) {
    return UsageError(kCertsRevokePath, flags.status().message(), usage);
  }
  std::optional<std::string> certificate_path = flags->Get("certificate");
  if (flags->positionals().empty() && !certificate_path.has_value()) {
    return UsageError(kCertsRevokePath,
                      "SERIAL is required (or --certificate FILE)", usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"reason"}); !status.ok()) {
    return UsageError(kCertsRevokePath, status.message(), usage);
  }
  v1::RevokeCertificateRequest request;
  request.set_reason(*flags->Get("reason"));
  if (!flags->positionals().empty()) {
    absl::StatusOr<std::string> serial =
        NormalizeSerial(flags->positionals()[0]);
    if (!serial.ok()) return ValueError(kCertsRevokePath, serial.status().message());
    request.set_serial(*serial);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsRevokePath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsRevokePath, options.status().message(), usage);
  if (certificate_path.has_value()) {
    absl::StatusOr<std::string> pem = auth::ReadFileToString(*certificate_path);
    if (!pem.ok()) return Fail(pem.status());
    absl::StatusOr<std::string> serial = auth::CertificateSerialHex(*pem);
    if (!serial.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          *certificate_path, ": ", serial.status().message())));
    }
    if (!request.serial().empty() && request.serial() != *serial) {
      return ValueError(
          kCertsRevokePath,
          absl::StrCat("SERIAL ", request.serial(), " is not the serial of ",
                       *certificate_path, " (", *serial, ")"));
    }
    request.set_serial(*serial);
    request.set_certificate_pem(*std::move(pem));
  }

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Certificate certificate;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->RevokeCertificate(context.get(), request, &certificate));
  if (!status.ok()) return Fail(status);
  if (*output == Output::kJson) return PrintJson(certificate);
  std::cout << "revoked certificate " << certificate.serial() << "\n";
  PrintCertificateDetails(certificate);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs expiring

constexpr absl::string_view kCertsExpiringPath = "enlacectl certs expiring";

const std::string& CertsExpiringUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the active certificates that expire soon, to renew them in time
(AdminService.ListCertificates with expiring_within_days). Exits 0 whether or
not there are any. Administrators only.

Usage: enlacectl certs expiring [--within DAYS] [flags]

Flags:
  --within DAYS          "30d" or "30": days from now; default 30d
  --name NAME            only this agency code or admin name
  --kind agency|admin    only agency or only admin certificates
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs expiring --within 30d
)",
      kExitHelp));
  return *usage;
}

absl::StatusOr<int> ParseWithinDays(absl::string_view text) {
  absl::string_view number = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&number, "d");
  int days = 0;
  if (number.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(number[0])) ||
      !absl::SimpleAtoi(number, &days) || days <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--within must be a positive number of days (\"30d\" or \"30\"), "
        "not \"",
        text, "\""));
  }
  return days;
}

int RunCertsExpiring(const Args& args) {
  const std::string& usage = CertsExpiringUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"within", "name", "kind"}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kCertsExpiringPath, flags.status().message(), usage);
  }
  v1::ListCertificatesRequest request;
  absl::StatusOr<int> days = ParseWithinDays(flags->Get("within").value_or("30d"));
  if (!days.ok()) return ValueError(kCertsExpiringPath, days.status().message());
  request.set_expiring_within_days(*days);
  if (std::optional<std::string> name = flags->Get("name")) {
    request.set_name(*name);
  }
  if (std::optional<std::string> text = flags->Get("kind")) {
    absl::StatusOr<v1::CertificateKind> kind = ParseKind(*text);
    if (!kind.ok()) return ValueError(kCertsExpiringPath, kind.status().message());
    request.set_kind(*kind);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsExpiringPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsExpiringPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  absl::StatusOr<v1::ListCertificatesResponse> all =
      ListAllCertificates(**stub, *options, request);
  if (!all.ok()) return Fail(all.status());
  if (*output == Output::kJson) return PrintJson(*all);
  if (all->certificates().empty()) {
    std::cout << "No active certificate expires within " << *days
              << " days.\n";
    return kExitOk;
  }
  PrintCertificateTable(*all);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl agencies register

constexpr absl::string_view kAgenciesRegisterPath = "enlacectl agencies register";

const std::string& AgenciesRegisterUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(Onboard an agency (AdminService.RegisterAgency): from then on consents
may name it, and 'enlacectl certs issue --kind agency' can give it a
certificate. Administrators only.

Usage: enlacectl agencies register CODE --display-name NAME [flags]

  CODE                   the agency code, [a-z][a-z0-9_-]{0,31}; its identity
                         is spiffe://enlace/agency/CODE
Flags:
  --display-name NAME    the agency's full name
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl agencies register wfp --display-name "World Food Programme"
)",
      kExitHelp));
  return *usage;
}

void PrintAgencyTable(const v1::ListAgenciesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Agency& agency : response.agencies()) {
    rows.push_back({agency.code(), agency.display_name(),
                    FormatTimestamp(agency.created_at())});
  }
  PrintTable({"CODE", "DISPLAY NAME", "CREATED"}, rows);
}

int RunAgenciesRegister(const Args& args) {
  const std::string& usage = AgenciesRegisterUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"display-name"}, /*output=*/true), args,
      /*max_positionals=*/1);
  if (!flags.ok()) {
    return UsageError(kAgenciesRegisterPath, flags.status().message(), usage);
  }
  if (flags->positionals().empty()) {
    return UsageError(kAgenciesRegisterPath, "CODE is required", usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"display-name"});
      !status.ok()) {
    return UsageError(kAgenciesRegisterPath, status.message(), usage);
  }
  v1::RegisterAgencyRequest request;
  request.set_code(flags->positionals()[0]);
  request.set_display_name(*flags->Get("display-name"));
  if (absl::Status status =
          auth::ValidatePrincipalName("agency code", request.code());
      !status.ok()) {
    return ValueError(kAgenciesRegisterPath, status.message());
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kAgenciesRegisterPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kAgenciesRegisterPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Agency agency;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->RegisterAgency(context.get(), request, &agency));
  if (!status.ok()) return Fail(status);
  if (*output == Output::kJson) return PrintJson(agency);
  std::cout << "registered agency " << agency.code() << " ("
            << agency.display_name() << "): spiffe://enlace/agency/"
            << agency.code() << "\n";
  std::cout.flush();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl agencies list

constexpr absl::string_view kAgenciesListPath = "enlacectl agencies list";

const std::string& AgenciesListUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the registered agencies (AdminService.ListAgencies). Administrators
only.

Usage: enlacectl agencies list [flags]

Flags:
)",
      kOutputHelp, kConnectionHelp, R"(
Table columns: CODE, DISPLAY NAME, CREATED (UTC). The JSON document is a
ListAgenciesResponse with every page's agencies.

Example:
  enlacectl agencies list --output json
)",
      kExitHelp));
  return *usage;
}

int RunAgenciesList(const Args& args) {
  const std::string& usage = AgenciesListUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse(WithConnectionFlags({}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kAgenciesListPath, flags.status().message(), usage);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kAgenciesListPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kAgenciesListPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::ListAgenciesRequest request;
  request.set_page_size(500);
  v1::ListAgenciesResponse all;
  for (int pages = 0;; ++pages) {
    if (pages >= 100000) {
      return Fail(absl::InternalError("ListAgencies never ends: stopped paging"));
    }
    v1::ListAgenciesResponse page;
    std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
    absl::Status status = client::FromGrpc(
        (*stub)->ListAgencies(context.get(), request, &page));
    if (!status.ok()) return Fail(status);
    for (v1::Agency& agency : *page.mutable_agencies()) {
      *all.add_agencies() = std::move(agency);
    }
    if (page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      return Fail(absl::InternalError(
          "ListAgencies returned the same page token twice"));
    }
    request.set_page_token(page.next_page_token());
  }
  if (*output == Output::kJson) return PrintJson(all);
  PrintAgencyTable(all);
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

const std::vector<Command>& CertsCommands() {
  static const auto* commands = new std::vector<Command>{
      {"request", "offline: make a private key and a CSR to send to an admin",
       &RunCertsRequest},
      {"issue", "sign a CSR (admin): agency or admin certificate",
       &RunCertsIssue},
      {"list", "list certificates (admin)", &RunCertsList},
      {"revoke", "revoke a certificate (admin)", &RunCertsRevoke},
      {"expiring", "list active certificates expiring soon (admin)",
       &RunCertsExpiring},
  };
  return *commands;
}

int RunCerts(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl certs",
      "Certificates of agencies and administrators: requests (offline), and\n"
      "issuing, listing and revoking through the server.",
      CertsCommands(),
      "enlacectl certs request --kind agency --name wfp --out-dir ./wfp-pki"));
  return Dispatch("enlacectl certs", CertsCommands(), *usage, args);
}

const std::vector<Command>& AgenciesCommands() {
  static const auto* commands = new std::vector<Command>{
      {"register", "onboard an agency (admin)", &RunAgenciesRegister},
      {"list", "list the registered agencies (admin)", &RunAgenciesList},
  };
  return *commands;
}

int RunAgencies(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl agencies", "The agencies that take part in the platform.",
      AgenciesCommands(),
      "enlacectl agencies register wfp --display-name \"World Food "
      "Programme\""));
  return Dispatch("enlacectl agencies", AgenciesCommands(), *usage, args);
}

const std::vector<Command>& TopCommands() {
  static const auto* commands = new std::vector<Command>{
      {"pki", "the platform PKI: CA, certificates for agencies, admins, server",
       &RunPki},
      {"certs", "certificates: request (offline), issue, list, revoke, expiring",
       &RunCerts},
      {"agencies", "register and list agencies", &RunAgencies},
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
