// Prometheus metrics of the server, served on their own port (--metrics_addr):
//   enlace_rpc_total{method,code}            calls ended, by status code
//   enlace_rpc_duration_seconds{method}      call latency, audit included
//   enlace_arrivals_total{outcome}           ingested records by outcome
//   enlace_database_up                       1 while the database answers
//   enlace_certificates_expiring_soon        active client certificates expiring within 30 days
//   enlace_server_certificate_expiry_timestamp_seconds  not_after of the server's certificate
//   enlace_audit_seconds_since_cosigned      since a witness last cosigned an audit checkpoint
//                                            (since the first checkpoint when none ever was)
//   enlace_audit_tree_leaves                 events in the audit log's Merkle tree
//   enlace_audit_tree_stalled                1 while the tree is not extended or no checkpoint
//                                            is published because the log or tree was changed
// Thread-safe.
#ifndef ENLACE_SERVER_METRICS_H_
#define ENLACE_SERVER_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace enlace::server {

class Metrics {
 public:
  Metrics();
  void RecordCall(absl::string_view method, int code, absl::Duration latency);
  void RecordArrival(absl::string_view outcome);
  void SetDatabaseUp(bool up);
  void SetCertificatesExpiringSoon(int count);
  void SetServerCertificateExpiry(absl::Time not_after);
  void SetAuditSecondsSinceCosigned(double seconds);
  void SetAuditTreeLeaves(uint64_t leaves);
  void SetAuditTreeStalled(bool stalled);
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& arrivals_;
  prometheus::Gauge& database_up_;
  prometheus::Gauge& expiring_soon_;
  prometheus::Gauge& server_certificate_expiry_;
  prometheus::Gauge& audit_since_cosigned_;
  prometheus::Gauge& audit_tree_leaves_;
  prometheus::Gauge& audit_tree_stalled_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_METRICS_H_
