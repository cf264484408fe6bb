// enlace-loadgen: the load generator behind scripts/bench.sh. It pushes
// arrival records to ArrivalService as the ministry (mfa) would and measures
// how many records per second the server durably commits.
//
//   enlace-loadgen ingest --addr localhost:8443 --ca ca.crt --cert mfa.crt
//       --key mfa.key --streams 4 --records 20000 --prefix run1
//   enlace-loadgen ingest ... --prefix run1 --resend     # all ALREADY_RECORDED
//   enlace-loadgen unary ... --records 2000 --concurrency 16
//
// `ingest` opens --streams RecordArrivals streams, each on its own channel (its
// own TLS connection), and splits --records between them; a writer thread per
// stream writes, a reader thread per stream reads the answers. `unary` sends
// one RecordArrival call per record, --concurrency calls in flight on one
// channel: the platform's non-batched path, the baseline for the stream rate.
//
// Requests are built before the clock starts; the clock runs from the first
// write to the last answer received. Output is one line for people and one
// `RESULT key=value ...` line for scripts.
//
// Exit status: 0 when every record was answered exactly once, with the
// expected outcome (CREATED, or ALREADY_RECORDED with --resend), and every
// stream ended OK; 1 otherwise; 2 on a usage error (absl reports an unknown
// flag itself, with exit status 1).
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

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
#include "enlace/v1/arrivals.grpc.pb.h"

ABSL_FLAG(std::string, addr, "", "server address host:port (the TLS port)");
ABSL_FLAG(std::string, ca, "", "PEM file of the platform CA");
ABSL_FLAG(std::string, cert, "", "PEM client certificate (the ministry's: spiffe://enlace/agency/mfa)");
ABSL_FLAG(std::string, key, "", "PEM private key of --cert");
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

namespace enlace::loadgen {
namespace {

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

constexpr char kUsage[] = R"(enlace-loadgen: load generator for Enlace's ArrivalService.

Usage: enlace-loadgen <ingest|unary> --addr HOST:PORT --ca CA --cert CRT --key KEY [flags]

Commands:
  ingest    --streams S RecordArrivals streams (one connection each) share --records N
  unary     N RecordArrival calls, --concurrency C in flight on one connection

Flags:
  --addr HOST:PORT      the server's TLS port
  --ca FILE             PEM of the platform CA
  --cert FILE --key FILE  the ministry's client certificate and key (mfa)
  --server_name NAME    name the server certificate must carry (default: host of --addr)
  --records N           records in total (default 10000)
  --streams S           ingest: concurrent streams (default 1)
  --concurrency C       unary: calls in flight (default 16)
  --prefix P            external_id = P-<index> (default: unique per run)
  --resend              expect ALREADY_RECORDED (same --prefix as an earlier run)
  --timeout SECONDS     abandon the run after this long (default 600)

Example:
  enlace-loadgen ingest --addr localhost:8443 --ca pki/ca.crt --cert pki/mfa.crt \
      --key pki/mfa.key --streams 4 --records 20000 --prefix bench1
  enlace-loadgen ingest ... --streams 4 --records 20000 --prefix bench1 --resend

Output: a line for people and a machine line, e.g.
  RESULT kind=ingest records=20000 streams=4 seconds=0.840 rate=23810 created=20000 already_recorded=0 rejected=0 prefix=bench1
Exit status: 0 all answered once as expected, 1 otherwise, 2 usage error.
)";

// ---------------------------------------------------------------------------
// Deterministic records: the content of record i depends on i alone, so a
// resend with the same prefix carries the same content (ALREADY_RECORDED).

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct Place {
  const char* department;
  const char* municipality;
};

constexpr Place kPlaces[] = {
    {"SV-SS", "Guazapa"}, {"SV-SS", "Mejicanos"},     {"SV-SS", "San Salvador"},
    {"SV-SS", "Apopa"},   {"SV-SS", "Soyapango"},     {"SV-LI", "Quezaltepeque"},
    {"SV-LI", "Santa Tecla"},
};
constexpr const char* kFemaleNames[] = {"María", "Ana", "Rosa", "Carmen", "Gloria", "Sofía"};
constexpr const char* kMaleNames[] = {"José", "Juan", "Carlos", "Luis", "Mario", "Óscar"};
constexpr const char* kFamilyNames[] = {"Hernández", "López", "Martínez", "Rivas",
                                        "Flores",    "Ramírez", "Cruz",   "Mejía"};
constexpr const char* kOrigins[] = {"US", "MX", "GT"};
constexpr enlace::v1::Need kNeeds[] = {
    enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, enlace::v1::NEED_TRAINING,
    enlace::v1::NEED_SEED_CAPITAL,         enlace::v1::NEED_PROTECTION,
    enlace::v1::NEED_HEALTH,               enlace::v1::NEED_LEGAL_ASSISTANCE,
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
    arrival->add_needs(kNeeds[(first + 2 * n) % std::size(kNeeds)]);
  }

  enlace::v1::Consent* consent = arrival->mutable_consent();
  consent->add_agencies("iom");
  consent->add_agencies("undp");
  consent->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  consent->add_purposes(enlace::v1::PURPOSE_STATISTICS);
  consent->mutable_given_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2018, 1, 1, 0, 0, 0), absl::UTCTimeZone())));
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
  Tally(std::string prefix, int64_t records)
      : prefix_(absl::StrCat(prefix, "-")),
        records_(records),
        answers_(new std::atomic<uint8_t>[static_cast<size_t>(records)]) {
    for (int64_t i = 0; i < records; ++i) answers_[i].store(0, std::memory_order_relaxed);
  }

  // Counts one answer for `external_id`.
  void Answer(absl::string_view external_id, enlace::v1::Outcome outcome, const RecordError* error) {
    std::optional<int64_t> index = IndexOf(external_id);
    if (!index.has_value()) {
      unknown_.fetch_add(1, std::memory_order_relaxed);
      if (outcome == enlace::v1::OUTCOME_REJECTED && error != nullptr) NoteError(*error);
      else NoteError(RecordError{std::string(external_id), 0, "", "answer for an unknown external_id"});
      return;
    }
    if (answers_[*index].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
    }
    switch (outcome) {
      case enlace::v1::OUTCOME_CREATED:
        created_.fetch_add(1, std::memory_order_relaxed);
        break;
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
  grpc::SslCredentialsOptions tls;
  int streams = 1;
  int concurrency = 1;
  int64_t records = 0;
  std::string prefix;
  bool resend = false;
  absl::Duration timeout;
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

// A channel of its own: a local subchannel pool keeps channels with equal
// arguments from sharing one HTTP/2 connection.
std::shared_ptr<grpc::Channel> NewChannel(const Options& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  return grpc::CreateCustomChannel(options.addr, grpc::SslCredentials(options.tls), args);
}

// Connects before the clock starts, so TLS handshakes are not measured.
bool Connect(grpc::Channel* channel, const Options& options) {
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(std::min<int64_t>(
                                             30, absl::ToInt64Seconds(options.timeout)));
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
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",      "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "?";
  return kNames[code];
}

struct RunResult {
  double seconds = 0;
  bool transport_ok = true;                 // every stream/call ended OK
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
    std::cerr << "enlace-loadgen: " << tally.rejected() << " records rejected, "
              << tally.unknown() << " answers for unknown external_ids; the first:\n";
    for (const RecordError& e : tally.FirstErrors()) {
      std::cerr << "  " << e.external_id << ": code " << e.code << " ("
                << CodeName(e.code) << ") field \"" << e.field << "\": " << e.message
                << "\n";
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
      : options_(options), requests_(requests), begin_(begin), end_(end), tally_(tally),
        channel_(NewChannel(options)), stub_(ArrivalService::NewStub(channel_)) {}

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
  std::optional<Clock::time_point> last_answer_;      // the reader's, read after join
  std::optional<int64_t> write_failed_at_;            // the writer's, read after join
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
// Flags.

bool IsHelp(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort";
}

bool ValidPrefix(absl::string_view prefix) {
  if (prefix.empty()) return false;
  for (char c : prefix) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != ':' && c != '/' && c != '-') {
      return false;
    }
  }
  return true;
}

// Reads the flags into `options`; false (after saying why) on a usage error.
bool ParseOptions(const std::vector<char*>& positional, Options* options) {
  auto usage_error = [](absl::string_view message) {
    std::cerr << "enlace-loadgen: " << message << "\n(enlace-loadgen --help for usage)\n";
    return false;
  };
  if (positional.size() < 2) return usage_error("no command given: ingest or unary");
  if (positional.size() > 2) {
    return usage_error(absl::StrCat("unexpected argument \"", positional[2], "\""));
  }
  options->kind = positional[1];
  if (options->kind != "ingest" && options->kind != "unary") {
    return usage_error(absl::StrCat("unknown command \"", options->kind, "\": ingest or unary"));
  }
  options->addr = absl::GetFlag(FLAGS_addr);
  if (options->addr.empty()) return usage_error("--addr is required");
  for (const auto& [flag, path, pem] :
       {std::tuple("--ca", absl::GetFlag(FLAGS_ca), &options->tls.pem_root_certs),
        std::tuple("--cert", absl::GetFlag(FLAGS_cert), &options->tls.pem_cert_chain),
        std::tuple("--key", absl::GetFlag(FLAGS_key), &options->tls.pem_private_key)}) {
    if (path.empty()) return usage_error(absl::StrCat(flag, " is required"));
    std::string error;
    if (!ReadFile(path, pem, &error)) return usage_error(error);
  }
  options->server_name = absl::GetFlag(FLAGS_server_name);
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

int Main(int argc, char** argv) {
  for (int i = 1; i < argc && absl::string_view(argv[i]) != "--"; ++i) {
    if (IsHelp(argv[i]) || (i == 1 && absl::string_view(argv[i]) == "help")) {
      std::cout << kUsage;
      return kExitOk;
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  Options options;
  if (!ParseOptions(positional, &options)) return kExitUsage;
  return options.kind == "ingest" ? RunIngest(options) : RunUnary(options);
}

}  // namespace
}  // namespace enlace::loadgen

int main(int argc, char** argv) { return enlace::loadgen::Main(argc, argv); }
