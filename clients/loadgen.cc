// enlace-loadgen: the load generator behind scripts/bench.sh. It pushes
// arrival records to ArrivalService as the ministry (mfa) would and measures
// how many records per second the server durably commits; and it watches
// referral changes from many WatchReferrals streams at once and measures how
// long each change takes from its commit to each watcher.
//
//   enlace-loadgen ingest --addr localhost:8443 --ca ca.crt --cert mfa.crt
//       --key mfa.key --streams 4 --records 20000 --prefix run1
//   enlace-loadgen ingest ... --prefix run1 --resend     # all ALREADY_RECORDED
//   enlace-loadgen unary ... --records 2000 --concurrency 16
//   enlace-loadgen watch --addr localhost:8443 --ca pki/ca.crt --pki-dir pki
//       --watchers 1000 --changes 200 --channels 10 --server-pid 1234
//
// `ingest` opens --streams RecordArrivals streams, each on its own channel (its
// own TLS connection), and splits --records between them; a writer thread per
// stream writes, a reader thread per stream reads the answers. `unary` sends
// one RecordArrival call per record, --concurrency calls in flight on one
// channel: the platform's non-batched path, the baseline for the stream rate.
//
// `watch` plays three personas with the certificates of `enlacectl pki init`
// in --pki-dir: mfa records a few arrivals whose consent names iom and undp,
// iom opens a case for each, and undp opens --watchers WatchReferrals streams
// spread over --channels connections (callback API: no thread per stream).
// Warm-up referrals are created until every stream has seen one (so every
// stream is live); then iom makes --changes changes one at a time, --pause_ms
// apart: CreateReferral to undp, then WithdrawReferral of that referral,
// alternately. Each delivery's latency is the event's committed_at to the
// moment the watcher's OnReadDone sees it (one machine, one clock). With
// --server_pid, the server's VmRSS is read before the streams open and again
// at the end, while they are still open.
//
// `fairness` measures how much one agency's flood slows another agency's calls.
// mfa records --arrivals arrivals (default 2,000, over four departments)
// whose consent names iom and undp for reintegration. The victim, undp, then
// makes sequential calls for --duration seconds, always the same sequence:
// four GetArrival of pseudo-random known ids, then one ListArrivals first page
// (page_size 50) of the next department, and so on. Quiet phase: the victim
// alone. Flood phase: iom keeps --in-flight calls in flight over --channels
// connections (callback API, closed loop: each answer is followed at once by
// a new call, whatever its status; ListArrivals page_size 500 and GetArrival
// alternately), and after a 2 s ramp the victim runs the same sequence again.
// The headline is the victim's p99 under flood over its p99 alone, measured
// in the same run; the flooder's answers are counted by status, and
// RESOURCE_EXHAUSTED by the limit its message names. With --server-pid and
// --db-pid, the CPU each process used per phase is reported too.
//
// `dump` writes the records `ingest` would send (same --records and
// --prefix) to a file, for the bare loader of bench.sh ingest
// (clients/bench/bare_loader.cc).
//
// `get`, `list`, `capture` and `report` (the read scenarios of bench.sh get,
// list, report and scale, over the arrivals of bench.sh fill) live in
// clients/bench/reads.cc (see reads.h), and `mixed` (everything at once at
// fixed rates, counting errors) in clients/bench/mixed.cc.
//
// Requests are built before the clock starts; the clock runs from the first
// write to the last answer received. Output is one line for people and one
// `RESULT key=value ...` line for scripts.
//
// Exit status: 0 when every record was answered exactly once, with the
// expected outcome (CREATED, or ALREADY_RECORDED with --resend), and every
// stream ended OK (watch: every watcher saw every change exactly once, in
// commit order, and no stream ended before it was cancelled; fairness: every
// one of the victim's calls succeeded); 1 otherwise; 2 on a usage error (absl
// reports an unknown flag itself, with exit status 1).
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/bench/common.h"
#include "clients/bench/mixed.h"
#include "clients/bench/reads.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "google/protobuf/util/delimited_message_util.h"

ABSL_FLAG(std::string, addr, "", "server address host:port (the TLS port)");
ABSL_FLAG(std::string, ca, "", "PEM file of the platform CA");
ABSL_FLAG(std::string, cert, "",
          "PEM client certificate (the ministry's: spiffe://enlace/agency/mfa)");
ABSL_FLAG(std::string, key, "", "PEM private key of --cert");
ABSL_FLAG(std::string, actor, "loadgen",
          "the staff identifier every call names (enlace-actor metadata)");
ABSL_FLAG(std::string, server_name, "",
          "name to check the server certificate against; default: the host of --addr");
ABSL_FLAG(int, streams, 1, "ingest: concurrent RecordArrivals streams, one connection each");
ABSL_FLAG(int, concurrency, 16, "unary: RecordArrival calls in flight");
ABSL_FLAG(int64_t, records, 10000, "records to send in total");
ABSL_FLAG(std::string, prefix, "",
          "external_id prefix (ids are <prefix>-<index>); default: unique per run");
ABSL_FLAG(bool, resend, false,
          "the records were sent before with this --prefix: expect ALREADY_RECORDED");
ABSL_FLAG(int, timeout, 600, "seconds before the run is abandoned");
ABSL_FLAG(std::string, pki_dir, "",
          "watch: directory of `enlacectl pki init` (mfa, iom, undp certificates and keys)");
ABSL_FLAG(int, watchers, 1000, "watch: concurrent WatchReferrals streams (as undp)");
ABSL_FLAG(int, channels, 10,
          "watch: connections the watch streams are spread over; fairness: connections the "
          "flooder's calls are spread over; get/list: connections (default 4 for them)");
ABSL_FLAG(int, changes, 200, "watch: referral changes to make (as iom), one at a time");
ABSL_FLAG(int, cases, 5, "watch: arrivals recorded and cases opened to refer");
ABSL_FLAG(int, pause_ms, 20, "watch: pause between two changes, in milliseconds");
ABSL_FLAG(bool, await_delivery, false,
          "watch: make a change only once every watcher has the previous one (then --pause_ms): "
          "the latency of one change, without queueing behind the fan-out of the last");
ABSL_FLAG(int, server_pid, 0,
          "watch: the server's pid, to read its resident memory (VmRSS); fairness: to read its "
          "CPU time per phase");
ABSL_FLAG(std::string, latencies_out, "",
          "watch: write every delivery to this file: change, watcher, latency and arrival time "
          "(Unix) in microseconds; fairness: every victim call: phase, method, latency");
ABSL_FLAG(int, duration, 20,
          "fairness: seconds the victim (undp) is measured, in each phase; get/list: seconds "
          "measured (default 10 for them)");
ABSL_FLAG(int, in_flight, 256,
          "fairness: the flooder's (iom's) calls in flight, closed loop; get/list: calls in "
          "flight (default 64 for them)");
ABSL_FLAG(int, arrivals, 2000, "fairness: arrivals mfa records before the phases");
ABSL_FLAG(int, flood_page_size, 500,
          "fairness: page_size of the flooder's ListArrivals (diagnosis: the audit event of a "
          "listing names every arrival listed)");
ABSL_FLAG(int, db_pid, 0, "fairness: the database server's pid, to read its CPU time per phase");
ABSL_FLAG(std::string, out, "", "dump: the file the records go to");

namespace enlace::loadgen {
namespace {

// Shared with the scenarios of clients/bench/.
using enlace::bench::Mix;
using enlace::bench::PercentileMs;
using enlace::bench::StatusText;
using Clock = std::chrono::steady_clock;
using enlace::v1::Arrival;
using enlace::v1::ArrivalService;
using enlace::v1::RecordArrivalRequest;
using enlace::v1::RecordArrivalResponse;
using enlace::v1::RecordArrivalsRequest;
using enlace::v1::RecordArrivalsResponse;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxErrorsShown = 5;
constexpr size_t kMaxExternalIdBytes = 64;  // the server's limit
constexpr int kMaxStreams = 256;
constexpr int kMaxWatchers = 20000;

constexpr char kUsage[] =
    R"(enlace-loadgen: load generator for Enlace's ArrivalService and WatchReferrals.

Usage: enlace-loadgen <ingest|unary> --addr HOST:PORT --ca CA --cert CRT --key KEY [flags]
       enlace-loadgen watch --addr HOST:PORT --ca CA --pki-dir DIR [flags]
       enlace-loadgen fairness --addr HOST:PORT --ca CA --pki-dir DIR [flags]
       enlace-loadgen dump --records N --prefix P --out FILE

Commands:
  ingest    --streams S RecordArrivals streams (one connection each) share --records N
  unary     N RecordArrival calls, --concurrency C in flight on one connection
  watch     --watchers W WatchReferrals streams (as undp) over --channels C
            connections see --changes N referral changes (by iom): latency from
            commit to delivery, and the server's resident memory
  fairness  undp's latency (sequential GetArrival/ListArrivals) alone, then while
            iom keeps --in-flight calls in flight: p50/p99/p99.9 of both, and
            the ratio of the p99s
  dump      writes the records ingest would send (same --records, --prefix) to
            --out, length-delimited Arrival messages, for enlace-bareload

Flags:
  --addr HOST:PORT      the server's TLS port
  --ca FILE             PEM of the platform CA
  --cert FILE --key FILE  the ministry's client certificate and key (mfa)
  --server_name NAME    name the server certificate must carry (default: host of --addr)
  --actor ID            staff identifier every call names as enlace-actor, which the
                        server's policy requires (default loadgen)
  --records N           records in total (default 10000)
  --streams S           ingest: concurrent streams (default 1)
  --concurrency C       unary: calls in flight (default 16)
  --prefix P            external_id = P-<index> (default: unique per run)
  --resend              expect ALREADY_RECORDED (same --prefix as an earlier run)
  --timeout SECONDS     abandon the run after this long (default 600)

Flags of watch (--cert/--key are not used: the personas' files are in --pki-dir):
  --pki-dir DIR         made by `enlacectl pki init`: mfa, iom and undp .crt/.key
  --watchers W          WatchReferrals streams, as undp (default 1000)
  --channels C          connections they are spread over (default 10, at most W)
  --changes N           referral changes by iom, one at a time (default 200):
                        CreateReferral to undp and WithdrawReferral, alternately
  --pause-ms MS         pause between two changes (default 20)
  --await-delivery      before each change, wait until every watcher has the
                        previous one: the latency of a change on its own, not
                        queued behind the fan-out of the one before
  --cases K             arrivals recorded by mfa and cases opened by iom (default 5)
  --server-pid PID      read the server's VmRSS from /proc/PID/status
  --prefix P            external_id prefix of the arrivals (default: unique per run)
  --latencies-out FILE  write each delivery as "change watcher latency_us received_us" lines

Flags of fairness (the personas' files are in --pki-dir):
  --pki-dir DIR         made by `enlacectl pki init`: mfa, iom and undp .crt/.key
  --arrivals N          arrivals mfa records first, over 4 departments (default 2000)
  --duration S          seconds the victim (undp) is measured in each phase (default 20)
  --in-flight N         iom's calls in flight during the flood, closed loop (default 256)
  --channels C          connections iom's calls are spread over (default 10)
  --server-pid PID      read the server's CPU time from /proc/PID/stat
  --db-pid PID          read the database server's CPU time from /proc/PID/stat
  --flood-page-size N   page_size of iom's ListArrivals (default 500, the largest)
  --prefix P            external_id prefix of the arrivals (default: unique per run)
  --latencies-out FILE  write each victim call as "phase method latency_us" lines
Flag names may be written with - or _ (--pki-dir, --pki_dir).

Example:
  enlace-loadgen ingest --addr localhost:8443 --ca pki/ca.crt --cert pki/mfa.crt \
      --key pki/mfa.key --streams 4 --records 20000 --prefix bench1
  enlace-loadgen ingest ... --streams 4 --records 20000 --prefix bench1 --resend
  enlace-loadgen watch --addr localhost:8443 --ca pki/ca.crt --pki-dir pki \
      --watchers 1000 --changes 200 --channels 10 --server-pid 4242
  enlace-loadgen fairness --addr localhost:8443 --ca pki/ca.crt --pki-dir pki \
      --duration 20 --in-flight 256 --channels 10

Output: a line for people and a machine line, e.g.
  RESULT kind=ingest records=20000 streams=4 seconds=0.840 rate=23810 created=20000 already_recorded=0 rejected=0 prefix=bench1
  RESULT kind=watch watchers=1000 channels=10 changes=200 deliveries=200000 p50_ms=3.1 p99_ms=18.4 max_ms=40.2 server_rss_mb=123.0 ... missing=0 duplicates=0
  RESULT kind=fairness ... quiet_p99_ms=3.21 ... flood_p99_ms=114.30 ... p99_ratio=35.57 ... victim_errors=0 ... flood_ok=4408 ... flood_resource_exhausted=67491 ...
Exit status: 0 all answered (watch: delivered; fairness: every victim call OK) once as
expected, 1 otherwise, 2 usage error.
)";

// ---------------------------------------------------------------------------
// Deterministic records: the content of record i depends on i alone, so a
// resend with the same prefix carries the same content (ALREADY_RECORDED).

struct Place {
  const char* department;
  const char* municipality;
};

constexpr Place kPlaces[] = {
    {"SV-SS", "Guazapa"},     {"SV-SS", "Mejicanos"}, {"SV-SS", "San Salvador"},
    {"SV-SS", "Apopa"},       {"SV-SS", "Soyapango"}, {"SV-LI", "Quezaltepeque"},
    {"SV-LI", "Santa Tecla"},
};
constexpr const char* kFemaleNames[] = {"María", "Ana", "Rosa", "Carmen", "Gloria", "Sofía"};
constexpr const char* kMaleNames[] = {"José", "Juan", "Carlos", "Luis", "Mario", "Óscar"};
constexpr const char* kFamilyNames[] = {"Hernández", "López",   "Martínez", "Rivas",
                                        "Flores",    "Ramírez", "Cruz",     "Mejía"};
constexpr const char* kOrigins[] = {"US", "MX", "GT"};
constexpr enlace::v1::Need kNeeds[] = {
    enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT,
    enlace::v1::NEED_TRAINING,
    enlace::v1::NEED_SEED_CAPITAL,
    enlace::v1::NEED_PROTECTION,
    enlace::v1::NEED_HEALTH,
    enlace::v1::NEED_LEGAL_ASSISTANCE,
    enlace::v1::NEED_EMPLOYMENT,
};

template <typename T, size_t N>
const T& Pick(const T (&items)[N], uint64_t h) {
  return items[h % N];
}

std::string ExternalId(absl::string_view prefix, int64_t index) {
  return absl::StrCat(prefix, "-", index);
}

void FillArrival(absl::string_view prefix, int64_t index, Arrival* arrival) {
  const uint64_t h = Mix(static_cast<uint64_t>(index));
  const uint64_t h2 = Mix(h);
  arrival->set_external_id(ExternalId(prefix, index));

  // 2017-01-01 .. 2018-02-28: 365 + 59 days.
  const absl::CivilDay arrived = absl::CivilDay(2017, 1, 1) + static_cast<int>(h % 424);
  arrival->set_arrival_date(absl::FormatCivilTime(arrived));
  const char* origin = Pick(kOrigins, h >> 12);
  arrival->set_origin_country(origin);
  // Deportations from the US come by air; from Mexico and Guatemala mostly by land.
  if (origin[0] == 'U') {
    arrival->set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  } else {
    arrival->set_mode((h >> 16) % 5 == 0 ? enlace::v1::ARRIVAL_MODE_AIR
                                         : enlace::v1::ARRIVAL_MODE_LAND);
  }

  enlace::v1::Person* person = arrival->mutable_person();
  const bool female = (h >> 20) % 2 == 0;
  person->set_given_name(female ? Pick(kFemaleNames, h >> 24) : Pick(kMaleNames, h >> 24));
  person->set_family_name(Pick(kFamilyNames, h >> 28));
  // 1960-01-01 .. 2000-12-31: 41 years, 10 of them leap years.
  const absl::CivilDay born = absl::CivilDay(1960, 1, 1) + static_cast<int>(h2 % (41 * 365 + 10));
  person->set_birth_date(absl::FormatCivilTime(born));
  person->set_sex(female ? enlace::v1::SEX_FEMALE : enlace::v1::SEX_MALE);
  person->set_document_number(absl::StrFormat("%08d-%d", (h2 >> 20) % 100000000, index % 10));

  const Place& place = Pick(kPlaces, h >> 32);
  arrival->mutable_destination()->set_department_code(place.department);
  arrival->mutable_destination()->set_municipality(place.municipality);

  // 0 to 3 distinct needs, from a rotating start.
  const int needs = static_cast<int>((h2 >> 8) % 4);
  const size_t first = (h2 >> 12) % std::size(kNeeds);
  for (int n = 0; n < needs; ++n) {
    arrival->add_needs(kNeeds[(first + 2 * static_cast<size_t>(n)) % std::size(kNeeds)]);
  }

  enlace::v1::Consent* consent = arrival->mutable_consent();
  consent->add_agencies("iom");
  consent->add_agencies("undp");
  consent->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  consent->add_purposes(enlace::v1::PURPOSE_STATISTICS);
  consent->mutable_given_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2018, 1, 1, 0, 0, 0), absl::UTCTimeZone())));
  // Born in 1999 or 2000, some were under 18 on arrival: a guardian consented.
  if (arrived < absl::CivilDay(born.year() + 18, born.month(), born.day())) {
    enlace::v1::Guardian* guardian = consent->mutable_guardian();
    guardian->set_name(absl::StrCat(Pick(kFemaleNames, h2 >> 40), " ", person->family_name()));
    guardian->set_relationship(enlace::v1::GUARDIAN_RELATIONSHIP_PARENT);
  }
}

// ---------------------------------------------------------------------------
// Answers: every record must be answered exactly once.

struct RecordError {
  std::string external_id;
  int code = 0;
  std::string field;
  std::string message;
};

// Tallies answers from several threads. Thread-safe.
class Tally {
 public:
  Tally(absl::string_view prefix, int64_t records)
      : prefix_(absl::StrCat(prefix, "-")),
        records_(records),
        answers_(new std::atomic<uint8_t>[static_cast<size_t>(records)]) {
    for (int64_t i = 0; i < records; ++i) answers_[i].store(0, std::memory_order_relaxed);
  }

  // Counts one answer for `external_id`.
  void Answer(absl::string_view external_id, enlace::v1::Outcome outcome,
              const RecordError* error) {
    std::optional<int64_t> index = IndexOf(external_id);
    if (!index.has_value()) {
      unknown_.fetch_add(1, std::memory_order_relaxed);
      if (outcome == enlace::v1::OUTCOME_REJECTED && error != nullptr)
        NoteError(*error);
      else
        NoteError(
            RecordError{std::string(external_id), 0, "", "answer for an unknown external_id"});
      return;
    }
    if (answers_[*index].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
    }
    switch (outcome) {
      case enlace::v1::OUTCOME_CREATED: created_.fetch_add(1, std::memory_order_relaxed); break;
      case enlace::v1::OUTCOME_ALREADY_RECORDED:
        already_recorded_.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        rejected_.fetch_add(1, std::memory_order_relaxed);
        if (error != nullptr) {
          NoteError(*error);
        } else {
          NoteError(RecordError{std::string(external_id), 0, "",
                                absl::StrCat("outcome ", enlace::v1::Outcome_Name(outcome))});
        }
        break;
    }
  }

  int64_t created() const { return created_.load(); }
  int64_t already_recorded() const { return already_recorded_.load(); }
  int64_t rejected() const { return rejected_.load(); }
  int64_t unknown() const { return unknown_.load(); }
  int64_t duplicates() const { return duplicates_.load(); }

  // Records that got no answer, and the first few of their indices.
  int64_t Missing(std::vector<int64_t>* first) const {
    int64_t missing = 0;
    for (int64_t i = 0; i < records_; ++i) {
      if (answers_[i].load(std::memory_order_relaxed) == 0) {
        if (first->size() < kMaxErrorsShown) first->push_back(i);
        ++missing;
      }
    }
    return missing;
  }

  std::vector<RecordError> FirstErrors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

 private:
  std::optional<int64_t> IndexOf(absl::string_view external_id) const {
    if (!absl::ConsumePrefix(&external_id, prefix_)) return std::nullopt;
    int64_t index;
    if (external_id.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(external_id[0])) ||
        !absl::SimpleAtoi(external_id, &index) || index < 0 || index >= records_) {
      return std::nullopt;
    }
    return index;
  }

  void NoteError(const RecordError& error) {
    absl::MutexLock lock(&mu_);
    if (errors_.size() < kMaxErrorsShown) errors_.push_back(error);
  }

  const std::string prefix_;
  const int64_t records_;
  // Answers per record; a second answer is counted in duplicates_ at once, so
  // wrapping past 255 cannot hide one.
  std::unique_ptr<std::atomic<uint8_t>[]> answers_;
  std::atomic<int64_t> created_{0};
  std::atomic<int64_t> already_recorded_{0};
  std::atomic<int64_t> rejected_{0};
  std::atomic<int64_t> unknown_{0};
  std::atomic<int64_t> duplicates_{0};
  mutable absl::Mutex mu_;
  std::vector<RecordError> errors_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// Connections.

struct Options {
  std::string kind;
  std::string addr;
  std::string server_name;
  std::string actor;  // enlace-actor of every call
  grpc::SslCredentialsOptions tls;
  int streams = 1;
  int concurrency = 1;
  int64_t records = 0;
  std::string prefix;
  bool resend = false;
  absl::Duration timeout;
  // watch
  std::string pki_dir;
  int watchers = 0;
  int channels = 1;
  int changes = 0;
  int cases = 0;
  absl::Duration pause;
  bool await_delivery = false;
  int server_pid = 0;  // 0: not given
  std::string latencies_out;
  // fairness
  absl::Duration duration;
  int in_flight = 0;
  int arrivals = 0;
  int db_pid = 0;  // 0: not given
  int flood_page_size = 0;
};

bool ReadFile(const std::string& path, std::string* contents, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = absl::StrCat("cannot read ", path);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *contents = buffer.str();
  if (contents->empty()) {
    *error = absl::StrCat(path, " is empty");
    return false;
  }
  return true;
}

std::shared_ptr<grpc::Channel> NewChannel(const Options& options,
                                          const grpc::SslCredentialsOptions& tls) {
  return enlace::bench::OwnChannel(options.addr, options.server_name, tls, options.actor);
}

std::shared_ptr<grpc::Channel> NewChannel(const Options& options) {
  return NewChannel(options, options.tls);
}

// Connects before the clock starts, so TLS handshakes are not measured.
bool Connect(grpc::Channel* channel, const Options& options) {
  const auto deadline =
      std::chrono::system_clock::now() +
      std::chrono::seconds(std::min<int64_t>(30, absl::ToInt64Seconds(options.timeout)));
  if (channel->WaitForConnected(deadline)) return true;
  std::cerr << "enlace-loadgen: could not connect to " << options.addr
            << " (is the server up, and do --ca/--cert/--key and the server name match?)\n";
  return false;
}

std::chrono::system_clock::time_point Deadline(const Options& options) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout));
}

// ---------------------------------------------------------------------------
// Reporting.

absl::string_view CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "?";
  return kNames[code];
}

struct RunResult {
  double seconds = 0;
  bool transport_ok = true;  // every stream/call ended OK
  std::vector<std::string> transport_errors;  // the first few that did not
};

int Report(const Options& options, const Tally& tally, const RunResult& run) {
  const double rate = run.seconds > 0 ? static_cast<double>(options.records) / run.seconds : 0;
  const bool ingest = options.kind == "ingest";
  const std::string over =
      ingest ? absl::StrCat(options.streams, options.streams == 1 ? " stream" : " streams")
             : absl::StrCat(options.concurrency, " concurrent calls");
  std::cout << absl::StrFormat(
      "%s: %d records over %s in %.2f s = %.0f records/s (created %d, already_recorded %d, "
      "rejected %d)\n",
      options.kind, options.records, over, run.seconds, rate, tally.created(),
      tally.already_recorded(), tally.rejected());
  std::cout << absl::StrFormat(
      "RESULT kind=%s records=%d %s=%d seconds=%.3f rate=%.0f created=%d already_recorded=%d "
      "rejected=%d prefix=%s\n",
      options.kind, options.records, ingest ? "streams" : "concurrency",
      ingest ? options.streams : options.concurrency, run.seconds, rate, tally.created(),
      tally.already_recorded(), tally.rejected(), options.prefix);
  std::cout.flush();

  bool ok = run.transport_ok;
  for (const std::string& error : run.transport_errors) {
    std::cerr << "enlace-loadgen: " << error << "\n";
  }
  if (tally.rejected() > 0 || tally.unknown() > 0) {
    ok = false;
    std::cerr << "enlace-loadgen: " << tally.rejected() << " records rejected, " << tally.unknown()
              << " answers for unknown external_ids; the first:\n";
    for (const RecordError& e : tally.FirstErrors()) {
      std::cerr << "  " << e.external_id << ": code " << e.code << " (" << CodeName(e.code)
                << ") field \"" << e.field << "\": " << e.message << "\n";
    }
  }
  if (tally.duplicates() > 0) {
    ok = false;
    std::cerr << "enlace-loadgen: " << tally.duplicates() << " extra answers for records "
              << "already answered\n";
  }
  std::vector<int64_t> first_missing;
  if (int64_t missing = tally.Missing(&first_missing); missing > 0) {
    ok = false;
    std::cerr << "enlace-loadgen: " << missing << " records got no answer, e.g.";
    for (int64_t i : first_missing) std::cerr << " " << ExternalId(options.prefix, i);
    std::cerr << "\n";
  }
  const int64_t unexpected = options.resend ? tally.created() : tally.already_recorded();
  if (unexpected > 0) {
    ok = false;
    if (options.resend) {
      std::cerr << "enlace-loadgen: --resend expected ALREADY_RECORDED, but " << unexpected
                << " records were CREATED (was --prefix " << options.prefix
                << " sent before, to this database?)\n";
    } else {
      std::cerr << "enlace-loadgen: expected CREATED, but " << unexpected
                << " records were ALREADY_RECORDED: --prefix " << options.prefix
                << " was used before (pass --resend to measure resends, or a new --prefix)\n";
    }
  }
  return ok ? kExitOk : kExitFailure;
}

// ---------------------------------------------------------------------------
// ingest: S streams, one connection each.

// One RecordArrivals stream: the records [begin, end) of `requests`.
class IngestStream {
 public:
  IngestStream(const Options& options, const std::vector<RecordArrivalsRequest>* requests,
               int64_t begin, int64_t end, Tally* tally)
      : options_(options),
        requests_(requests),
        begin_(begin),
        end_(end),
        tally_(tally),
        channel_(NewChannel(options)),
        stub_(ArrivalService::NewStub(channel_)) {}

  bool Connect() { return loadgen::Connect(channel_.get(), options_); }

  // Opens the stream (sends no record yet).
  void Open() {
    context_.set_deadline(Deadline(options_));
    stream_ = stub_->RecordArrivals(&context_);
  }

  // Starts the writer and the reader; the writer waits for `go`.
  void Start(const absl::Notification* go) {
    writer_ = std::thread([this, go] {
      go->WaitForNotification();
      for (int64_t i = begin_; i < end_; ++i) {
        if (!stream_->Write((*requests_)[i])) {
          write_failed_at_ = i;
          break;  // the stream is broken; Finish() says why
        }
      }
      stream_->WritesDone();
    });
    reader_ = std::thread([this] {
      RecordArrivalsResponse response;
      while (stream_->Read(&response)) {
        last_answer_ = Clock::now();
        if (response.outcome() == enlace::v1::OUTCOME_REJECTED || response.has_error()) {
          RecordError error{response.external_id(), response.error().code(),
                            response.error().field(), response.error().message()};
          tally_->Answer(response.external_id(), enlace::v1::OUTCOME_REJECTED, &error);
        } else {
          tally_->Answer(response.external_id(), response.outcome(), nullptr);
        }
      }
    });
  }

  // Joins the threads and returns the stream's status.
  grpc::Status Finish() {
    writer_.join();
    reader_.join();
    return stream_->Finish();
  }

  std::optional<Clock::time_point> last_answer() const { return last_answer_; }
  std::optional<int64_t> write_failed_at() const { return write_failed_at_; }

 private:
  const Options& options_;
  const std::vector<RecordArrivalsRequest>* const requests_;
  const int64_t begin_, end_;
  Tally* const tally_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ArrivalService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<RecordArrivalsRequest, RecordArrivalsResponse>> stream_;
  std::thread writer_, reader_;
  std::optional<Clock::time_point> last_answer_;  // the reader's, read after join
  std::optional<int64_t> write_failed_at_;  // the writer's, read after join
};

int RunIngest(const Options& options) {
  std::vector<RecordArrivalsRequest> requests(options.records);
  for (int64_t i = 0; i < options.records; ++i) {
    FillArrival(options.prefix, i, requests[i].mutable_arrival());
  }
  Tally tally(options.prefix, options.records);

  std::vector<std::unique_ptr<IngestStream>> streams;
  for (int s = 0; s < options.streams; ++s) {
    const int64_t begin = options.records * s / options.streams;
    const int64_t end = options.records * (s + 1) / options.streams;
    streams.push_back(std::make_unique<IngestStream>(options, &requests, begin, end, &tally));
  }
  for (auto& stream : streams) {
    if (!stream->Connect()) return kExitFailure;
  }
  for (auto& stream : streams) stream->Open();

  absl::Notification go;
  for (auto& stream : streams) stream->Start(&go);
  const Clock::time_point start = Clock::now();
  go.Notify();

  RunResult run;
  Clock::time_point last = start;
  for (int s = 0; s < options.streams; ++s) {
    grpc::Status status = streams[s]->Finish();
    if (streams[s]->last_answer()) last = std::max(last, *streams[s]->last_answer());
    if (!status.ok()) {
      run.transport_ok = false;
      if (run.transport_errors.size() < kMaxErrorsShown) {
        run.transport_errors.push_back(absl::StrCat(
            "stream ", s, " ended with ", CodeName(status.error_code()), ": ",
            status.error_message(),
            streams[s]->write_failed_at()
                ? absl::StrCat(" (writes stopped at record ", *streams[s]->write_failed_at(), ")")
                : ""));
      }
    }
  }
  run.seconds = std::chrono::duration<double>(last - start).count();
  return Report(options, tally, run);
}

// ---------------------------------------------------------------------------
// unary: C threads doing blocking calls on one shared channel.

int RunUnary(const Options& options) {
  std::vector<RecordArrivalRequest> requests(options.records);
  for (int64_t i = 0; i < options.records; ++i) {
    FillArrival(options.prefix, i, requests[i].mutable_arrival());
  }
  Tally tally(options.prefix, options.records);

  std::shared_ptr<grpc::Channel> channel = NewChannel(options);
  if (!Connect(channel.get(), options)) return kExitFailure;
  std::unique_ptr<ArrivalService::Stub> stub = ArrivalService::NewStub(channel);

  std::atomic<int64_t> next{0};
  absl::Mutex mu;
  RunResult run;
  Clock::time_point last;  // guarded by mu
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(options.concurrency));
  for (int t = 0; t < options.concurrency; ++t) {
    threads.emplace_back([&] {
      go.WaitForNotification();
      Clock::time_point my_last{};
      for (int64_t i = next.fetch_add(1); i < options.records; i = next.fetch_add(1)) {
        grpc::ClientContext context;
        context.set_deadline(Deadline(options));
        RecordArrivalResponse response;
        grpc::Status status = stub->RecordArrival(&context, requests[i], &response);
        my_last = Clock::now();
        const std::string& external_id = requests[i].arrival().external_id();
        if (status.ok()) {
          if (response.external_id() != external_id) {
            tally.Answer(response.external_id(), response.outcome(), nullptr);
          } else {
            tally.Answer(external_id, response.outcome(), nullptr);
          }
          continue;
        }
        // A rejected record is the call's status; INVALID_ARGUMENT and
        // ALREADY_EXISTS messages start with the field ("arrival.x: ...").
        RecordError error{external_id, status.error_code(), "", status.error_message()};
        const size_t colon = error.message.find(": ");
        if (absl::StartsWith(error.message, "arrival") && colon != std::string::npos) {
          error.field = error.message.substr(0, colon);
        }
        tally.Answer(external_id, enlace::v1::OUTCOME_REJECTED, &error);
      }
      absl::MutexLock lock(&mu);
      last = std::max(last, my_last);
    });
  }
  const Clock::time_point start = Clock::now();
  {
    absl::MutexLock lock(&mu);
    last = start;
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
  run.seconds = std::chrono::duration<double>(last - start).count();
  return Report(options, tally, run);
}

// ---------------------------------------------------------------------------
// watch: W WatchReferrals streams as undp, N referral changes by iom.

using enlace::v1::CaseService;
using enlace::v1::ReferralEvent;
using enlace::v1::ReferralService;

constexpr char kWarmUpReason[] = "enlace-loadgen warm-up";
constexpr char kChangeReason[] = "enlace-loadgen change";
constexpr absl::Duration kWarmUpRound = absl::Seconds(2);  // before another warm-up referral
constexpr absl::Duration kWarmUpLimit = absl::Seconds(60);
constexpr absl::Duration kDeliveryLimit = absl::Seconds(30);  // after the last change
constexpr absl::Duration kDuplicateGrace = absl::Milliseconds(500);
constexpr absl::Duration kCallLimit = absl::Seconds(30);

int64_t UnixMicros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000 + t.nanos() / 1000;
}

// The resident and peak resident memory of a process from /proc/PID/status,
// in kB; nullopt when unreadable.
struct Memory {
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
};
std::optional<Memory> ReadMemory(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return std::nullopt;
  Memory memory;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    int64_t* into = nullptr;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) {
      into = &memory.rss_kb;
      found = true;
    } else if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      into = &memory.hwm_kb;
    } else {
      continue;
    }
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), into)) return std::nullopt;
  }
  if (!found) return std::nullopt;
  return memory;
}

std::string Megabytes(const std::optional<Memory>& memory, bool peak = false) {
  if (!memory.has_value()) return "na";
  return absl::StrFormat("%.1f",
                         static_cast<double>(peak ? memory->hwm_kb : memory->rss_kb) / 1024);
}

// One event as a watcher saw it.
struct Delivery {
  std::string referral_id;
  int type = 0;
  int64_t latency_us = 0;  // committed_at to OnReadDone
  int64_t received_us = 0;  // OnReadDone, Unix time
};

// What all watchers share: counters the main thread polls.
struct WatchCounters {
  std::atomic<int> warm{0};  // watchers that saw a warm-up event
  std::atomic<int64_t> measured{0};  // deliveries of measured changes
  std::atomic<int> done{0};  // streams that ended (OnDone)
};

// One WatchReferrals stream (callback API: gRPC's threads run it). The
// deliveries are touched only by this stream's reactions, which gRPC runs one
// at a time, and read by the main thread after OnDone.
class Watcher final : public grpc::ClientReadReactor<ReferralEvent> {
 public:
  explicit Watcher(WatchCounters* counters) : counters_(counters) {}

  void Start(ReferralService::Stub* stub, const Options& options) {
    context_.set_deadline(Deadline(options));
    stub->async()->WatchReferrals(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    const std::string& reason = event_.referral().reason();
    if (absl::StartsWith(reason, kWarmUpReason)) {
      if (!warm_) {
        warm_ = true;
        counters_->warm.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      deliveries_.push_back(Delivery{event_.referral().referral_id(), event_.type(),
                                     now_us - UnixMicros(event_.committed_at()), now_us});
      counters_->measured.fetch_add(1, std::memory_order_relaxed);
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    ended_at_ = absl::Now();
    counters_->done.fetch_add(1, std::memory_order_release);
  }

  void Cancel() { context_.TryCancel(); }

  // Read only after OnDone (counters_->done counts it).
  const grpc::Status& status() const { return status_; }
  absl::Time ended_at() const { return ended_at_; }
  const std::vector<Delivery>& deliveries() const { return deliveries_; }

 private:
  WatchCounters* const counters_;
  grpc::ClientContext context_;
  enlace::v1::WatchReferralsRequest request_;  // empty resume_token: from now on
  ReferralEvent event_;
  bool warm_ = false;
  std::vector<Delivery> deliveries_;
  grpc::Status status_;
  absl::Time ended_at_;
};

// A persona's credentials from --pki-dir (as the scenarios of clients/bench/).
bool PersonaTls(const Options& options, absl::string_view persona,
                grpc::SslCredentialsOptions* tls) {
  return enlace::bench::PersonaTls(
      enlace::bench::Target{options.addr, options.server_name, options.tls.pem_root_certs,
                            options.pki_dir},
      persona, tls);
}

void SetCallDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(kCallLimit)));
}

// A valid arrival whose consent names iom and undp for reintegration.
void FillWatchArrival(absl::string_view prefix, int index, Arrival* arrival) {
  arrival->set_external_id(ExternalId(prefix, index));
  arrival->set_arrival_date("2018-01-15");
  arrival->set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  arrival->set_origin_country("US");
  enlace::v1::Person* person = arrival->mutable_person();
  person->set_given_name(kFemaleNames[index % std::size(kFemaleNames)]);
  person->set_family_name(kFamilyNames[index % std::size(kFamilyNames)]);
  person->set_birth_date("1990-01-01");
  person->set_sex(enlace::v1::SEX_FEMALE);
  arrival->mutable_destination()->set_department_code("SV-SS");
  arrival->mutable_destination()->set_municipality("Guazapa");
  arrival->add_needs(enlace::v1::NEED_TRAINING);
  enlace::v1::Consent* consent = arrival->mutable_consent();
  consent->add_agencies("iom");
  consent->add_agencies("undp");
  consent->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  consent->mutable_given_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2018, 1, 10, 9, 0, 0), absl::UTCTimeZone())));
}

// mfa records --cases arrivals; iom opens a case for each. Returns the case ids.
std::optional<std::vector<std::string>> SetUpCases(const Options& options,
                                                   grpc::Channel* mfa_channel,
                                                   grpc::Channel* iom_channel) {
  std::unique_ptr<ArrivalService::Stub> arrivals =
      ArrivalService::NewStub(std::shared_ptr<grpc::Channel>(mfa_channel, [](grpc::Channel*) {}));
  std::unique_ptr<CaseService::Stub> cases =
      CaseService::NewStub(std::shared_ptr<grpc::Channel>(iom_channel, [](grpc::Channel*) {}));
  std::vector<std::string> case_ids;
  for (int i = 0; i < options.cases; ++i) {
    RecordArrivalRequest request;
    FillWatchArrival(options.prefix, i, request.mutable_arrival());
    RecordArrivalResponse recorded;
    grpc::ClientContext record_context;
    SetCallDeadline(&record_context);
    grpc::Status status = arrivals->RecordArrival(&record_context, request, &recorded);
    if (!status.ok() || recorded.arrival_id().empty()) {
      std::cerr << "enlace-loadgen: mfa could not record arrival "
                << request.arrival().external_id() << ": "
                << (status.ok()
                        ? absl::StrCat("outcome ", enlace::v1::Outcome_Name(recorded.outcome()),
                                       " ", recorded.error().message())
                        : StatusText(status))
                << "\n";
      return std::nullopt;
    }
    enlace::v1::OpenCaseRequest open;
    open.set_arrival_id(recorded.arrival_id());
    open.set_summary("enlace-loadgen watch benchmark");
    enlace::v1::Case opened;
    grpc::ClientContext open_context;
    SetCallDeadline(&open_context);
    status = cases->OpenCase(&open_context, open, &opened);
    if (!status.ok()) {
      std::cerr << "enlace-loadgen: iom could not open a case for arrival " << recorded.arrival_id()
                << ": " << StatusText(status) << "\n";
      return std::nullopt;
    }
    case_ids.push_back(opened.case_id());
  }
  return case_ids;
}

// The referral changes iom makes, in commit order (one at a time).
struct Change {
  std::string referral_id;
  int type = 0;
  int64_t call_us = 0;  // the call's round trip, as iom saw it
};

// iom creates a referral to undp on `case_id`.
grpc::Status CreateReferral(ReferralService::Stub* stub, const std::string& case_id,
                            const std::string& reason, std::string* referral_id) {
  enlace::v1::CreateReferralRequest request;
  request.set_case_id(case_id);
  request.set_to_agency("undp");
  request.set_service(enlace::v1::NEED_TRAINING);
  request.set_reason(reason);
  enlace::v1::Referral referral;
  grpc::ClientContext context;
  SetCallDeadline(&context);
  grpc::Status status = stub->CreateReferral(&context, request, &referral);
  if (status.ok()) *referral_id = referral.referral_id();
  return status;
}

// The scenario's watch streams, as undp, spread round-robin over the
// channels.
class WatchStreams {
 public:
  // Connects the channels and starts every stream; false when a channel
  // does not connect (Connect says why; no stream started).
  bool Open(const Options& options, const grpc::SslCredentialsOptions& undp_tls) {
    for (int c = 0; c < options.channels; ++c) {
      channels_.push_back(NewChannel(options, undp_tls));
      if (!Connect(channels_.back().get(), options)) return false;
      stubs_.push_back(ReferralService::NewStub(channels_.back()));
    }
    watchers_.reserve(static_cast<size_t>(options.watchers));
    for (int w = 0; w < options.watchers; ++w) {
      watchers_.push_back(std::make_unique<Watcher>(&counters_));
    }
    opened_at_ = absl::Now();
    for (int w = 0; w < options.watchers; ++w) {
      watchers_[w]->Start(stubs_[w % options.channels].get(), options);
    }
    return true;
  }

  // Cancels every stream and waits for every OnDone (the reactors must
  // outlive their calls); counts the streams that had ended before the
  // cancel, or with another status than CANCELLED.
  void CloseAll(absl::Time cancelled_at) {
    for (auto& watcher : watchers_) watcher->Cancel();
    while (counters_.done.load(std::memory_order_acquire) < static_cast<int>(watchers_.size())) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    for (size_t w = 0; w < watchers_.size(); ++w) {
      const Watcher& watcher = *watchers_[w];
      if (watcher.ended_at() < cancelled_at ||
          watcher.status().error_code() != grpc::StatusCode::CANCELLED) {
        ++ended_early_;
        if (errors_.size() < kMaxErrorsShown) {
          errors_.push_back(
              absl::StrCat("watch stream ", w, " ended with ", StatusText(watcher.status())));
        }
      }
    }
  }

  // Closes every stream and prints `why`, then the streams' errors.
  int Fail(absl::string_view why) {
    CloseAll(absl::Now());
    std::cerr << "enlace-loadgen: " << why << "\n";
    PrintErrors();
    return kExitFailure;
  }

  void PrintErrors() const {
    for (const std::string& error : errors_) std::cerr << "enlace-loadgen: " << error << "\n";
  }

  WatchCounters& counters() { return counters_; }
  const std::vector<std::unique_ptr<Watcher>>& watchers() const { return watchers_; }
  absl::Time opened_at() const { return opened_at_; }
  int ended_early() const { return ended_early_; }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<ReferralService::Stub>> stubs_;
  WatchCounters counters_;
  std::vector<std::unique_ptr<Watcher>> watchers_;  // after counters_: they count there
  absl::Time opened_at_;
  int ended_early_ = 0;
  std::vector<std::string> errors_;
};

// Warm-up: a referral at a time until every stream has seen one. A stream
// reads "from now on" once the server has set it up, so a stream that saw
// a warm-up event will see every later change. Returns the number of
// warm-up referrals made, or nothing (and why in *error).
std::optional<int> WarmUpWatchers(const Options& options, ReferralService::Stub* iom,
                                  const std::vector<std::string>& case_ids, WatchCounters& counters,
                                  std::string* error) {
  int warm_ups = 0;
  const absl::Time warm_limit = absl::Now() + std::min(kWarmUpLimit, options.timeout);
  while (counters.warm.load() < options.watchers) {
    if (absl::Now() > warm_limit) {
      *error = absl::StrCat("only ", counters.warm.load(), " of ", options.watchers,
                            " watch streams saw a warm-up change after ", warm_ups,
                            " warm-up referrals");
      return std::nullopt;
    }
    std::string referral_id;
    grpc::Status status = CreateReferral(iom, case_ids[warm_ups % case_ids.size()],
                                         absl::StrCat(kWarmUpReason, " ", warm_ups), &referral_id);
    if (!status.ok()) {
      *error = absl::StrCat("warm-up CreateReferral: ", StatusText(status));
      return std::nullopt;
    }
    ++warm_ups;
    const absl::Time round_end = absl::Now() + kWarmUpRound;
    while (counters.warm.load() < options.watchers && absl::Now() < round_end) {
      if (counters.done.load() > 0) {
        *error = absl::StrCat(counters.done.load(), " watch streams ended during the warm-up");
        return std::nullopt;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  return warm_ups;
}

// The measured changes, one at a time: even ones create a referral to undp
// on the next case, odd ones withdraw the referral just created. Returns
// them in commit order, or nothing (and why in *error).
std::optional<std::vector<Change>> MakeWatchChanges(const Options& options,
                                                    ReferralService::Stub* iom,
                                                    const std::vector<std::string>& case_ids,
                                                    const WatchCounters& counters,
                                                    std::string* error) {
  std::vector<Change> changes;
  changes.reserve(static_cast<size_t>(options.changes));
  std::string last_created;
  for (int i = 0; i < options.changes; ++i) {
    if (options.await_delivery && i > 0) {
      // Until every watcher has change i - 1 (a missing one shows at the end).
      const int64_t delivered = static_cast<int64_t>(options.watchers) * i;
      const absl::Time limit = absl::Now() + kDeliveryLimit;
      while (counters.measured.load() < delivered && absl::Now() < limit &&
             counters.done.load() == 0) {
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
    if (i > 0) absl::SleepFor(options.pause);
    Change change;
    const absl::Time call_start = absl::Now();
    grpc::Status status;
    if (i % 2 == 0) {
      change.type = enlace::v1::REFERRAL_EVENT_TYPE_CREATED;
      status = CreateReferral(iom, case_ids[(i / 2) % case_ids.size()],
                              absl::StrCat(kChangeReason, " ", i), &change.referral_id);
      last_created = change.referral_id;
    } else {
      change.type = enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN;
      change.referral_id = last_created;
      enlace::v1::WithdrawReferralRequest request;
      request.set_referral_id(last_created);
      enlace::v1::Referral referral;
      grpc::ClientContext context;
      SetCallDeadline(&context);
      status = iom->WithdrawReferral(&context, request, &referral);
    }
    change.call_us = absl::ToInt64Microseconds(absl::Now() - call_start);
    if (!status.ok()) {
      *error = absl::StrCat("change ", i, " (", i % 2 == 0 ? "CreateReferral" : "WithdrawReferral",
                            ") failed: ", StatusText(status));
      return std::nullopt;
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

// What the watchers received, checked against the changes made: each
// change once per watcher, in commit order.
struct WatchDeliveries {
  int64_t missing = 0, duplicates = 0, unexpected = 0, out_of_order = 0, deliveries = 0;
  std::vector<int64_t> latencies;  // commit to delivery, sorted
  std::vector<int64_t> slowest_per_change;  // the last watcher's latency per change, sorted
  std::vector<std::string> first_problems;

  bool ok() const {
    return missing == 0 && duplicates == 0 && unexpected == 0 && out_of_order == 0;
  }
};

// Checks every watcher's deliveries; writes each to `dump` when it is open.
WatchDeliveries CheckDeliveries(const std::vector<std::unique_ptr<Watcher>>& watchers,
                                const std::vector<Change>& changes, std::ofstream& dump) {
  absl::flat_hash_map<std::pair<std::string, int>, int> change_index;
  for (size_t i = 0; i < changes.size(); ++i) {
    change_index[{changes[i].referral_id, changes[i].type}] = static_cast<int>(i);
  }
  WatchDeliveries result;
  result.latencies.reserve(watchers.size() * changes.size());
  result.slowest_per_change.assign(changes.size(), 0);
  std::vector<int> seen(changes.size());
  auto note = [&](std::string problem) {
    if (result.first_problems.size() < kMaxErrorsShown) {
      result.first_problems.push_back(std::move(problem));
    }
  };
  for (size_t w = 0; w < watchers.size(); ++w) {
    std::fill(seen.begin(), seen.end(), 0);
    int last = -1;
    for (const Delivery& d : watchers[w]->deliveries()) {
      auto it = change_index.find(std::pair(d.referral_id, d.type));
      if (it == change_index.end()) {
        ++result.unexpected;
        note(absl::StrCat("watcher ", w, " got an event of no change made: referral ",
                          d.referral_id, " type ", d.type));
        continue;
      }
      const int i = it->second;
      if (seen[i]++ > 0) {
        ++result.duplicates;
        note(absl::StrCat("watcher ", w, " got change ", i, " again"));
        continue;
      }
      if (i < last) {
        ++result.out_of_order;
        note(absl::StrCat("watcher ", w, " got change ", i, " after change ", last));
      }
      last = std::max(last, i);
      ++result.deliveries;
      result.latencies.push_back(d.latency_us);
      if (dump) dump << i << " " << w << " " << d.latency_us << " " << d.received_us << "\n";
      result.slowest_per_change[i] = std::max(result.slowest_per_change[i], d.latency_us);
    }
    for (size_t i = 0; i < changes.size(); ++i) {
      if (seen[i] == 0) {
        ++result.missing;
        note(absl::StrCat("watcher ", w, " never got change ", i, " (referral ",
                          changes[i].referral_id, " ",
                          enlace::v1::ReferralEventType_Name(changes[i].type), ")"));
      }
    }
  }
  std::sort(result.latencies.begin(), result.latencies.end());
  std::sort(result.slowest_per_change.begin(), result.slowest_per_change.end());
  return result;
}

// The server's memory at the scenario's three moments (none without
// --server-pid).
struct WatchMemory {
  std::optional<Memory> idle;  // before any watcher connected
  std::optional<Memory> connected;  // every stream live, before the changes
  std::optional<Memory> loaded;  // every stream still open after the changes
};

// The watch scenario's timings.
struct WatchTimes {
  double warm_seconds = 0;  // until every stream was live
  int warm_ups = 0;  // warm-up referrals made until then
  double change_seconds = 0;  // the measured changes
};

// The watch summary for people, then its RESULT line for scripts/bench.sh.
void PrintWatchResult(const Options& options, const WatchDeliveries& d,
                      const std::vector<Change>& changes, const WatchMemory& memory,
                      const WatchTimes& times, int ended_early) {
  std::vector<int64_t> calls;
  calls.reserve(changes.size());
  for (const Change& change : changes) calls.push_back(change.call_us);
  std::sort(calls.begin(), calls.end());
  const double p50 = PercentileMs(d.latencies, 50), p99 = PercentileMs(d.latencies, 99),
               max = PercentileMs(d.latencies, 100);
  std::cout << absl::StrFormat(
      "watch: %d changes (%.1f/s, %s) to %d watchers over %d channels: %d deliveries; "
      "commit to delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms (last watcher per change: p50 "
      "%.1f ms); iom's change calls p50 %.1f ms; server RSS %s MB with the streams open (%s MB "
      "before "
      "they connected, peak %s MB); streams live after %.1f s and %d warm-up referrals; "
      "missing %d, duplicates %d, unexpected %d, out of order %d, streams ended early %d\n",
      options.changes, options.changes / std::max(times.change_seconds, 1e-6),
      options.await_delivery ? absl::StrCat("each after the last was delivered, +",
                                            options.pause / absl::Milliseconds(1), " ms")
                             : absl::StrCat(options.pause / absl::Milliseconds(1), " ms apart"),
      options.watchers, options.channels, d.deliveries, p50, p99, max,
      PercentileMs(d.slowest_per_change, 50), PercentileMs(calls, 50), Megabytes(memory.loaded),
      Megabytes(memory.idle), Megabytes(memory.loaded, true), times.warm_seconds, times.warm_ups,
      d.missing, d.duplicates, d.unexpected, d.out_of_order, ended_early);
  std::cout << absl::StrFormat(
      "RESULT kind=watch watchers=%d channels=%d changes=%d deliveries=%d p50_ms=%.1f "
      "p99_ms=%.1f max_ms=%.1f last_watcher_p50_ms=%.1f pause_ms=%d await_delivery=%d "
      "changes_per_s=%.1f change_call_p50_ms=%.1f server_rss_mb=%s "
      "server_rss_idle_mb=%s server_rss_connected_mb=%s server_hwm_mb=%s warm_up_s=%.1f "
      "missing=%d duplicates=%d unexpected=%d out_of_order=%d ended_early=%d prefix=%s\n",
      options.watchers, options.channels, options.changes, d.deliveries, p50, p99, max,
      PercentileMs(d.slowest_per_change, 50), absl::ToInt64Milliseconds(options.pause),
      options.await_delivery ? 1 : 0, options.changes / std::max(times.change_seconds, 1e-6),
      PercentileMs(calls, 50), Megabytes(memory.loaded), Megabytes(memory.idle),
      Megabytes(memory.connected), Megabytes(memory.loaded, true), times.warm_seconds, d.missing,
      d.duplicates, d.unexpected, d.out_of_order, ended_early, options.prefix);
  std::cout.flush();
}

// The server's memory now, with --server-pid; nothing without.
std::optional<Memory> ServerMemory(const Options& options) {
  return options.server_pid > 0 ? ReadMemory(options.server_pid) : std::nullopt;
}

int RunWatch(const Options& options) {
  grpc::SslCredentialsOptions mfa_tls, iom_tls, undp_tls;
  if (!PersonaTls(options, "mfa", &mfa_tls) || !PersonaTls(options, "iom", &iom_tls) ||
      !PersonaTls(options, "undp", &undp_tls)) {
    return kExitFailure;
  }
  std::shared_ptr<grpc::Channel> mfa_channel = NewChannel(options, mfa_tls);
  std::shared_ptr<grpc::Channel> iom_channel = NewChannel(options, iom_tls);
  if (!Connect(mfa_channel.get(), options) || !Connect(iom_channel.get(), options)) {
    return kExitFailure;
  }
  std::optional<std::vector<std::string>> case_ids =
      SetUpCases(options, mfa_channel.get(), iom_channel.get());
  if (!case_ids.has_value()) return kExitFailure;
  std::unique_ptr<ReferralService::Stub> iom = ReferralService::NewStub(iom_channel);

  WatchMemory memory;
  memory.idle = ServerMemory(options);  // the server before any watcher connects
  if (options.server_pid > 0 && !memory.idle.has_value()) {
    std::cerr << "enlace-loadgen: cannot read VmRSS from /proc/" << options.server_pid
              << "/status (is --server-pid the server's pid?)\n";
    return kExitFailure;
  }
  WatchStreams streams;
  if (!streams.Open(options, undp_tls)) return kExitFailure;

  WatchTimes times;
  std::string error;
  std::optional<int> warm_ups =
      WarmUpWatchers(options, iom.get(), *case_ids, streams.counters(), &error);
  if (!warm_ups.has_value()) return streams.Fail(error);
  times.warm_ups = *warm_ups;
  times.warm_seconds = absl::ToDoubleSeconds(absl::Now() - streams.opened_at());
  const absl::Time changes_start = absl::Now();
  memory.connected = ServerMemory(options);
  std::optional<std::vector<Change>> changes =
      MakeWatchChanges(options, iom.get(), *case_ids, streams.counters(), &error);
  if (!changes.has_value()) return streams.Fail(error);
  times.change_seconds = absl::ToDoubleSeconds(absl::Now() - changes_start);
  // Every watcher should see every change: wait for them (or the limit),
  // then a little longer, so that duplicates have a chance to show.
  const int64_t expected = static_cast<int64_t>(options.watchers) * options.changes;
  const absl::Time delivery_limit = absl::Now() + kDeliveryLimit;
  const WatchCounters& counters = streams.counters();
  while (counters.measured.load() < expected && absl::Now() < delivery_limit &&
         counters.done.load() == 0) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  absl::SleepFor(kDuplicateGrace);
  memory.loaded = ServerMemory(options);  // with every stream still open
  streams.CloseAll(absl::Now());

  std::ofstream dump;
  if (!options.latencies_out.empty()) {
    dump.open(options.latencies_out, std::ios::trunc);
    if (!dump) std::cerr << "enlace-loadgen: cannot write " << options.latencies_out << "\n";
  }
  const WatchDeliveries deliveries = CheckDeliveries(streams.watchers(), *changes, dump);
  PrintWatchResult(options, deliveries, *changes, memory, times, streams.ended_early());

  bool ok = deliveries.ok() && streams.ended_early() == 0;
  for (const std::string& problem : deliveries.first_problems) {
    std::cerr << "enlace-loadgen: " << problem << "\n";
  }
  streams.PrintErrors();
  if (options.server_pid > 0 && !memory.loaded.has_value()) {
    ok = false;
    std::cerr << "enlace-loadgen: could not read the server's memory at the end (did it exit?)\n";
  }
  return ok ? kExitOk : kExitFailure;
}

// ---------------------------------------------------------------------------
// fairness: undp's latency alone, then while iom floods.

using enlace::v1::GetArrivalRequest;
using enlace::v1::ListArrivalsRequest;
using enlace::v1::ListArrivalsResponse;

// The departments the arrivals are spread over, in turn, one municipality
// each (the gazetteer lists none for SV-SM and SV-SA: any clean name passes).
constexpr Place kFairnessPlaces[] = {
    {"SV-SS", "San Salvador"},
    {"SV-LI", "Santa Tecla"},
    {"SV-SM", "San Miguel"},
    {"SV-SA", "Santa Ana"},
};
constexpr int kFairnessDepartments = static_cast<int>(std::size(kFairnessPlaces));
constexpr int kVictimListEvery = 5;  // calls 5, 10, 15, ... are ListArrivals
constexpr int kVictimPageSize = 50;
constexpr int kMaxInFlight = 4096;
constexpr absl::Duration kVictimWarmUp = absl::Seconds(2);
constexpr absl::Duration kFloodRamp = absl::Seconds(2);
constexpr absl::Duration kFloodDrainLimit = absl::Seconds(60);  // > kCallLimit
constexpr uint64_t kVictimSeed = 0x5eed'0000'0000ULL;
constexpr uint64_t kFloodSeed = 0xf100d'0000'0000ULL;

// Arrivals of department `d` among the first `arrivals` (spread in turn).
int ArrivalsIn(int d, int arrivals) {
  return (arrivals - d + kFairnessDepartments - 1) / kFairnessDepartments;
}

// mfa records the arrivals through one RecordArrivals stream; returns their
// arrival ids, by index.
std::optional<std::vector<std::string>> RecordFairnessArrivals(
    const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  std::vector<RecordArrivalsRequest> requests(static_cast<size_t>(options.arrivals));
  for (int i = 0; i < options.arrivals; ++i) {
    Arrival* arrival = requests[i].mutable_arrival();
    FillArrival(options.prefix, i, arrival);  // consent: iom and undp, reintegration
    const Place& place = kFairnessPlaces[i % kFairnessDepartments];
    arrival->mutable_destination()->set_department_code(place.department);
    arrival->mutable_destination()->set_municipality(place.municipality);
  }
  std::unique_ptr<ArrivalService::Stub> stub = ArrivalService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(Deadline(options));
  std::unique_ptr<grpc::ClientReaderWriter<RecordArrivalsRequest, RecordArrivalsResponse>> stream =
      stub->RecordArrivals(&context);
  std::thread writer([&] {
    for (const RecordArrivalsRequest& request : requests) {
      if (!stream->Write(request)) break;  // Finish() says why
    }
    stream->WritesDone();
  });
  std::vector<std::string> ids(static_cast<size_t>(options.arrivals));
  const std::string prefix = absl::StrCat(options.prefix, "-");
  std::string problem;
  RecordArrivalsResponse response;
  while (stream->Read(&response)) {
    absl::string_view external_id = response.external_id();
    int64_t index = -1;
    if (response.outcome() != enlace::v1::OUTCOME_CREATED || response.arrival_id().empty() ||
        !absl::ConsumePrefix(&external_id, prefix) || !absl::SimpleAtoi(external_id, &index) ||
        index < 0 || index >= options.arrivals) {
      if (problem.empty()) {
        problem = absl::StrCat("record ", response.external_id(), ": outcome ",
                               enlace::v1::Outcome_Name(response.outcome()), " ",
                               response.error().message());
      }
      continue;
    }
    ids[static_cast<size_t>(index)] = response.arrival_id();
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok() && problem.empty()) problem = StatusText(status);
  const int64_t missing = std::count(ids.begin(), ids.end(), std::string());
  if (problem.empty() && missing > 0) problem = absl::StrCat(missing, " records got no answer");
  if (!problem.empty()) {
    std::cerr << "enlace-loadgen: mfa could not record the " << options.arrivals
              << " arrivals: " << problem << "\n";
    return std::nullopt;
  }
  return ids;
}

// CPU time, for the share of the two cores each process used in a phase.
struct CpuSample {
  Clock::time_point at;
  std::optional<double> server_s, db_s;  // utime + stime, seconds
  double self_s = 0;
  int64_t machine_busy = 0, machine_total = 0;  // /proc/stat ticks, all CPUs
};

// utime + stime of `pid` in seconds, from /proc/PID/stat.
std::optional<double> ProcessCpuSeconds(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  // After "pid (comm) ": field 3 (state) onwards; utime and stime are 14 and 15.
  std::istringstream fields(line.substr(name_end + 1));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14 && !absl::SimpleAtoi(field, &utime)) return std::nullopt;
    if (n == 15 && !absl::SimpleAtoi(field, &stime)) return std::nullopt;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CpuSample SampleCpu(const Options& options) {
  CpuSample sample;
  sample.at = Clock::now();
  sample.server_s = ProcessCpuSeconds(options.server_pid);
  sample.db_s = ProcessCpuSeconds(options.db_pid);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  sample.self_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      cpu == "cpu") {
    sample.machine_busy = user + nice + system + irq + softirq + steal;
    sample.machine_total = sample.machine_busy + idle + iowait;
  }
  return sample;
}

// Cores used between two samples ("na" when unknown), and the machine's busy share.
struct CpuUse {
  std::string server = "na", db = "na", self = "na", machine_busy_pct = "na";
  // Busy cores not used by these three (other processes: a noisy machine).
  std::string others = "na";
};

CpuUse CpuBetween(const CpuSample& a, const CpuSample& b) {
  CpuUse use;
  const double wall = std::chrono::duration<double>(b.at - a.at).count();
  if (wall <= 0) return use;
  auto cores = [wall](double seconds) { return absl::StrFormat("%.2f", seconds / wall); };
  if (a.server_s && b.server_s) use.server = cores(*b.server_s - *a.server_s);
  if (a.db_s && b.db_s) use.db = cores(*b.db_s - *a.db_s);
  use.self = cores(b.self_s - a.self_s);
  if (b.machine_total > a.machine_total) {
    const double busy = static_cast<double>(b.machine_busy - a.machine_busy) /
                        static_cast<double>(b.machine_total - a.machine_total);
    use.machine_busy_pct = absl::StrFormat("%.0f", 100.0 * busy);
    if (a.server_s && b.server_s && a.db_s && b.db_s) {
      const double cpus = static_cast<double>(std::max<long>(sysconf(_SC_NPROCESSORS_ONLN), 1));
      const double ours = (*b.server_s - *a.server_s) + (*b.db_s - *a.db_s) + (b.self_s - a.self_s);
      use.others = absl::StrFormat("%.2f", std::max(0.0, busy * cpus - ours / wall));
    }
  }
  return use;
}

// The victim's i-th call, the same in every phase: four GetArrival of
// pseudo-random known ids, then a ListArrivals first page of the next
// department.
struct VictimCall {
  bool list = false;
  int department = 0;  // list
  size_t arrival = 0;  // get
};

VictimCall VictimCallAt(int64_t i, size_t arrivals) {
  VictimCall call;
  if (i % kVictimListEvery == kVictimListEvery - 1) {
    call.list = true;
    call.department = static_cast<int>((i / kVictimListEvery) % kFairnessDepartments);
  } else {
    call.arrival = Mix(kVictimSeed + static_cast<uint64_t>(i)) % arrivals;
  }
  return call;
}

// The victim's latencies in one phase, in microseconds, sorted.
struct VictimPhase {
  std::vector<int64_t> all_us, get_us, list_us;
  int64_t errors = 0;
  std::vector<std::string> first_errors;
  double seconds = 0;
};

// undp's sequential calls for `duration`; `phase` names them in --latencies-out.
VictimPhase RunVictim(ArrivalService::Stub* stub, const std::vector<std::string>& ids, int arrivals,
                      absl::Duration duration, absl::string_view phase, std::ofstream* dump) {
  VictimPhase result;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::microseconds(absl::ToInt64Microseconds(duration));
  for (int64_t i = 0; Clock::now() < end; ++i) {
    const VictimCall call = VictimCallAt(i, ids.size());
    grpc::ClientContext context;
    SetCallDeadline(&context);
    grpc::Status status;
    std::string problem;
    Clock::time_point sent, answered;
    if (call.list) {
      ListArrivalsRequest request;
      request.set_department_code(kFairnessPlaces[call.department].department);
      request.set_page_size(kVictimPageSize);
      ListArrivalsResponse response;
      sent = Clock::now();
      status = stub->ListArrivals(&context, request, &response);
      answered = Clock::now();
      const int expected = std::min(kVictimPageSize, ArrivalsIn(call.department, arrivals));
      if (status.ok() && response.arrivals_size() != expected) {
        problem = absl::StrCat("ListArrivals ", request.department_code(), " returned ",
                               response.arrivals_size(), " arrivals, expected ", expected);
      }
    } else {
      GetArrivalRequest request;
      request.set_arrival_id(ids[call.arrival]);
      Arrival response;
      sent = Clock::now();
      status = stub->GetArrival(&context, request, &response);
      answered = Clock::now();
      if (status.ok() && response.arrival_id() != request.arrival_id()) {
        problem = absl::StrCat("GetArrival ", request.arrival_id(), " returned arrival ",
                               response.arrival_id());
      }
    }
    if (!status.ok()) {
      problem = absl::StrCat(call.list ? "ListArrivals: " : "GetArrival: ", StatusText(status));
    }
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(answered - sent).count();
    result.all_us.push_back(us);
    (call.list ? result.list_us : result.get_us).push_back(us);
    if (dump != nullptr && *dump) {
      *dump << phase << " " << (call.list ? "ListArrivals" : "GetArrival") << " " << us << "\n";
    }
    if (!problem.empty()) {
      ++result.errors;
      if (result.first_errors.size() < kMaxErrorsShown) {
        result.first_errors.push_back(absl::StrCat(phase, ": ", problem));
      }
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (std::vector<int64_t>* v : {&result.all_us, &result.get_us, &result.list_us}) {
    std::sort(v->begin(), v->end());
  }
  return result;
}

// The limit a RESOURCE_EXHAUSTED message names: "max_calls_per_identity"
// from "limit reached: at most 64 concurrent calls (max_calls_per_identity)
// ...", "server_busy" for the work pool's full queue, "other" otherwise.
std::string ExhaustedLimit(absl::string_view message) {
  const size_t open = message.find("(max_");
  if (open != absl::string_view::npos) {
    const size_t close = message.find(')', open);
    if (close != absl::string_view::npos)
      return std::string(message.substr(open + 1, close - open - 1));
  }
  if (absl::StrContains(message, "server busy")) return "server_busy";
  return "other";
}

// iom's flood: `in_flight` calls kept in flight over `stubs` with the
// callback API, in a closed loop: each answer, whatever its status, is at
// once followed by the next call of its slot (ListArrivals page_size 500 and
// GetArrival alternately). Thread-safe.
class Flooder {
 public:
  struct Counts {
    std::vector<int64_t> by_code = std::vector<int64_t>(17, 0);
    std::map<std::string, int64_t> exhausted;  // by the limit named
    std::map<std::string, std::string> example;  // a message per limit named
    std::vector<std::string> first_other_errors;
    int64_t answers = 0;
  };

  Flooder(std::vector<std::unique_ptr<ArrivalService::Stub>>* stubs,
          const std::vector<std::string>* ids, int in_flight, int page_size)
      : ids_(ids), page_size_(page_size), slots_(static_cast<size_t>(in_flight)) {
    for (size_t s = 0; s < slots_.size(); ++s) {
      slots_[s].index = s;
      slots_[s].stub = (*stubs)[s % stubs->size()].get();
    }
  }

  void Start() {
    active_.store(static_cast<int>(slots_.size()));
    for (Slot& slot : slots_) Issue(&slot);
  }

  // Latencies of the answers are kept between BeginWindow and EndWindow.
  void BeginWindow() { measuring_.store(true); }
  void EndWindow() { measuring_.store(false); }

  // Issues no more calls; true once every call in flight has ended, within `limit`.
  bool Stop(absl::Duration limit) {
    stopping_.store(true);
    const absl::Time give_up = absl::Now() + limit;
    while (active_.load() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    return active_.load() == 0;
  }

  Counts Snapshot() const {
    absl::MutexLock lock(&mu_);
    return counts_;
  }

  // Latencies in the window, sorted: OK answers of ListArrivals and of
  // GetArrival, and RESOURCE_EXHAUSTED answers (a refusal waits only for its
  // audit event to commit).
  struct Latencies {
    std::vector<int64_t> ok_list_us, ok_get_us, exhausted_us;
  };
  Latencies WindowLatencies() const {
    absl::MutexLock lock(&mu_);
    Latencies l{ok_list_us_, ok_get_us_, exhausted_us_};
    for (std::vector<int64_t>* v : {&l.ok_list_us, &l.ok_get_us, &l.exhausted_us}) {
      std::sort(v->begin(), v->end());
    }
    return l;
  }

 private:
  struct Slot {
    size_t index = 0;
    ArrivalService::Stub* stub = nullptr;
    uint64_t calls = 0;
    bool list = false;
    Clock::time_point sent;
    // The context of the call before is kept one more call: it is destroyed
    // well after its completion callback has returned.
    std::unique_ptr<grpc::ClientContext> context, previous;
    ListArrivalsRequest list_request;
    ListArrivalsResponse list_response;
    GetArrivalRequest get_request;
    Arrival get_response;
  };

  void Issue(Slot* slot) {
    slot->previous = std::move(slot->context);
    slot->context = std::make_unique<grpc::ClientContext>();
    SetCallDeadline(slot->context.get());
    const uint64_t n = slot->calls++;
    slot->list = (n + slot->index) % 2 == 0;
    slot->sent = Clock::now();
    auto done = [this, slot](const grpc::Status& status) { Done(slot, status); };
    if (slot->list) {
      slot->list_request.Clear();
      slot->list_request.set_department_code(
          kFairnessPlaces[(n / 2 + slot->index) % kFairnessDepartments].department);
      slot->list_request.set_page_size(page_size_);
      slot->list_response.Clear();
      slot->stub->async()->ListArrivals(slot->context.get(), &slot->list_request,
                                        &slot->list_response, std::move(done));
    } else {
      slot->get_request.set_arrival_id(
          (*ids_)[Mix(kFloodSeed + slot->index * 1'000'000'007ULL + n) % ids_->size()]);
      slot->get_response.Clear();
      slot->stub->async()->GetArrival(slot->context.get(), &slot->get_request, &slot->get_response,
                                      std::move(done));
    }
  }

  void Done(Slot* slot, const grpc::Status& status) {
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot->sent).count();
    const int code = status.error_code();
    {
      absl::MutexLock lock(&mu_);
      ++counts_.answers;
      if (code >= 0 && code < static_cast<int>(counts_.by_code.size())) ++counts_.by_code[code];
      if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        const std::string limit = ExhaustedLimit(status.error_message());
        ++counts_.exhausted[limit];
        if (counts_.example.count(limit) == 0) counts_.example[limit] = status.error_message();
      } else if (code != grpc::StatusCode::OK &&
                 counts_.first_other_errors.size() < kMaxErrorsShown) {
        counts_.first_other_errors.push_back(
            absl::StrCat(slot->list ? "ListArrivals: " : "GetArrival: ", StatusText(status)));
      }
      if (measuring_.load(std::memory_order_relaxed)) {
        if (code == grpc::StatusCode::OK) {
          (slot->list ? ok_list_us_ : ok_get_us_).push_back(us);
        } else if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          exhausted_us_.push_back(us);
        }
      }
    }
    if (stopping_.load()) {
      active_.fetch_sub(1);
      return;
    }
    Issue(slot);
  }

  const std::vector<std::string>* const ids_;
  const int page_size_;
  std::vector<Slot> slots_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> measuring_{false};
  std::atomic<int> active_{0};
  mutable absl::Mutex mu_;
  Counts counts_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> ok_list_us_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> ok_get_us_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> exhausted_us_ ABSL_GUARDED_BY(mu_);
};

// Counts of `b` minus those of `a` (the window between two snapshots).
Flooder::Counts CountsBetween(const Flooder::Counts& a, const Flooder::Counts& b) {
  Flooder::Counts d = b;
  d.answers -= a.answers;
  for (size_t c = 0; c < d.by_code.size(); ++c) d.by_code[c] -= a.by_code[c];
  for (auto& [limit, n] : d.exhausted) {
    auto it = a.exhausted.find(limit);
    if (it != a.exhausted.end()) n -= it->second;
  }
  return d;
}

// The value of max_calls_per_identity as the refusals name it ("limit
// reached: at most 16 concurrent calls (max_calls_per_identity) ..."), or "na".
std::string CallLimitOf(const Flooder::Counts& counts) {
  auto it = counts.example.find("max_calls_per_identity");
  if (it == counts.example.end()) return "na";
  absl::string_view message = it->second;
  const size_t at = message.find("at most ");
  if (at == absl::string_view::npos) return "na";
  message.remove_prefix(at + 8);
  int limit = 0;
  if (!absl::SimpleAtoi(message.substr(0, message.find(' ')), &limit)) return "na";
  return absl::StrCat(limit);
}

// What the fairness scenario measured: undp's phases, the machine's CPU
// during the two measured ones, and iom's answers during undp's flood phase.
struct FairnessRun {
  VictimPhase warm, quiet, flood;
  CpuUse quiet_cpu, flood_cpu;
  Flooder::Counts window;
  Flooder::Latencies flood_us;
};

// undp's warm-up, undp alone, then undp again while iom floods over
// `iom_stubs`.
FairnessRun RunFairnessPhases(const Options& options, ArrivalService::Stub* undp,
                              std::vector<std::unique_ptr<ArrivalService::Stub>>* iom_stubs,
                              const std::vector<std::string>& ids, std::ofstream* dump) {
  FairnessRun run;
  // Warm-up (caches, connections' windows), not measured; then undp alone.
  std::cerr << "enlace-loadgen: quiet phase: undp alone for "
            << absl::FormatDuration(options.duration) << "\n";
  run.warm = RunVictim(undp, ids, options.arrivals, kVictimWarmUp, "warm-up", nullptr);
  const CpuSample quiet_start = SampleCpu(options);
  run.quiet = RunVictim(undp, ids, options.arrivals, options.duration, "quiet", dump);
  run.quiet_cpu = CpuBetween(quiet_start, SampleCpu(options));

  // iom floods; once it has ramped up, undp's same sequence again.
  std::cerr << "enlace-loadgen: flood phase: iom keeps " << options.in_flight
            << " calls in flight over " << options.channels << " connections; undp for "
            << absl::FormatDuration(options.duration) << "\n";
  Flooder flooder(iom_stubs, &ids, options.in_flight, options.flood_page_size);
  flooder.Start();
  absl::SleepFor(kFloodRamp);
  const Flooder::Counts window_start = flooder.Snapshot();
  flooder.BeginWindow();
  const CpuSample flood_start = SampleCpu(options);
  run.flood = RunVictim(undp, ids, options.arrivals, options.duration, "flood", dump);
  run.flood_cpu = CpuBetween(flood_start, SampleCpu(options));
  flooder.EndWindow();
  run.window = CountsBetween(window_start, flooder.Snapshot());
  if (!flooder.Stop(kFloodDrainLimit)) {
    // Reactors still refer to the flooder: it cannot be destroyed.
    std::cerr << "enlace-loadgen: iom's calls did not end within "
              << absl::FormatDuration(kFloodDrainLimit) << " of the end of the flood\n";
    std::cout.flush();
    std::_Exit(kExitFailure);
  }
  run.flood_us = flooder.WindowLatencies();
  return run;
}

// The count of iom's answers RESOURCE_EXHAUSTED by `limit` during the window.
int64_t ExhaustedBy(const Flooder::Counts& window, const std::string& limit) {
  auto it = window.exhausted.find(limit);
  return it == window.exhausted.end() ? 0 : it->second;
}

// The fairness table, for people.
void PrintFairnessTable(const Options& options, const FairnessRun& run) {
  auto p = [](const std::vector<int64_t>& sorted, double q) { return PercentileMs(sorted, q); };
  const VictimPhase &quiet = run.quiet, &flood = run.flood;
  const Flooder::Counts& window = run.window;
  const double quiet_p99 = p(quiet.all_us, 99), flood_p99 = p(flood.all_us, 99);
  const double window_s = flood.seconds;
  const int64_t ok = window.by_code[grpc::StatusCode::OK];
  const int64_t exhausted = window.by_code[grpc::StatusCode::RESOURCE_EXHAUSTED];
  auto row = [&](absl::string_view name, const VictimPhase& v, const CpuUse& cpu) {
    return absl::StrFormat("  %-6s %7d %8.0f %8.2f %8.2f %9.2f %8.2f   %6s %6s %8s %6s %7s%%\n",
                           name, v.all_us.size(),
                           static_cast<double>(v.all_us.size()) / std::max(v.seconds, 1e-6),
                           p(v.all_us, 50), p(v.all_us, 99), p(v.all_us, 99.9), p(v.all_us, 100),
                           cpu.server, cpu.db, cpu.self, cpu.others, cpu.machine_busy_pct);
  };
  std::cout << absl::StrFormat(
      "fairness: undp's sequential calls (4 GetArrival : 1 ListArrivals page_size %d) for %s "
      "per phase, over %d arrivals; flood: iom keeps %d calls in flight over %d connections "
      "(ListArrivals page_size %d / GetArrival, closed loop)\n",
      kVictimPageSize, absl::FormatDuration(options.duration), options.arrivals, options.in_flight,
      options.channels, options.flood_page_size);
  std::cout << "  phase    calls  calls/s   p50 ms   p99 ms  p99.9 ms   max ms   "
               "server     db  loadgen others    busy  (CPU: cores used; busy: all cores)\n";
  std::cout << row("quiet", quiet, run.quiet_cpu) << row("flood", flood, run.flood_cpu);
  std::cout << absl::StrFormat(
      "  by method, p50/p99 ms: GetArrival quiet %.2f/%.2f flood %.2f/%.2f; ListArrivals quiet "
      "%.2f/%.2f flood %.2f/%.2f\n",
      p(quiet.get_us, 50), p(quiet.get_us, 99), p(flood.get_us, 50), p(flood.get_us, 99),
      p(quiet.list_us, 50), p(quiet.list_us, 99), p(flood.list_us, 50), p(flood.list_us, 99));
  std::cout << absl::StrFormat("  undp's p99 under flood / alone: %.2fx (target: at most 2x)\n",
                               quiet_p99 > 0 ? flood_p99 / quiet_p99 : 0);
  std::cout << absl::StrFormat(
      "  iom during undp's flood phase: %d answers (%.0f/s): OK %d (%.0f/s; p50 ListArrivals %.1f "
      "ms, GetArrival %.1f ms), RESOURCE_EXHAUSTED %d (%.0f/s; p50 %.1f ms), other %d\n",
      window.answers, static_cast<double>(window.answers) / window_s, ok,
      static_cast<double>(ok) / window_s, p(run.flood_us.ok_list_us, 50),
      p(run.flood_us.ok_get_us, 50), exhausted, static_cast<double>(exhausted) / window_s,
      p(run.flood_us.exhausted_us, 50), window.answers - ok - exhausted);
  for (const auto& [limit, n] : window.exhausted) {
    auto example = window.example.find(limit);
    std::cout << absl::StrFormat("    RESOURCE_EXHAUSTED %s: %d (\"%s\")\n", limit, n,
                                 example == window.example.end() ? "" : example->second);
  }
}

// The fairness RESULT line, for scripts/bench.sh.
void PrintFairnessResult(const Options& options, const FairnessRun& run) {
  auto p = [](const std::vector<int64_t>& sorted, double q) { return PercentileMs(sorted, q); };
  const VictimPhase &quiet = run.quiet, &flood = run.flood;
  const CpuUse &quiet_cpu = run.quiet_cpu, &flood_cpu = run.flood_cpu;
  const Flooder::Counts& window = run.window;
  const double quiet_p99 = p(quiet.all_us, 99), flood_p99 = p(flood.all_us, 99);
  const double window_s = flood.seconds;
  const int64_t ok = window.by_code[grpc::StatusCode::OK];
  const int64_t exhausted = window.by_code[grpc::StatusCode::RESOURCE_EXHAUSTED];
  std::string exhausted_fields;
  for (const auto& [limit, n] : window.exhausted) {
    if (limit != "max_calls_per_identity") {
      absl::StrAppend(&exhausted_fields, " flood_exhausted_", limit, "=", n);
    }
  }
  std::cout << absl::StrFormat(
      "RESULT kind=fairness arrivals=%d duration_s=%d in_flight=%d channels=%d "
      "quiet_calls=%d quiet_p50_ms=%.2f quiet_p99_ms=%.2f quiet_p999_ms=%.2f quiet_max_ms=%.2f "
      "flood_calls=%d flood_p50_ms=%.2f flood_p99_ms=%.2f flood_p999_ms=%.2f flood_max_ms=%.2f "
      "p99_ratio=%.2f quiet_get_p99_ms=%.2f flood_get_p99_ms=%.2f quiet_list_p99_ms=%.2f "
      "flood_list_p99_ms=%.2f victim_errors=%d flood_answers=%d flood_answers_per_s=%.0f "
      "flood_ok=%d flood_ok_per_s=%.0f flood_resource_exhausted=%d "
      "flood_exhausted_max_calls_per_identity=%d%s flood_call_limit=%s flood_other=%d "
      "flood_ok_list_p50_ms=%.1f "
      "flood_ok_get_p50_ms=%.1f flood_exhausted_p50_ms=%.1f flood_page_size=%d server_cpu_quiet=%s "
      "server_cpu_flood=%s db_cpu_quiet=%s "
      "db_cpu_flood=%s loadgen_cpu_quiet=%s loadgen_cpu_flood=%s other_cpu_quiet=%s "
      "other_cpu_flood=%s busy_pct_quiet=%s busy_pct_flood=%s prefix=%s\n",
      options.arrivals, absl::ToInt64Seconds(options.duration), options.in_flight, options.channels,
      quiet.all_us.size(), p(quiet.all_us, 50), quiet_p99, p(quiet.all_us, 99.9),
      p(quiet.all_us, 100), flood.all_us.size(), p(flood.all_us, 50), flood_p99,
      p(flood.all_us, 99.9), p(flood.all_us, 100), quiet_p99 > 0 ? flood_p99 / quiet_p99 : 0,
      p(quiet.get_us, 99), p(flood.get_us, 99), p(quiet.list_us, 99), p(flood.list_us, 99),
      run.warm.errors + quiet.errors + flood.errors, window.answers,
      static_cast<double>(window.answers) / window_s, ok, static_cast<double>(ok) / window_s,
      exhausted, ExhaustedBy(window, "max_calls_per_identity"), exhausted_fields,
      CallLimitOf(window), window.answers - ok - exhausted, p(run.flood_us.ok_list_us, 50),
      p(run.flood_us.ok_get_us, 50), p(run.flood_us.exhausted_us, 50), options.flood_page_size,
      quiet_cpu.server, flood_cpu.server, quiet_cpu.db, flood_cpu.db, quiet_cpu.self,
      flood_cpu.self, quiet_cpu.others, flood_cpu.others, quiet_cpu.machine_busy_pct,
      flood_cpu.machine_busy_pct, options.prefix);
}

int RunFairness(const Options& options) {
  grpc::SslCredentialsOptions mfa_tls, iom_tls, undp_tls;
  if (!PersonaTls(options, "mfa", &mfa_tls) || !PersonaTls(options, "iom", &iom_tls) ||
      !PersonaTls(options, "undp", &undp_tls)) {
    return kExitFailure;
  }
  std::shared_ptr<grpc::Channel> mfa_channel = NewChannel(options, mfa_tls);
  if (!Connect(mfa_channel.get(), options)) return kExitFailure;
  std::cerr << "enlace-loadgen: mfa records " << options.arrivals << " arrivals\n";
  std::optional<std::vector<std::string>> ids = RecordFairnessArrivals(options, mfa_channel);
  if (!ids.has_value()) return kExitFailure;

  std::shared_ptr<grpc::Channel> undp_channel = NewChannel(options, undp_tls);
  if (!Connect(undp_channel.get(), options)) return kExitFailure;
  std::unique_ptr<ArrivalService::Stub> undp = ArrivalService::NewStub(undp_channel);
  std::vector<std::shared_ptr<grpc::Channel>> iom_channels;
  std::vector<std::unique_ptr<ArrivalService::Stub>> iom_stubs;
  for (int c = 0; c < options.channels; ++c) {
    iom_channels.push_back(NewChannel(options, iom_tls));
    if (!Connect(iom_channels.back().get(), options)) return kExitFailure;
    iom_stubs.push_back(ArrivalService::NewStub(iom_channels.back()));
  }
  std::ofstream dump;
  if (!options.latencies_out.empty()) {
    dump.open(options.latencies_out, std::ios::trunc);
    if (!dump) std::cerr << "enlace-loadgen: cannot write " << options.latencies_out << "\n";
  }

  const FairnessRun run = RunFairnessPhases(options, undp.get(), &iom_stubs, *ids, &dump);
  PrintFairnessTable(options, run);
  PrintFairnessResult(options, run);
  std::cout.flush();

  for (const VictimPhase* v : {&run.warm, &run.quiet, &run.flood}) {
    for (const std::string& error : v->first_errors) {
      std::cerr << "enlace-loadgen: undp's call failed: " << error << "\n";
    }
  }
  for (const std::string& error : run.window.first_other_errors) {
    std::cerr << "enlace-loadgen: iom's call failed: " << error << "\n";
  }
  const int64_t errors = run.warm.errors + run.quiet.errors + run.flood.errors;
  if (errors > 0) {
    std::cerr << "enlace-loadgen: " << errors << " of undp's calls failed\n";
    return kExitFailure;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// Flags.

bool IsHelp(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort";
}

bool ValidPrefix(absl::string_view prefix) {
  if (prefix.empty()) return false;
  for (char c : prefix) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
        c != '/' && c != '-') {
      return false;
    }
  }
  return true;
}

// The flags of `watch` (after --addr); `usage_error` says why and returns false.
template <typename UsageError>
bool ParseWatchOptions(Options* options, const UsageError& usage_error) {
  std::string error;
  const std::string ca = absl::GetFlag(FLAGS_ca);
  if (ca.empty()) return usage_error("--ca is required");
  if (!ReadFile(ca, &options->tls.pem_root_certs, &error)) return usage_error(error);
  options->pki_dir = absl::GetFlag(FLAGS_pki_dir);
  if (options->pki_dir.empty()) {
    return usage_error("--pki-dir is required (the directory of `enlacectl pki init`)");
  }
  options->server_name = absl::GetFlag(FLAGS_server_name);
  options->actor = absl::GetFlag(FLAGS_actor);
  options->watchers = absl::GetFlag(FLAGS_watchers);
  options->channels = absl::GetFlag(FLAGS_channels);
  options->changes = absl::GetFlag(FLAGS_changes);
  options->cases = absl::GetFlag(FLAGS_cases);
  options->pause = absl::Milliseconds(absl::GetFlag(FLAGS_pause_ms));
  options->server_pid = absl::GetFlag(FLAGS_server_pid);
  options->await_delivery = absl::GetFlag(FLAGS_await_delivery);
  options->latencies_out = absl::GetFlag(FLAGS_latencies_out);
  options->timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout));
  if (options->watchers < 1 || options->watchers > kMaxWatchers) {
    return usage_error(absl::StrCat("--watchers must be 1..", kMaxWatchers));
  }
  if (options->channels < 1 || options->channels > kMaxStreams) {
    return usage_error(absl::StrCat("--channels must be 1..", kMaxStreams));
  }
  options->channels = std::min(options->channels, options->watchers);
  if (options->changes < 1 || options->changes > 100'000) {
    return usage_error("--changes must be 1..100000");
  }
  if (options->cases < 1 || options->cases > 1000) return usage_error("--cases must be 1..1000");
  if (absl::GetFlag(FLAGS_pause_ms) < 0 || absl::GetFlag(FLAGS_pause_ms) > 60'000) {
    return usage_error("--pause-ms must be 0..60000");
  }
  if (options->server_pid < 0) return usage_error("--server-pid must be a process id");
  if (absl::GetFlag(FLAGS_timeout) < 1) return usage_error("--timeout must be at least 1");
  options->prefix = absl::GetFlag(FLAGS_prefix);
  if (options->prefix.empty()) {
    options->prefix = absl::StrCat("watch-", absl::ToUnixMillis(absl::Now()), "-", getpid());
  }
  if (!ValidPrefix(options->prefix) ||
      ExternalId(options->prefix, options->cases - 1).size() > kMaxExternalIdBytes) {
    return usage_error(absl::StrCat(
        "--prefix must be ASCII letters, digits and . _ : / - and leave <prefix>-<index> at most ",
        kMaxExternalIdBytes, " characters"));
  }
  return true;
}

// The flags of `fairness` (after --addr); `usage_error` says why and returns false.
template <typename UsageError>
bool ParseFairnessOptions(Options* options, const UsageError& usage_error) {
  std::string error;
  const std::string ca = absl::GetFlag(FLAGS_ca);
  if (ca.empty()) return usage_error("--ca is required");
  if (!ReadFile(ca, &options->tls.pem_root_certs, &error)) return usage_error(error);
  options->pki_dir = absl::GetFlag(FLAGS_pki_dir);
  if (options->pki_dir.empty()) {
    return usage_error("--pki-dir is required (the directory of `enlacectl pki init`)");
  }
  options->server_name = absl::GetFlag(FLAGS_server_name);
  options->actor = absl::GetFlag(FLAGS_actor);
  options->channels = absl::GetFlag(FLAGS_channels);
  options->in_flight = absl::GetFlag(FLAGS_in_flight);
  options->arrivals = absl::GetFlag(FLAGS_arrivals);
  options->server_pid = absl::GetFlag(FLAGS_server_pid);
  options->db_pid = absl::GetFlag(FLAGS_db_pid);
  options->flood_page_size = absl::GetFlag(FLAGS_flood_page_size);
  if (options->flood_page_size < 1 || options->flood_page_size > 500) {
    return usage_error("--flood-page-size must be 1..500");
  }
  options->latencies_out = absl::GetFlag(FLAGS_latencies_out);
  options->timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout));
  const int duration = absl::GetFlag(FLAGS_duration);
  if (duration < 1 || duration > 3600) return usage_error("--duration must be 1..3600 seconds");
  options->duration = absl::Seconds(duration);
  if (options->in_flight < 1 || options->in_flight > kMaxInFlight) {
    return usage_error(absl::StrCat("--in-flight must be 1..", kMaxInFlight));
  }
  if (options->channels < 1 || options->channels > kMaxStreams) {
    return usage_error(absl::StrCat("--channels must be 1..", kMaxStreams));
  }
  options->channels = std::min(options->channels, options->in_flight);
  if (options->arrivals < kFairnessDepartments || options->arrivals > 1'000'000) {
    return usage_error(absl::StrCat("--arrivals must be ", kFairnessDepartments, "..1000000"));
  }
  if (options->server_pid < 0 || options->db_pid < 0) {
    return usage_error("--server-pid and --db-pid must be process ids");
  }
  if (absl::GetFlag(FLAGS_timeout) < 1) return usage_error("--timeout must be at least 1");
  options->prefix = absl::GetFlag(FLAGS_prefix);
  if (options->prefix.empty()) {
    options->prefix = absl::StrCat("fair-", absl::ToUnixMillis(absl::Now()), "-", getpid());
  }
  if (!ValidPrefix(options->prefix) ||
      ExternalId(options->prefix, options->arrivals - 1).size() > kMaxExternalIdBytes) {
    return usage_error(absl::StrCat(
        "--prefix must be ASCII letters, digits and . _ : / - and leave <prefix>-<index> at most ",
        kMaxExternalIdBytes, " characters"));
  }
  return true;
}

// Reads the flags into `options`; false (after saying why) on a usage error.
bool ParseOptions(const std::vector<char*>& positional, Options* options) {
  auto usage_error = [](absl::string_view message) {
    std::cerr << "enlace-loadgen: " << message << "\n(enlace-loadgen --help for usage)\n";
    return false;
  };
  if (positional.size() < 2) {
    return usage_error("no command given: ingest, unary, watch or fairness");
  }
  if (positional.size() > 2) {
    return usage_error(absl::StrCat("unexpected argument \"", positional[2], "\""));
  }
  options->kind = positional[1];
  if (options->kind != "ingest" && options->kind != "unary" && options->kind != "watch" &&
      options->kind != "fairness") {
    return usage_error(
        absl::StrCat("unknown command \"", options->kind, "\": ingest, unary, watch or fairness"));
  }
  options->addr = absl::GetFlag(FLAGS_addr);
  if (options->addr.empty()) return usage_error("--addr is required");
  if (options->kind == "watch") return ParseWatchOptions(options, usage_error);
  if (options->kind == "fairness") return ParseFairnessOptions(options, usage_error);
  for (const auto& [flag, path, pem] :
       {std::tuple("--ca", absl::GetFlag(FLAGS_ca), &options->tls.pem_root_certs),
        std::tuple("--cert", absl::GetFlag(FLAGS_cert), &options->tls.pem_cert_chain),
        std::tuple("--key", absl::GetFlag(FLAGS_key), &options->tls.pem_private_key)}) {
    if (path.empty()) return usage_error(absl::StrCat(flag, " is required"));
    std::string error;
    if (!ReadFile(path, pem, &error)) return usage_error(error);
  }
  options->server_name = absl::GetFlag(FLAGS_server_name);
  options->actor = absl::GetFlag(FLAGS_actor);
  options->streams = absl::GetFlag(FLAGS_streams);
  options->concurrency = absl::GetFlag(FLAGS_concurrency);
  options->records = absl::GetFlag(FLAGS_records);
  options->resend = absl::GetFlag(FLAGS_resend);
  options->timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout));
  if (options->streams < 1 || options->streams > kMaxStreams) {
    return usage_error(absl::StrCat("--streams must be 1..", kMaxStreams));
  }
  if (options->concurrency < 1 || options->concurrency > 1024) {
    return usage_error("--concurrency must be 1..1024");
  }
  if (options->records < 1 || options->records > 100'000'000) {
    return usage_error("--records must be 1..100000000");
  }
  if (absl::GetFlag(FLAGS_timeout) < 1) return usage_error("--timeout must be at least 1");
  options->prefix = absl::GetFlag(FLAGS_prefix);
  if (options->prefix.empty()) {
    if (options->resend) return usage_error("--resend needs the --prefix of the earlier run");
    options->prefix =
        absl::StrCat(options->kind, "-", absl::ToUnixMillis(absl::Now()), "-", getpid());
  }
  if (!ValidPrefix(options->prefix) ||
      ExternalId(options->prefix, options->records - 1).size() > kMaxExternalIdBytes) {
    return usage_error(absl::StrCat(
        "--prefix must be ASCII letters, digits and . _ : / - and leave <prefix>-<index> at most ",
        kMaxExternalIdBytes, " characters"));
  }
  return true;
}

// dump: the records `ingest` would send (--records, --prefix), length-delimited
// Arrival messages in --out, for the bare loader of bench.sh ingest
// (clients/bench/bare_loader.cc). No connection.
int RunDump() {
  const int64_t records = absl::GetFlag(FLAGS_records);
  const std::string prefix = absl::GetFlag(FLAGS_prefix), out_path = absl::GetFlag(FLAGS_out);
  if (records < 1 || records > 100'000'000 || !ValidPrefix(prefix) || out_path.empty()) {
    std::cerr << "enlace-loadgen: dump needs --records 1..100000000, --prefix and --out\n";
    return kExitUsage;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  Arrival arrival;
  for (int64_t i = 0; i < records && out; ++i) {
    arrival.Clear();
    FillArrival(prefix, i, &arrival);
    google::protobuf::util::SerializeDelimitedToOstream(arrival, &out);
  }
  out.close();
  if (!out) {
    std::cerr << "enlace-loadgen: cannot write " << out_path << "\n";
    return kExitFailure;
  }
  std::cout << "RESULT kind=dump records=" << records << " prefix=" << prefix << "\n";
  return kExitOk;
}

// The scenarios of clients/bench/ (get, list, capture, report, mixed): their flags
// are theirs, the connection's are read here.
int RunBenchCommand(const std::vector<char*>& positional) {
  if (positional.size() > 2) {
    std::cerr << "enlace-loadgen: unexpected argument \"" << positional[2]
              << "\"\n(enlace-loadgen --help for usage)\n";
    return kExitUsage;
  }
  bench::Target target;
  target.addr = absl::GetFlag(FLAGS_addr);
  target.server_name = absl::GetFlag(FLAGS_server_name);
  target.actor = absl::GetFlag(FLAGS_actor);
  target.pki_dir = absl::GetFlag(FLAGS_pki_dir);
  std::string error;
  if (!absl::GetFlag(FLAGS_ca).empty() &&
      !ReadFile(absl::GetFlag(FLAGS_ca), &target.ca_pem, &error)) {
    std::cerr << "enlace-loadgen: " << error << "\n";
    return kExitUsage;
  }
  if (absl::string_view(positional[1]) == "mixed") return bench::RunMixed(target);
  return bench::RunReadCommand(positional[1], target);
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc && absl::string_view(argv[i]) != "--"; ++i) {
    if (IsHelp(argv[i]) || (i == 1 && absl::string_view(argv[i]) == "help")) {
      std::cout << kUsage << bench::kReadCommandsUsage << bench::kMixedUsage;
      return kExitOk;
    }
  }
  // Abseil spells flags with underscores; accept --pki-dir for --pki_dir.
  std::vector<std::string> spelled;
  spelled.reserve(static_cast<size_t>(argc));
  bool flags_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") flags_ended = true;
    if (i > 0 && !flags_ended && arg.size() > 2 && arg[0] == '-') {
      const size_t dashes = arg[1] == '-' ? 2 : 1;
      const size_t name_end = std::min(arg.find('='), arg.size());
      for (size_t c = dashes; c < name_end; ++c) {
        if (arg[c] == '-') arg[c] = '_';
      }
    }
    spelled.push_back(std::move(arg));
  }
  std::vector<char*> spelled_argv;
  spelled_argv.reserve(spelled.size());
  for (std::string& arg : spelled) spelled_argv.push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(spelled_argv.size()), spelled_argv.data());
  if (positional.size() >= 2 &&
      (bench::IsReadCommand(positional[1]) || absl::string_view(positional[1]) == "mixed")) {
    return RunBenchCommand(positional);
  }
  if (positional.size() == 2 && absl::string_view(positional[1]) == "dump") return RunDump();
  Options options;
  if (!ParseOptions(positional, &options)) return kExitUsage;
  if (options.kind == "watch") return RunWatch(options);
  if (options.kind == "fairness") return RunFairness(options);
  return options.kind == "ingest" ? RunIngest(options) : RunUnary(options);
}

}  // namespace
}  // namespace enlace::loadgen

int main(int argc, char** argv) { return enlace::loadgen::Main(argc, argv); }
