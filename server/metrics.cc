// The server's Prometheus metrics (see metrics.h).
#include "server/metrics.h"

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
                              .Add({})) {}

void Metrics::RecordCall(absl::string_view method, int code, absl::Duration latency) {
  calls_.Add({{"method", std::string(method)}, {"code", absl::StrCat(code)}}).Increment();
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

}  // namespace enlace::server
