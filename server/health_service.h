// grpc.health.v1.Health on the mTLS port, behind the call gate like every
// other service: a caller needs a valid, unrevoked certificate and a policy
// rule naming the method, and every call is audited. (The plaintext
// health-only port for probes keeps gRPC's built-in service: it has no
// identity to check.)
//
// The server as a whole ("") and each service named at construction are
// SERVING while the database is reachable and NOT_SERVING otherwise
// (SetServing). A "dedicated" name has a status of its own besides
// (SetDedicatedServing): SERVING only while the server is and its own status
// is, e.g. enlace.audit.Witnessed, NOT_SERVING while no witness has cosigned
// an audit checkpoint for too long (server/audit_transparency.h), though the
// server as a whole serves. Check answers NOT_FOUND for any other name, as
// gRPC's own service does; Watch sends SERVICE_UNKNOWN for it and stays open.
// Every Check answer to an admitted caller carries the server's version as
// initial metadata "enlace-server-version" (`enlacectl version` shows it).
#ifndef ENLACE_SERVER_HEALTH_SERVICE_H_
#define ENLACE_SERVER_HEALTH_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/call_gate.h"

namespace enlace::server {

class HealthServiceImpl final : public grpc::health::v1::Health::CallbackService {
 public:
  // `services`: the fully-qualified names whose status follows the server's
  // (e.g. "enlace.v1.ArrivalService"). `gate` must outlive the service.
  // Starts NOT_SERVING.
  HealthServiceImpl(CallGate* gate, std::vector<std::string> services,
                    const std::vector<std::string>& dedicated = {});

  // Sets every known name SERVING or NOT_SERVING; open Watch streams get
  // the new status if it changed.
  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the own status of a dedicated name (initially SERVING); open
  // Watch streams get the new status if it changed.
  void SetDedicatedServing(const std::string& service, bool serving) ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class WatchReactor;
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // The status of `service` now; SERVICE_UNKNOWN for a name not served.
  ServingStatus StatusOf(const std::string& service) const ABSL_LOCKS_EXCLUDED(mu_);
  void TellWatchers() ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t Subscribe(const std::weak_ptr<WatchReactor>& watcher) ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  CallGate* const gate_;
  const absl::flat_hash_set<std::string> services_;  // always holds ""

  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, bool> dedicated_ ABSL_GUARDED_BY(mu_);  // own status
  uint64_t next_watcher_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<WatchReactor>> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_HEALTH_SERVICE_H_
