// enlace-bareload: the bare loader, baseline of `scripts/bench.sh ingest`.
// It stores the rows that the streaming ingest stores, straight into
// MariaDB: no gRPC, no TLS, no identity, policy or audit, no idempotency
// check. The arrivals come from `enlace-loadgen dump` (the very records the
// ingest streams send, under another prefix); they are written in batches of
// --batch records (the server's --ingest_batch), one transaction each, by
// --writers threads (the server's --ingest_writers), with the server's own
// driver and connection pool (db/mysql_pool.h), the server's multi-row
// INSERT shapes (256/64/16/4/1 rows), the same content hash and random ids,
// over TCP as the server's database user. What is left is the floor of the
// platform's ingest: the rows, their indexes and a durable commit per batch.
//
//   enlace-loadgen dump --records 50000 --prefix bare1 --out bare.bin
//   ENLACE_DB_PASSWORD=... enlace-bareload --records_file=bare.bin
//       --dsn=mysql://enlace_server@127.0.0.1:3306/enlace_bench --batch=500 --writers=2
//
// With --through_store it writes the same batches with the server's own store
// call instead, db::MysqlArrivalStore::RecordBatch: the duplicate check, the
// rows, the report counts and the audit events (one per --streams, as one
// per RecordArrivals call), in one transaction a batch: the floor of the
// server's ingest without gRPC, which bounds ingest_ratio (everything the
// store call does beyond the bare rows is work the rules require).
//
// The consent rows take the arrival's seq from LAST_INSERT_ID(): InnoDB gives
// a multi-row INSERT consecutive AUTO_INCREMENT values unless
// innodb_autoinc_lock_mode is 2 (checked first). At the end the rows are
// counted. Prints "RESULT kind=bare records=N batch=B writers=W seconds=S
// rate=R" (kind=store with --through_store); exit status 0, 1 on a database
// error, a record not CREATED or a wrong count, 2 on a usage error.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <fcntl.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "clients/bench/tool_usage.h"
#include "db/arrival_store.h"
#include "db/dsn.h"
#include "db/ids.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_pool.h"
#include "enlace/v1/admin.pb.h"
#include "enlace/v1/arrivals.pb.h"

ABSL_FLAG(std::string, dsn, "",
          "the server's database user: mysql://user@host:port/database "
          "(password in ENLACE_DB_PASSWORD)");
ABSL_FLAG(std::string, records_file, "", "arrivals written by `enlace-loadgen dump`");
ABSL_FLAG(int, batch, 500, "records per transaction (the server's --ingest_batch)");
ABSL_FLAG(int, writers, 2, "concurrent transactions (the server's --ingest_writers)");
ABSL_FLAG(std::string, submitter, "mfa", "submitted_by of every row");
ABSL_FLAG(bool, through_store, false,
          "write with the server's store call (duplicate check, report counts, audit) instead of "
          "the bare rows");
ABSL_FLAG(int, streams, 4, "with --through_store: the calls whose audit events the batches commit");

namespace enlace::bench {
namespace {

using enlace::v1::Arrival;

bool ReadArrivals(const std::string& path, std::vector<Arrival>* arrivals) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  {
    google::protobuf::io::FileInputStream in(fd);
    bool clean_eof = false;
    while (true) {
      Arrival arrival;
      if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&arrival, &in, &clean_eof))
        break;
      arrivals->push_back(std::move(arrival));
    }
    if (!clean_eof) arrivals->clear();
  }
  close(fd);
  return !arrivals->empty();
}

// One batch in one transaction: the arrivals, then their consent rows.
absl::Status StoreBatch(db::MysqlPool& pool, const std::vector<Arrival>& arrivals, size_t begin,
                        size_t end, const std::string& submitter) {
  // As the server: hashes before the transaction, ids within.
  std::vector<std::string> hashes;
  for (size_t i = begin; i < end; ++i) hashes.push_back(db::ArrivalContentHash(arrivals[i]));
  return pool.InTransaction([&](db::MysqlConnection& c) -> absl::Status {
    std::vector<std::string> ids;
    for (size_t i = begin; i < end; ++i) {
      absl::StatusOr<std::string> id = db::NewRecordId();
      if (!id.ok()) return id.status();
      ids.push_back(*id);
    }
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    std::vector<std::pair<int64_t, const std::string*>> consent_rows;
    db::ForEachStatementChunk(end - begin, [&](size_t offset, size_t size) {
      sql::PreparedStatement* insert = c.Prepare(db::ArrivalInsertSql(size));
      unsigned p = 1;
      for (size_t k = 0; k < size; ++k) {
        const size_t n = offset + k;
        db::BindArrivalInsertRow(insert, &p, arrivals[begin + n], ids[n], submitter, hashes[n],
                                 now_us);
      }
      insert->executeUpdate();
      std::unique_ptr<sql::ResultSet> first(c.Prepare("SELECT LAST_INSERT_ID()")->executeQuery());
      first->next();
      const int64_t seq = first->getInt64(1);
      for (size_t k = 0; k < size; ++k) {
        for (const std::string& agency : arrivals[begin + offset + k].consent().agencies()) {
          consent_rows.emplace_back(seq + static_cast<int64_t>(k), &agency);
        }
      }
    });
    db::ForEachStatementChunk(consent_rows.size(), [&](size_t offset, size_t size) {
      sql::PreparedStatement* insert = c.Prepare(
          absl::StrCat("INSERT INTO arrival_consent_agencies (arrival_seq, agency_code) VALUES ",
                       db::RowPlaceholders(size, 2)));
      unsigned p = 1;
      for (size_t k = 0; k < size; ++k) {
        insert->setInt64(p++, consent_rows[offset + k].first);
        insert->setString(p++, *consent_rows[offset + k].second);
      }
      insert->executeUpdate();
    });
    return absl::OkStatus();
  });
}

// The calls (streams) whose audit events the store writes, as the server
// fills them for a RecordArrivals call.
std::vector<std::shared_ptr<const db::AuditRecord>> StreamEvents(int streams,
                                                                 const std::string& submitter) {
  std::vector<std::shared_ptr<const db::AuditRecord>> events;
  for (int s = 0; s < streams; ++s) {
    auto event = std::make_shared<db::AuditRecord>();
    event->at_us = absl::ToUnixMicros(absl::Now());
    event->principal = absl::StrCat("spiffe://enlace/agency/", submitter);
    event->method = "/enlace.v1.ArrivalService/RecordArrivals";
    event->decision = enlace::v1::DECISION_ALLOW;
    event->peer = absl::StrCat("ipv4:127.0.0.1:", 40000 + s);
    events.push_back(std::move(event));
  }
  return events;
}

// One batch through the server's store call; every record must be CREATED.
absl::Status StoreBatchThroughStore(
    db::MysqlArrivalStore& store, const std::vector<Arrival>& arrivals, size_t begin, size_t end,
    const std::string& submitter,
    const std::vector<std::shared_ptr<const db::AuditRecord>>& events) {
  std::vector<db::NewArrival> batch;
  batch.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    batch.push_back(db::NewArrival{arrivals[i], submitter, events[i % events.size()]});
  }
  absl::StatusOr<std::vector<db::RecordResult>> results = store.RecordBatch(batch);
  if (!results.ok()) return results.status();
  for (size_t i = 0; i < results->size(); ++i) {
    const db::RecordResult& result = (*results)[i];
    if (!result.status.ok() || result.outcome != enlace::v1::OUTCOME_CREATED) {
      return absl::InternalError(absl::StrCat("record ", arrivals[begin + i].external_id(),
                                              " not CREATED: ", result.status.ToString()));
    }
  }
  return absl::OkStatus();
}

// SELECT of one integer.
absl::StatusOr<int64_t> QueryInt(db::MysqlPool& pool, const std::string& sql,
                                 const std::vector<std::string>& params) {
  int64_t value = 0;
  absl::Status status = pool.Run([&](db::MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* statement = c.Prepare(sql);
    for (size_t i = 0; i < params.size(); ++i) {
      statement->setString(static_cast<unsigned>(i + 1), params[i]);
    }
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
    if (rows->next()) value = rows->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return value;
}

int Main(int argc, char** argv) {
  SetToolUsage(
      "the bare loader of scripts/bench.sh ingest; see the top of clients/bench/bare_loader.cc",
      "clients/bench/bare_loader.cc");
  absl::ParseCommandLine(argc, argv);
  const int batch = absl::GetFlag(FLAGS_batch), writers = absl::GetFlag(FLAGS_writers);
  const int streams = absl::GetFlag(FLAGS_streams);
  const bool through_store = absl::GetFlag(FLAGS_through_store);
  const std::string submitter = absl::GetFlag(FLAGS_submitter);
  if (batch < 1 || batch > 100'000 || writers < 1 || writers > 64 || submitter.empty() ||
      streams < 1 || streams > 1000) {
    std::cerr << "enlace-bareload: --batch must be 1..100000, --writers 1..64, --streams "
                 "1..1000, --submitter set\n";
    return 2;
  }
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(absl::GetFlag(FLAGS_dsn));
  if (!dsn.ok()) {
    std::cerr << "enlace-bareload: --dsn: " << dsn.status().message() << "\n";
    return 2;
  }
  std::vector<Arrival> arrivals;
  if (!ReadArrivals(absl::GetFlag(FLAGS_records_file), &arrivals)) {
    std::cerr << "enlace-bareload: cannot read arrivals from --records_file="
              << absl::GetFlag(FLAGS_records_file) << "\n";
    return 2;
  }
  db::PoolOptions options;
  options.max_connections = writers;
  db::MysqlPool pool(*dsn, options);
  absl::StatusOr<int64_t> lock_mode = QueryInt(pool, "SELECT @@innodb_autoinc_lock_mode", {});
  if (!lock_mode.ok() || *lock_mode == 2) {
    std::cerr << "enlace-bareload: "
              << (lock_mode.ok() ? "innodb_autoinc_lock_mode=2 does not give a multi-row INSERT "
                                   "consecutive seqs"
                                 : std::string(lock_mode.status().message()))
              << "\n";
    return 1;
  }
  // Every writer's connection open before the clock starts.
  {
    std::vector<std::thread> openers;
    openers.reserve(static_cast<size_t>(writers));
    for (int w = 0; w < writers; ++w) {
      openers.emplace_back([&pool] {
        (void)pool.Run([](db::MysqlConnection& c) {
          c.Execute("SELECT SLEEP(0.05)");
          return absl::OkStatus();
        });
      });
    }
    for (std::thread& t : openers) t.join();
  }

  db::MysqlArrivalStore store(&pool);
  const std::vector<std::shared_ptr<const db::AuditRecord>> events =
      StreamEvents(streams, submitter);
  const size_t batches =
      (arrivals.size() + static_cast<size_t>(batch) - 1) / static_cast<size_t>(batch);
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status failure;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(writers));
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (size_t b = next.fetch_add(1); b < batches; b = next.fetch_add(1)) {
        const size_t begin = b * static_cast<size_t>(batch);
        const size_t end = std::min(arrivals.size(), begin + static_cast<size_t>(batch));
        absl::Status status =
            through_store ? StoreBatchThroughStore(store, arrivals, begin, end, submitter, events)
                          : StoreBatch(pool, arrivals, begin, end, submitter);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (failure.ok()) failure = status;
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!failure.ok()) {
    std::cerr << "enlace-bareload: a batch failed: " << failure.message() << "\n";
    return 1;
  }
  // Every row there, every consent row naming one of them.
  const std::string& first_id = arrivals.front().external_id();
  const std::string prefix = first_id.substr(0, first_id.rfind('-') + 1);
  int64_t consent_expected = 0;
  for (const Arrival& a : arrivals) consent_expected += a.consent().agencies_size();
  absl::StatusOr<int64_t> rows =
      QueryInt(pool, "SELECT COUNT(*) FROM arrivals WHERE submitted_by = ? AND external_id LIKE ?",
               {submitter, prefix + "%"});
  absl::StatusOr<int64_t> consent = QueryInt(
      pool,
      "SELECT COUNT(*) FROM arrival_consent_agencies c JOIN arrivals a ON a.seq = c.arrival_seq "
      "WHERE a.submitted_by = ? AND a.external_id LIKE ?",
      {submitter, prefix + "%"});
  if (!rows.ok() || !consent.ok() || *rows != static_cast<int64_t>(arrivals.size()) ||
      *consent != consent_expected) {
    std::cerr << "enlace-bareload: expected " << arrivals.size() << " arrivals and "
              << consent_expected << " consent rows under " << prefix << "*, found "
              << (rows.ok() ? absl::StrCat(*rows) : "?") << " and "
              << (consent.ok() ? absl::StrCat(*consent) : "?") << "\n";
    return 1;
  }
  const double rate = static_cast<double>(arrivals.size()) / seconds;
  const char* kind = through_store ? "store" : "bare";
  std::cout << absl::StrFormat(
      "%s: %d records in batches of %d over %d writers in %.2f s = %.0f records/s\n", kind,
      arrivals.size(), batch, writers, seconds, rate);
  std::cout << absl::StrFormat(
      "RESULT kind=%s records=%d batch=%d writers=%d seconds=%.3f rate=%.0f consent_rows=%d\n",
      kind, arrivals.size(), batch, writers, seconds, rate, consent_expected);
  return 0;
}

}  // namespace
}  // namespace enlace::bench

int main(int argc, char** argv) { return enlace::bench::Main(argc, argv); }
