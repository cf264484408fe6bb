// The call gate and what it stands on, with the in-memory stores
// (tests/testing/fakes/), for unit tests of the gate and of services behind
// it: a policy file, revocation read from a FakeRegistryStore, the audit
// log on a FakeAuditStore, a work pool, and a gRPC server on loopback over
// real mutual TLS with a TestPki (the gate reads the caller from the
// verified TLS peer: there is no other way in). No database.
//
//   GatedServer gated("allow agency:iom /enlace.v1.ArrivalService/GetArrival\n");
//   MyService service(gated.gate());
//   gated.Serve({&service});
//   auto stub = enlace::v1::ArrivalService::NewStub(gated.Channel(gated.pki().Agency("iom")));
//   ... gated.audit_store().events() ...
//
// Header-only. Errors abort with a message, like TestPki (safe in fixtures).
#ifndef ENLACE_TESTS_TESTING_GATED_SERVER_H_
#define ENLACE_TESTS_TESTING_GATED_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/policy_watcher.h"
#include "google/protobuf/descriptor.h"
#include "server/audit_log.h"
#include "server/call_gate.h"
#include "server/metrics.h"
#include "server/revocation.h"
#include "server/work_pool.h"
#include "tests/testing/fakes/fake_audit_store.h"
#include "tests/testing/fakes/fake_registry_store.h"
#include "tests/testing/test_pki.h"

namespace enlace::testing {

struct GatedServerOptions {
  server::CallLimits limits;
  int work_threads = 2;
  size_t work_queue = 100;
  // Services whose methods the policy may name (full names, e.g.
  // "enlace.v1.ArrivalService").
  std::vector<std::string> services = {"enlace.v1.ArrivalService"};
};

class GatedServer {
 public:
  using Options = GatedServerOptions;

  // Starts everything but the server (Serve), with `policy` in force.
  explicit GatedServer(const std::string& policy, Options options = Options())
      : pki_(TestPki::Create()), revocation_(&registry_, absl::Hours(1)) {
    absl::StatusOr<std::unique_ptr<auth::PolicyWatcher>> watcher = auth::PolicyWatcher::Start(
        pki_.WriteFile("policy.conf", policy), MethodsOf(options.services), absl::ZeroDuration(),
        [](absl::string_view) {});
    if (!watcher.ok()) Die(absl::StrCat("policy: ", watcher.status().ToString()));
    policy_ = *std::move(watcher);
    if (absl::StatusOr<std::vector<std::string>> r = revocation_.Refresh(absl::Now(), nullptr);
        !r.ok()) {
      Die(absl::StrCat("revocation: ", r.status().ToString()));
    }
    work_ = std::make_unique<server::WorkPool>(options.work_threads, options.work_queue);
    gate_ = std::make_unique<server::CallGate>(policy_.get(), &revocation_, &audit_log_,
                                               work_.get(), &metrics_, options.limits);
  }

  // Shuts the server down; call it (e.g. in TearDown) before the services
  // it serves are destroyed.
  void Shutdown() {
    if (server_ != nullptr) server_->Shutdown();
  }
  ~GatedServer() { Shutdown(); }

  // Serves `services` (which must outlive this object) on a loopback port.
  void Serve(const std::vector<grpc::Service*>& services) {
    auto certificates = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        pki_.ca_cert_pem(), std::vector<grpc::experimental::IdentityKeyCertPair>{
                                {pki_.server_key_pem(), pki_.server_cert_pem()}});
    grpc::experimental::TlsServerCredentialsOptions options(certificates);
    options.watch_root_certs();
    options.watch_identity_key_cert_pairs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::experimental::TlsServerCredentials(options),
                             &port_);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) Die("the in-process server did not start");
  }

  // A channel of its own presenting `cert`.
  std::shared_ptr<grpc::Channel> Channel(const auth::IssuedCertificate& cert,
                                         grpc::ChannelArguments args = {}) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = pki_.ca_cert_pem();
    options.pem_private_key = cert.private_key_pem;
    options.pem_cert_chain = cert.certificate_pem;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("localhost:", port_),
                                     grpc::SslCredentials(options), args);
  }

  const TestPki& pki() const { return pki_; }
  FakeRegistryStore& registry() { return registry_; }
  server::RevocationList& revocation() { return revocation_; }
  FakeAuditStore& audit_store() { return audit_store_; }
  server::WorkPool& work() { return *work_; }
  server::Metrics& metrics() { return metrics_; }
  server::CallGate* gate() { return gate_.get(); }

 private:
  static std::vector<std::string> MethodsOf(const std::vector<std::string>& services) {
    std::vector<std::string> methods;
    for (const std::string& name : services) {
      const google::protobuf::ServiceDescriptor* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
      if (service == nullptr) Die(absl::StrCat("no service ", name));
      for (int i = 0; i < service->method_count(); ++i) {
        methods.push_back(absl::StrCat("/", service->full_name(), "/", service->method(i)->name()));
      }
    }
    return methods;
  }
  [[noreturn]] static void Die(const std::string& message) {
    std::cerr << "GatedServer: " << message << "\n";
    std::abort();
  }

  // Destroyed in reverse: the server first, the PKI last.
  TestPki pki_;
  FakeRegistryStore registry_;
  server::RevocationList revocation_;
  FakeAuditStore audit_store_;
  server::AuditLog audit_log_{&audit_store_};
  server::Metrics metrics_;
  std::unique_ptr<auth::PolicyWatcher> policy_;
  std::unique_ptr<server::WorkPool> work_;
  std::unique_ptr<server::CallGate> gate_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_GATED_SERVER_H_
