#include "clients/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace enlace::client {
namespace {

// Replaces `*field` with the value of `variable` when `unset` and the
// variable is set and not empty.
void FillFromEnvironment(const char* variable, bool unset,
                         std::string* field) {
  if (!unset) return;
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') *field = value;
}

// Reads the whole of `path`; `what` ("CA certificate", ...) goes into errors.
absl::StatusOr<std::string> ReadPemFile(absl::string_view what,
                                        const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no ", what, " file given"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("cannot read ", what, " ", path));
  }
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(
          error, absl::StrCat("cannot read ", what, " ", path));
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

}  // namespace

ConnectionOptions ConnectionOptionsFromEnvironment(
    ConnectionOptions from_flags) {
  ConnectionOptions options = std::move(from_flags);
  FillFromEnvironment(
      "ENLACE_ADDR",
      options.address.empty() || options.address == kDefaultAddress,
      &options.address);
  if (options.address.empty()) options.address = std::string(kDefaultAddress);
  FillFromEnvironment("ENLACE_CA", options.ca_path.empty(), &options.ca_path);
  FillFromEnvironment("ENLACE_CERT", options.cert_path.empty(),
                      &options.cert_path);
  FillFromEnvironment("ENLACE_KEY", options.key_path.empty(),
                      &options.key_path);
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("no server address given");
  }
  absl::StatusOr<std::string> ca = ReadPemFile("CA certificate", options.ca_path);
  if (!ca.ok()) return ca.status();
  if (!absl::StrContains(*ca, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CA certificate ", options.ca_path, " holds no PEM certificate"));
  }
  absl::StatusOr<std::string> cert =
      ReadPemFile("client certificate", options.cert_path);
  if (!cert.ok()) return cert.status();
  if (!absl::StrContains(*cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client certificate ", options.cert_path, " holds no PEM certificate"));
  }
  absl::StatusOr<std::string> key =
      ReadPemFile("client private key", options.key_path);
  if (!key.ok()) return key.status();
  if (!absl::StrContains(*key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client private key ", options.key_path, " holds no PEM private key"));
  }
  if (absl::StrContains(*key, "ENCRYPTED PRIVATE KEY")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client private key ", options.key_path,
        " is encrypted; an unencrypted key is required"));
  }

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = *std::move(ca);
  tls.pem_private_key = *std::move(key);
  tls.pem_cert_chain = *std::move(cert);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(options.address, grpc::SslCredentials(tls));
  if (channel == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a channel to ", options.address));
  }
  return channel;
}

std::unique_ptr<grpc::ClientContext> NewContext(
    const ConnectionOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  return context;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace enlace::client
