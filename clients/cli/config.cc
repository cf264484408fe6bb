// enlacectl's contexts and connection resolution (see config.h).
#include "clients/cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/identity.h"
#include "clients/cli/i18n.h"
#include "clients/connection.h"

namespace enlace::cli {
namespace {

bool AllowedIn(absl::string_view text, absl::string_view extra) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        extra.find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> NonEmpty(const Getenv& getenv, const char* name) {
  std::optional<std::string> value = getenv(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

absl::Status SystemError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

const NamedContext* Config::Find(absl::string_view name) const {
  for (const NamedContext& context : contexts) {
    if (context.name == name) return &context;
  }
  return nullptr;
}

NamedContext* Config::Find(absl::string_view name) {
  for (NamedContext& context : contexts) {
    if (context.name == name) return &context;
  }
  return nullptr;
}

std::optional<std::string> RealGetenv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> ConfigPath(const Getenv& getenv) {
  if (std::optional<std::string> path = NonEmpty(getenv, "ENLACE_CONFIG")) return *path;
  if (std::optional<std::string> xdg = NonEmpty(getenv, "XDG_CONFIG_HOME")) {
    return absl::StrCat(*xdg, "/enlace/config");
  }
  if (std::optional<std::string> home = NonEmpty(getenv, "HOME")) {
    return absl::StrCat(*home, "/.config/enlace/config");
  }
  return absl::FailedPreconditionError(
      Tr("no config file: set $ENLACE_CONFIG, $XDG_CONFIG_HOME or $HOME"));
}

absl::Status ValidateContextName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !AllowedIn(name, "._-")) {
    return absl::InvalidArgumentError(
        TrFormat("invalid context name \"$0\": 1 to 64 letters, digits, '.', '_' or '-'", name));
  }
  return absl::OkStatus();
}

absl::Status ValidateActor(absl::string_view source, absl::string_view actor) {
  if (!auth::IsValidActor(actor)) {
    return absl::InvalidArgumentError(
        TrFormat("$0: invalid actor \"$1\": 1 to 64 letters, digits, '.', '_', ':' or '-' (an "
                 "opaque staff identifier: no name, no e-mail address)",
                 source, actor));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view path) {
  Config config;
  NamedContext* section = nullptr;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", why));
    };
    if (line[0] == '[') {
      absl::string_view name = line;
      if (!absl::ConsumePrefix(&name, "[context \"") || !absl::ConsumeSuffix(&name, "\"]")) {
        return bad(Tr("expected [context \"NAME\"]"));
      }
      if (absl::Status s = ValidateContextName(name); !s.ok()) return bad(s.message());
      if (config.Find(name) != nullptr) {
        return bad(TrFormat("context \"$0\" defined twice", name));
      }
      config.contexts.emplace_back();
      config.contexts.back().name = std::string(name);
      section = &config.contexts.back();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return bad(Tr("expected KEY = VALUE"));
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (section == nullptr) {
      if (key != "current-context") return bad(TrFormat("unknown setting \"$0\"", key));
      config.current = value;
      continue;
    }
    std::string* field = key == "addr"    ? &section->addr
                         : key == "ca"    ? &section->ca
                         : key == "cert"  ? &section->cert
                         : key == "key"   ? &section->key
                         : key == "actor" ? &section->actor
                                          : nullptr;
    if (field == nullptr) return bad(TrFormat("unknown setting \"$0\"", key));
    *field = value;
  }
  return config;
}

std::string SerializeConfig(const Config& config) {
  std::string text =
      "# enlacectl contexts: written by `enlacectl context`; see `enlacectl context --help`.\n";
  if (!config.current.empty()) absl::StrAppend(&text, "current-context = ", config.current, "\n");
  for (const NamedContext& context : config.contexts) {
    absl::StrAppend(&text, "\n[context \"", context.name, "\"]\n");
    for (const auto& [key, value] :
         {std::pair<const char*, const std::string&>{"addr", context.addr},
          {"ca", context.ca},
          {"cert", context.cert},
          {"key", context.key},
          {"actor", context.actor}}) {
      if (!value.empty()) absl::StrAppend(&text, key, " = ", value, "\n");
    }
  }
  return text;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Config();
    return SystemError(Tr("cannot read"), path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

absl::Status SaveConfig(const std::string& path, const Config& config) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    // Each missing directory, e.g. ~/.config and then ~/.config/enlace.
    for (size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
      const std::string prefix = at == std::string::npos ? dir : dir.substr(0, at);
      struct stat info;
      if (stat(prefix.c_str(), &info) != 0 && mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
        return SystemError(Tr("cannot create"), prefix);
      }
      if (at == std::string::npos) break;
    }
  }
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError(Tr("cannot create"), temporary);
  const std::string text = SerializeConfig(config);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status status = SystemError(Tr("cannot write"), temporary);
      close(fd);
      unlink(temporary.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  // 0600 even when an older temporary file (or the umask) said otherwise.
  if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
    absl::Status status = SystemError(Tr("cannot write"), temporary);
    close(fd);
    unlink(temporary.c_str());
    return status;
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    absl::Status status = SystemError(Tr("cannot write"), path);
    unlink(temporary.c_str());
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedConnection> ResolveConnection(const ConnectionFlags& flags,
                                                     const Getenv& getenv, const Config& config,
                                                     absl::string_view config_path) {
  ResolvedConnection out;
  // The context: --context, else $ENLACE_CONTEXT, else current-context.
  std::string name;
  std::string named_by;
  if (flags.context.has_value()) {
    name = *flags.context;
    named_by = "--context";
    if (name.empty()) return absl::InvalidArgumentError(Tr("--context must not be empty"));
  } else if (std::optional<std::string> env = NonEmpty(getenv, "ENLACE_CONTEXT")) {
    name = *env;
    named_by = "$ENLACE_CONTEXT";
  } else if (!config.current.empty()) {
    name = config.current;
    named_by = "current-context";
  }
  const NamedContext* context = nullptr;
  if (!name.empty()) {
    context = config.Find(name);
    if (context == nullptr) {
      return absl::InvalidArgumentError(
          TrFormat("unknown context \"$0\" ($1; contexts are in $2: see enlacectl context list)",
                   name, named_by, config_path));
    }
    out.context = name;
  }
  struct Setting {
    Resolved* out;
    const std::optional<std::string>& flag;
    const char* variable;
    std::string NamedContext::*field;
  };
  for (const Setting& s :
       {Setting{&out.addr, flags.addr, "ENLACE_ADDR", &NamedContext::addr},
        Setting{&out.ca, flags.ca, "ENLACE_CA", &NamedContext::ca},
        Setting{&out.cert, flags.cert, "ENLACE_CERT", &NamedContext::cert},
        Setting{&out.key, flags.key, "ENLACE_KEY", &NamedContext::key},
        Setting{&out.actor, flags.actor, "ENLACE_ACTOR", &NamedContext::actor}}) {
    if (s.flag.has_value()) {
      *s.out = {*s.flag, Source::kFlag};
    } else if (std::optional<std::string> env = NonEmpty(getenv, s.variable)) {
      *s.out = {*env, Source::kEnvironment};
    } else if (context != nullptr && !(context->*s.field).empty()) {
      *s.out = {context->*s.field, Source::kContext};
    }
  }
  if (out.addr.source == Source::kDefault) out.addr.value = std::string(client::kDefaultAddress);
  if (flags.addr.has_value() && flags.addr->empty()) {
    return absl::InvalidArgumentError(Tr("--addr must not be empty"));
  }
  if (out.actor.source != Source::kDefault) {
    const char* source = out.actor.source == Source::kFlag          ? "--actor"
                         : out.actor.source == Source::kEnvironment ? "$ENLACE_ACTOR"
                                                                    : "the context's actor";
    if (absl::Status s = ValidateActor(source, out.actor.value); !s.ok()) return s;
  }
  return out;
}

const char* SourceName(Source source) {
  switch (source) {
    case Source::kFlag: return "flag";
    case Source::kEnvironment: return "environment";
    case Source::kContext: return "context";
    case Source::kDefault: return "default";
  }
  return "default";
}

}  // namespace enlace::cli
