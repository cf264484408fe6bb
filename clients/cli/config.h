// enlacectl's contexts: named connection settings (address, CA, client
// certificate and key, actor) kept in a config file, and how a command's
// connection is resolved from its flags, the environment and the selected
// context. Pure functions over text and a getenv, so that they are tested
// alone (tests/unit/enlacectl_cli_test.cc); `enlacectl context` edits the
// file.
//
// The file ($ENLACE_CONFIG, else $XDG_CONFIG_HOME/enlace/config, else
// ~/.config/enlace/config), written by enlacectl with mode 0600:
//
//   # enlacectl contexts: see `enlacectl context --help`.
//   current-context = ministry
//
//   [context "ministry"]
//   addr = enlace.example.org:7443
//   ca = /home/ana/enlace/ca.crt
//   cert = /home/ana/enlace/mfa.crt
//   key = /home/ana/enlace/mfa.key
//   actor = mre-0042
//
// Precedence, for each setting: the command-line flag, else the environment
// variable ($ENLACE_ADDR, $ENLACE_CA, $ENLACE_CERT, $ENLACE_KEY,
// $ENLACE_ACTOR), else the selected context (--context, else
// $ENLACE_CONTEXT, else current-context), else the default (the address
// localhost:7443; no actor).
#ifndef ENLACE_CLIENTS_CLI_CONFIG_H_
#define ENLACE_CLIENTS_CLI_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/connection.h"

namespace enlace::cli {

// The gRPC metadata key that carries the actor on every call.
using client::kActorMetadataKey;

struct NamedContext {
  std::string name;
  std::string addr, ca, cert, key, actor;  // empty: not set
};

struct Config {
  std::string current;  // current-context; empty: none
  std::vector<NamedContext> contexts;  // in the file's order

  const NamedContext* Find(absl::string_view name) const;
  NamedContext* Find(absl::string_view name);
};

// Reads an environment variable: nullopt when unset.
using Getenv = std::function<std::optional<std::string>(const char* name)>;

// The process's environment.
std::optional<std::string> RealGetenv(const char* name);

// Where the config file is: $ENLACE_CONFIG, else $XDG_CONFIG_HOME/enlace/
// config, else $HOME/.config/enlace/config (empty variables count as unset).
// FailedPrecondition when none of them is set.
absl::StatusOr<std::string> ConfigPath(const Getenv& getenv);

// A context name: 1 to 64 letters, digits, '.', '_', '-'.
absl::Status ValidateContextName(absl::string_view name);

// An actor (an opaque staff id sent as enlace-actor): 1 to 64 letters,
// digits, '.', '_', '-', '@'. `source` names where it came from in errors.
absl::Status ValidateActor(absl::string_view source, absl::string_view actor);

// Parses a config file's text; `path` names it in errors (InvalidArgument,
// with the line number).
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view path);

// The text of a config file (ParseConfig(SerializeConfig(c)) == c).
std::string SerializeConfig(const Config& config);

// Reads and parses the file; an empty Config when it does not exist.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// Writes the file atomically (a temporary file in the same directory,
// flushed, then renamed over it) with mode 0600, making its directory (mode
// 0700) when missing.
absl::Status SaveConfig(const std::string& path, const Config& config);

// The connection settings given on the command line (nullopt: not given).
struct ConnectionFlags {
  std::optional<std::string> addr, ca, cert, key, actor, context;
};

// Where a resolved setting came from.
enum class Source { kDefault, kFlag, kEnvironment, kContext };

struct Resolved {
  std::string value;
  Source source = Source::kDefault;
};

struct ResolvedConnection {
  std::string context;  // the selected context's name; empty: none
  Resolved addr, ca, cert, key, actor;
};

// Resolves the connection by the precedence above. Errors are usage errors
// (InvalidArgument): --context, $ENLACE_CONTEXT or current-context naming a
// context the file does not hold (the message names it), an invalid actor.
absl::StatusOr<ResolvedConnection> ResolveConnection(const ConnectionFlags& flags,
                                                     const Getenv& getenv, const Config& config,
                                                     absl::string_view config_path);

// "flag", "environment", "context", "default".
const char* SourceName(Source source);

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_CONFIG_H_
