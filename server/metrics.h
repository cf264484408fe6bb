// Prometheus metrics of the server, served on their own port (--metrics_addr):
//   enlace_rpc_total{method,code}            calls ended, by status code name (OK,
//                                            UNAVAILABLE...: as the access log's status)
//   enlace_rpc_duration_seconds{method}      histogram of call latency, audit included
//   enlace_streams_open{method}              streams open now (WatchReferrals, RecordArrivals...)
//   enlace_db_pool_connections{state}        database connections: in_use, idle; open (all,
//                                            connecting included)
//   enlace_db_pool_max_connections           the pool's size (--db_pool_size)
//   enlace_db_pool_waits_total               connection requests that had to wait for one
//   enlace_db_pool_wait_seconds              histogram of those waits
//   enlace_database_failovers_total          times the pool moved to another database host
//   enlace_audit_queue_depth                 audit events queued, not yet being committed
//   enlace_audit_commit_lag_seconds          how long the oldest event of the last audit batch
//                                            waited from the call's append to durable
//   enlace_feed_lag_seconds                  since the referral feed's poller last read the
//                                            database (normally under 0.1 s)
//   enlace_draining                          1 from SIGTERM to exit (readiness off)
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
  // `code`: the gRPC status code sent.
  void RecordCall(absl::string_view method, int code, absl::Duration latency);
  void RecordArrival(absl::string_view outcome);
  void SetDatabaseUp(bool up);
  void SetCertificatesExpiringSoon(int count);
  void SetServerCertificateExpiry(absl::Time not_after);
  void SetAuditSecondsSinceCosigned(double seconds);
  void SetAuditTreeLeaves(uint64_t leaves);
  void SetAuditTreeStalled(bool stalled);
  void StreamOpened(absl::string_view method);
  void StreamClosed(absl::string_view method);
  // The pool's figures: connections leased, idle, and open in all.
  void SetDbPoolConnections(int in_use, int idle);
  void SetDbPoolOpenConnections(int open);
  void SetDbPoolMaxConnections(int max);
  // A connection request that had to wait `waited` for a free connection.
  void RecordDbPoolWait(absl::Duration waited);
  // The pool's failover callback calls this once per move to another host.
  void RecordDatabaseFailover();
  void SetAuditQueueDepth(size_t depth);
  void SetAuditCommitLag(absl::Duration lag);
  void SetFeedLag(absl::Duration lag);
  void SetDraining(bool draining);
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
  prometheus::Family<prometheus::Gauge>& streams_open_;
  prometheus::Family<prometheus::Gauge>& db_pool_connections_;
  prometheus::Gauge& db_pool_max_;
  prometheus::Counter& db_pool_waits_;
  prometheus::Histogram& db_pool_wait_seconds_;
  prometheus::Counter& database_failovers_;
  prometheus::Gauge& audit_queue_depth_;
  prometheus::Gauge& audit_commit_lag_;
  prometheus::Gauge& feed_lag_;
  prometheus::Gauge& draining_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_METRICS_H_
