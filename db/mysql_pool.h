// A bounded pool of MySQL connections (Connector/C++ 1.1), each with its own
// cache of prepared statements, and the one place where the connector's
// exceptions become absl::Status.
//
// A connection is used by one thread at a time: Acquire() leases it, the lease
// returns it. A connection that failed with a connection-level error is
// dropped instead of returned, and a new one is opened on demand, so the pool
// recovers by itself when the database comes back. A connection that sat idle
// for `validate_after_idle` or longer is pinged before it is leased, and
// dropped if the database closed it meanwhile (a restart, wait_timeout, a
// KILL): a caller never gets a connection that died while it was idle.
// Prepared statements are per connection and die with it.
//
// Failover: a DSN may name several nodes of one cluster that all accept
// writes (MariaDB Galera). The pool writes through one node at a time, the
// current one, so that concurrent transactions of this process meet in that
// node's row locks rather than in Galera's certification at commit. A new
// connection goes to the current node, or, when it cannot connect, to the
// next in the DSN's order (round the list), which becomes the current node.
// A connection lost on the current node makes the next one current too (a
// node that still accepts connections may have left the cluster: MariaDB
// answers 1047 "WSREP has not yet prepared node" there). Idle connections to
// a node that is no longer current are closed instead of leased. Each move
// is a failover (Failovers(), PoolOptions::on_failover). The pool never moves
// back by itself: it stays on the new node until that one fails, or until
// ChooseWriterNode names another. So two server replicas may write through
// different nodes for a moment (each follows a membership change on its own
// 2 s tick): their conflicting transactions then fail Galera's
// certification at COMMIT, as deadlocks, and are retried (InTransaction);
// and every connection to a Galera node waits for causality on reads
// (wsrep_sync_wait = 7), so a replica reads what another just wrote through
// another node.
//
// COMMIT is a statement of its own (so are ROLLBACK and SET autocommit),
// never the connector's commit(): Connector/C++ 1.1.12 ignores the server's
// answer to commit(), setAutoCommit() and rollback(), so a refused or
// interrupted COMMIT was reported as a success (acknowledged writes lost
// in ha_test; docs/operations.md, "High availability").
//
// Error mapping (MySQL/MariaDB error numbers):
//   cannot connect, server gone away, lost connection, shutdown,
//   a Galera node outside the primary component (1047)           -> UNAVAILABLE
//   deadlock, lock wait timeout, Galera certification conflict   -> ABORTED
//   duplicate key                                                -> ALREADY_EXISTS
//   anything else                                                -> INTERNAL
// Messages carry the server's text for our logs; the RPC edge never forwards
// INTERNAL or UNAVAILABLE text to callers.
//
// Example:
//   absl::Status s = pool->InTransaction([&](MysqlConnection& c) -> absl::Status {
//     sql::PreparedStatement* st = c.Prepare("UPDATE t SET x = ? WHERE id = ?");
//     st->setInt(1, 5); st->setInt64(2, id); st->executeUpdate();
//     return absl::OkStatus();
//   });
#ifndef ENLACE_DB_MYSQL_POOL_H_
#define ENLACE_DB_MYSQL_POOL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/dsn.h"

namespace sql {
class Connection;
class PreparedStatement;
class SQLException;
}  // namespace sql

namespace enlace::db {

// One open connection and its prepared statements.
class MysqlConnection {
 public:
  // `node`: the index in the DSN's host list of the node it is open to.
  explicit MysqlConnection(std::unique_ptr<sql::Connection> connection, size_t node = 0);
  ~MysqlConnection();

  // A prepared statement for `sql_text`, owned by this connection. One with
  // at most kMaxCachedPlaceholders parameters is prepared once per connection
  // and kept while it lives: statements whose text depends on a row count
  // must take few shapes (ForEachStatementChunk), or each connection keeps
  // one per count. A larger one (the multi-row shapes of 16 rows and more) is
  // kept only until the connection goes back to the pool
  // (ReleaseTransientStatements): its parameter buffers weigh tens of KB,
  // and kept on every connection for every shape they made the server's
  // memory grow for minutes under a steady load (the soak), for the saving
  // of one round trip per 16 rows or more. Throws sql::SQLException (callers
  // run inside MysqlPool::Run*, which converts).
  sql::PreparedStatement* Prepare(const std::string& sql_text);
  static constexpr int kMaxCachedPlaceholders = 128;
  // Closes the statements Prepare() did not cache. MysqlPool calls it when
  // the connection comes back.
  void ReleaseTransientStatements();
  // Statements kept: cached, and not cached but not yet released.
  size_t CachedStatements() const { return statements_.size(); }
  size_t TransientStatements() const { return transient_.size(); }
  // Runs a statement that takes no parameters; rows it returns are dropped.
  void Execute(const std::string& sql_text);
  sql::Connection& raw() { return *connection_; }
  size_t node() const { return node_; }

 private:
  std::unique_ptr<sql::Connection> connection_;
  size_t node_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> transient_;
};

// Calls `chunk(offset, size)` over [0, n) in chunks of 256, 64, 16, 4 and 1
// rows, largest first: a multi-row statement then takes at most five shapes
// (prepared once each per connection) whatever the row counts.
void ForEachStatementChunk(size_t n, const std::function<void(size_t, size_t)>& chunk);
// "(?, ?, ...), (?, ...)": `rows` rows of `columns` placeholders for a
// multi-row INSERT, each row ending with the SQL literals in `constants`
// (e.g. ", 1").
std::string RowPlaceholders(size_t rows, int columns, absl::string_view constants = "");
// The AUTO_INCREMENT value the connection's last INSERT generated. Throws
// sql::SQLException like any statement.
int64_t LastInsertId(MysqlConnection& c);
// "(?, ?, ...)": `n` placeholders for `column IN (...)`.
std::string InList(size_t n);

// What a Galera node says of itself (SHOW STATUS), for ChooseWriter.
struct GaleraNodeState {
  int64_t local_index = -1;  // wsrep_local_index: its place in the membership view
  std::string state;  // wsrep_local_state_comment: "Synced", "Joined", "Donor/Desynced", ...
  bool ready = false;  // wsrep_ready = ON
  std::string cluster_status;  // wsrep_cluster_status: "Primary", "non-Primary", ...
  int64_t view = -1;  // wsrep_cluster_conf_id: which membership view it is in
};

// The writer node, as an index into `nodes` (the DSN's order; nullopt for a
// node that did not answer): of the members of the primary component that
// are synced and ready, and in the newest view any of them reports (one
// still in an older view has not seen the last membership change: its
// index may be another member's now), the one with the lowest
// wsrep_local_index (ties: the first in the DSN). nullopt when no node
// qualifies. Every replica asking the same nodes gets the same answer.
std::optional<size_t> ChooseWriter(const std::vector<std::optional<GaleraNodeState>>& nodes);

struct PoolOptions {
  int max_connections = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(3);
  absl::Duration io_timeout = absl::Seconds(30);  // read/write timeout per round trip
  // An idle connection unused for this long is pinged before it is leased.
  absl::Duration validate_after_idle = absl::Seconds(1);
  // Called (outside the pool's lock) after each failover, with the node
  // left and the node now current. May be empty.
  std::function<void(const DsnHost& from, const DsnHost& to)> on_failover = nullptr;
  // Called (outside the lock) after each lease that had to wait for a
  // connection (every one leased, the pool at max_connections), with the
  // time waited, whether it then got one or timed out. May be empty.
  std::function<void(absl::Duration waited)> on_wait = nullptr;
};

// The pool's connections now.
struct PoolStats {
  int in_use = 0;  // leased, or being opened
  int idle = 0;
  int waiting = 0;  // leases waiting for one of them
};

class MysqlPool {
 public:
  // Does not connect yet; Prefill() or the first call does. `dsn.database` is
  // the default schema of every connection (may be empty).
  MysqlPool(Dsn dsn, PoolOptions options);
  ~MysqlPool();
  MysqlPool(const MysqlPool&) = delete;
  MysqlPool& operator=(const MysqlPool&) = delete;

  // Runs `body` with a leased connection in autocommit mode.
  absl::Status Run(const std::function<absl::Status(MysqlConnection&)>& body);

  // Runs `body` in one transaction: commits when it returns OK, rolls back
  // otherwise; OK only once the database answered the COMMIT. A deadlock,
  // lock-wait timeout or Galera certification conflict (at any statement or
  // at COMMIT: the transaction was rolled back) is retried (up to
  // `max_attempts` in all) from the start, so `body` must be safe to rerun;
  // so is a lost connection before COMMIT was sent (nothing was written: the
  // retry runs on a new connection, on the next node if that one died). A
  // connection lost during COMMIT is not retried: the transaction may have
  // committed, and only the caller knows whether repeating it is safe
  // (UNAVAILABLE). An error `body` returns itself is never retried.
  absl::Status InTransaction(const std::function<absl::Status(MysqlConnection&)>& body,
                             int max_attempts = 3);

  // Opens connections until `connections` (at most max_connections) are open,
  // and keeps them idle. A server calls it at start, so that the pool does not
  // grow under the first load spikes: its memory and descriptors are then
  // those of a full pool from the start. Stops at the first connection that
  // fails and returns that error; the connections opened stay.
  absl::Status Prefill(int connections);

  // Connections open now: idle, leased or being opened.
  int OpenConnections();
  PoolStats Stats();

  const Dsn& dsn() const { return dsn_; }
  // With several nodes: asks each which Galera cluster member it is, and
  // makes the one ChooseWriter names current (a failover when that is
  // another node). Every server replica choosing by
  // the same rule writes through the same node, whatever its history (a
  // replica restarted after the others failed over would otherwise take the
  // first node of its DSN): writes of two replicas through two nodes
  // conflict only in Galera's certification, and in ha_test such writes,
  // acknowledged, were not all stored (docs/operations.md, "High
  // availability"). Nodes that are not Galera members, or none answering,
  // leave the current node as it is. Returns the node now current.
  DsnHost ChooseWriterNode();
  // The node new connections go to, and how many times it changed.
  DsnHost CurrentNode();
  int64_t Failovers();

 private:
  absl::StatusOr<std::unique_ptr<MysqlConnection>> Acquire();
  // `lost`: the connection failed with a connection-level error.
  void Release(std::unique_ptr<MysqlConnection> connection, bool healthy, bool lost);
  // A connection to the current node, or to the next that answers.
  absl::StatusOr<std::unique_ptr<MysqlConnection>> Connect();
  absl::StatusOr<std::unique_ptr<MysqlConnection>> ConnectTo(size_t node);
  // Makes `to` current if `from` still is; calls on_failover when it moved.
  void MoveFrom(size_t from, size_t to);
  // Pings `connection`; false when the database closed it.
  static bool Alive(MysqlConnection& connection);
  // What RunLeased got to do before its status.
  struct Progress {
    bool leased = false;  // a connection was leased (Acquire had tried every node)
    bool commit_sent = false;  // COMMIT was sent: the transaction may have committed
  };
  absl::Status RunLeased(const std::function<absl::Status(MysqlConnection&)>& body,
                         bool transaction, Progress* progress);

  const Dsn dsn_;
  const PoolOptions options_;
  absl::Mutex mu_;
  struct Idle {
    std::unique_ptr<MysqlConnection> connection;
    absl::Time since;  // returned to the pool at
  };
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);  // the most recently returned last
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + connecting
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;  // in Acquire, for a connection
  size_t current_node_ ABSL_GUARDED_BY(mu_) = 0;  // index in dsn_.hosts
  int64_t failovers_ ABSL_GUARDED_BY(mu_) = 0;
};

// Converts a connector exception as described at the top of this file. The
// status carries the database's own text (for the logs) and is marked as a
// database error (IsDatabaseError), so that no caller is ever sent that text:
// it may hold SQL, key names or a duplicated value (db/database_error.h).
absl::Status StatusFromSqlException(const sql::SQLException& e);
// True for errors after which the connection must not be reused.
bool IsConnectionLost(const absl::Status& status);

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_POOL_H_
