// Parsing of mysql:// DSNs (see dsn.h).
#include "db/dsn.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace enlace::db {

std::string Dsn::ToSafeString() const { return Format(/*mask_password=*/true); }
std::string Dsn::ToStringWithPassword() const { return Format(/*mask_password=*/false); }

std::string Dsn::Format(bool mask_password) const {
  std::string shown_password = mask_password ? "***" : password;
  std::string out = absl::StrCat("mysql://", user, password.empty() ? "" : ":",
                                 password.empty() ? "" : shown_password, "@");
  if (socket.empty()) {
    for (size_t i = 0; i < hosts.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", hosts[i].host, ":", hosts[i].port);
    }
    absl::StrAppend(&out, "/", database);
  } else {
    absl::StrAppend(&out, "localhost/", database, "?socket=", socket);
  }
  return out;
}

namespace {

// "host[:port]", one node of the list.
absl::StatusOr<DsnHost> ParseHostPort(absl::string_view host_port) {
  DsnHost node;
  if (size_t colon = host_port.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(host_port.substr(colon + 1), &node.port) || node.port <= 0 ||
        node.port > 65535) {
      return absl::InvalidArgumentError("database DSN: bad port");
    }
    host_port = host_port.substr(0, colon);
  }
  if (host_port.empty()) return absl::InvalidArgumentError("database DSN: empty host");
  node.host = std::string(host_port);
  return node;
}

}  // namespace

absl::StatusOr<Dsn> ParseDsn(absl::string_view text, const char* password_variable) {
  Dsn dsn;
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "mysql://")) {
    return absl::InvalidArgumentError("database DSN must start with mysql://");
  }
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    absl::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (!absl::ConsumePrefix(&query, "socket=") || query.empty()) {
      return absl::InvalidArgumentError("database DSN: the only option is ?socket=PATH");
    }
    dsn.socket = std::string(query);
  }
  size_t at = rest.rfind('@');
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError("database DSN: missing user@ (mysql://user@host:port/db)");
  }
  absl::string_view credentials = rest.substr(0, at);
  rest = rest.substr(at + 1);
  if (size_t colon = credentials.find(':'); colon != absl::string_view::npos) {
    dsn.password = std::string(credentials.substr(colon + 1));
    credentials = credentials.substr(0, colon);
  }
  if (credentials.empty()) return absl::InvalidArgumentError("database DSN: empty user");
  dsn.user = std::string(credentials);

  absl::string_view host_port = rest;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    host_port = rest.substr(0, slash);
    dsn.database = std::string(rest.substr(slash + 1));
  }
  for (char c : dsn.database) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return absl::InvalidArgumentError("database DSN: database name must be [A-Za-z0-9_]");
  }
  dsn.hosts.clear();
  for (absl::string_view one : absl::StrSplit(host_port, ',')) {
    absl::StatusOr<DsnHost> node = ParseHostPort(one);
    if (!node.ok()) return node.status();
    dsn.hosts.push_back(*std::move(node));
  }
  if (dsn.hosts.size() > 1 && !dsn.socket.empty()) {
    return absl::InvalidArgumentError("database DSN: ?socket= names one server, not a host list");
  }
  if (dsn.password.empty() && password_variable != nullptr) {
    if (const char* env = std::getenv(password_variable)) dsn.password = env;
  }
  return dsn;
}

}  // namespace enlace::db
