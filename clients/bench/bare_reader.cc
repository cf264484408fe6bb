// enlace-bareread: the database floor of `scripts/bench.sh get`. It reads
// the arrivals that `enlace-loadgen get` asks for (the same random ids the
// --as agency may see, clients/bench/synthetic.h) with the server's own
// store call, db::MysqlArrivalStore::Get (the same statement, visibility
// rule, driver and pool), from --in-flight threads that each keep one read
// going for --duration seconds after --warmup: no gRPC, no TLS, no identity,
// policy or audit. Its reads per second are the most any gRPC server doing
// that one read per call could answer on this machine, so
// get_db_calls_per_s over get_echo_calls_per_s bounds get_ratio.
//
//   ENLACE_DB_PASSWORD=... enlace-bareread --filled=100000 --as=iom
//       --dsn=mysql://enlace_server@127.0.0.1:3306/enlace_bench --in-flight=64
//
// Prints "RESULT kind=bare_get as=A filled=N in_flight=K seconds=S calls=C
// calls_per_s=R p50_ms=P p99_ms=Q errors=E"; exit status 0, 1 if a read failed
// or found nothing (the ids are visible, so each read must find its arrival),
// 2 on a usage error.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "clients/bench/common.h"
#include "clients/bench/synthetic.h"
#include "clients/bench/tool_usage.h"
#include "db/dsn.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_pool.h"

ABSL_FLAG(std::string, dsn, "",
          "the server's database user: mysql://user@host:port/database "
          "(password in ENLACE_DB_PASSWORD)");
ABSL_FLAG(int64_t, filled, 100'000, "arrivals `bench.sh fill` loaded");
ABSL_FLAG(std::string, as, "iom", "the agency whose visible arrivals are read");
ABSL_FLAG(int, in_flight, 64, "threads, each with one read in flight (and a connection)");
ABSL_FLAG(double, duration, 10, "seconds measured");
ABSL_FLAG(double, warmup, 2, "seconds read before the measurement starts");

namespace enlace::bench {
namespace {

using Clock = std::chrono::steady_clock;

int Main(int argc, char** argv) {
  SetToolUsage(
      "the database floor of scripts/bench.sh get; see the top of clients/bench/bare_reader.cc",
      "clients/bench/bare_reader.cc");
  absl::ParseCommandLine(argc, argv);
  const int in_flight = absl::GetFlag(FLAGS_in_flight);
  const double duration = absl::GetFlag(FLAGS_duration), warmup = absl::GetFlag(FLAGS_warmup);
  const std::string as = absl::GetFlag(FLAGS_as);
  if (in_flight < 1 || in_flight > 512 || !(duration > 0) || warmup < 0 || as.empty()) {
    std::cerr << "enlace-bareread: --in_flight must be 1..512, --duration > 0, --warmup >= 0, "
                 "--as set\n";
    return 2;
  }
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(absl::GetFlag(FLAGS_dsn));
  if (!dsn.ok()) {
    std::cerr << "enlace-bareread: --dsn: " << dsn.status().message() << "\n";
    return 2;
  }
  const std::vector<std::string> ids = VisibleIds(absl::GetFlag(FLAGS_filled), as);
  if (ids.empty()) {
    std::cerr << "enlace-bareread: " << as << " may see none of the filled arrivals\n";
    return 2;
  }
  db::PoolOptions options;
  options.max_connections = in_flight;
  db::MysqlPool pool(*dsn, options);
  db::MysqlArrivalStore store(&pool);
  const db::Viewer viewer{as};

  const Clock::time_point begin = Clock::now();
  const Clock::time_point measure_from =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const Clock::time_point end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(duration));
  absl::Mutex mu;
  std::vector<int64_t> latencies_us;
  std::string first_error;
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(in_flight));
  for (int t = 0; t < in_flight; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int64_t> mine;
      for (size_t k = static_cast<size_t>(t) * 7919;; ++k) {
        const Clock::time_point sent = Clock::now();
        if (sent >= end) break;
        absl::StatusOr<enlace::v1::Arrival> arrival = store.Get(ids[k % ids.size()], viewer);
        const Clock::time_point answered = Clock::now();
        if (!arrival.ok()) {
          errors.fetch_add(1);
          absl::MutexLock lock(&mu);
          if (first_error.empty()) first_error = arrival.status().ToString();
          continue;
        }
        if (sent >= measure_from && answered <= end) {
          mine.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(answered - sent).count());
        }
      }
      absl::MutexLock lock(&mu);
      latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::sort(latencies_us.begin(), latencies_us.end());
  const double calls_per_s = static_cast<double>(latencies_us.size()) / duration;
  std::cout << absl::StrFormat(
      "get (database floor, as %s): %d reads in flight for %.1f s: %d reads = %.0f reads/s; "
      "p50 %.2f ms, p99 %.2f ms; errors %d\n",
      as, in_flight, duration, latencies_us.size(), calls_per_s, PercentileMs(latencies_us, 50),
      PercentileMs(latencies_us, 99), errors.load());
  std::cout << absl::StrFormat(
      "RESULT kind=bare_get as=%s filled=%d in_flight=%d seconds=%.3f calls=%d calls_per_s=%.0f "
      "p50_ms=%.3f p99_ms=%.3f errors=%d\n",
      as, absl::GetFlag(FLAGS_filled), in_flight, duration, latencies_us.size(), calls_per_s,
      PercentileMs(latencies_us, 50), PercentileMs(latencies_us, 99), errors.load());
  if (errors.load() > 0) {
    std::cerr << "enlace-bareread: " << errors.load() << " reads failed, the first: " << first_error
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace enlace::bench

int main(int argc, char** argv) { return enlace::bench::Main(argc, argv); }
