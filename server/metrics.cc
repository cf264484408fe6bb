// The server's Prometheus metrics (see metrics.h).
#include "server/metrics.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace enlace::server {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(prometheus::BuildCounter()
                 .Name("enlace_rpc_total")
                 .Help("RPCs ended, by method and gRPC status code")
                 .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("enlace_rpc_duration_seconds")
                   .Help("RPC latency including the audit commit")
                   .Register(*registry_)),
      arrivals_(prometheus::BuildCounter()
                    .Name("enlace_arrivals_total")
                    .Help("Arrival records ingested, by outcome")
                    .Register(*registry_)),
      database_up_(prometheus::BuildGauge()
                       .Name("enlace_database_up")
                       .Help("1 while the database answers health checks")
                       .Register(*registry_)
                       .Add({})),
      expiring_soon_(prometheus::BuildGauge()
                         .Name("enlace_certificates_expiring_soon")
                         .Help("Active client certificates that expire within 30 days")
                         .Register(*registry_)
                         .Add({})),
      server_certificate_expiry_(prometheus::BuildGauge()
                                     .Name("enlace_server_certificate_expiry_timestamp_seconds")
                                     .Help("not_after of the server's own TLS certificate")
                                     .Register(*registry_)
                                     .Add({})),
      audit_since_cosigned_(prometheus::BuildGauge()
                                .Name("enlace_audit_seconds_since_cosigned")
                                .Help("Seconds since a witness last cosigned an audit checkpoint "
                                      "(since the first checkpoint when none ever was)")
                                .Register(*registry_)
                                .Add({})),
      audit_tree_leaves_(prometheus::BuildGauge()
                             .Name("enlace_audit_tree_leaves")
                             .Help("Audit events in the audit log's Merkle tree")
                             .Register(*registry_)
                             .Add({})),
      audit_tree_stalled_(prometheus::BuildGauge()
                              .Name("enlace_audit_tree_stalled")
                              .Help("1 while the audit tree is not extended or no checkpoint is "
                                    "published because the log or the tree was changed")
                              .Register(*registry_)
                              .Add({})),
      streams_open_(prometheus::BuildGauge()
                        .Name("enlace_streams_open")
                        .Help("Streams open now, by method")
                        .Register(*registry_)),
      db_pool_connections_(prometheus::BuildGauge()
                               .Name("enlace_db_pool_connections")
                               .Help("Database connections of the pool, by state (in_use, idle; "
                                     "open: all, connecting included)")
                               .Register(*registry_)),
      db_pool_max_(prometheus::BuildGauge()
                       .Name("enlace_db_pool_max_connections")
                       .Help("Size of the database pool (--db_pool_size)")
                       .Register(*registry_)
                       .Add({})),
      db_pool_waits_(prometheus::BuildCounter()
                         .Name("enlace_db_pool_waits_total")
                         .Help("Database connection requests that waited for a free connection")
                         .Register(*registry_)
                         .Add({})),
      db_pool_wait_seconds_(
          prometheus::BuildHistogram()
              .Name("enlace_db_pool_wait_seconds")
              .Help("How long connection requests that waited waited")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                               1, 2.5, 5})),
      database_failovers_(prometheus::BuildCounter()
                              .Name("enlace_database_failovers_total")
                              .Help("Times the database pool moved to another database host")
                              .Register(*registry_)
                              .Add({})),
      audit_queue_depth_(prometheus::BuildGauge()
                             .Name("enlace_audit_queue_depth")
                             .Help("Audit events queued and not yet being committed")
                             .Register(*registry_)
                             .Add({})),
      audit_commit_lag_(prometheus::BuildGauge()
                            .Name("enlace_audit_commit_lag_seconds")
                            .Help("How long the oldest event of the last committed audit batch "
                                  "waited from its append to durable")
                            .Register(*registry_)
                            .Add({})),
      feed_lag_(prometheus::BuildGauge()
                    .Name("enlace_feed_lag_seconds")
                    .Help("Seconds since the referral feed's poller last read the database")
                    .Register(*registry_)
                    .Add({})),
      draining_(prometheus::BuildGauge()
                    .Name("enlace_draining")
                    .Help("1 while the server drains for shutdown (readiness off)")
                    .Register(*registry_)
                    .Add({})) {
  // Present from the start, so alerts and dashboards see 0 rather than no series.
  SetDbPoolConnections(0, 0);
  db_pool_connections_.Add({{"state", "open"}}).Set(0);
}

void Metrics::RecordCall(absl::string_view method, int code, absl::Duration latency) {
  // The code's name, as in the access log line: code="UNAVAILABLE".
  calls_
      .Add({{"method", std::string(method)},
            {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}})
      .Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  latency_.Add({{"method", std::string(method)}}, kBuckets).Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordArrival(absl::string_view outcome) {
  arrivals_.Add({{"outcome", std::string(outcome)}}).Increment();
}

void Metrics::SetDatabaseUp(bool up) { database_up_.Set(up ? 1 : 0); }

void Metrics::SetCertificatesExpiringSoon(int count) { expiring_soon_.Set(count); }

void Metrics::SetServerCertificateExpiry(absl::Time not_after) {
  server_certificate_expiry_.Set(absl::ToDoubleSeconds(not_after - absl::UnixEpoch()));
}

void Metrics::SetAuditSecondsSinceCosigned(double seconds) { audit_since_cosigned_.Set(seconds); }

void Metrics::SetAuditTreeLeaves(uint64_t leaves) {
  audit_tree_leaves_.Set(static_cast<double>(leaves));
}

void Metrics::SetAuditTreeStalled(bool stalled) { audit_tree_stalled_.Set(stalled ? 1 : 0); }

void Metrics::StreamOpened(absl::string_view method) {
  streams_open_.Add({{"method", std::string(method)}}).Increment();
}

void Metrics::StreamClosed(absl::string_view method) {
  streams_open_.Add({{"method", std::string(method)}}).Decrement();
}

void Metrics::SetDbPoolConnections(int in_use, int idle) {
  db_pool_connections_.Add({{"state", "in_use"}}).Set(in_use);
  db_pool_connections_.Add({{"state", "idle"}}).Set(idle);
}

void Metrics::SetDbPoolOpenConnections(int open) {
  db_pool_connections_.Add({{"state", "open"}}).Set(open);
}

void Metrics::SetDbPoolMaxConnections(int max) { db_pool_max_.Set(max); }

void Metrics::RecordDbPoolWait(absl::Duration waited) {
  db_pool_waits_.Increment();
  db_pool_wait_seconds_.Observe(absl::ToDoubleSeconds(waited));
}

void Metrics::RecordDatabaseFailover() { database_failovers_.Increment(); }

void Metrics::SetAuditQueueDepth(size_t depth) {
  audit_queue_depth_.Set(static_cast<double>(depth));
}

void Metrics::SetAuditCommitLag(absl::Duration lag) {
  audit_commit_lag_.Set(absl::ToDoubleSeconds(lag));
}

void Metrics::SetFeedLag(absl::Duration lag) { feed_lag_.Set(absl::ToDoubleSeconds(lag)); }

void Metrics::SetDraining(bool draining) { draining_.Set(draining ? 1 : 0); }

}  // namespace enlace::server
