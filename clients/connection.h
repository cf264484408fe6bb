// How every client of the Enlace server connects: mutual TLS with the
// caller's client certificate (whose URI SAN is the caller's identity), the
// platform CA as the only trust root, and a deadline on every call.
// enlace_client.h builds a typed Client on it; enlacectl uses it directly.
//
// Part of libenlace_client: installed as "enlace/client/connection.h" (in
// this repository it is also "clients/connection.h"; both names are the same
// file, behind one include guard).
//
// Example:
//
//   ConnectionOptions flags;          // from --addr --ca --cert --key
//   flags.ca_path = "dev-pki/ca.crt";
//   ConnectionOptions options = ConnectionOptionsFromEnvironment(flags);
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(options);
//   if (!channel.ok()) return channel.status();
//   auto stub = enlace::v1::AdminService::NewStub(*channel);
//   std::unique_ptr<grpc::ClientContext> context = NewContext(options);
//   enlace::v1::ListAgenciesResponse response;
//   absl::Status status = FromGrpc(stub->ListAgencies(
//       context.get(), enlace::v1::ListAgenciesRequest(), &response));
#ifndef ENLACE_CLIENTS_CONNECTION_H_
#define ENLACE_CLIENTS_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/status.h"

namespace enlace::client {

// The address used when neither a flag nor ENLACE_ADDR names one.
inline constexpr absl::string_view kDefaultAddress = "localhost:7443";

struct ConnectionOptions {
  // host:port of the server's TLS port. The host is also the name the server
  // certificate must carry (a DNS or IP SAN): the dev server certificate
  // names localhost and 127.0.0.1.
  std::string address = std::string(kDefaultAddress);
  // PEM files: the platform CA certificate (the only trust root), and the
  // caller's client certificate and its private key (unencrypted).
  std::string ca_path, cert_path, key_path;
  // Deadline of each call made with NewContext().
  absl::Duration timeout = absl::Seconds(30);
  // The staff member on whose behalf this system calls, sent by the channel
  // Connect() makes with every call as kActorMetadataKey metadata: an opaque staff identifier (1 to
  // 64 letters, digits, '.', '_', ':' or '-'; never a name or an e-mail address). The server
  // records it in each call's audit event; its policy requires one for arrival, case and referral
  // calls, and refuses a malformed one with INVALID_ARGUMENT naming the key. Empty: none sent.
  std::string actor;
};

// The request metadata key that names the actor (ConnectionOptions::actor).
inline constexpr char kActorMetadataKey[] = "enlace-actor";

// Certificates are issued by the CA role (enlace-server --role=ca), a process
// of its own that alone holds the CA key, not by the serving replicas: the
// environment variable naming its host:port (enlacectl certs issue --ca-addr).
inline constexpr char kCaAddressVariable[] = "ENLACE_CA_ADDR";

// The CA role's address: `from_flag` when not empty, else ENLACE_CA_ADDR when
// set and not empty, else empty (the caller then uses the serving address,
// which answers IssueCertificate with FAILED_PRECONDITION naming the CA role).
std::string CaAddressFromEnvironment(const std::string& from_flag);

// Fills the unset fields of `from_flags` from the environment: ENLACE_ADDR,
// ENLACE_CA, ENLACE_CERT, ENLACE_KEY, ENLACE_ACTOR. A field set in `from_flags` wins over the
// environment; a path is unset when empty, the address when empty or equal to
// kDefaultAddress (so a default-constructed ConnectionOptions picks up
// ENLACE_ADDR). Empty environment variables count as unset.
ConnectionOptions ConnectionOptionsFromEnvironment(ConnectionOptions from_flags);

// Returns a TLS channel to `options.address` that presents the client
// certificate and trusts only the CA of `options.ca_path`, and whose every
// call names options.actor when it is not empty. Reads the three files now;
// the connection itself is made on the first call.
// Errors: InvalidArgument when the address or a path is empty, a file does
// not hold what it should (a valid PEM certificate, an unencrypted PEM
// private key), or the key does not belong to the client certificate;
// FailedPrecondition when the client certificate has expired; NotFound,
// PermissionDenied, ... when a file cannot be read. Each message names the
// file. (Without these checks gRPC would report each of them only as an
// UNAVAILABLE first call.)
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options);

// grpc::CreateCustomChannel(target, credentials, arguments), but every call
// made on the channel names `actor` (kActorMetadataKey metadata) when it is
// not empty: for clients that build their own credentials.
std::shared_ptr<grpc::Channel> CreateChannelNamingActor(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& actor);

// A ClientContext whose deadline is now + options.timeout.
std::unique_ptr<grpc::ClientContext> NewContext(const ConnectionOptions& options);

// The same code and message as an absl::Status.
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace enlace::client

#endif  // ENLACE_CLIENTS_CONNECTION_H_
