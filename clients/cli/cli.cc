// The shared infrastructure of enlacectl (see cli.h).
#include "clients/cli/cli.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "clients/cli/config.h"
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

namespace {

// The describing mode of DescribeCommands(): set while it walks the tree.
struct Describer {
  std::vector<CommandInfo> commands;
  std::optional<CommandInfo> leaf;  // recorded by the last Invocation::ParseArgs
};
Describer* g_describer = nullptr;

// The output format chosen by ParseOutput(), for PrintJson().
Output g_output = Output::kJson;

// The global flags and their short forms.
const std::map<std::string, std::string>& ShortFlags() {
  static const auto* shorts = new std::map<std::string, std::string>{{"o", "output"}};
  return *shorts;
}

bool IsGlobalValueFlag(absl::string_view name) {
  const std::vector<std::string>& globals = GlobalValueFlags();
  return std::find(globals.begin(), globals.end(), name) != globals.end();
}

// When args[i] is a global flag, how many arguments it spans (1 or 2, with
// its value); 0 otherwise.
size_t GlobalFlagAt(const Args& args, size_t i) {
  absl::string_view arg = args[i];
  std::string name;
  bool has_value = false;
  if (absl::ConsumePrefix(&arg, "--")) {
    const size_t eq = arg.find('=');
    has_value = eq != absl::string_view::npos;
    name = std::string(arg.substr(0, eq));
  } else if (absl::ConsumePrefix(&arg, "-") && !arg.empty()) {
    auto it = ShortFlags().find(std::string(arg.substr(0, 1)));
    if (it == ShortFlags().end()) return 0;
    name = it->second;
    has_value = arg.size() > 1;
  } else {
    return 0;
  }
  if (!IsGlobalValueFlag(name)) return 0;
  if (has_value) return 1;
  return i + 1 < args.size() ? 2 : 0;
}

}  // namespace

const std::vector<std::string>& GlobalValueFlags() {
  static const auto* flags = new std::vector<std::string>{"output", "context", "addr",    "ca",
                                                          "cert",   "key",     "timeout", "actor"};
  return *flags;
}

int Dispatch(absl::string_view path, const std::vector<Command>& commands, absl::string_view usage,
             const Args& args) {
  if (g_describer != nullptr) {
    CommandInfo group;
    group.path = std::string(path);
    group.usage = std::string(usage);
    group.group = true;
    for (const Command& command : commands) group.children.push_back(command.name);
    g_describer->commands.push_back(std::move(group));  // its parent sets the summary
    for (const Command& command : commands) {
      const std::string child = absl::StrCat(path, " ", command.name);
      g_describer->leaf.reset();
      const size_t before = g_describer->commands.size();
      std::ostringstream captured;
      std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
      command.run({"--help"});
      std::cout.rdbuf(saved);
      if (g_describer->commands.size() > before && g_describer->commands[before].path == child) {
        g_describer->commands[before].summary = Tr(command.summary);
        continue;  // a group: it described itself
      }
      CommandInfo leaf = g_describer->leaf.value_or(CommandInfo());
      leaf.path = child;
      leaf.summary = Tr(command.summary);
      leaf.usage = captured.str();
      g_describer->commands.push_back(std::move(leaf));
    }
    return kExitOk;
  }
  // Global flags before the command's name go on to the command, first.
  Args globals;
  size_t at = 0;
  while (at < args.size()) {
    const size_t span = GlobalFlagAt(args, at);
    if (span == 0) break;
    for (size_t k = at; k < at + span; ++k) globals.push_back(args[k]);
    at += span;
  }
  if (at >= args.size()) {
    std::cerr << usage;
    return kExitUsage;
  }
  if (IsHelp(args[at])) {
    std::cout << usage;
    return kExitOk;
  }
  for (const Command& command : commands) {
    if (args[at] == command.name) {
      Args rest = globals;
      for (size_t k = at + 1; k < args.size(); ++k) rest.push_back(args[k]);
      return command.run(rest);
    }
  }
  std::cerr << TrFormat("$0: unknown command \"$1\"", path, args[at]) << "\n\n" << usage;
  return kExitUsage;
}

std::vector<CommandInfo> DescribeCommands() {
  Describer describer;
  Describer* saved = g_describer;
  g_describer = &describer;
  RunEnlacectl({"--help"});
  g_describer = saved;
  return std::move(describer.commands);
}

std::string GroupUsage(absl::string_view path, absl::string_view summary,
                       const std::vector<Command>& commands, absl::string_view example) {
  size_t column = 10;
  for (const Command& command : commands) {
    column = std::max(column, absl::string_view(command.name).size() + 2);
  }
  std::string usage = absl::StrCat(Tr(summary), "\n\n", Tr("Usage:"), " ", path,
                                   Tr(" <command> [flags]"), "\n\n", Tr("Commands:"), "\n");
  for (const Command& command : commands) {
    const size_t width = absl::string_view(command.name).size();
    absl::StrAppend(&usage, "  ", command.name, std::string(column - width, ' '),
                    Tr(command.summary), "\n");
  }
  absl::StrAppend(&usage, "\n", TrFormat("Run '$0 <command> --help' for a command's flags.", path),
                  "\n\n", Tr("Example:"), "\n");
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
        return absl::InvalidArgumentError(TrFormat("unexpected argument \"$0\"", args[i]));
      }
      flags.positionals_.push_back(args[i]);
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (!absl::StartsWith(arg, "--") && arg.size() >= 2 &&
        ShortFlags().count(std::string(1, arg[1]))) {
      // -o VALUE, -oVALUE, -o=VALUE
      name = ShortFlags().at(std::string(1, arg[1]));
      absl::string_view rest = arg.substr(2);
      absl::ConsumePrefix(&rest, "=");
      if (arg.size() > 2) value = std::string(rest);
    } else {
      if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
        return absl::InvalidArgumentError(TrFormat("unexpected argument \"$0\"", args[i]));
      }
      size_t eq = arg.find('=');
      if (eq != absl::string_view::npos) {
        name = std::string(arg.substr(0, eq));
        value = std::string(arg.substr(eq + 1));
      } else {
        name = std::string(arg);
      }
    }
    const bool is_boolean = std::find(booleans.begin(), booleans.end(), name) != booleans.end();
    if (!is_boolean && std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(TrFormat("unknown flag --$0", name));
    }
    if (is_boolean) {
      if (!value.has_value()) {
        value = "true";
      } else if (*value != "true" && *value != "false") {
        return absl::InvalidArgumentError(
            TrFormat("flag --$0 takes no value (or =true, =false), not \"$1\"", name, *value));
      }
    } else if (!value.has_value()) {
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(TrFormat("flag --$0 needs a value", name));
      }
      value = args[++i];
    }
    if (!flags.values_.emplace(name, *value).second) {
      return absl::InvalidArgumentError(TrFormat("flag --$0 given twice", name));
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
  std::cerr << path << ": " << message << "\n"
            << TrFormat("Run '$0 --help' for usage.", path) << "\n";
  return kExitUsage;
}

absl::Status RequireFlags(const Flags& flags, const std::vector<const char*>& names) {
  for (const char* name : names) {
    std::optional<std::string> value = flags.Get(name);
    if (!value.has_value() || value->empty()) {
      return absl::InvalidArgumentError(TrFormat("--$0 is required", name));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Connection, output, errors.

std::string ConnectionHelp() {
  return Tr(R"(
Connection flags (each falls back to an environment variable, then to the
selected context: see 'enlacectl context --help'):
  --addr HOST:PORT       the server's TLS port; $ENLACE_ADDR, else localhost:7443
                         (HOST must be a name in the server certificate)
  --ca FILE              the platform CA certificate; $ENLACE_CA
  --cert FILE            your client certificate (it says who you are); $ENLACE_CERT
  --key FILE             its private key; $ENLACE_KEY
  --timeout DURATION     deadline of each call, e.g. 30s (the default), 2m
  --context NAME         the context to use; $ENLACE_CONTEXT, else the current one
  --actor ID             your staff id, sent with every call; $ENLACE_ACTOR
)");
}

std::string OutputHelp() {
  return Tr(R"(  -o, --output FORMAT    table (default) for people; json: one JSON document
                         (proto3 JSON mapping, lowerCamelCase field names);
                         yaml: the same document as YAML; csv: a header row
                         and one row per item (a single record: one row)
)");
}

std::string ListHelp() {
  return Tr(R"(  --limit N              stop after N items (default: every page); the JSON
                         document then carries nextPageToken
  --page-token TOKEN     continue a listing stopped by --limit
)");
}

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kUnauthenticated: return kExitUnauthenticated;
    case absl::StatusCode::kPermissionDenied: return kExitPermissionDenied;
    case absl::StatusCode::kNotFound: return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded: return kExitUnavailable;
    default: return kExitFailure;
  }
}

std::string ExitStatusHelp() {
  std::string help = absl::StrCat(Tr("Exit status:"), "\n");
  for (const ExitCodeInfo& exit : kExitCodes) {
    absl::StrAppend(&help, "  ", exit.code, "  ", Tr(exit.meaning), "\n");
  }
  absl::StrAppend(&help, Tr("Failures print \"enlacectl: <gRPC code>: <message>\" on stderr."),
                  "\n");
  return help;
}

std::string ExitHelp() { return absl::StrCat("\n", ExitStatusHelp()); }

std::string ServerUsage(absl::string_view head, absl::string_view tail, bool list) {
  return absl::StrCat(Tr(head), list ? ListHelp() : "", OutputHelp(), ConnectionHelp(), Tr(tail),
                      ExitHelp());
}

std::vector<std::string> WithConnectionFlags(std::vector<std::string> flags, bool output) {
  for (const char* name : {"addr", "ca", "cert", "key", "timeout", "context", "actor"}) {
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
        TrFormat("--timeout: not a duration: \"$0\" (e.g. 30s, 2m)", *text));
  }
  if (timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        TrFormat("--timeout must be positive and finite, not \"$0\"", *text));
  }
  return std::optional<absl::Duration>(timeout);
}

absl::StatusOr<client::ConnectionOptions> ConnectionFromFlags(const Flags& flags) {
  ConnectionFlags given;
  given.addr = flags.Get("addr");
  given.ca = flags.Get("ca");
  given.cert = flags.Get("cert");
  given.key = flags.Get("key");
  given.actor = flags.Get("actor");
  given.context = flags.Get("context");
  absl::StatusOr<std::string> path = ConfigPath(RealGetenv);
  Config config;
  if (path.ok()) {
    absl::StatusOr<Config> loaded = LoadConfig(*path);
    if (!loaded.ok()) return absl::InvalidArgumentError(loaded.status().message());
    config = *std::move(loaded);
  }
  absl::StatusOr<ResolvedConnection> resolved =
      ResolveConnection(given, RealGetenv, config, path.ok() ? *path : "");
  if (!resolved.ok()) return resolved.status();
  client::ConnectionOptions options;
  options.address = resolved->addr.value;
  options.ca_path = resolved->ca.value;
  options.cert_path = resolved->cert.value;
  options.key_path = resolved->key.value;
  absl::StatusOr<std::optional<absl::Duration>> timeout = ParseTimeoutFlag(flags);
  if (!timeout.ok()) return timeout.status();
  if (timeout->has_value()) options.timeout = **timeout;
  // Connect() names it in every call the channel makes (an interceptor).
  options.actor = resolved->actor.value;
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
      return absl::InvalidArgumentError(
          TrFormat("$0: give --$1 FILE, set $2, or use a context (enlacectl context add)",
                   Tr(required.what), required.flag, required.variable));
    }
  }
  return options;
}

absl::StatusOr<Output> ParseOutput(const Flags& flags) {
  std::string output = flags.Get("output").value_or("table");
  const std::map<std::string, Output> kFormats = {{"table", Output::kTable},
                                                  {"json", Output::kJson},
                                                  {"yaml", Output::kYaml},
                                                  {"csv", Output::kCsv}};
  auto it = kFormats.find(output);
  if (it == kFormats.end()) {
    return absl::InvalidArgumentError(
        TrFormat("--output must be table, json, yaml or csv, not \"$0\"", output));
  }
  g_output = it->second;
  return it->second;
}

int Fail(const absl::Status& status) {
  std::cout.flush();
  std::cerr << "enlacectl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return ExitCodeFor(status.code());
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

// The CSV columns of `message`'s records, as far as its type tells: a list
// response's items (a default item, primitive fields included), else none.
std::vector<std::string> KnownColumns(const google::protobuf::Message& message) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  const google::protobuf::FieldDescriptor* items = nullptr;
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = type->field(i);
    if (field->is_repeated()) {
      if (items != nullptr || field->is_map() ||
          field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        return {};
      }
      items = field;
    } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      return {};
    }
  }
  if (items == nullptr ||
      (type->FindFieldByName("next_page_token") == nullptr && type->field_count() > 1)) {
    return {};
  }
  const google::protobuf::Message* prototype =
      message.GetReflection()->GetMessageFactory()->GetPrototype(items->message_type());
  absl::StatusOr<std::string> json = ToJson(*prototype, /*indent=*/false);
  if (!json.ok()) return {};
  absl::StatusOr<JsonValue> parsed = ParseJson(*json);
  if (!parsed.ok()) return {};
  std::vector<std::string> columns;
  for (const auto& record : CsvRecords(*parsed)) {
    for (const auto& [column, value] : record) columns.push_back(column);
  }
  return columns;
}

int PrintJsonText(const std::string& json, const std::vector<std::string>& columns) {
  absl::StatusOr<std::string> text = RenderJson(json, g_output, columns);
  if (!text.ok()) return Fail(text.status());
  std::cout << *text;
  std::cout.flush();
  return kExitOk;
}

}  // namespace

int PrintJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message, /*indent=*/true);
  if (!json.ok()) return Fail(json.status());
  return PrintJsonText(
      *json, g_output == Output::kCsv ? KnownColumns(message) : std::vector<std::string>());
}

int PrintJsonText(const std::string& json) { return PrintJsonText(json, {}); }

std::string StreamRecord(const google::protobuf::Message& message) {
  if (g_output == Output::kYaml) {
    absl::StatusOr<JsonValue> parsed = ParseJson(JsonLine(message));
    return parsed.ok() ? absl::StrCat("---\n", ToYaml(*parsed)) : "---\n{}\n";
  }
  if (g_output == Output::kCsv) {
    static CsvStream* stream = new CsvStream();
    absl::StatusOr<std::string> row = stream->Next(JsonLine(message));
    return row.ok() ? *row : "";
  }
  return absl::StrCat(JsonLine(message), "\n");
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

std::string FormatUsd(int64_t cents) {
  std::string whole = absl::StrCat(cents / 100);
  for (int at = static_cast<int>(whole.size()) - 3; at > 0; at -= 3) whole.insert(at, ",");
  const int64_t rest = cents % 100;
  return absl::StrCat("US$ ", whole, ".", rest < 10 ? "0" : "", rest);
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
      TrFormat("$0: not a time: \"$1\" (RFC 3339 like 2026-05-01T12:00:00Z, a day 2026-05-01, "
               "or an age like 90m, 24h, 7d)",
               flag, text));
}

absl::Status CheckDateFlag(absl::string_view flag, absl::string_view text) {
  absl::CivilDay day;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && absl::ParseCivilTime(text, &day) &&
      absl::FormatCivilTime(day) == text) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      TrFormat("$0 must be a date YYYY-MM-DD, not \"$1\"", flag, text));
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
  return absl::InvalidArgumentError(TrFormat("--kind must be agency or admin, not \"$0\"", kind));
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
  return absl::InvalidArgumentError(
      TrFormat("$0 must be one of $1, not \"$2\"", what, EnumChoices(descriptor, prefix), text));
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
  if (g_describer != nullptr) {
    CommandInfo info;
    info.flags = leaf.offline ? leaf.flags : WithConnectionFlags(leaf.flags, /*output=*/true);
    if (leaf.list) {
      info.flags.emplace_back("limit");
      info.flags.emplace_back("page-token");
    }
    info.booleans = leaf.booleans;
    g_describer->leaf = std::move(info);
  }
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
    return Usage(TrFormat("$0 is required", leaf.positionals[flags_->positionals().size()]));
  }
  for (size_t i = 0; i < leaf.positionals.size(); ++i) {
    if (flags_->positionals()[i].empty()) {
      return Usage(TrFormat("$0 must not be empty", leaf.positionals[i]));
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
        return Value(TrFormat("--limit must be a positive number, not \"$0\"", *text));
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
  size_t start = leaf_->usage.find(absl::StrCat(Tr("Usage:"), " "));
  if (start == std::string::npos) start = leaf_->usage.find("Usage: ");
  if (start != std::string::npos) {
    size_t end = leaf_->usage.find("\n\n", start);
    synopsis = leaf_->usage.substr(start, end == std::string::npos ? end : end - start);
  }
  std::cerr << leaf_->path << ": " << message << "\n";
  if (!synopsis.empty()) std::cerr << synopsis << "\n";
  std::cerr << TrFormat("Run '$0 --help' for the flags and an example.", leaf_->path) << "\n";
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
  std::cerr << TrFormat("(stopped at --limit; for more: $0 ... --page-token $1)", path,
                        next_page_token)
            << "\n";
}

}  // namespace enlace::cli
