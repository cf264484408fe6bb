// Assembles and runs an Enlace server: the database pools and stores, the
// audit log, the ingest batcher, the policy, the services behind the call
// gate, the mTLS port (with health and reflection), the plaintext health-only
// port for probes, and the metrics port. Kept apart from main() so tests run
// the real server in-process.
//
//   ServerConfig config;  // fill in addresses, DSN, PKI paths, policy
//   absl::StatusOr<std::unique_ptr<EnlaceServer>> server = EnlaceServer::Start(config);
//   (*server)->Wait();
#ifndef ENLACE_SERVER_SERVER_H_
#define ENLACE_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/returnee_store.h"
#include "server/call_gate.h"
#include "server/programme_targets.h"

namespace enlace::server {

// What a process serves. Serving replicas (any number) serve every service;
// they verify certificates and check revocation but never hold the CA key.
// The CA role (one process, alone given the CA key) serves only
// AdminService.IssueCertificate (every other method: UNIMPLEMENTED) and
// health, and publishes the CRLs (crl_dir) after the revocations it reads
// from the database, wherever they were made.
enum class ServerRole { kServing, kCa };

struct ServerConfig {
  ServerRole role = ServerRole::kServing;
  // Where the CA role listens, as clients reach it (e.g. "localhost:7446"):
  // only named in the message a serving replica gives for IssueCertificate.
  std::string ca_role_addr;
  std::string tls_addr = "127.0.0.1:7443";  // port 0: pick a free one
  std::string health_addr = "127.0.0.1:7444";  // plaintext, health only; empty: none
  std::string metrics_addr = "127.0.0.1:7445";  // Prometheus; empty: none
  std::string db_dsn = "mysql://root@127.0.0.1:3306/enlace";
  std::string ca_cert;  // PEM bundle of the CAs whose client certificates are accepted
  std::string server_cert;  // PEM, reloaded when the file changes
  std::string server_key;
  std::string policy;  // authorization policy file, reloaded when it changes
  // The platform CA's key: required by the CA role, refused by a serving
  // replica (which must never hold it).
  std::string ca_key;
  // CRLs for the TLS layer (optional): the CA role publishes them here; a
  // serving replica's TLS layer reads them (the same directory, shared).
  std::string crl_dir;
  // The keys that authenticate page and resume tokens (server/token_keys.h),
  // shared by every replica; reloaded when the file changes. Empty: one
  // random key of this process (tokens die with it; logged as a warning).
  std::string token_keys;
  int db_pool_size = 16;
  int worker_threads = 8;
  size_t work_queue = 10000;  // tasks waiting for a worker; more: RESOURCE_EXHAUSTED
  int ingest_writers = 2;
  int ingest_batch = 500;
  absl::Duration db_wait = absl::Seconds(30);  // how long start-up waits for the database
  absl::Duration policy_poll = absl::Seconds(1);
  int tls_refresh_seconds = 5;  // certificate and CA file re-read interval
  // Revocation is re-read this often; past max staleness calls fail closed.
  absl::Duration revocation_refresh = absl::Seconds(1);
  absl::Duration revocation_max_staleness = absl::Seconds(5);
  // How often the referral feed is read for changes made by other replicas.
  absl::Duration feed_poll = absl::Milliseconds(20);
  size_t feed_window = 20000;  // feed events kept in memory; older ones are read from the database
  // The programme's targets that reports measure progress against
  // (default: 70 initiatives).
  ProgrammeTargets programme_targets;
  // Retention (server/retention.h): how long each arrival's records are
  // kept, and how often the job erases those past it (zero: never).
  db::RetentionYears retention_years;
  absl::Duration retention_interval = absl::Hours(1);
  // How often open streams are re-checked (revocation, expiry, policy).
  absl::Duration stream_recheck = absl::Milliseconds(500);
  // Per-identity limits on concurrent calls and open streams.
  CallLimits limits;
  // Largest request message accepted (larger: RESOURCE_EXHAUSTED from gRPC).
  int max_message_bytes = 4 * 1024 * 1024;
  // A connection is asked to close (GOAWAY) after this long, and cut after
  // the grace: clients reconnect, presenting their current certificate.
  absl::Duration max_connection_age = absl::Hours(1);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  // The audit log as a transparency log (server/audit_transparency.h,
  // docs/audit.md). The PEM Ed25519 key that signs its checkpoints, the same
  // on every replica; empty: a random key of this process only (logged as a
  // WARNING: its checkpoints cannot be verified after a restart).
  std::string audit_log_key;
  std::string audit_origin = "enlace.local/audit";  // checkpoint origin and log key name
  absl::Duration audit_tree_poll = absl::Seconds(1);  // new events join the tree this often
  absl::Duration audit_checkpoint_interval = absl::Seconds(60);  // when the tree grew
  absl::Duration audit_checkpoint_on_request = absl::Seconds(1);  // GetAuditCheckpoint's at most
  // No cosignature for this long: WARNING, enlace.audit.Witnessed NOT_SERVING.
  absl::Duration audit_witness_alert = absl::Hours(4);
};

// The plaintext port's health name for liveness probes: SERVING while the
// process runs, also while the database is away or the server drains (a
// database outage must not get every replica restarted). The overall name
// ("") is readiness: it follows the database and goes NOT_SERVING first
// on shutdown.
inline constexpr char kLivenessHealthService[] = "enlace.Liveness";

// Every full method name the server serves ("/enlace.v1.ArrivalService/GetArrival"),
// from the compiled service descriptors: what the policy may name.
std::vector<std::string> ServedMethods();

// The HTTP/2 and message limits every listener of the server gets from
// `config` (streams per connection, handshake and keepalive timeouts,
// connection age, message sizes). Exposed so that the benchmarks' bare echo
// server (clients/bench/echo_server.cc) negotiates exactly the same.
void ApplyServerLimits(const ServerConfig& config, grpc::ServerBuilder& builder);

class EnlaceServer {
 public:
  // Checks the database schema, builds everything, starts listening. Never
  // migrates (`enlace-server --migrate` does, as the migration user): fails
  // with FAILED_PRECONDITION naming that command when the schema is behind
  // this binary or the database user's grants are missing. Fails with a
  // clear message on bad configuration, unreadable files, an invalid policy,
  // a port in use, or a database that does not answer within db_wait.
  static absl::StatusOr<std::unique_ptr<EnlaceServer>> Start(const ServerConfig& config);

  // Shuts down (see Shutdown) and releases everything.
  ~EnlaceServer();

  int tls_port() const;
  int health_port() const;  // 0 when not serving health separately
  int metrics_port() const;  // 0 when not serving metrics

  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Graceful shutdown (SIGTERM): readiness off at once (the health ports'
  // overall status NOT_SERVING, enlace.Liveness still SERVING), calls still
  // served for `drain` (so load balancers stop sending), then stops
  // accepting (new calls: UNAVAILABLE), ends open streams with UNAVAILABLE
  // (WatchReferrals clients resume elsewhere from their last token), lets
  // unary calls in flight finish within `grace` and cancels the rest; the
  // health port closes last. Returns when done. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5),
                absl::Duration drain = absl::ZeroDuration());

  struct Parts;  // defined in server.cc

 private:
  explicit EnlaceServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_SERVER_H_
