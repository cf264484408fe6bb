// enlace-server: the Enlace gRPC server. Flags (each also settable through an
// ENLACE_<FLAG IN UPPER CASE> environment variable; a flag on the command line
// wins) configure addresses, the database, the PKI and the policy.
#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "db/crash_points.h"
#include "db/dsn.h"
#include "db/grants.h"
#include "db/migrations.h"
#include "db/mysql_pool.h"
#include "db/mysql_report_grid.h"
#include "server/log.h"
#include "server/retention.h"
#include "server/server.h"

ABSL_FLAG(
    std::string, tls_addr, "127.0.0.1:7443",
    "address of the mutual-TLS gRPC port (all services, health, reflection); port 0 picks one");
ABSL_FLAG(std::string, health_addr, "127.0.0.1:7444",
          "address of the plaintext port that serves grpc.health.v1.Health only (probes); "
          "empty disables it");
ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:7445",
          "address of the Prometheus metrics endpoint (/metrics); empty disables it");
ABSL_FLAG(std::string, db_dsn, "mysql://root@127.0.0.1:3306/enlace",
          "database, as this server's own user (least privilege: db/grants.h): "
          "mysql://user[:password]@host:port/database or "
          "mysql://user@localhost/database?socket=PATH; the password is better given in "
          "ENLACE_DB_PASSWORD. The server never migrates: it refuses to start when the schema "
          "is behind (run --migrate first)");
ABSL_FLAG(bool, migrate, false,
          "apply the schema migrations as the migration user (--migrate_dsn), grant the user of "
          "--db_dsn exactly its privileges (db/grants.h), and exit (0: done). Run it before "
          "starting (or upgrading) the servers. Command line only");
ABSL_FLAG(bool, recount_reports, false,
          "as --migrate (same flags), then rebuild the programme report's pre-aggregated grid "
          "from the records, whether or not it needs it (--migrate does it once, right after "
          "the migration that adds the grid): after records were loaded in bulk without the "
          "server. Safe while servers run. Command line only");
ABSL_FLAG(std::string, migrate_dsn, "",
          "with --migrate only: the migration user's DSN (it needs ALL PRIVILEGES ON the "
          "database WITH GRANT OPTION), its password better in ENLACE_MIGRATE_PASSWORD. A "
          "serving process refuses to start when given one");
ABSL_FLAG(std::string, db_user_host, "%",
          "with --migrate: the host part of the server's database account ('user'@'host', "
          "user from --db_dsn) that is granted its privileges");
ABSL_FLAG(std::string, role, "serving",
          "serving: every service, no CA key (any number of replicas); ca: the CA role, which "
          "alone holds --ca_key, serves only AdminService.IssueCertificate and health, and "
          "publishes CRLs to --crl_dir (one process)");
ABSL_FLAG(std::string, ca_role_addr, "",
          "where clients reach the CA role (e.g. localhost:7446); a serving replica names it "
          "when it refuses IssueCertificate");
ABSL_FLAG(std::string, ca_cert, "var/pki/ca.crt",
          "PEM bundle of the CA(s) whose client certificates are accepted; reloaded on change");
ABSL_FLAG(std::string, server_cert, "var/pki/server.crt",
          "PEM certificate (chain) of this server; reloaded on change (atomic rename)");
ABSL_FLAG(std::string, server_key, "var/pki/server.key", "PEM private key of this server");
ABSL_FLAG(std::string, policy, "server/default_policy.conf",
          "authorization policy file (allow/deny rules per principal and method); "
          "reloaded on change, an invalid new version is refused and logged");
ABSL_FLAG(std::string, ca_key, "",
          "the platform CA's private key: --role=ca only (it signs CSRs in "
          "AdminService.IssueCertificate, and CRLs); a serving replica refuses to start with it");
ABSL_FLAG(std::string, crl_dir, "",
          "CRLs for the TLS layer: the CA role publishes them in this directory, serving "
          "replicas read them from it (share it); revocation is enforced per call whether or "
          "not this is set");
ABSL_FLAG(std::string, token_keys, "",
          "file of the keys that sign page and WatchReferrals resume tokens, one \"<id> <base64 "
          "secret>\" per line, the first signing (server/token_keys.h); every replica must hold "
          "the same file; re-read when it changes. Empty: a random key of this process only");
ABSL_FLAG(int, max_calls_per_identity, 16,
          "concurrent unary calls one identity (certificate SPIFFE ID) may have in flight, "
          "each until its audit event is committed; more: RESOURCE_EXHAUSTED. A higher limit "
          "lets one identity queue more in front of every identity's audit events "
          "(scripts/bench.sh fairness). 0: no limit");
ABSL_FLAG(int, max_waiting_calls_per_identity, 256,
          "calls of one identity that may wait for one of its --max_calls_per_identity slots "
          "instead of being refused at once; more: RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_streams_per_identity, 1200,
          "streams (WatchReferrals, RecordArrivals, ...) one identity may hold open; more: "
          "RESOURCE_EXHAUSTED. 0: no limit");
ABSL_FLAG(int, max_message_bytes, 4 * 1024 * 1024, "largest request message accepted");
ABSL_FLAG(int, max_connection_age_seconds, 3600,
          "connections are asked to close after this long (clients reconnect transparently, "
          "presenting their current certificate); open streams get 60 s more");
ABSL_FLAG(std::string, ready_file, "",
          "when set, written once the server is SERVING: tls_port=, health_port=, "
          "metrics_port= lines");
ABSL_FLAG(int, db_pool_size, 16,
          "database connections, all opened at start (those that fail then are opened "
          "on demand)");
ABSL_FLAG(int, worker_threads, 8, "threads that run database work for unary calls");
ABSL_FLAG(int, ingest_writers, 2, "concurrent arrival batch transactions");
ABSL_FLAG(int, ingest_batch, 500, "maximum arrivals per batch transaction");
ABSL_FLAG(int, db_wait_seconds, 30, "how long start-up waits for the database to answer");
ABSL_FLAG(int, feed_window, 20000,
          "referral feed events kept in memory for WatchReferrals (about 1.4 KB each); "
          "streams further behind read older ones from the database");
ABSL_FLAG(std::string, programme_targets, "initiatives=70",
          "the programme's targets that reports measure progress against: indicator=target,... "
          "with indicators initiatives, returnees_served, women_served, youth_served, "
          "training_completed, seed_capital_usd (whole US dollars)");
ABSL_FLAG(std::string, retention_years, "reintegration=10,protection=15,statistics=5,none=5",
          "how long each arrival's records are kept, in whole years from the day it was "
          "recorded, by the purposes its consent names (the longest wins; none: it names "
          "none): purpose=years,... (docs/data-protection.md, section 9)");
ABSL_FLAG(int, retention_interval_seconds, 3600,
          "how often the retention job erases the arrivals past their retention date, as "
          "EraseReturnee does (0: never)");
ABSL_FLAG(std::string, audit_log_key, "",
          "PEM Ed25519 private key that signs the audit log's checkpoints (docs/audit.md; "
          "openssl genpkey -algorithm ed25519); every replica holds the same. Empty: a key of "
          "this process only (a WARNING: witnesses cannot verify its checkpoints after a restart)");
ABSL_FLAG(std::string, audit_origin, "enlace.local/audit",
          "origin line of the audit checkpoints and name of the log key");
ABSL_FLAG(int, audit_checkpoint_seconds, 60,
          "a new audit checkpoint is signed at least this often while the log grows");
ABSL_FLAG(int, audit_witness_alert_seconds, 4 * 3600,
          "when no witness has cosigned an audit checkpoint for this long: a WARNING, and the "
          "health service enlace.audit.Witnessed answers NOT_SERVING");
ABSL_FLAG(int, drain_seconds, 5,
          "on SIGTERM: seconds between readiness going off (health \"\" NOT_SERVING; "
          "enlace.Liveness stays SERVING) and closing the listener, while calls are still "
          "served, so that load balancers stop sending first");
ABSL_FLAG(int, shutdown_grace_seconds, 20,
          "on SIGTERM, after the drain: how long unary calls in flight may take to finish "
          "before they are cancelled (open streams end at once with UNAVAILABLE, to resume "
          "elsewhere). drain + grace must stay under the pod's terminationGracePeriodSeconds");
ABSL_FLAG(std::string, log_format, "json",
          "json: one JSON object per line on stderr (time, level, message; method, caller, "
          "status, latency_ms, request_id on each call's access line); text: the same as plain "
          "lines");

namespace {

// ENLACE_<NAME> environment variables become flag values before the command
// line is parsed, so the command line still wins.
void ApplyEnvironment() {
  for (const char* name : {"role",
                           "ca_role_addr",
                           "migrate_dsn",
                           "db_user_host",
                           "tls_addr",
                           "health_addr",
                           "metrics_addr",
                           "db_dsn",
                           "ca_cert",
                           "ca_key",
                           "crl_dir",
                           "server_cert",
                           "server_key",
                           "policy",
                           "token_keys",
                           "max_calls_per_identity",
                           "max_waiting_calls_per_identity",
                           "max_streams_per_identity",
                           "max_message_bytes",
                           "max_connection_age_seconds",
                           "ready_file",
                           "db_pool_size",
                           "worker_threads",
                           "ingest_writers",
                           "ingest_batch",
                           "feed_window",
                           "db_wait_seconds",
                           "audit_log_key",
                           "audit_origin",
                           "audit_checkpoint_seconds",
                           "audit_witness_alert_seconds",
                           "drain_seconds",
                           "shutdown_grace_seconds",
                           "log_format"}) {
    std::string variable = absl::StrCat("ENLACE_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      std::cerr << "enlace-server: bad " << variable << ": " << error << "\n";
      std::exit(2);
    }
  }
}

// After the migrations: the report grid is counted from the records the
// first time (migration 0007 adds it empty), or again with
// --recount_reports. False (and a message) on failure.
bool RecountReportGridIfNeeded(const enlace::db::Dsn& migrate) {
  enlace::db::PoolOptions options;
  options.max_connections = 1;
  options.io_timeout = absl::Hours(2);  // one statement groups every record
  enlace::db::MysqlPool pool(migrate, options);
  bool forced = absl::GetFlag(FLAGS_recount_reports);
  if (!forced) {
    absl::StatusOr<bool> needed = enlace::db::ReportGridNeedsRecount(pool);
    if (!needed.ok()) {
      std::cerr << "enlace-server: reading report_grid_state: " << needed.status().message()
                << "\n";
      return false;
    }
    if (!*needed) return true;
  }
  absl::Time start = absl::Now();
  if (absl::Status s = enlace::db::RecountReportGrid(pool); !s.ok()) {
    std::cerr << "enlace-server: counting the report grid: " << s.message() << "\n";
    return false;
  }
  enlace::server::Log("report grid counted from the records in ",
                      absl::FormatDuration(absl::Now() - start));
  return true;
}

// --migrate: migrations, then the server user's grants, as the migration
// user, then the report grid if it needs counting.
int RunMigrate() {
  std::string migrate_text = absl::GetFlag(FLAGS_migrate_dsn);
  if (migrate_text.empty()) {
    std::cerr << "enlace-server: --migrate needs --migrate_dsn (or ENLACE_MIGRATE_DSN): the "
                 "migration user's DSN, its password better in ENLACE_MIGRATE_PASSWORD\n";
    return 2;
  }
  absl::StatusOr<enlace::db::Dsn> migrate =
      enlace::db::ParseDsn(migrate_text, enlace::db::kMigratePasswordVariable);
  // Only the user and database of the server's DSN matter here: no password.
  absl::StatusOr<enlace::db::Dsn> server =
      enlace::db::ParseDsn(absl::GetFlag(FLAGS_db_dsn), /*password_variable=*/nullptr);
  if (!migrate.ok() || !server.ok()) {
    std::cerr << "enlace-server: " << (migrate.ok() ? "--db_dsn: " : "--migrate_dsn: ")
              << (migrate.ok() ? server.status() : migrate.status()).message() << "\n";
    return 2;
  }
  if (migrate->database.empty() || migrate->database != server->database) {
    std::cerr << "enlace-server: --migrate_dsn and --db_dsn must name the same database (\""
              << migrate->database << "\", \"" << server->database << "\")\n";
    return 2;
  }
  enlace::db::DbAccount account{server->user, absl::GetFlag(FLAGS_db_user_host)};
  if (absl::Status s = account.Validate(); !s.ok()) {
    std::cerr << "enlace-server: --db_dsn/--db_user_host: " << s.message() << "\n";
    return 2;
  }
  if (account.user == migrate->user) {
    std::cerr << "enlace-server: --db_dsn names the migration user " << account.user
              << ": the server must connect as a user of its own, which --migrate grants to\n";
    return 2;
  }
  absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_db_wait_seconds));
  int applied = 0;
  absl::Status status;
  while (true) {
    status = enlace::db::ApplyMigrations(*migrate, enlace::db::EmbeddedMigrations(), &applied);
    if (!absl::IsUnavailable(status) || absl::Now() >= deadline) break;
    enlace::server::Log("database not reachable yet (", status.message(), "); retrying");
    absl::SleepFor(absl::Seconds(1));
  }
  if (!status.ok()) {
    std::cerr << "enlace-server: migrating " << migrate->ToSafeString() << ": " << status.message()
              << "\n";
    return 1;
  }
  enlace::server::Log("migrations applied to ", migrate->ToSafeString(), ": ", applied, " new");
  absl::StatusOr<std::vector<enlace::db::TableGrant>> granted =
      enlace::db::ApplyServerGrants(*migrate, account);
  if (!granted.ok()) {
    std::cerr << "enlace-server: granting " << account.Quoted() << ": "
              << granted.status().message() << "\n";
    return 1;
  }
  for (const enlace::db::TableGrant& grant : *granted) {
    enlace::server::Log(
        "grant ", account.Quoted(), " on ", grant.table, ": ",
        grant.privileges.empty() ? "nothing" : absl::StrJoin(grant.privileges, ", "));
  }
  return RecountReportGridIfNeeded(*migrate) ? 0 : 1;
}

// The --help text, and the flags it lists: this file's only.
void SetUpUsage() {
  absl::SetProgramUsageMessage(
      "the Enlace server: returnee records shared between the ministry and UN agencies over "
      "mutual TLS.\n\n"
      "Examples (passwords in ENLACE_MIGRATE_PASSWORD and ENLACE_DB_PASSWORD):\n"
      "  # once per release, as the migration user: schema and the server user's grants\n"
      "  enlace-server --migrate --migrate_dsn=mysql://enlace_migrate@127.0.0.1:3307/enlace \\\n"
      "      --db_dsn=mysql://enlace_server@127.0.0.1:3307/enlace\n"
      "  # the serving replicas (no CA key)\n"
      "  enlace-server --db_dsn=mysql://enlace_server@127.0.0.1:3307/enlace \\\n"
      "      --ca_cert=var/pki/ca.crt --server_cert=var/pki/server.crt "
      "--server_key=var/pki/server.key \\\n"
      "      --policy=server/default_policy.conf --ca_role_addr=localhost:7446\n"
      "  # the CA role: the only process with the CA key\n"
      "  enlace-server --role=ca --ca_key=var/pki/ca.key --tls_addr=127.0.0.1:7446 ...\n\n"
      "Every flag but --migrate can also be set as ENLACE_<FLAG> (e.g. ENLACE_DB_DSN).\n\n"
      "Test-only: ENLACE_TESTING_CRASH_POINT=NAME[:N] makes the process SIGKILL itself the Nth "
      "time it reaches crash point NAME (mid_batch, after_commit_before_answer, mid_answers; "
      "see db/crash_points.h). Never set it in production.");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view file) {
    size_t at = file.find("server/main.cc");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
}

// A serving process never holds the migration credentials: true (and a
// message) when it was given them.
bool HoldsMigrationCredentials() {
  if (absl::GetFlag(FLAGS_migrate_dsn).empty() &&
      std::getenv(enlace::db::kMigratePasswordVariable) == nullptr) {
    return false;
  }
  std::cerr << "enlace-server: --migrate_dsn / ENLACE_MIGRATE_DSN / ENLACE_MIGRATE_PASSWORD "
               "are for --migrate only: a serving process must not hold the migration "
               "credentials\n";
  return true;
}

// The flags of the TLS port's limits in `config`; false (and a message) when
// one is out of range.
bool ReadLimitFlags(enlace::server::ServerConfig& config) {
  config.limits.max_calls_per_identity = absl::GetFlag(FLAGS_max_calls_per_identity);
  config.limits.max_waiting_calls_per_identity =
      absl::GetFlag(FLAGS_max_waiting_calls_per_identity);
  config.limits.max_streams_per_identity = absl::GetFlag(FLAGS_max_streams_per_identity);
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  config.max_connection_age = absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_seconds));
  if (config.limits.max_calls_per_identity < 0 || config.limits.max_streams_per_identity < 0 ||
      config.limits.max_waiting_calls_per_identity < 0 || config.max_message_bytes < 1024 ||
      config.max_connection_age < absl::Seconds(1)) {
    std::cerr << "enlace-server: --max_calls_per_identity, --max_waiting_calls_per_identity "
                 "and --max_streams_per_identity must be 0 or more, --max_message_bytes at "
                 "least 1024, "
                 "--max_connection_age_seconds at least 1\n";
    return false;
  }
  return true;
}

// The flags of the database, the work pool, the ingest, the feed and the
// audit log in `config`; false (and a message) when one is out of range.
bool ReadWorkFlags(enlace::server::ServerConfig& config) {
  config.db_pool_size = absl::GetFlag(FLAGS_db_pool_size);
  config.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  config.ingest_writers = absl::GetFlag(FLAGS_ingest_writers);
  config.ingest_batch = absl::GetFlag(FLAGS_ingest_batch);
  config.db_wait = absl::Seconds(absl::GetFlag(FLAGS_db_wait_seconds));
  if (absl::GetFlag(FLAGS_feed_window) < 1) {
    std::cerr << "enlace-server: --feed_window must be at least 1\n";
    return false;
  }
  config.feed_window = static_cast<size_t>(absl::GetFlag(FLAGS_feed_window));
  absl::StatusOr<enlace::server::ProgrammeTargets> targets =
      enlace::server::ProgrammeTargets::Parse(absl::GetFlag(FLAGS_programme_targets));
  if (!targets.ok()) {
    std::cerr << "enlace-server: --" << targets.status().message() << "\n";
    return false;
  }
  config.programme_targets = *std::move(targets);
  absl::StatusOr<enlace::db::RetentionYears> retention =
      enlace::server::ParseRetentionYears(absl::GetFlag(FLAGS_retention_years));
  if (!retention.ok()) {
    std::cerr << "enlace-server: --" << retention.status().message() << "\n";
    return false;
  }
  config.retention_years = *retention;
  if (absl::GetFlag(FLAGS_retention_interval_seconds) < 0) {
    std::cerr << "enlace-server: --retention_interval_seconds must be 0 (never) or more\n";
    return false;
  }
  config.retention_interval = absl::Seconds(absl::GetFlag(FLAGS_retention_interval_seconds));
  config.audit_log_key = absl::GetFlag(FLAGS_audit_log_key);
  config.audit_origin = absl::GetFlag(FLAGS_audit_origin);
  config.audit_checkpoint_interval = absl::Seconds(absl::GetFlag(FLAGS_audit_checkpoint_seconds));
  config.audit_witness_alert = absl::Seconds(absl::GetFlag(FLAGS_audit_witness_alert_seconds));
  if (absl::GetFlag(FLAGS_audit_checkpoint_seconds) < 1 ||
      absl::GetFlag(FLAGS_audit_witness_alert_seconds) < 1) {
    std::cerr << "enlace-server: --audit_checkpoint_seconds and --audit_witness_alert_seconds "
                 "must be at least 1\n";
    return false;
  }
  if (config.db_pool_size < config.worker_threads + config.ingest_writers + 4) {
    std::cerr << "enlace-server: --db_pool_size must be at least worker_threads + "
                 "ingest_writers + 4 (audit writer, health and certificate monitors, audit "
                 "tree builder)\n";
    return false;
  }
  if (config.ingest_batch < 1 || config.ingest_batch > 5000 || config.ingest_writers < 1 ||
      config.worker_threads < 1) {
    std::cerr << "enlace-server: --ingest_batch must be 1..5000; --ingest_writers and "
                 "--worker_threads at least 1\n";
    return false;
  }
  return true;
}

// The serving process's configuration from its flags; nothing (and a
// message) when a flag is out of range.
std::optional<enlace::server::ServerConfig> ConfigFromFlags() {
  enlace::server::ServerConfig config;
  const std::string role = absl::GetFlag(FLAGS_role);
  if (role != "serving" && role != "ca") {
    std::cerr << "enlace-server: --role must be serving or ca, not \"" << role << "\"\n";
    return std::nullopt;
  }
  config.role =
      role == "ca" ? enlace::server::ServerRole::kCa : enlace::server::ServerRole::kServing;
  config.ca_role_addr = absl::GetFlag(FLAGS_ca_role_addr);
  config.tls_addr = absl::GetFlag(FLAGS_tls_addr);
  config.health_addr = absl::GetFlag(FLAGS_health_addr);
  config.metrics_addr = absl::GetFlag(FLAGS_metrics_addr);
  config.db_dsn = absl::GetFlag(FLAGS_db_dsn);
  config.ca_cert = absl::GetFlag(FLAGS_ca_cert);
  config.server_cert = absl::GetFlag(FLAGS_server_cert);
  config.server_key = absl::GetFlag(FLAGS_server_key);
  config.policy = absl::GetFlag(FLAGS_policy);
  config.ca_key = absl::GetFlag(FLAGS_ca_key);
  config.crl_dir = absl::GetFlag(FLAGS_crl_dir);
  config.token_keys = absl::GetFlag(FLAGS_token_keys);
  if (!ReadLimitFlags(config) || !ReadWorkFlags(config)) return std::nullopt;
  return config;
}

// SIGINT and SIGTERM blocked in every thread (threads inherit the mask), to
// be taken synchronously by main: no work in a signal handler. Call it
// before any thread starts.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

// --ready_file: the ports, written under a temporary name and renamed, so
// that a reader never sees half of it.
void WriteReadyFile(const enlace::server::EnlaceServer& server, const std::string& ready_file) {
  std::string temporary = ready_file + ".tmp";
  {
    std::ofstream out(temporary);
    out << "tls_port=" << server.tls_port() << "\nhealth_port=" << server.health_port()
        << "\nmetrics_port=" << server.metrics_port() << "\n";
  }
  std::rename(temporary.c_str(), ready_file.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  SetUpUsage();
  ApplyEnvironment();
  absl::ParseCommandLine(argc, argv);
  enlace::server::LogFormat log_format;
  if (!enlace::server::ParseLogFormat(absl::GetFlag(FLAGS_log_format), &log_format)) {
    std::cerr << "enlace-server: --log_format must be json or text\n";
    return 2;
  }
  enlace::server::SetLogFormat(log_format);
  if (absl::GetFlag(FLAGS_drain_seconds) < 0 || absl::GetFlag(FLAGS_shutdown_grace_seconds) < 0) {
    std::cerr << "enlace-server: --drain_seconds and --shutdown_grace_seconds must be 0 or more\n";
    return 2;
  }
  if (!enlace::db::InitCrashPointFromEnvironment()) {
    std::cerr << "enlace-server: bad " << enlace::db::kCrashPointVariable
              << ": NAME[:N], NAME one of mid_batch, after_commit_before_answer, mid_answers\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_migrate) || absl::GetFlag(FLAGS_recount_reports)) return RunMigrate();
  if (HoldsMigrationCredentials()) return 2;
  // Debian's Abseil keeps mutex deadlock detection on (a graph update per
  // lock); our lock order is fixed and tested, so do not pay for it per call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::optional<enlace::server::ServerConfig> config = ConfigFromFlags();
  if (!config.has_value()) return 2;

  sigset_t stop_signals = BlockStopSignals();
  absl::StatusOr<std::unique_ptr<enlace::server::EnlaceServer>> server =
      enlace::server::EnlaceServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "enlace-server: " << server.status().message() << "\n";
    return 1;
  }
  if (std::string ready_file = absl::GetFlag(FLAGS_ready_file); !ready_file.empty()) {
    WriteReadyFile(**server, ready_file);
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  // SIGTERM (Kubernetes, systemd): readiness off, drain, then stop. SIGINT
  // (a terminal): no drain.
  absl::Duration drain = signal_number == SIGTERM
                             ? absl::Seconds(absl::GetFlag(FLAGS_drain_seconds))
                             : absl::ZeroDuration();
  enlace::server::Log("signal ", signal_number, " received: shutting down");
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)), drain);
  return 0;
}
