// enlace-echo: the bare mTLS server that `scripts/bench.sh get` and `list`
// measure Enlace against. It serves ArrivalService's GetArrival and
// ListArrivals with the same gRPC API flavour as enlace-server (the callback
// API), the same TLS set-up (certificates re-read by a file watcher, client
// certificate required and verified against the CA) and the same channel
// limits, and answers every call at once with a canned answer captured from
// the real server (`enlace-loadgen capture`), so the same bytes cross the
// wire. No identity, policy, database or audit: the floor of a call.
//
//   enlace-echo --addr=127.0.0.1:0 --ca_cert=pki/ca.crt --server_cert=pki/server.crt
//       --server_key=pki/server.key --responses=DIR --ready_file=echo.ready
//
// --responses holds get.bin (an Arrival), list.bin (the first page) and
// list_deep.bin (a deep page): ListArrivals with a page_token answers the deep
// page. --ready_file gets the bound port once serving. SIGTERM or SIGINT stop it.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "server/server.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:0", "where to listen (port 0: any free port)");
ABSL_FLAG(std::string, ca_cert, "", "PEM of the CA that client certificates must chain to");
ABSL_FLAG(std::string, server_cert, "", "PEM of the server certificate");
ABSL_FLAG(std::string, server_key, "", "PEM of the server key");
ABSL_FLAG(std::string, responses, "", "directory of get.bin, list.bin and list_deep.bin");
ABSL_FLAG(std::string, ready_file, "", "written with the bound port once serving");

namespace enlace::bench {
namespace {

using enlace::v1::Arrival;
using enlace::v1::GetArrivalRequest;
using enlace::v1::ListArrivalsRequest;
using enlace::v1::ListArrivalsResponse;

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void OnSignal(int) { stop_requested = 1; }

template <typename Message>
bool ReadMessage(const std::string& path, Message* message) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in || !message->ParseFromString(bytes.str())) {
    std::cerr << "enlace-echo: cannot read a " << message->GetTypeName() << " from " << path
              << "\n";
    return false;
  }
  return true;
}

class EchoArrivals final : public enlace::v1::ArrivalService::CallbackService {
 public:
  EchoArrivals(Arrival arrival, ListArrivalsResponse first, ListArrivalsResponse deep)
      : arrival_(std::move(arrival)), first_(std::move(first)), deep_(std::move(deep)) {}

  grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* context,
                                       const GetArrivalRequest*, Arrival* response) override {
    *response = arrival_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListArrivals(grpc::CallbackServerContext* context,
                                         const ListArrivalsRequest* request,
                                         ListArrivalsResponse* response) override {
    *response = request->page_token().empty() ? first_ : deep_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const Arrival arrival_;
  const ListArrivalsResponse first_, deep_;
};

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the bare mTLS echo server of scripts/bench.sh get/list; see the top of "
      "clients/bench/echo_server.cc");
  absl::ParseCommandLine(argc, argv);
  for (const auto& [flag, value] :
       {std::pair("ca_cert", absl::GetFlag(FLAGS_ca_cert)),
        std::pair("server_cert", absl::GetFlag(FLAGS_server_cert)),
        std::pair("server_key", absl::GetFlag(FLAGS_server_key)),
        std::pair("responses", absl::GetFlag(FLAGS_responses))}) {
    if (value.empty()) {
      std::cerr << "enlace-echo: --" << flag << " is required (--help for usage)\n";
      return 2;
    }
  }
  const std::string dir = absl::GetFlag(FLAGS_responses);
  Arrival arrival;
  ListArrivalsResponse first, deep;
  if (!ReadMessage(dir + "/get.bin", &arrival) || !ReadMessage(dir + "/list.bin", &first) ||
      !ReadMessage(dir + "/list_deep.bin", &deep)) {
    return 2;
  }
  EchoArrivals service(std::move(arrival), std::move(first), std::move(deep));

  // As enlace-server: the files are watched (re-read every 5 s) and a client
  // certificate is required and verified.
  auto certificates = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      absl::GetFlag(FLAGS_server_key), absl::GetFlag(FLAGS_server_cert),
      absl::GetFlag(FLAGS_ca_cert), 5);
  grpc::experimental::TlsServerCredentialsOptions tls_options(certificates);
  tls_options.watch_root_certs();
  tls_options.watch_identity_key_cert_pairs();
  tls_options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::ServerBuilder builder;
  // The limits enlace-server sets with its defaults, so both servers
  // negotiate the same HTTP/2 settings.
  server::ApplyServerLimits(server::ServerConfig{}, builder);
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_addr),
                           grpc::experimental::TlsServerCredentials(tls_options), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "enlace-echo: cannot listen on " << absl::GetFlag(FLAGS_addr) << "\n";
    return 1;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  if (const std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    std::ofstream out(ready + ".tmp", std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out || std::rename((ready + ".tmp").c_str(), ready.c_str()) != 0) {
      std::cerr << "enlace-echo: cannot write " << ready << "\n";
      return 1;
    }
  }
  std::cerr << "enlace-echo: listening on port " << port << "\n";
  while (stop_requested == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace enlace::bench

int main(int argc, char** argv) { return enlace::bench::Main(argc, argv); }
