// enlacectl context: named connection settings kept in the config file
// (clients/cli/config.h): add, use, list, show, remove. Offline: nothing here
// calls the server.
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "clients/cli/config.h"
#include "clients/cli/i18n.h"

namespace enlace::cli {
namespace {

constexpr char kContextSummary[] =
    "Contexts: named connection settings (server address, CA, your certificate\n"
    "and key, your staff id) kept in a config file, so that commands need no\n"
    "--addr/--ca/--cert/--key. The file is $ENLACE_CONFIG, else\n"
    "$XDG_CONFIG_HOME/enlace/config, else ~/.config/enlace/config (mode 0600).\n"
    "Each setting comes from its flag, else its environment variable\n"
    "($ENLACE_ADDR, ...), else the context chosen by --context, else\n"
    "$ENLACE_CONTEXT, else the current one ('context use').";

// The config file's path and contents; errors printed (returns the exit).
struct Loaded {
  std::string path;
  Config config;
};

std::optional<int> Load(Loaded* out) {
  absl::StatusOr<std::string> path = ConfigPath(RealGetenv);
  if (!path.ok()) return Fail(path.status());
  absl::StatusOr<Config> config = LoadConfig(*path);
  if (!config.ok()) return Fail(config.status());
  out->path = *path;
  out->config = *std::move(config);
  return std::nullopt;
}

int Save(const Loaded& loaded) {
  absl::Status status = SaveConfig(loaded.path, loaded.config);
  if (!status.ok()) return Fail(status);
  return kExitOk;
}

int UnknownContext(const Invocation& call, const std::string& name, const std::string& path) {
  return call.Usage(
      TrFormat("unknown context \"$0\" (contexts are in $1: see enlacectl context "
               "list)",
               name, path));
}

// ---------------------------------------------------------------------------
// enlacectl context add

int RunContextAdd(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl context add",
           Tr(R"(Add a context: a name for a server and the files to reach it with. Relative
paths are stored absolute; each file must exist. The first context added
becomes the current one.

Usage: enlacectl context add NAME --addr HOST:PORT --ca FILE --cert FILE --key FILE [flags]

Flags:
  --addr HOST:PORT       the server's TLS port
  --ca FILE              the platform CA certificate
  --cert FILE            your client certificate
  --key FILE             its private key
  --actor ID             your staff id, sent as enlace-actor with every call
                         (letters, digits, '.', '_', '-', '@'; at most 64)
  --replace              replace a context of the same name

Example:
  enlacectl context add ministry --addr enlace.example.org:7443 --ca pki/ca.crt --cert pki/mfa.crt --key pki/mfa.key --actor mre-0042
)"),
           {"addr", "ca", "cert", "key", "actor"},
           {"NAME"}};
    l.booleans = {"replace"};
    l.offline = true;
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"addr", "ca", "cert", "key"})) return *exit;
  const std::string name = call.positional(0);
  if (absl::Status s = ValidateContextName(name); !s.ok()) return call.Value(s.message());
  NamedContext context;
  context.name = name;
  context.addr = *call.flags().Get("addr");
  if (std::optional<std::string> actor = call.flags().Get("actor")) {
    if (absl::Status s = ValidateActor("--actor", *actor); !s.ok()) return call.Value(s.message());
    context.actor = *actor;
  }
  for (auto [flag, field] : {std::pair<const char*, std::string*>{"ca", &context.ca},
                             {"cert", &context.cert},
                             {"key", &context.key}}) {
    const std::string given = *call.flags().Get(flag);
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(given, error).lexically_normal();
    if (error || !std::filesystem::is_regular_file(absolute, error)) {
      return call.Value(TrFormat("--$0: no such file: $1", flag, given));
    }
    *field = absolute.string();
  }
  Loaded loaded;
  if (std::optional<int> exit = Load(&loaded)) return *exit;
  if (NamedContext* existing = loaded.config.Find(name)) {
    if (!call.flags().GetBool("replace")) {
      return Fail(absl::AlreadyExistsError(TrFormat(
          "context \"$0\" already exists in $1 (--replace to replace it)", name, loaded.path)));
    }
    *existing = context;
  } else {
    loaded.config.contexts.push_back(context);
  }
  const bool made_current = loaded.config.current.empty();
  if (made_current) loaded.config.current = name;
  if (int exit = Save(loaded); exit != kExitOk) return exit;
  std::cout << TrFormat("added context \"$0\" to $1", name, loaded.path) << "\n";
  if (made_current) std::cout << TrFormat("current context: $0", name) << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl context use

int RunContextUse(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl context use",
           Tr(R"(Make a context the current one: commands use it unless --context or
$ENLACE_CONTEXT name another.

Usage: enlacectl context use NAME

Example:
  enlacectl context use ministry
)"),
           {},
           {"NAME"}};
    l.offline = true;
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  Loaded loaded;
  if (std::optional<int> exit = Load(&loaded)) return *exit;
  const std::string name = call.positional(0);
  if (loaded.config.Find(name) == nullptr) return UnknownContext(call, name, loaded.path);
  loaded.config.current = name;
  if (int exit = Save(loaded); exit != kExitOk) return exit;
  std::cout << TrFormat("current context: $0", name) << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl context list

int RunContextList(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl context list",
           Tr(R"(List the contexts; "*" marks the current one.

Usage: enlacectl context list [--names] [-o table|json|yaml|csv]

Flags:
  --names                only the names, one a line (for scripts, completion)
  -o, --output FORMAT    table (default), json, yaml or csv

Example:
  enlacectl context list
)"),
           {"output"}};
    l.booleans = {"names"};
    l.offline = true;
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  absl::StatusOr<Output> output = ParseOutput(call.flags());
  if (!output.ok()) return call.Value(output.status().message());
  Loaded loaded;
  if (std::optional<int> exit = Load(&loaded)) return *exit;
  const Config& config = loaded.config;
  if (call.flags().GetBool("names")) {
    for (const NamedContext& c : config.contexts) std::cout << c.name << "\n";
    return kExitOk;
  }
  if (*output != Output::kTable) {
    std::vector<std::string> items;
    for (const NamedContext& c : config.contexts) {
      items.push_back(absl::StrCat("{\"name\": ", JsonQuote(c.name),
                                   ", \"current\": ", c.name == config.current ? "true" : "false",
                                   ", \"addr\": ", JsonQuote(c.addr), ", \"ca\": ", JsonQuote(c.ca),
                                   ", \"cert\": ", JsonQuote(c.cert), ", \"key\": ",
                                   JsonQuote(c.key), ", \"actor\": ", JsonQuote(c.actor), "}"));
    }
    return PrintJsonText(absl::StrCat("{\"contexts\": [", absl::StrJoin(items, ", "), "]}"));
  }
  std::vector<TableRow> rows;
  for (const NamedContext& c : config.contexts) {
    rows.push_back({c.name == config.current ? "*" : "", c.name, c.addr, OrDash(c.actor)});
  }
  PrintTable({Tr("CURRENT"), Tr("NAME"), Tr("ADDRESS"), Tr("ACTOR")}, rows);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl context show

int RunContextShow(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl context show",
           Tr(R"(Show the connection a command would use here, and where each setting comes
from (flag, environment, context, default): the selected context is
--context, else $ENLACE_CONTEXT, else the current one. Takes the connection
flags, to see what they change.

Usage: enlacectl context show [connection flags]

Example:
  enlacectl context show
  enlacectl --context agency-test context show
)"),
           WithConnectionFlags({}, /*output=*/false)};
    l.offline = true;
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  Loaded loaded;
  if (std::optional<int> exit = Load(&loaded)) return *exit;
  const Flags& flags = call.flags();
  ConnectionFlags given{flags.Get("addr"), flags.Get("ca"),    flags.Get("cert"),
                        flags.Get("key"),  flags.Get("actor"), flags.Get("context")};
  absl::StatusOr<ResolvedConnection> resolved =
      ResolveConnection(given, RealGetenv, loaded.config, loaded.path);
  if (!resolved.ok()) return call.Usage(resolved.status().message());
  auto line = [](const Resolved& setting) {
    if (setting.source == Source::kDefault && setting.value.empty()) return std::string("-");
    return absl::StrCat(setting.value, "  (", Tr(SourceName(setting.source)), ")");
  };
  PrintDetails({
      {Tr("config file"), loaded.path},
      {Tr("context"), OrDash(resolved->context)},
      {"addr", line(resolved->addr)},
      {"ca", line(resolved->ca)},
      {"cert", line(resolved->cert)},
      {"key", line(resolved->key)},
      {"actor", line(resolved->actor)},
  });
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl context remove

int RunContextRemove(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl context remove",
           Tr(R"(Remove a context (its files are left alone). When it was the current one,
no context is current afterwards.

Usage: enlacectl context remove NAME

Example:
  enlacectl context remove agency-test
)"),
           {},
           {"NAME"}};
    l.offline = true;
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  Loaded loaded;
  if (std::optional<int> exit = Load(&loaded)) return *exit;
  const std::string name = call.positional(0);
  std::vector<NamedContext>& contexts = loaded.config.contexts;
  auto it = std::find_if(contexts.begin(), contexts.end(),
                         [&name](const NamedContext& c) { return c.name == name; });
  if (it == contexts.end()) return UnknownContext(call, name, loaded.path);
  contexts.erase(it);
  if (loaded.config.current == name) loaded.config.current.clear();
  if (int exit = Save(loaded); exit != kExitOk) return exit;
  std::cout << TrFormat("removed context \"$0\"", name) << "\n";
  return kExitOk;
}

}  // namespace

int RunContext(const Args& args) {
  static const auto* group =
      new Group{"enlacectl context",
                kContextSummary,
                {
                    {"add", "add a context (or replace one with --replace)", &RunContextAdd},
                    {"use", "make a context the current one", &RunContextUse},
                    {"list", "list the contexts; * marks the current one", &RunContextList},
                    {"show", "the connection a command would use, and where from", &RunContextShow},
                    {"remove", "remove a context", &RunContextRemove},
                },
                "enlacectl context add ministry --addr enlace.example.org:7443 \\\n"
                "    --ca pki/ca.crt --cert pki/mfa.crt --key pki/mfa.key --actor mre-0042\n"
                "enlacectl context use ministry\n"
                "enlacectl --context agency-test cases list"};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
