#include "clients/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "grpcpp/support/interceptor.h"

namespace enlace::client {
namespace {

// Replaces `*field` with the value of `variable` when `unset` and the
// variable is set and not empty.
void FillFromEnvironment(const char* variable, bool unset, std::string* field) {
  if (!unset) return;
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') *field = value;
}

// Adds the actor to the initial metadata of every call of its channel.
class ActorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ActorInterceptor(const std::string* actor) : actor_(actor) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kActorMetadataKey, *actor_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const actor_;  // the factory's, which outlives the channel's calls
};

class ActorInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ActorInterceptorFactory(std::string actor) : actor_(std::move(actor)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new ActorInterceptor(&actor_);
  }

 private:
  const std::string actor_;
};

// Reads the whole of `path`; `what` ("CA certificate", ...) goes into errors.
absl::StatusOr<std::string> ReadPemFile(absl::string_view what, const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no ", what, " file given"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", what, " ", path));
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
      return absl::ErrnoToStatus(error, absl::StrCat("cannot read ", what, " ", path));
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

// What gRPC would otherwise find only when it first connects, and report as
// an UNAVAILABLE call with no file named: PEM that does not parse, a key that
// is not the certificate's, a certificate that has expired. OpenSSL errors
// are cleared, not left on this thread's queue for gRPC's TLS code to find.
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;
using UniqueX509 = std::unique_ptr<X509, X509Deleter>;
using UniqueKey = std::unique_ptr<EVP_PKEY, KeyDeleter>;

UniqueBio MemoryBio(const std::string& pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Never prompts on the terminal for a passphrase (OpenSSL's default would).
int NoPassphrase(char*, int, int, void*) { return -1; }

// The first certificate of `pem`, or null.
UniqueX509 FirstCertificate(const std::string& pem) {
  UniqueBio bio = MemoryBio(pem);
  UniqueX509 cert(bio == nullptr ? nullptr
                                 : PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return cert;
}

std::string AsnTimeString(const ASN1_TIME* time) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || ASN1_TIME_print(bio.get(), time) != 1) return "?";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status CheckCredentials(const ConnectionOptions& options, const std::string& ca,
                              const std::string& cert, const std::string& key) {
  if (FirstCertificate(ca) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA certificate ", options.ca_path, " holds no valid PEM certificate"));
  }
  UniqueX509 client = FirstCertificate(cert);
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("client certificate ", options.cert_path, " holds no valid PEM certificate"));
  }
  UniqueBio bio = MemoryBio(key);
  UniqueKey private_key(bio == nullptr
                            ? nullptr
                            : PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client private key ", options.key_path,
        absl::StrContains(key, "ENCRYPTED") ? " is encrypted; an unencrypted key is required"
                                            : " holds no valid PEM private key"));
  }
  const bool matches = X509_check_private_key(client.get(), private_key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat("client private key ", options.key_path,
                                                   " does not belong to client certificate ",
                                                   options.cert_path));
  }
  const ASN1_TIME* not_after = X509_get0_notAfter(client.get());
  if (X509_cmp_current_time(not_after) < 0) {
    return absl::FailedPreconditionError(absl::StrCat("client certificate ", options.cert_path,
                                                      " expired on ", AsnTimeString(not_after),
                                                      "; ask for a new one"));
  }
  return absl::OkStatus();
}

}  // namespace

ConnectionOptions ConnectionOptionsFromEnvironment(ConnectionOptions from_flags) {
  ConnectionOptions options = std::move(from_flags);
  FillFromEnvironment("ENLACE_ADDR", options.address.empty() || options.address == kDefaultAddress,
                      &options.address);
  if (options.address.empty()) options.address = std::string(kDefaultAddress);
  FillFromEnvironment("ENLACE_CA", options.ca_path.empty(), &options.ca_path);
  FillFromEnvironment("ENLACE_CERT", options.cert_path.empty(), &options.cert_path);
  FillFromEnvironment("ENLACE_KEY", options.key_path.empty(), &options.key_path);
  FillFromEnvironment("ENLACE_ACTOR", options.actor.empty(), &options.actor);
  return options;
}

std::string CaAddressFromEnvironment(const std::string& from_flag) {
  std::string address = from_flag;
  FillFromEnvironment(kCaAddressVariable, address.empty(), &address);
  return address;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("no server address given");
  }
  absl::StatusOr<std::string> ca = ReadPemFile("CA certificate", options.ca_path);
  if (!ca.ok()) return ca.status();
  if (!absl::StrContains(*ca, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA certificate ", options.ca_path, " holds no PEM certificate"));
  }
  absl::StatusOr<std::string> cert = ReadPemFile("client certificate", options.cert_path);
  if (!cert.ok()) return cert.status();
  if (!absl::StrContains(*cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat("client certificate ", options.cert_path, " holds no PEM certificate"));
  }
  absl::StatusOr<std::string> key = ReadPemFile("client private key", options.key_path);
  if (!key.ok()) return key.status();
  if (!absl::StrContains(*key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat("client private key ", options.key_path, " holds no PEM private key"));
  }
  if (absl::StrContains(*key, "ENCRYPTED PRIVATE KEY")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client private key ", options.key_path, " is encrypted; an unencrypted key is required"));
  }

  absl::Status usable = CheckCredentials(options, *ca, *cert, *key);
  if (!usable.ok()) return usable;

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = *std::move(ca);
  tls.pem_private_key = *std::move(key);
  tls.pem_cert_chain = *std::move(cert);
  std::shared_ptr<grpc::Channel> channel = CreateChannelNamingActor(
      options.address, grpc::SslCredentials(tls), grpc::ChannelArguments(), options.actor);
  if (channel == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a channel to ", options.address));
  }
  return channel;
}

std::shared_ptr<grpc::Channel> CreateChannelNamingActor(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& actor) {
  if (actor.empty()) return grpc::CreateCustomChannel(target, credentials, arguments);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<ActorInterceptorFactory>(actor));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, arguments,
                                                                 std::move(interceptors));
}

std::unique_ptr<grpc::ClientContext> NewContext(const ConnectionOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  return context;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace enlace::client
