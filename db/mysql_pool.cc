// The connection pool and exception-to-Status conversion (see mysql_pool.h).
#include "db/mysql_pool.h"

#include <cppconn/connection.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "db/database_error.h"

namespace enlace::db {
namespace {

// The connector's driver singleton (a map filled on first use) and
// mysql_library_init (run by the first connect) are not safe to reach from
// several threads at once: the driver is fetched once, and connects take
// this lock until one attempt has run. Later connects run side by side,
// each on its own handle: one that waits on a database that does not answer
// holds up no other for longer than its own connect_timeout (under one lock,
// six connects with a 1 s timeout took 7 to 12 s).
absl::Mutex connect_mu;
std::atomic<bool> connector_initialized{false};

// True on a node of a running Galera cluster (MariaDB with wsrep_on=ON);
// MySQL has no such variable, and a MariaDB without Galera has it OFF.
bool OnGaleraCluster(MysqlConnection& connection) {
  std::unique_ptr<sql::Statement> statement(connection.raw().createStatement());
  std::unique_ptr<sql::ResultSet> rows(
      statement->executeQuery("SHOW VARIABLES WHERE Variable_name = 'wsrep_on' AND Value = 'ON'"));
  return rows->next();
}

sql::mysql::MySQL_Driver* Driver() {
  static sql::mysql::MySQL_Driver* const driver = sql::mysql::get_mysql_driver_instance();
  return driver;
}

sql::Connection* ConnectWithDriver(sql::ConnectOptionsMap& properties) {
  if (connector_initialized.load(std::memory_order_acquire)) {
    return Driver()->connect(properties);
  }
  absl::MutexLock lock(&connect_mu);
  // Set once this attempt has run, whether or not it connected: the
  // library was initialised by it either way.
  struct MarkInitialized {
    ~MarkInitialized() { connector_initialized.store(true, std::memory_order_release); }
  } mark;
  return Driver()->connect(properties);
}

constexpr absl::string_view kConnectionLostMarker = "[connection lost] ";
constexpr absl::string_view kLockConflictMarker = "[lock conflict] ";
absl::Status StatusFromSqlExceptionUnmarked(const sql::SQLException& e) {
  int code = e.getErrorCode();
  std::string text = absl::StrCat("MySQL error ", code, " (", e.getSQLState(), "): ", e.what());
  switch (code) {
    case 1047:  // Galera: node not in the primary component ("WSREP has not yet prepared node")
    case 1040:  // too many connections
    case 1053:  // server shutdown in progress
    case 1927:  // connection was killed (MariaDB)
    case 2002:  // can't connect through socket
    case 2003:  // can't connect to server
    case 2005:  // unknown host
    case 2006:  // server has gone away
    case 2013:  // lost connection during query
    case 2026:  // SSL connection error
    case 2055:  // lost connection (system error)
      return absl::UnavailableError(absl::StrCat(kConnectionLostMarker, text));
    case 1205:  // lock wait timeout
    case 1213:  // deadlock
      return absl::AbortedError(absl::StrCat(kLockConflictMarker, text));
    case 1062:  // duplicate entry
      return absl::AlreadyExistsError(text);
    default: break;
  }
  // The connector reports some client-side losses with code 0 and a message.
  if (code == 0 &&
      (absl::StrContains(e.what(), "gone away") || absl::StrContains(e.what(), "Lost connection") ||
       absl::StrContains(e.what(), "closed"))) {
    return absl::UnavailableError(absl::StrCat(kConnectionLostMarker, text));
  }
  return absl::InternalError(text);
}

}  // namespace

absl::Status StatusFromSqlException(const sql::SQLException& e) {
  return MarkDatabaseError(StatusFromSqlExceptionUnmarked(e));
}

bool IsConnectionLost(const absl::Status& status) {
  return absl::IsUnavailable(status) && absl::StartsWith(status.message(), kConnectionLostMarker);
}

MysqlConnection::MysqlConnection(std::unique_ptr<sql::Connection> connection, size_t node)
    : connection_(std::move(connection)), node_(node) {}

MysqlConnection::~MysqlConnection() {
  transient_.clear();
  statements_.clear();
  try {
    if (connection_ && !connection_->isClosed()) connection_->close();
  } catch (const sql::SQLException&) {
    // Closing a dead connection may throw; nothing to do about it.
  }
}

sql::PreparedStatement* MysqlConnection::Prepare(const std::string& sql_text) {
  auto it = statements_.find(sql_text);
  if (it != statements_.end()) return it->second.get();
  it = transient_.find(sql_text);
  if (it != transient_.end()) return it->second.get();
  std::unique_ptr<sql::PreparedStatement> statement(connection_->prepareStatement(sql_text));
  sql::PreparedStatement* raw_statement = statement.get();
  // Our statements carry no '?' inside literals: every one is a placeholder.
  const bool cached = std::count(sql_text.begin(), sql_text.end(), '?') <= kMaxCachedPlaceholders;
  (cached ? statements_ : transient_).emplace(sql_text, std::move(statement));
  return raw_statement;
}

void MysqlConnection::ReleaseTransientStatements() { transient_.clear(); }

void MysqlConnection::Execute(const std::string& sql_text) {
  std::unique_ptr<sql::Statement> statement(connection_->createStatement());
  // Rows a statement answers with after all (ANALYZE TABLE, CHECK TABLE)
  // are read and dropped: left unread, they put the connection out of sync
  // ("Commands out of sync") for whatever runs on it next.
  if (!statement->execute(sql_text)) return;
  do {
    std::unique_ptr<sql::ResultSet> rows(statement->getResultSet());
    while (rows != nullptr && rows->next()) {
    }
  } while (statement->getMoreResults());
}

void ForEachStatementChunk(size_t n, const std::function<void(size_t, size_t)>& chunk) {
  static constexpr size_t kSizes[] = {256, 64, 16, 4, 1};
  size_t offset = 0;
  for (size_t size : kSizes) {
    while (n - offset >= size) {
      chunk(offset, size);
      offset += size;
    }
  }
}

std::string RowPlaceholders(size_t rows, int columns, absl::string_view constants) {
  std::string one = "(";
  for (int i = 0; i < columns; ++i) absl::StrAppend(&one, i == 0 ? "?" : ", ?");
  absl::StrAppend(&one, constants, ")");
  std::string out;
  for (size_t r = 0; r < rows; ++r) absl::StrAppend(&out, r == 0 ? "" : ", ", one);
  return out;
}

std::string InList(size_t n) { return RowPlaceholders(1, static_cast<int>(n)); }

int64_t LastInsertId(MysqlConnection& c) {
  std::unique_ptr<sql::ResultSet> row(c.Prepare("SELECT LAST_INSERT_ID()")->executeQuery());
  row->next();
  return row->getInt64(1);
}

MysqlPool::MysqlPool(Dsn dsn, PoolOptions options)
    : dsn_(std::move(dsn)), options_(std::move(options)) {}

MysqlPool::~MysqlPool() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlPool::Connect() {
  size_t first = 0;
  {
    absl::MutexLock lock(&mu_);
    first = current_node_;
  }
  const size_t nodes = dsn_.socket.empty() ? dsn_.hosts.size() : 1;
  absl::Status last_error;
  for (size_t i = 0; i < nodes; ++i) {
    const size_t node = (first + i) % nodes;
    absl::StatusOr<std::unique_ptr<MysqlConnection>> connection = ConnectTo(node);
    if (connection.ok()) {
      if (node != first) MoveFrom(first, node);
      return connection;
    }
    last_error = connection.status();
  }
  return last_error;
}

void MysqlPool::MoveFrom(size_t from, size_t to) {
  {
    absl::MutexLock lock(&mu_);
    if (current_node_ != from || from == to) return;  // another thread moved first
    current_node_ = to;
    ++failovers_;
  }
  if (options_.on_failover) options_.on_failover(dsn_.hosts[from], dsn_.hosts[to]);
}

std::optional<size_t> ChooseWriter(const std::vector<std::optional<GaleraNodeState>>& nodes) {
  // Only members of the primary component, synced and ready, may be chosen;
  // of those, only the ones in the newest view (the others have not yet
  // seen the last membership change, and their index may be another's now).
  int64_t newest_view = -1;
  auto eligible = [](const std::optional<GaleraNodeState>& node) {
    return node.has_value() && node->cluster_status == "Primary" && node->state == "Synced" &&
           node->ready && node->local_index >= 0 && node->view >= 0;
  };
  for (const std::optional<GaleraNodeState>& node : nodes) {
    if (eligible(node)) newest_view = std::max(newest_view, node->view);
  }
  std::optional<size_t> best;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!eligible(nodes[i]) || nodes[i]->view != newest_view) continue;
    if (!best.has_value() || nodes[i]->local_index < nodes[*best]->local_index) best = i;
  }
  return best;
}

DsnHost MysqlPool::ChooseWriterNode() {
  size_t current = 0;
  {
    absl::MutexLock lock(&mu_);
    current = current_node_;
  }
  if (!dsn_.socket.empty() || dsn_.hosts.size() < 2) return dsn_.hosts[current];
  std::vector<std::optional<GaleraNodeState>> nodes(dsn_.hosts.size());
  for (size_t node = 0; node < dsn_.hosts.size(); ++node) {
    absl::StatusOr<std::unique_ptr<MysqlConnection>> probe = ConnectTo(node);
    if (!probe.ok()) continue;
    try {
      std::unique_ptr<sql::Statement> statement((*probe)->raw().createStatement());
      std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(
          "SHOW STATUS WHERE Variable_name IN ('wsrep_local_index', "
          "'wsrep_local_state_comment', 'wsrep_ready', 'wsrep_cluster_status', "
          "'wsrep_cluster_conf_id')"));
      GaleraNodeState state;
      while (rows->next()) {
        std::string name = rows->getString(1);
        std::string value = rows->getString(2);
        // Out of range (a node outside the primary component says 2^64-1
        // for its view) reads as -1: not a member.
        if (name == "wsrep_local_index" && !absl::SimpleAtoi(value, &state.local_index)) {
          state.local_index = -1;
        }
        if (name == "wsrep_cluster_conf_id" && !absl::SimpleAtoi(value, &state.view)) {
          state.view = -1;
        }
        if (name == "wsrep_local_state_comment") state.state = value;
        if (name == "wsrep_ready") state.ready = value == "ON";
        if (name == "wsrep_cluster_status") state.cluster_status = value;
      }
      nodes[node] = std::move(state);
    } catch (const sql::SQLException&) {
      // A node that cannot say is not chosen.
    }
  }
  std::optional<size_t> best = ChooseWriter(nodes);
  if (best.has_value() && *best != current) MoveFrom(current, *best);
  return CurrentNode();
}

DsnHost MysqlPool::CurrentNode() {
  absl::MutexLock lock(&mu_);
  return dsn_.hosts[current_node_];
}

int64_t MysqlPool::Failovers() {
  absl::MutexLock lock(&mu_);
  return failovers_;
}

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlPool::ConnectTo(size_t node) {
  sql::ConnectOptionsMap properties;
  if (dsn_.socket.empty()) {
    properties["hostName"] = sql::SQLString(dsn_.hosts[node].host);
    properties["port"] = dsn_.hosts[node].port;
  } else {
    properties["hostName"] = sql::SQLString("localhost");
    properties["socket"] = sql::SQLString(dsn_.socket);
  }
  properties["userName"] = sql::SQLString(dsn_.user);
  properties["password"] = sql::SQLString(dsn_.password);
  if (!dsn_.database.empty()) properties["schema"] = sql::SQLString(dsn_.database);
  properties["OPT_CONNECT_TIMEOUT"] =
      static_cast<int>(absl::ToInt64Seconds(options_.connect_timeout));
  properties["OPT_READ_TIMEOUT"] = static_cast<int>(absl::ToInt64Seconds(options_.io_timeout));
  properties["OPT_WRITE_TIMEOUT"] = static_cast<int>(absl::ToInt64Seconds(options_.io_timeout));
  properties["OPT_RECONNECT"] = false;  // a silent reconnect would lose session state
  properties["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  try {
    std::unique_ptr<sql::Connection> connection;
    connection.reset(ConnectWithDriver(properties));
    auto wrapped = std::make_unique<MysqlConnection>(std::move(connection), node);
    // Same session on MySQL 8 and MariaDB: UTC, strict, READ COMMITTED (fewer
    // gap locks under concurrent batch inserts; our invariants use unique keys
    // and row locks, not gap locks).
    wrapped->Execute("SET time_zone = '+00:00'");
    wrapped->Execute(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    wrapped->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    if (OnGaleraCluster(*wrapped)) {
      // Galera applies other nodes' commits asynchronously: without a
      // causality wait, a read on this node may miss a write another
      // replica committed through another node a moment ago (a case opened
      // there, then NOT_FOUND here: ha_test saw it). The wait is made only
      // by the first statement of a transaction (later ones would read
      // under locks already taken), and ours begin with a SELECT, an
      // INSERT or an UPDATE: 7 = reads, updates and deletes, inserts.
      wrapped->Execute("SET SESSION wsrep_sync_wait = 7");
    }
    return wrapped;
  } catch (const sql::SQLException& e) {
    absl::Status status = StatusFromSqlException(e);
    if (absl::IsInternal(status)) {
      // Bad credentials or an unknown database: not retryable, but the
      // database is still not usable for us.
      return absl::UnavailableError(absl::StrCat(kConnectionLostMarker, status.message()));
    }
    return status;
  }
}

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlPool::Acquire() {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  // Reports a wait when Acquire returns, after every lock below is released.
  struct WaitReport {
    const std::function<void(absl::Duration)>& on_wait;
    std::optional<absl::Duration> waited;
    ~WaitReport() {
      if (waited.has_value() && on_wait) on_wait(*waited);
    }
  } report{options_.on_wait, std::nullopt};
  while (true) {
    Idle idle;
    bool current = false;
    {
      absl::MutexLock lock(&mu_);
      auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < options_.max_connections;
      };
      if (!can_proceed()) {
        const absl::Time waiting_since = absl::Now();
        ++waiting_;
        const bool got_one = mu_.AwaitWithDeadline(absl::Condition(&can_proceed), deadline);
        --waiting_;
        report.waited =
            report.waited.value_or(absl::ZeroDuration()) + (absl::Now() - waiting_since);
        if (!got_one) return absl::ResourceExhaustedError("no database connection free in time");
      }
      if (idle_.empty()) {
        ++open_;  // reserve a slot while connecting without the lock
        break;
      }
      idle = std::move(idle_.back());
      idle_.pop_back();
      current = idle.connection->node() == current_node_;
    }
    if (current &&
        (absl::Now() - idle.since < options_.validate_after_idle || Alive(*idle.connection))) {
      return std::move(idle.connection);
    }
    // Closed by the database while idle, or open to a node the pool failed
    // over from: drop it (outside the lock), then take the next one, or open
    // a new one in its slot.
    idle.connection.reset();
    absl::MutexLock lock(&mu_);
    --open_;
  }
  absl::StatusOr<std::unique_ptr<MysqlConnection>> connection = Connect();
  if (!connection.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return connection;
}

absl::Status MysqlPool::Prefill(int connections) {
  connections = std::min(connections, options_.max_connections);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (open_ >= connections) return absl::OkStatus();
      ++open_;  // reserve the slot, as Acquire() does
    }
    absl::StatusOr<std::unique_ptr<MysqlConnection>> connection = Connect();
    absl::MutexLock lock(&mu_);
    if (!connection.ok()) {
      --open_;
      return connection.status();
    }
    idle_.push_back(Idle{*std::move(connection), absl::Now()});
  }
}

PoolStats MysqlPool::Stats() {
  absl::MutexLock lock(&mu_);
  const int idle = static_cast<int>(idle_.size());
  return PoolStats{.in_use = open_ - idle, .idle = idle, .waiting = waiting_};
}

int MysqlPool::OpenConnections() {
  absl::MutexLock lock(&mu_);
  return open_;
}

bool MysqlPool::Alive(MysqlConnection& connection) {
  try {
    return connection.raw().isValid();  // a ping
  } catch (const std::exception&) {
    return false;
  }
}

void MysqlPool::Release(std::unique_ptr<MysqlConnection> connection, bool healthy, bool lost) {
  const size_t node = connection->node();
  // Closing statements and connections is I/O: not under the lock.
  if (healthy) connection->ReleaseTransientStatements();
  if (!healthy) connection.reset();
  if (lost) MoveFrom(node, (node + 1) % dsn_.hosts.size());
  absl::MutexLock lock(&mu_);
  if (healthy) {
    idle_.push_back(Idle{std::move(connection), absl::Now()});
  } else {
    --open_;
  }
}

absl::Status MysqlPool::RunLeased(const std::function<absl::Status(MysqlConnection&)>& body,
                                  bool transaction, Progress* progress) {
  absl::StatusOr<std::unique_ptr<MysqlConnection>> leased = Acquire();
  if (!leased.ok()) return leased.status();
  if (progress != nullptr) progress->leased = true;
  std::unique_ptr<MysqlConnection> connection = *std::move(leased);
  absl::Status status;
  // Transactions are begun and ended by statements, not by the connector's
  // setAutoCommit(), commit() and rollback(): Connector/C++ 1.1.12 (Debian
  // 12's) drops the server's answer to those, so a COMMIT that failed looked
  // committed. Galera refusing it at certification (1213, when two replicas
  // write through two nodes) or the node dying under it (2013) was answered
  // OK with nothing stored: ha_test's lost acknowledged writes. A statement
  // throws like any other. Autocommit off, not START TRANSACTION, as before:
  // a body may set its transaction's characteristics first (the report's
  // REPEATABLE READ, READ ONLY snapshot), which an open transaction refuses.
  bool committed = false;
  absl::Status after_commit;  // restoring autocommit failed after the COMMIT succeeded
  try {
    if (transaction) connection->Execute("SET autocommit = 0");
    status = body(*connection);
    if (transaction) {
      if (status.ok()) {
        if (progress != nullptr) progress->commit_sent = true;
        connection->Execute("COMMIT");
        committed = true;
      } else {
        connection->Execute("ROLLBACK");
      }
      connection->Execute("SET autocommit = 1");
    }
  } catch (const sql::SQLException& e) {
    if (committed) {
      // The answer stands (committed); the connection is not reused.
      after_commit = StatusFromSqlException(e);
    } else {
      status = StatusFromSqlException(e);
      if (transaction && !IsConnectionLost(status)) {
        try {
          connection->Execute("ROLLBACK");
          connection->Execute("SET autocommit = 1");
        } catch (const sql::SQLException& rollback_error) {
          status = StatusFromSqlException(rollback_error);
        }
      }
    }
  } catch (const std::exception& e) {
    (committed ? after_commit : status) =
        absl::InternalError(absl::StrCat("database client error: ", e.what()));
  }
  const bool lost = IsConnectionLost(status) || IsConnectionLost(after_commit);
  Release(std::move(connection),
          /*healthy=*/!lost && !absl::IsInternal(status) && after_commit.ok(), lost);
  return status;
}

absl::Status MysqlPool::Run(const std::function<absl::Status(MysqlConnection&)>& body) {
  return RunLeased(body, /*transaction=*/false, /*progress=*/nullptr);
}

absl::Status MysqlPool::InTransaction(const std::function<absl::Status(MysqlConnection&)>& body,
                                      int max_attempts) {
  absl::Status status;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    Progress progress;
    status = RunLeased(body, /*transaction=*/true, &progress);
    // Only the database's lock conflicts are retried, and connections lost
    // before anything could have been committed; an ABORTED that the body
    // returns itself (a stale etag) is the caller's answer.
    const bool conflict =
        absl::IsAborted(status) && absl::StartsWith(status.message(), kLockConflictMarker);
    // (A failed lease is not retried: Acquire already tried every node.)
    const bool lost_before_commit =
        IsConnectionLost(status) && progress.leased && !progress.commit_sent;
    if (!conflict && !lost_before_commit) return status;
  }
  return status;
}

}  // namespace enlace::db
