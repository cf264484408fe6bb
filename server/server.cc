// EnlaceServer: wiring and lifecycle (see server.h). Only this file and
// main.cc choose concrete classes; everything else receives interfaces.
#include "server/server.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/crl.h"
#include "auth/policy_watcher.h"
#include "db/dsn.h"
#include "db/migrations.h"
#include "db/mysql_agreement_store.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_audit_tree_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_person_store.h"
#include "db/mysql_pool.h"
#include "db/mysql_registry_store.h"
#include "db/mysql_report_store.h"
#include "db/mysql_returnee_store.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/admin_service.h"
#include "server/agency_directory.h"
#include "server/arrival_service.h"
#include "server/audit_log.h"
#include "server/audit_transparency.h"
#include "server/call_gate.h"
#include "server/case_service.h"
#include "server/health_service.h"
#include "server/ingest_batcher.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/page_token.h"
#include "server/referral_feed.h"
#include "server/referral_service.h"
#include "server/reflection_service.h"
#include "server/report_service.h"
#include "server/retention.h"
#include "server/revocation.h"
#include "server/sharing_agreements.h"
#include "server/token_keys.h"
#include "server/work_pool.h"

namespace enlace::server {

namespace {

// The services of the mTLS port: Enlace's own, or with health and reflection
// too (`with_grpc`). Reached through a message of each file, which also makes
// sure the linker keeps every generated file (and so every service descriptor).
std::vector<const google::protobuf::ServiceDescriptor*> TlsServices(bool with_grpc) {
  std::vector<const google::protobuf::ServiceDescriptor*> services = {
      enlace::v1::Arrival::descriptor()->file()->FindServiceByName("ArrivalService"),
      enlace::v1::Case::descriptor()->file()->FindServiceByName("CaseService"),
      enlace::v1::Referral::descriptor()->file()->FindServiceByName("ReferralService"),
      enlace::v1::ProgrammeReport::descriptor()->file()->FindServiceByName("ReportService"),
      enlace::v1::AuditEvent::descriptor()->file()->FindServiceByName("AdminService"),
  };
  if (with_grpc) {
    services.push_back(
        grpc::health::v1::HealthCheckRequest::descriptor()->file()->FindServiceByName("Health"));
    services.push_back(
        grpc::reflection::v1alpha::ServerReflectionRequest::descriptor()->file()->FindServiceByName(
            "ServerReflection"));
  }
  return services;
}

// The services a role serves on its mTLS port: the CA role only AdminService
// (for IssueCertificate), and health and reflection with `with_grpc`.
std::vector<std::string> TlsServiceNames(bool with_grpc, ServerRole role = ServerRole::kServing) {
  std::vector<std::string> names;
  for (const google::protobuf::ServiceDescriptor* service : TlsServices(with_grpc)) {
    if (service == nullptr) continue;
    if (role == ServerRole::kCa && service->name() != "AdminService" &&
        service->name() != "Health" && service->name() != "ServerReflection") {
      continue;
    }
    names.push_back(service->full_name());
  }
  return names;
}

}  // namespace

std::vector<std::string> ServedMethods() {
  std::vector<std::string> methods;
  for (const google::protobuf::ServiceDescriptor* service : TlsServices(true)) {
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      methods.push_back(absl::StrCat("/", service->full_name(), "/", service->method(i)->name()));
    }
  }
  return methods;
}

// Declared in destruction order's reverse: what is used by others comes first.
struct EnlaceServer::Parts {
  Metrics metrics;
  std::unique_ptr<db::MysqlPool> pool;
  std::unique_ptr<db::MysqlArrivalStore> arrival_store;
  std::unique_ptr<db::MysqlAuditStore> audit_store;
  std::unique_ptr<db::MysqlRegistryStore> registry_store;
  std::unique_ptr<db::MysqlCaseStore> case_store;
  std::unique_ptr<db::MysqlReportStore> report_store;
  std::unique_ptr<db::MysqlReturneeStore> returnee_store;
  std::unique_ptr<db::MysqlPersonStore> person_store;
  std::unique_ptr<db::MysqlAgreementStore> agreement_store;
  // The agreements in memory, for the feed (serving role).
  std::unique_ptr<SharingAgreementBook> sharing_agreements;
  std::unique_ptr<RevocationList> revocation;
  std::unique_ptr<auth::PolicyWatcher> policy;
  std::unique_ptr<AuditLog> audit_log;
  std::unique_ptr<IngestBatcher> batcher;
  std::unique_ptr<WorkPool> work;
  std::unique_ptr<TokenKeys> token_keys;
  std::unique_ptr<PageTokens> tokens;
  std::unique_ptr<AgencyDirectory> agencies;
  std::unique_ptr<CallGate> gate;
  std::unique_ptr<ArrivalServiceImpl> arrival_service;
  std::unique_ptr<AdminServiceImpl> admin_service;
  std::unique_ptr<CaAdminService> ca_admin_service;  // the CA role's AdminService
  std::unique_ptr<ReferralFeed> referral_feed;
  ProgrammeTargets programme_targets;  // the case and report services' targets
  std::unique_ptr<CaseServiceImpl> case_service;
  std::unique_ptr<ReferralServiceImpl> referral_service;
  std::unique_ptr<ReportServiceImpl> report_service;
  std::unique_ptr<HealthServiceImpl> health_service;  // the TLS port's, behind the gate
  std::unique_ptr<ReflectionServiceImpl> reflection_service;
  // The audit log's Merkle tree, checkpoints and witnesses (serving role);
  // its thread ends before the health service it reports to is gone.
  std::unique_ptr<db::MysqlAuditTreeStore> audit_tree_store;
  std::unique_ptr<AuditTransparency> transparency;
  // Erases arrivals past their retention date (serving role); stopped
  // before the stores it uses are gone.
  std::unique_ptr<RetentionJob> retention_job;
  // Answers UNIMPLEMENTED for all but health on the plaintext port.
  grpc::CallbackGenericService health_port_unimplemented;
  std::unique_ptr<grpc::Server> health_server;
  std::unique_ptr<grpc::Server> tls_server;
  std::unique_ptr<prometheus::Exposer> exposer;
  int tls_port = 0;
  int health_port = 0;
  int metrics_port = 0;
  absl::Notification stop_monitor;
  std::thread database_monitor;
  // Samples the pool, the audit queue and the feed into the metrics.
  std::thread metrics_monitor;
  // From the start of a drain on: readiness stays NOT_SERVING.
  std::atomic<bool> draining{false};
  // What the database monitor last found (readiness, unless draining).
  std::atomic<bool> database_up{true};
  // Revocation refresh, expiry warnings, the sharing agreements' refresh.
  // Woken early by a revocation on this replica.
  std::thread certificate_monitor;
  // Re-checks open streams (revocation, expiry, policy, stale state) and
  // reloads the token keys. Apart from the certificate monitor so that a
  // database that hangs never holds it up.
  std::thread stream_monitor;
  absl::Duration stream_recheck;
  absl::Mutex wake_mu;
  bool wake ABSL_GUARDED_BY(wake_mu) = false;
  absl::Duration revocation_refresh;
  std::string server_cert_path;
  // The CA role: publishes CRLs for the TLS layer when --crl_dir is set (defence in
  // depth; the per-call check does not depend on it).
  std::unique_ptr<auth::CrlPublisher> crl_publisher;

  void WakeCertificateMonitor() {
    absl::MutexLock lock(&wake_mu);
    wake = true;
  }
  void RunCertificateMonitor();
  void RunStreamMonitor();
  void RefreshRevocation();
  // Reads the agreements again; open feeds of an agency that lost one end.
  void RefreshSharingAgreements();
  void PublishCrl(const std::vector<db::RevokedSerial>& revoked);
  void WarnOfExpiringCertificates();
  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;
  absl::Notification shutdown_done;

  void SetServing(bool serving) {
    database_up = serving;
    if (draining.load()) serving = false;  // a drain is never undone
    // The plaintext port's built-in health service, and the TLS port's own.
    // SetServingStatus(bool) sets every name, so liveness is set again after
    // it: the process answers, whatever the database or a drain say.
    if (health_server != nullptr) {
      grpc::HealthCheckServiceInterface* health = health_server->GetHealthCheckService();
      if (health != nullptr) {
        health->SetServingStatus(serving);
        health->SetServingStatus(kLivenessHealthService, true);
      }
    }
    if (health_service != nullptr) health_service->SetServing(serving);
    metrics.SetDatabaseUp(database_up.load());
  }
  void SampleMetrics();
};

namespace {

absl::Status CheckReadable(const std::string& path, absl::string_view what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no path given"));
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  return absl::OkStatus();
}

// Waits until the database answers, then checks that its schema is at least
// the version this binary carries. A serving process never migrates: its
// database user may not (db/grants.h), and the migration credentials are
// not its to hold.
absl::Status WaitForDatabase(const db::Dsn& dsn, absl::Duration wait) {
  absl::Time deadline = absl::Now() + wait;
  constexpr absl::string_view kHowToMigrate =
      "run `enlace-server --migrate` first, as the migration user (--migrate_dsn or "
      "ENLACE_MIGRATE_DSN, and --db_dsn naming this server's user, to whom it grants)";
  while (true) {
    absl::StatusOr<db::SchemaVersion> version =
        db::ReadSchemaVersion(dsn, db::EmbeddedMigrations());
    if (absl::IsUnavailable(version.status()) && absl::Now() < deadline) {
      Log("database not reachable yet (", version.status().message(), "); retrying");
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    if (absl::IsPermissionDenied(version.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat(version.status().message(), ": its grants are missing; ", kHowToMigrate));
    }
    if (!version.ok()) return version.status();
    if (version->behind()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the schema of database ", dsn.database, " is at version ", version->database,
          " but this server needs version ", version->binary, " (", version->binary_file,
          "): ", kHowToMigrate, ". A serving replica never changes the schema"));
    }
    if (version->database > version->binary) {
      Log("the database schema is at version ", version->database, ", newer than this server's ",
          version->binary, " (a newer release migrated it): serving, as migrations only add");
    }
    return absl::OkStatus();
  }
}

// The audit log's transparency (server/audit_transparency.h): its store, the
// log key, and the object the AdminService serves it through; its thread
// starts with the server.
absl::Status StartAuditTransparency(const ServerConfig& config, EnlaceServer::Parts& p) {
  if (!tlog::IsValidKeyName(config.audit_origin)) {
    return absl::InvalidArgumentError(
        "--audit_origin: 1 to 128 printable ASCII characters, no space or '+'");
  }
  std::optional<tlog::Ed25519Key> key;
  if (config.audit_log_key.empty()) {
    key = tlog::Ed25519Key::Generate();
    LogWarning(
        "no --audit_log_key: audit checkpoints are signed with a key of this process "
        "only; witnesses and verifiers cannot check them after a restart nor on another replica");
  } else {
    absl::StatusOr<tlog::Ed25519Key> loaded = tlog::Ed25519Key::LoadPemFile(config.audit_log_key);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--audit_log_key: ", loaded.status().message()));
    }
    key = *std::move(loaded);
  }
  TransparencyOptions options;
  options.origin = config.audit_origin;
  options.build_poll = config.audit_tree_poll;
  options.checkpoint_interval = config.audit_checkpoint_interval;
  options.on_request_interval = config.audit_checkpoint_on_request;
  options.witness_alert = config.audit_witness_alert;
  p.audit_tree_store = std::make_unique<db::MysqlAuditTreeStore>(p.pool.get());
  EnlaceServer::Parts* raw = &p;
  p.transparency = std::make_unique<AuditTransparency>(
      options, *std::move(key), p.audit_store.get(), p.audit_tree_store.get(), &p.metrics,
      [raw](bool witnessed) {
        if (raw->health_service != nullptr) {
          raw->health_service->SetDedicatedServing(kWitnessedHealthService, witnessed);
        }
      });
  p.admin_service->SetAuditTransparency(p.transparency.get());
  Log("audit log key: ", tlog::FormatVerifierKey(p.transparency->log_verifier()),
      " (the vkey witnesses verify checkpoints with)");
  return absl::OkStatus();
}

}  // namespace

void ApplyServerLimits(const ServerConfig& config, grpc::ServerBuilder& builder) {
  // Tests and replicas bind their own ports; never share one silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Debian's gRPC 1.51 lacks later HTTP/2 hardening: bound what a peer can ask for.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1100);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 15 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients may ping every 10 s (watch streams idle for long); faster earns GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age_grace)));
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(32 * 1024 * 1024);
}

namespace {

// The files the configuration names are readable, and only the CA role
// holds the CA key.
absl::Status CheckStartConfig(const ServerConfig& config) {
  for (auto [path, what] :
       {std::pair{config.ca_cert, "--ca_cert"}, std::pair{config.server_cert, "--server_cert"},
        std::pair{config.server_key, "--server_key"}, std::pair{config.policy, "--policy"}}) {
    if (absl::Status s = CheckReadable(path, what); !s.ok()) return s;
  }
  const bool ca_role = config.role == ServerRole::kCa;
  if (ca_role && config.ca_key.empty()) {
    return absl::InvalidArgumentError("--role=ca needs --ca_key: the CA role signs certificates");
  }
  if (!ca_role && !config.ca_key.empty()) {
    return absl::InvalidArgumentError(
        "--ca_key is for --role=ca only: a serving replica must never hold the CA key (it "
        "verifies certificates and checks revocation; issuance runs in the CA role)");
  }
  return absl::OkStatus();
}

// The database pool, the stores over it and the revocation state, read
// once: nothing is served before it is known. Returns every revoked serial
// (the first CRL's).
absl::StatusOr<std::vector<db::RevokedSerial>> OpenStores(const ServerConfig& config,
                                                          const db::Dsn& dsn,
                                                          EnlaceServer::Parts& p) {
  db::PoolOptions pool_options{.max_connections = config.db_pool_size};
  // With several database hosts (db/mysql_pool.h, "Failover"): each move
  // is logged and counted, for the on-call engineer.
  Metrics* metrics = &p.metrics;
  pool_options.on_failover = [metrics](const db::DsnHost& from, const db::DsnHost& to) {
    LogWarning("database failover: ", from.host, ":", from.port, " -> ", to.host, ":", to.port);
    metrics->RecordDatabaseFailover();
  };
  pool_options.on_wait = [metrics](absl::Duration waited) { metrics->RecordDbPoolWait(waited); };
  p.pool = std::make_unique<db::MysqlPool>(dsn, pool_options);
  // The whole pool opened now rather than at the first load spikes: the
  // server's memory and descriptors are those of full load from the start
  // (the soak holds them to <10% growth). Best effort: calls open any
  // connection missing here.
  // With several database hosts: the Galera member every replica writes
  // through (db/mysql_pool.h, ChooseWriterNode), before any connection opens.
  p.pool->ChooseWriterNode();
  if (absl::Status s = p.pool->Prefill(config.db_pool_size); !s.ok()) {
    LogWarning("opened ", p.pool->OpenConnections(), " of ", config.db_pool_size,
               " database connections at start (the rest on demand): ", s.message());
  }
  p.arrival_store = std::make_unique<db::MysqlArrivalStore>(p.pool.get());
  p.audit_store = std::make_unique<db::MysqlAuditStore>(p.pool.get());
  p.registry_store = std::make_unique<db::MysqlRegistryStore>(p.pool.get());
  p.case_store = std::make_unique<db::MysqlCaseStore>(p.pool.get());
  p.returnee_store = std::make_unique<db::MysqlReturneeStore>(p.pool.get());
  p.person_store = std::make_unique<db::MysqlPersonStore>(p.pool.get());
  p.agreement_store = std::make_unique<db::MysqlAgreementStore>(p.pool.get());
  p.report_store = std::make_unique<db::MysqlReportStore>(p.pool.get());
  p.revocation =
      std::make_unique<RevocationList>(p.registry_store.get(), config.revocation_max_staleness);
  p.revocation_refresh = config.revocation_refresh;
  p.server_cert_path = config.server_cert;
  // Serve nothing before the revocation state is known.
  std::vector<db::RevokedSerial> revoked_serials;
  if (absl::StatusOr<std::vector<std::string>> revoked =
          p.revocation->Refresh(absl::Now(), &revoked_serials);
      !revoked.ok()) {
    return absl::Status(revoked.status().code(), absl::StrCat("cannot read revoked certificates: ",
                                                              revoked.status().message()));
  }
  return revoked_serials;
}

// The CA's certificate and key when the configuration has the key (the CA
// role); nothing otherwise.
absl::StatusOr<std::optional<auth::CertificateAuthority>> LoadCa(const ServerConfig& config) {
  if (config.ca_key.empty()) return std::nullopt;
  absl::StatusOr<auth::CertificateAuthority> loaded =
      auth::LoadCertificateAuthority(config.ca_cert, config.ca_key);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ca_cert/--ca_key: ", loaded.status().message()));
  }
  return std::optional<auth::CertificateAuthority>(*std::move(loaded));
}

// The keys of page and resume tokens: --token_keys, or a key of this
// process only.
absl::StatusOr<std::unique_ptr<TokenKeys>> LoadTokenKeys(const ServerConfig& config) {
  if (config.token_keys.empty()) {
    LogWarning(
        "no --token_keys: page and resume tokens are signed with a key of this process "
        "only; they will not survive a restart nor work on another replica");
    return TokenKeys::Ephemeral();
  }
  absl::StatusOr<std::unique_ptr<TokenKeys>> keys = TokenKeys::Load(config.token_keys);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--token_keys: ", keys.status().message()));
  }
  return keys;
}

// What every service calls through: the policy, the audit log, the ingest
// batcher (serving role), the work pool, the tokens, the agency directory
// and the call gate over them.
absl::Status StartCallGate(const ServerConfig& config, EnlaceServer::Parts& p) {
  absl::StatusOr<std::unique_ptr<auth::PolicyWatcher>> policy =
      auth::PolicyWatcher::Start(config.policy, ServedMethods(), config.policy_poll,
                                 [](absl::string_view message) { LogMessage(message); });
  if (!policy.ok()) return policy.status();
  p.policy = *std::move(policy);
  p.audit_log = std::make_unique<AuditLog>(p.audit_store.get());
  if (config.role != ServerRole::kCa) {
    p.batcher = std::make_unique<IngestBatcher>(
        p.arrival_store.get(),
        IngestOptions{.writers = config.ingest_writers,
                      .max_batch = static_cast<size_t>(config.ingest_batch)});
  }
  p.work = std::make_unique<WorkPool>(config.worker_threads, config.work_queue);
  absl::StatusOr<std::unique_ptr<TokenKeys>> token_keys = LoadTokenKeys(config);
  if (!token_keys.ok()) return token_keys.status();
  p.token_keys = *std::move(token_keys);
  p.tokens = std::make_unique<PageTokens>(p.token_keys.get());
  p.agencies = std::make_unique<AgencyDirectory>(p.registry_store.get());
  p.gate = std::make_unique<CallGate>(p.policy.get(), p.revocation.get(), p.audit_log.get(),
                                      p.work.get(), &p.metrics, config.limits);
  return absl::OkStatus();
}

// The services of the role: the CA role's AdminService alone, or every
// service (with the referral feed and the audit log's transparency); and
// health and reflection on the TLS port for both.
absl::Status MakeServices(const ServerConfig& config, std::optional<auth::CertificateAuthority> ca,
                          EnlaceServer::Parts& p) {
  const bool ca_role = config.role == ServerRole::kCa;
  EnlaceServer::Parts* raw_parts = &p;
  p.admin_service = std::make_unique<AdminServiceImpl>(
      p.gate.get(), p.tokens.get(), p.audit_store.get(), p.registry_store.get(),
      CertificateAuthorityAccess{std::move(ca), config.ca_cert, config.ca_role_addr},
      [raw_parts] { raw_parts->WakeCertificateMonitor(); });
  if (ca_role) {
    p.ca_admin_service = std::make_unique<CaAdminService>(p.admin_service.get());
  } else {
    p.arrival_service = std::make_unique<ArrivalServiceImpl>(
        p.gate.get(), p.tokens.get(), p.arrival_store.get(), p.batcher.get(), p.agencies.get(),
        &p.metrics, p.returnee_store.get(), p.audit_store.get(), p.person_store.get());
    p.referral_feed =
        std::make_unique<ReferralFeed>(p.case_store.get(), config.feed_poll, config.feed_window);
    if (absl::Status s = p.referral_feed->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("cannot read the referral feed: ", s.message()));
    }
    p.programme_targets = config.programme_targets;
    p.case_service =
        std::make_unique<CaseServiceImpl>(p.gate.get(), p.tokens.get(), p.case_store.get(),
                                          p.audit_store.get(), &p.programme_targets);
    p.report_service = std::make_unique<ReportServiceImpl>(p.gate.get(), p.report_store.get(),
                                                           &p.programme_targets);
    p.sharing_agreements = std::make_unique<SharingAgreementBook>(p.agreement_store.get());
    if (absl::StatusOr<std::vector<std::string>> read = p.sharing_agreements->Refresh(absl::Now());
        !read.ok()) {
      return absl::Status(read.status().code(), absl::StrCat("cannot read the sharing agreements: ",
                                                             read.status().message()));
    }
    p.admin_service->SetSharingAgreements(p.agreement_store.get(),
                                          [raw_parts] { raw_parts->RefreshSharingAgreements(); });
    p.referral_service = std::make_unique<ReferralServiceImpl>(
        p.gate.get(), p.tokens.get(), p.case_store.get(), p.agencies.get(), p.referral_feed.get(),
        p.work.get(), p.sharing_agreements.get());
    if (absl::Status s = StartAuditTransparency(config, p); !s.ok()) return s;
  }

  // Health and reflection on the TLS port are ours, behind the gate like
  // every other service; gRPC's built-in ones (no policy, no audit) only
  // serve health on the plaintext port, which has no identity to check.
  p.health_service = std::make_unique<HealthServiceImpl>(
      p.gate.get(), TlsServiceNames(false, config.role),
      ca_role ? std::vector<std::string>{} : std::vector<std::string>{kWitnessedHealthService});
  p.reflection_service =
      std::make_unique<ReflectionServiceImpl>(p.gate.get(), TlsServiceNames(true, config.role));
  return absl::OkStatus();
}

// The plaintext port, when configured: gRPC's built-in health service and
// nothing else. That service is only added when the server starts: the
// generic service (UNIMPLEMENTED for every other method) gives the builder
// the callback method it needs to accept a server with no registered
// service.
absl::Status StartHealthPort(const ServerConfig& config, EnlaceServer::Parts& p) {
  if (config.health_addr.empty()) return absl::OkStatus();
  grpc::ServerBuilder builder;
  ApplyServerLimits(config, builder);
  builder.RegisterCallbackGenericService(&p.health_port_unimplemented);
  builder.AddListeningPort(config.health_addr, grpc::InsecureServerCredentials(), &p.health_port);
  p.health_server = builder.BuildAndStart();
  if (p.health_server == nullptr || p.health_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.health_addr,
                                               " (--health_addr); is the port in use?"));
  }
  return absl::OkStatus();
}

// The mutual-TLS port with the role's services; its certificates reloaded
// when their files change, the CRLs of --crl_dir checked at the handshake.
absl::Status StartTlsPort(const ServerConfig& config, EnlaceServer::Parts& p) {
  auto certificates = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.server_key, config.server_cert, config.ca_cert, config.tls_refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions tls_options(certificates);
  tls_options.watch_root_certs();
  tls_options.watch_identity_key_cert_pairs();
  tls_options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!config.crl_dir.empty()) tls_options.set_crl_directory(config.crl_dir);
  grpc::ServerBuilder builder;
  ApplyServerLimits(config, builder);
  builder.AddListeningPort(config.tls_addr, grpc::experimental::TlsServerCredentials(tls_options),
                           &p.tls_port);
  if (config.role == ServerRole::kCa) {
    builder.RegisterService(p.ca_admin_service.get());
  } else {
    builder.RegisterService(p.arrival_service.get());
    builder.RegisterService(p.admin_service.get());
    builder.RegisterService(p.case_service.get());
    builder.RegisterService(p.referral_service.get());
    builder.RegisterService(p.report_service.get());
  }
  // No built-in health service here (nullptr disables it): ours is gated.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.RegisterService(p.health_service.get());
  builder.RegisterService(p.reflection_service.get());
  // Start-up can take a while on a loaded machine: refresh once more right
  // before listening, so the first calls never meet a state already stale.
  if (absl::StatusOr<std::vector<std::string>> fresh = p.revocation->Refresh(absl::Now(), nullptr);
      !fresh.ok()) {
    LogWarning("revocation state not refreshed before listening: ", fresh.status().message());
  }
  p.tls_server = builder.BuildAndStart();
  if (p.tls_server == nullptr || p.tls_port == 0) {
    if (p.health_server) p.health_server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.tls_addr, " (--tls_addr); is the port in use?"));
  }
  return absl::OkStatus();
}

// The Prometheus endpoint, when configured. On failure the ports already
// listening are shut down.
absl::Status StartMetricsEndpoint(const ServerConfig& config, EnlaceServer::Parts& p) {
  if (config.metrics_addr.empty()) return absl::OkStatus();
  try {
    p.exposer = std::make_unique<prometheus::Exposer>(config.metrics_addr);
    p.exposer->RegisterCollectable(p.metrics.registry());
    std::vector<int> ports = p.exposer->GetListeningPorts();
    p.metrics_port = ports.empty() ? 0 : ports.front();
  } catch (const std::exception& e) {
    p.tls_server->Shutdown();
    if (p.health_server) p.health_server->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", config.metrics_addr,
                                               " (--metrics_addr): ", e.what()));
  }
  return absl::OkStatus();
}

// SERVING, and the threads that keep it true: health following the
// database, the certificate and stream monitors, the audit log's
// transparency.
void StartMonitors(const ServerConfig& config, EnlaceServer::Parts& p) {
  p.SetServing(true);
  // Health follows the database: probes see NOT_SERVING while it is away.
  EnlaceServer::Parts* raw = &p;
  p.database_monitor = std::thread([raw] {
    bool was_up = true;
    while (!raw->stop_monitor.WaitForNotificationWithTimeout(absl::Seconds(2))) {
      // Replicas follow the cluster's membership to the same writer node.
      raw->pool->ChooseWriterNode();
      absl::Status status = raw->pool->Run([](db::MysqlConnection& c) {
        c.Execute("DO 1");
        return absl::OkStatus();
      });
      bool up = status.ok();
      if (up != was_up) {
        if (up) {
          Log("database reachable again: SERVING");
        } else {
          LogError("database unreachable: NOT_SERVING (", status.message(), ")");
        }
        raw->SetServing(up);
        was_up = up;
      }
    }
  });
  p.metrics.SetDbPoolMaxConnections(config.db_pool_size);
  p.SampleMetrics();
  p.metrics_monitor = std::thread([raw] {
    while (!raw->stop_monitor.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      raw->SampleMetrics();
    }
  });
  p.certificate_monitor = std::thread([raw] { raw->RunCertificateMonitor(); });
  p.stream_recheck = config.stream_recheck;
  p.stream_monitor = std::thread([raw] { raw->RunStreamMonitor(); });
  if (p.transparency != nullptr) p.transparency->Start();
  if (p.returnee_store != nullptr && config.retention_interval > absl::ZeroDuration()) {
    p.retention_job = std::make_unique<RetentionJob>(p.returnee_store.get(), config.retention_years,
                                                     config.retention_interval);
    p.retention_job->Start();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EnlaceServer>> EnlaceServer::Start(const ServerConfig& config) {
  if (absl::Status s = CheckStartConfig(config); !s.ok()) return s;
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(config.db_dsn);
  if (!dsn.ok()) return dsn.status();
  if (absl::Status s = WaitForDatabase(*dsn, config.db_wait); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("database ", dsn->ToSafeString(), ": ", s.message()));
  }

  auto parts = std::make_unique<Parts>();
  Parts& p = *parts;
  absl::StatusOr<std::vector<db::RevokedSerial>> revoked_serials = OpenStores(config, *dsn, p);
  if (!revoked_serials.ok()) return revoked_serials.status();
  absl::StatusOr<std::optional<auth::CertificateAuthority>> ca = LoadCa(config);
  if (!ca.ok()) return ca.status();
  // The CA role publishes CRLs; a serving replica's TLS layer only reads
  // them from the same directory (StartTlsPort).
  if (!config.crl_dir.empty() && ca->has_value()) {
    p.crl_publisher = std::make_unique<auth::CrlPublisher>(config.crl_dir, **ca);
    p.PublishCrl(*revoked_serials);  // before the first handshake
  }
  if (absl::Status s = StartCallGate(config, p); !s.ok()) return s;
  if (absl::Status s = MakeServices(config, *std::move(ca), p); !s.ok()) return s;

  grpc::EnableDefaultHealthCheckService(true);
  if (absl::Status s = StartHealthPort(config, p); !s.ok()) return s;
  if (absl::Status s = StartTlsPort(config, p); !s.ok()) return s;
  if (absl::Status s = StartMetricsEndpoint(config, p); !s.ok()) return s;
  StartMonitors(config, p);
  Log("enlace-server (", config.role == ServerRole::kCa ? "CA role" : "serving",
      ") listening: tls ", p.tls_port, ", health ", p.health_port, ", metrics ", p.metrics_port,
      "; database ", dsn->ToSafeString());
  return std::unique_ptr<EnlaceServer>(new EnlaceServer(std::move(parts)));
}

void EnlaceServer::Parts::SampleMetrics() {
  const db::PoolStats pool_stats = pool->Stats();
  metrics.SetDbPoolConnections(pool_stats.in_use, pool_stats.idle);
  metrics.SetDbPoolOpenConnections(pool_stats.in_use + pool_stats.idle);
  metrics.SetAuditQueueDepth(audit_log->queue_depth());
  metrics.SetAuditCommitLag(audit_log->last_commit_lag());
  if (referral_feed != nullptr) {
    metrics.SetFeedLag(absl::Now() - referral_feed->last_poll());
  }
}

void EnlaceServer::Parts::RunCertificateMonitor() {
  absl::Time next_expiry_scan = absl::InfinitePast();
  while (!stop_monitor.HasBeenNotified()) {
    RefreshRevocation();
    // Here, not in the stream monitor: a database that hangs must never
    // hold up the gate's re-checks of open streams.
    if (sharing_agreements != nullptr) RefreshSharingAgreements();
    if (absl::Now() >= next_expiry_scan) {
      WarnOfExpiringCertificates();
      next_expiry_scan = absl::Now() + absl::Minutes(10);
    }
    absl::MutexLock lock(&wake_mu);
    wake_mu.AwaitWithTimeout(absl::Condition(&wake), revocation_refresh);
    wake = false;
  }
}

void EnlaceServer::Parts::RunStreamMonitor() {
  while (!stop_monitor.WaitForNotificationWithTimeout(stream_recheck)) {
    int ended = gate->RecheckStreams(absl::Now());
    if (ended > 0)
      Log("open streams ended by the gate (revoked, expired, denied or stale): ", ended);
    if (absl::Status s = token_keys->ReloadIfChanged(); !s.ok()) {
      LogWarning("token keys not reloaded (the keys in force stay): ", s.message());
    }
  }
}

void EnlaceServer::Parts::RefreshSharingAgreements() {
  absl::StatusOr<std::vector<std::string>> lost = sharing_agreements->Refresh(absl::Now());
  if (!lost.ok()) {
    // The agreements read before stay; reads and referrals check the table.
    LogWarning("sharing agreements not refreshed: ", lost.status().message());
    return;
  }
  if (lost->empty()) return;
  Log("data-sharing agreements ended or expired for: ", absl::StrJoin(*lost, ", "),
      "; their open referral feeds end");
  referral_feed->TellSubscribers();
}

void EnlaceServer::Parts::PublishCrl(const std::vector<db::RevokedSerial>& revoked) {
  std::vector<auth::RevokedEntry> entries;
  entries.reserve(revoked.size());
  for (const db::RevokedSerial& r : revoked) {
    entries.push_back({r.serial, absl::FromUnixMicros(r.revoked_at_us)});
  }
  absl::Status status = crl_publisher->Publish(entries, absl::Now());
  if (!status.ok()) {
    // Loud, but not fatal: calls are still checked one by one. If this goes
    // on past the CRL's nextUpdate, the TLS layer rejects every client.
    LogError("CRL not published to ", crl_publisher->directory(), ": ", status.message());
  }
}

void EnlaceServer::Parts::RefreshRevocation() {
  std::vector<db::RevokedSerial> all;
  absl::StatusOr<std::vector<std::string>> newly = revocation->Refresh(absl::Now(), &all);
  if (!newly.ok()) {
    // RevocationList fails closed on its own once the state is too old.
    LogWarning("revocation state not refreshed: ", newly.status().message());
    return;
  }
  if (crl_publisher != nullptr &&
      (!newly->empty() || crl_publisher->NeedsRefresh(absl::Now(), absl::Hours(24 * 3)))) {
    PublishCrl(all);
  }
  if (newly->empty()) return;
  // Open streams of these certificates end at once, not at the next round.
  int ended = gate->RecheckStreams(absl::Now());
  Log("revoked certificates now refused: ", newly->size(), "; open streams ended: ", ended);
}

void EnlaceServer::Parts::WarnOfExpiringCertificates() {
  absl::Time now = absl::Now();
  db::CertificateQuery query;
  query.now_us = absl::ToUnixMicros(now);
  query.expiring_before_us = absl::ToUnixMicros(now + absl::Hours(24 * 30));
  query.limit = 1000;
  absl::StatusOr<std::vector<db::CertificateRecord>> expiring =
      registry_store->ListCertificates(query);
  if (expiring.ok()) {
    metrics.SetCertificatesExpiringSoon(static_cast<int>(expiring->size()));
    for (const db::CertificateRecord& c : *expiring) {
      LogWarning("certificate ", c.serial, " of ", c.spiffe_id, " expires in ",
                 (c.not_after_us - query.now_us) / (24LL * 3600 * 1000000),
                 " days: issue its successor");
    }
  }
  absl::StatusOr<std::string> pem = auth::ReadFileToString(server_cert_path);
  absl::StatusOr<auth::CertificateInfo> own =
      pem.ok() ? auth::ReadCertificate(*pem) : absl::StatusOr<auth::CertificateInfo>(pem.status());
  if (own.ok()) {
    metrics.SetServerCertificateExpiry(own->not_after);
    if (own->not_after - now < absl::Hours(24 * 30)) {
      LogWarning("the server certificate ", own->serial_hex, " expires on ",
                 absl::FormatTime("%Y-%m-%d", own->not_after, absl::UTCTimeZone()), ": rotate it");
    }
  }
}

EnlaceServer::EnlaceServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

EnlaceServer::~EnlaceServer() {
  Shutdown();
  parts_->stop_monitor.Notify();
  parts_->WakeCertificateMonitor();
  if (parts_->database_monitor.joinable()) parts_->database_monitor.join();
  if (parts_->certificate_monitor.joinable()) parts_->certificate_monitor.join();
  if (parts_->stream_monitor.joinable()) parts_->stream_monitor.join();
  if (parts_->metrics_monitor.joinable()) parts_->metrics_monitor.join();
  parts_->retention_job.reset();
}

int EnlaceServer::tls_port() const { return parts_->tls_port; }
int EnlaceServer::health_port() const { return parts_->health_port; }
int EnlaceServer::metrics_port() const { return parts_->metrics_port; }

void EnlaceServer::Wait() { parts_->shutdown_done.WaitForNotification(); }

void EnlaceServer::Shutdown(absl::Duration grace, absl::Duration drain) {
  {
    absl::MutexLock lock(&parts_->shutdown_mu);
    if (parts_->shut_down) return;
    parts_->shut_down = true;
  }
  Parts& p = *parts_;
  // 1. Readiness off: probes and load balancers see NOT_SERVING ("" on the
  // health ports), liveness stays SERVING; calls are still served.
  p.draining = true;
  p.metrics.SetDraining(true);
  p.SetServing(p.database_up.load());  // NOT_SERVING now; enlace_database_up unchanged
  if (drain > absl::ZeroDuration()) {
    Log("shutting down: readiness off, draining for ", absl::FormatDuration(drain));
    absl::SleepFor(drain);  // the time load balancers take to stop sending
  }
  // 2. Stop accepting (new calls: UNAVAILABLE), let unary calls in flight
  // finish within `grace`. Open streams end with UNAVAILABLE now, and any
  // that slipped in while the listener closed at the next round: watchers
  // resume elsewhere from their last token.
  absl::Time started = absl::Now();
  std::chrono::system_clock::time_point deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace);
  absl::Notification stopped;
  std::thread stopper([&p, &stopped, deadline] {
    p.tls_server->Shutdown(deadline);
    stopped.Notify();
  });
  int streams = 0;
  do {
    streams += p.gate->EndAllStreams();
  } while (!stopped.WaitForNotificationWithTimeout(absl::Milliseconds(500)));
  stopper.join();
  // 3. The health port last: its NOT_SERVING is seen until the TLS port is closed.
  if (p.health_server) p.health_server->Shutdown(deadline);
  Log("enlace-server stopped: ", streams, " open streams ended, calls drained in ",
      absl::FormatDuration(absl::Now() - started));
  p.shutdown_done.Notify();
}

}  // namespace enlace::server
