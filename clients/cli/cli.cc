// The shared infrastructure of enlacectl (see cli.h).
#include "clients/cli/cli.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"

namespace enlace::cli {

// ---------------------------------------------------------------------------
// The command tree.

bool IsHelp(absl::string_view arg) { return arg == "--help" || arg == "-h" || arg == "help"; }

bool WantsHelp(const Args& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

int Dispatch(absl::string_view path, const std::vector<Command>& commands, absl::string_view usage,
             const Args& args) {
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

std::string GroupUsage(absl::string_view path, absl::string_view summary,
                       const std::vector<Command>& commands, absl::string_view example) {
  size_t column = 10;
  for (const Command& command : commands) {
    column = std::max(column, absl::string_view(command.name).size() + 2);
  }
  std::string usage =
      absl::StrCat(summary, "\n\nUsage: ", path, " <command> [flags]\n\nCommands:\n");
  for (const Command& command : commands) {
    const size_t width = absl::string_view(command.name).size();
    absl::StrAppend(&usage, "  ", command.name, std::string(column - width, ' '), command.summary,
                    "\n");
  }
  absl::StrAppend(&usage, "\nRun '", path,
                  " <command> --help' for a command's flags.\n\nExample:\n");
  for (absl::string_view line : absl::StrSplit(example, '\n')) {
    absl::StrAppend(&usage, "  ", line, "\n");
  }
  return usage;
}

int RunGroup(const Group& group, const Args& args) {
  const std::string usage = absl::StrCat(
      GroupUsage(group.path, group.summary, group.commands, group.example), group.epilogue);
  return Dispatch(group.path, group.commands, usage, args);
}

// ---------------------------------------------------------------------------
// Flags.

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& known, const Args& args,
                                   size_t max_positionals,
                                   const std::vector<std::string>& booleans) {
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
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args[i], "\""));
      }
      flags.positionals_.push_back(args[i]);
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args[i], "\""));
    }
    std::string name;
    std::optional<std::string> value;
    size_t eq = arg.find('=');
    if (eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
    }
    const bool is_boolean = std::find(booleans.begin(), booleans.end(), name) != booleans.end();
    if (!is_boolean && std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (is_boolean) {
      if (!value.has_value()) {
        value = "true";
      } else if (*value != "true" && *value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "flag --", name, " takes no value (or =true, =false), not \"", *value, "\""));
      }
    } else if (!value.has_value()) {
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (!flags.values_.emplace(name, *value).second) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given twice"));
    }
  }
  return flags;
}

std::optional<std::string> Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

bool Flags::GetBool(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && it->second == "true";
}

std::optional<std::vector<std::string>> Flags::GetList(const std::string& name) const {
  std::optional<std::string> value = Get(name);
  if (!value.has_value()) return std::nullopt;
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(*value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

int UsageError(absl::string_view path, absl::string_view message, absl::string_view usage) {
  std::cerr << path << ": " << message << "\n\n" << usage;
  return kExitUsage;
}

int ValueError(absl::string_view path, absl::string_view message) {
  std::cerr << path << ": " << message << "\nRun '" << path << " --help' for usage.\n";
  return kExitUsage;
}

absl::Status RequireFlags(const Flags& flags, const std::vector<const char*>& names) {
  for (const char* name : names) {
    std::optional<std::string> value = flags.Get(name);
    if (!value.has_value() || value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Connection, output, errors.

const absl::string_view kConnectionHelp =
    R"(
Connection flags (each falls back to an environment variable):
  --addr HOST:PORT       the server's TLS port; $ENLACE_ADDR, else localhost:7443
                         (HOST must be a name in the server certificate)
  --ca FILE              the platform CA certificate; $ENLACE_CA
  --cert FILE            your client certificate (it says who you are); $ENLACE_CERT
  --key FILE             its private key; $ENLACE_KEY
  --timeout DURATION     deadline of each call, e.g. 30s (the default), 2m
)";

const absl::string_view kOutputHelp =
    R"(  --output table|json    table (default) for people; json: one JSON document
                         (proto3 JSON mapping, lowerCamelCase field names)
)";

const absl::string_view kListHelp =
    R"(  --limit N              stop after N items (default: every page); the JSON
                         document then carries nextPageToken
  --page-token TOKEN     continue a listing stopped by --limit
)";

const absl::string_view kExitHelp =
    R"(
Exit status: 0 success; 1 failure, with "enlacectl: <gRPC code>: <message>" on
stderr; 2 usage error.
)";

std::string ServerUsage(absl::string_view head, absl::string_view tail, bool list) {
  return absl::StrCat(head, list ? kListHelp : "", kOutputHelp, kConnectionHelp, tail, kExitHelp);
}

std::vector<std::string> WithConnectionFlags(std::vector<std::string> flags, bool output) {
  for (const char* name : {"addr", "ca", "cert", "key", "timeout"}) {
    flags.emplace_back(name);
  }
  if (output) flags.emplace_back("output");
  return flags;
}

absl::StatusOr<std::optional<absl::Duration>> ParseTimeoutFlag(const Flags& flags) {
  std::optional<std::string> text = flags.Get("timeout");
  if (!text.has_value()) return std::optional<absl::Duration>();
  absl::Duration timeout;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(*text, &seconds)) {
    timeout = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(*text, &timeout)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: not a duration: \"", *text, "\" (e.g. 30s, 2m)"));
  }
  if (timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout must be positive and finite, not \"", *text, "\""));
  }
  return std::optional<absl::Duration>(timeout);
}

absl::StatusOr<client::ConnectionOptions> ConnectionFromFlags(const Flags& flags) {
  client::ConnectionOptions from_flags;
  std::optional<std::string> addr = flags.Get("addr");
  if (addr.has_value() && addr->empty()) {
    return absl::InvalidArgumentError("--addr must not be empty");
  }
  from_flags.address = addr.value_or("");
  from_flags.ca_path = flags.Get("ca").value_or("");
  from_flags.cert_path = flags.Get("cert").value_or("");
  from_flags.key_path = flags.Get("key").value_or("");
  absl::StatusOr<std::optional<absl::Duration>> timeout = ParseTimeoutFlag(flags);
  if (!timeout.ok()) return timeout.status();
  if (timeout->has_value()) from_flags.timeout = **timeout;
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
        Required{options.cert_path, "cert", "ENLACE_CERT", "no client certificate"},
        Required{options.key_path, "key", "ENLACE_KEY", "no client private key"}}) {
    if (required.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(required.what, ": give --", required.flag,
                                                     " FILE or set ", required.variable));
    }
  }
  return options;
}

absl::StatusOr<Output> ParseOutput(const Flags& flags) {
  std::string output = flags.Get("output").value_or("table");
  if (output == "table") return Output::kTable;
  if (output == "json") return Output::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--output must be table or json, not \"", output, "\""));
}

int Fail(const absl::Status& status) {
  std::cout.flush();
  std::cerr << "enlacectl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return kExitFailure;
}

absl::Status FromGrpc(const grpc::Status& status) { return client::FromGrpc(status); }

namespace {

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool indent) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = indent;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print JSON: ", std::string(status.message())));
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

}  // namespace

int PrintJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message, /*indent=*/true);
  if (!json.ok()) return Fail(json.status());
  std::cout << *json << "\n";
  std::cout.flush();
  return kExitOk;
}

std::string JsonLine(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message, /*indent=*/false);
  return json.ok() ? *json : "{}";
}

std::string JsonDocument(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message, /*indent=*/true);
  return json.ok() ? *json : "{}";
}

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

void PrintTable(const TableRow& header, const std::vector<TableRow>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const TableRow& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&widths](const TableRow& row) {
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

void PrintDetails(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, DisplayWidth(row.first));
  for (const auto& row : rows) {
    std::cout << "  " << row.first << std::string(width - DisplayWidth(row.first) + 2, ' ')
              << row.second << "\n";
  }
  std::cout.flush();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(timestamp.seconds()),
                          absl::UTCTimeZone());
}

std::string OrDash(absl::string_view text) { return text.empty() ? "-" : std::string(text); }

absl::StatusOr<google::protobuf::Timestamp> ParseInstant(absl::string_view flag,
                                                         absl::string_view text, absl::Time now) {
  google::protobuf::Timestamp out;
  const std::string value(absl::StripAsciiWhitespace(text));
  if (value == "now") {
    return google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now));
  }
  if (google::protobuf::util::TimeUtil::FromString(value, &out)) return out;
  absl::CivilDay day;
  if (value.size() == 10 && absl::ParseCivilTime(value, &day)) {
    return google::protobuf::util::TimeUtil::SecondsToTimestamp(
        absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone())));
  }
  absl::string_view number = value;
  absl::Duration ago;
  if (absl::ConsumeSuffix(&number, "d")) {
    int64_t days = 0;
    if (absl::SimpleAtoi(number, &days) && days >= 0 && days < 100000) {
      ago = absl::Hours(24 * days);
      return google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now - ago));
    }
  } else if (absl::ParseDuration(value, &ago) && ago >= absl::ZeroDuration() &&
             ago != absl::InfiniteDuration()) {
    return google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now - ago));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": not a time: \"", text,
                   "\" (RFC 3339 like 2026-05-01T12:00:00Z, a day 2026-05-01, or an age "
                   "like 90m, 24h, 7d)"));
}

absl::Status CheckDateFlag(absl::string_view flag, absl::string_view text) {
  absl::CivilDay day;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && absl::ParseCivilTime(text, &day) &&
      absl::FormatCivilTime(day) == text) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " must be a date YYYY-MM-DD, not \"", text, "\""));
}

absl::Status CheckDateFlags(const Flags& flags, const std::vector<const char*>& names) {
  for (const char* name : names) {
    if (std::optional<std::string> date = flags.Get(name)) {
      absl::Status status = CheckDateFlag(absl::StrCat("--", name), *date);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKindFlag(absl::string_view kind) {
  if (kind == "agency" || kind == "admin") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--kind must be agency or admin, not \"", kind, "\""));
}

absl::Status CheckKindAndName(absl::string_view kind, absl::string_view name) {
  if (absl::Status status = CheckKindFlag(kind); !status.ok()) return status;
  return auth::ValidatePrincipalName(kind == "agency" ? "agency code" : "admin name", name);
}

// ---------------------------------------------------------------------------
// Enums.

namespace {

// "IN_PROGRESS" -> "in-progress".
std::string FlagSpelling(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

}  // namespace

std::string EnumChoices(const google::protobuf::EnumDescriptor* descriptor,
                        absl::string_view prefix) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (value->number() == 0) continue;
    absl::string_view name = value->name();
    absl::ConsumePrefix(&name, prefix);
    names.push_back(FlagSpelling(name));
  }
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view prefix, absl::string_view what,
                                  absl::string_view text) {
  std::string wanted = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  std::replace(wanted.begin(), wanted.end(), '-', '_');
  absl::string_view short_name = wanted;
  absl::ConsumePrefix(&short_name, prefix);
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (value->number() == 0) continue;
    absl::string_view name = value->name();
    absl::ConsumePrefix(&name, prefix);
    if (name == short_name) return value->number();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " must be one of ", EnumChoices(descriptor, prefix), ", not \"", text, "\""));
}

std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor,
                          absl::string_view prefix, int value) {
  const google::protobuf::EnumValueDescriptor* found = descriptor->FindValueByNumber(value);
  if (found == nullptr) return absl::StrCat(value);
  absl::string_view name = found->name();
  absl::ConsumePrefix(&name, prefix);
  return std::string(name);
}

// ---------------------------------------------------------------------------
// Invocation.

Leaf WholeUsageLeaf(std::string path, std::string usage, std::vector<std::string> flags,
                    size_t max_positionals, bool offline) {
  Leaf leaf{std::move(path), std::move(usage), std::move(flags)};
  leaf.optional_positionals = max_positionals;
  leaf.whole_usage_on_error = true;
  leaf.offline = offline;
  return leaf;
}

std::optional<int> Invocation::Start(const Leaf& leaf, const Args& args) {
  if (std::optional<int> exit = ParseArgs(leaf, args)) return exit;
  return ParseSettings();
}

std::optional<int> Invocation::ParseArgs(const Leaf& leaf, const Args& args) {
  leaf_ = &leaf;
  if (WantsHelp(args)) {
    std::cout << leaf.usage;
    return kExitOk;
  }
  std::vector<std::string> known =
      leaf.offline ? leaf.flags : WithConnectionFlags(leaf.flags, /*output=*/true);
  if (leaf.list) {
    known.emplace_back("limit");
    known.emplace_back("page-token");
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse(known, args, leaf.positionals.size() + leaf.optional_positionals, leaf.booleans);
  if (!flags.ok()) return Usage(flags.status().message());
  flags_ = *std::move(flags);
  if (flags_->positionals().size() < leaf.positionals.size()) {
    return Usage(absl::StrCat(leaf.positionals[flags_->positionals().size()], " is required"));
  }
  for (size_t i = 0; i < leaf.positionals.size(); ++i) {
    if (flags_->positionals()[i].empty()) {
      return Usage(absl::StrCat(leaf.positionals[i], " must not be empty"));
    }
  }
  return std::nullopt;
}

std::optional<int> Invocation::ParseSettings() {
  absl::StatusOr<Output> output = ParseOutput(*flags_);
  if (!output.ok()) return Value(output.status().message());
  output_ = *output;
  if (leaf_->list) {
    if (std::optional<std::string> text = flags_->Get("limit")) {
      if (!absl::SimpleAtoi(*text, &limit_) || limit_ <= 0) {
        return Value(absl::StrCat("--limit must be a positive number, not \"", *text, "\""));
      }
    }
    page_token_ = flags_->Get("page-token").value_or("");
  }
  absl::StatusOr<client::ConnectionOptions> options = ConnectionFromFlags(*flags_);
  if (!options.ok()) return Usage(options.status().message());
  options_ = *std::move(options);
  return std::nullopt;
}

int Invocation::Usage(absl::string_view message) const {
  if (leaf_->whole_usage_on_error) return UsageError(leaf_->path, message, leaf_->usage);
  // The synopsis only ("Usage: ..." up to the blank line), not the whole help.
  std::string synopsis;
  size_t start = leaf_->usage.find("Usage: ");
  if (start != std::string::npos) {
    size_t end = leaf_->usage.find("\n\n", start);
    synopsis = leaf_->usage.substr(start, end == std::string::npos ? end : end - start);
  }
  std::cerr << leaf_->path << ": " << message << "\n";
  if (!synopsis.empty()) std::cerr << synopsis << "\n";
  std::cerr << "Run '" << leaf_->path << " --help' for the flags and an example.\n";
  return kExitUsage;
}

int Invocation::Value(absl::string_view message) const { return ValueError(leaf_->path, message); }

std::optional<int> Invocation::Require(const std::vector<const char*>& names) const {
  absl::Status status = RequireFlags(*flags_, names);
  if (!status.ok()) return Usage(status.message());
  return std::nullopt;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Invocation::Channel() {
  if (channel_ == nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::Connect(options_);
    if (!channel.ok()) return channel.status();
    channel_ = *std::move(channel);
  }
  return channel_;
}

std::unique_ptr<grpc::ClientContext> Invocation::Context() const {
  return client::NewContext(options_);
}

void PrintMoreHint(absl::string_view path, const std::string& next_page_token) {
  if (next_page_token.empty()) return;
  std::cout.flush();
  std::cerr << "(stopped at --limit; for more: " << path << " ... --page-token " << next_page_token
            << ")\n";
}

}  // namespace enlace::cli
