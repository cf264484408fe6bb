// The read scenarios of enlace-loadgen (see reads.h): closed-loop GetArrival
// and ListArrivals at a fixed number of calls in flight, the capture of real
// answers for the echo baseline, and sequential programme reports.
#include "clients/bench/reads.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/bench/synthetic.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/reports.grpc.pb.h"

// Defined in clients/loadgen.cc.
ABSL_DECLARE_FLAG(int, duration);
ABSL_DECLARE_FLAG(int, in_flight);
ABSL_DECLARE_FLAG(int, channels);

ABSL_FLAG(std::string, as, "iom",
          "get/list/capture/report: the agency calling (its certificate in --pki-dir)");
ABSL_FLAG(int64_t, filled, 0,
          "get/list/capture/report: how many arrivals `bench.sh fill` loaded (fill-0 .. fill-N-1)");
ABSL_FLAG(std::string, page, "first", "list: the page asked for, first or deep");
ABSL_FLAG(int, deep_pages, 100, "list/capture: how many pages deep the deep page is");
ABSL_FLAG(int, page_size, 50, "list/capture: ListArrivals page_size");
ABSL_FLAG(int, warmup, 2, "get/list: seconds of calls before the measured --duration");
ABSL_FLAG(std::string, out_dir, "", "capture: where get.bin, list.bin and list_deep.bin go");
ABSL_FLAG(bool, echo, false,
          "get/list: the server is enlace-echo, whose answers are canned: check only that they "
          "arrive");
ABSL_FLAG(int, calls, 20, "report: sequential GetProgrammeReport calls measured (after one more)");
ABSL_FLAG(int, year, 2020, "report: the calendar year reported");
ABSL_FLAG(int, call_timeout, 120, "get/list/report: deadline of each call, in seconds");

namespace enlace::bench {

const char kReadCommandsUsage[] = R"(
Read scenarios over the arrivals of `scripts/bench.sh fill` (clients/bench/reads.h):
  enlace-loadgen get --addr A --ca CA --pki-dir DIR --filled N [--as iom] [--echo]
      [--in-flight 64] [--channels 4] [--duration 10] [--warmup 2]
  enlace-loadgen list ... --page first|deep [--deep-pages 100] [--page-size 50]
  enlace-loadgen capture ... --out-dir DIR [--deep-pages 100]
  enlace-loadgen report --addr A --ca CA --pki-dir DIR [--as mfa] [--year 2020] [--calls 20]
  get/list: --in-flight calls (default 64 here) kept in flight over --channels
  connections (default 4 here) for --duration seconds (default 10 here), after
  --warmup seconds; GetArrival of random ids the --as agency may see, or
  ListArrivals' first page or a page --deep-pages deep. capture: one real
  answer of each kind, for enlace-echo. report: sequential programme reports
  of --year. Output: RESULT kind=get|list|capture|report ... calls_per_s=
  p50_ms= p99_ms= errors=
)";

namespace {

using Clock = std::chrono::steady_clock;
using enlace::v1::Arrival;
using enlace::v1::ArrivalService;
using enlace::v1::GetArrivalRequest;
using enlace::v1::ListArrivalsRequest;
using enlace::v1::ListArrivalsResponse;

constexpr size_t kMaxErrorsShown = 5;

struct Settings {
  std::string as;
  int64_t filled = 0;
  int in_flight = 64;
  int channels = 4;
  absl::Duration duration, warmup, call_timeout;
  int page_size = 50;
  int deep_pages = 100;
  bool echo = false;
};

// ListArrivals pages followed from the first: the request of page `depth`
// (its page_token), and how deep it really is (fewer pages may exist).
struct DeepPage {
  ListArrivalsRequest request;
  int depth = 0;
};

bool FollowPages(ArrivalService::Stub* stub, const Settings& s, DeepPage* page) {
  page->request.Clear();
  page->request.set_page_size(s.page_size);
  page->depth = 0;
  for (int d = 0; d < s.deep_pages; ++d) {
    ListArrivalsResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, s.call_timeout);
    const grpc::Status status = stub->ListArrivals(&context, page->request, &response);
    if (!status.ok()) {
      std::cerr << "enlace-loadgen: following ListArrivals pages, page " << d
                << " failed: " << StatusText(status) << "\n";
      return false;
    }
    if (response.next_page_token().empty()) break;
    page->request.set_page_token(response.next_page_token());
    page->depth = d + 1;
  }
  return true;
}

// `in_flight` calls kept in flight over `stubs`, closed loop: each answer is
// at once followed by the next call of its slot. Latencies are kept for the
// calls sent and answered inside the window.
class ClosedLoop {
 public:
  ClosedLoop(const Settings& settings, std::vector<std::unique_ptr<ArrivalService::Stub>>* stubs,
             const std::vector<std::string>* ids, const ListArrivalsRequest* list_request)
      : settings_(settings),
        ids_(ids),
        list_request_(list_request),
        slots_(static_cast<size_t>(settings.in_flight)) {
    for (size_t s = 0; s < slots_.size(); ++s) {
      slots_[s].index = s;
      slots_[s].stub = (*stubs)[s % stubs->size()].get();
    }
  }

  void Start() {
    active_.store(static_cast<int>(slots_.size()));
    for (Slot& slot : slots_) Issue(&slot);
  }

  void BeginWindow() {
    window_start_ = Clock::now();
    measuring_.store(true);
  }
  void EndWindow() {
    measuring_.store(false);
    window_end_ = Clock::now();
  }

  // Issues no more calls; true once every call in flight has ended within `limit`.
  bool Stop(absl::Duration limit) {
    stopping_.store(true);
    const absl::Time give_up = absl::Now() + limit;
    while (active_.load() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    // The last callbacks may still be returning.
    absl::SleepFor(absl::Milliseconds(100));
    return active_.load() == 0;
  }

  double window_seconds() const {
    return std::chrono::duration<double>(window_end_ - window_start_).count();
  }
  int64_t errors() const { return errors_.load(); }
  int64_t bytes() const { return bytes_.load(); }
  std::vector<std::string> first_errors() const {
    absl::MutexLock lock(&mu_);
    return first_errors_;
  }
  // Latencies of the calls measured, sorted, in microseconds.
  std::vector<int64_t> Latencies() const {
    std::vector<int64_t> all;
    for (const Slot& slot : slots_)
      all.insert(all.end(), slot.latencies.begin(), slot.latencies.end());
    std::sort(all.begin(), all.end());
    return all;
  }

 private:
  struct Slot {
    size_t index = 0;
    ArrivalService::Stub* stub = nullptr;
    uint64_t calls = 0;
    Clock::time_point sent;
    bool sent_in_window = false;
    // The context of the call before is kept one more call: it is destroyed
    // well after its completion callback has returned.
    std::unique_ptr<grpc::ClientContext> context, previous;
    GetArrivalRequest get_request;
    Arrival get_response;
    ListArrivalsRequest list_request;
    ListArrivalsResponse list_response;
    std::vector<int64_t> latencies;  // only this slot's callbacks touch it, one at a time
  };

  void Issue(Slot* slot) {
    slot->previous = std::move(slot->context);
    slot->context = std::make_unique<grpc::ClientContext>();
    SetDeadline(slot->context.get(), settings_.call_timeout);
    const uint64_t n = slot->calls++;
    slot->sent_in_window = measuring_.load(std::memory_order_relaxed);
    slot->sent = Clock::now();
    auto done = [this, slot](const grpc::Status& status) { Done(slot, status); };
    if (list_request_ == nullptr) {
      slot->get_request.set_arrival_id(
          (*ids_)[Mix(slot->index * 0x100000001B3ULL + n) % ids_->size()]);
      slot->get_response.Clear();
      slot->stub->async()->GetArrival(slot->context.get(), &slot->get_request, &slot->get_response,
                                      std::move(done));
    } else {
      slot->list_request = *list_request_;
      slot->list_response.Clear();
      slot->stub->async()->ListArrivals(slot->context.get(), &slot->list_request,
                                        &slot->list_response, std::move(done));
    }
  }

  void Done(Slot* slot, const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    std::string problem;
    if (!status.ok()) {
      problem = StatusText(status);
    } else if (list_request_ == nullptr) {
      bytes_.fetch_add(static_cast<int64_t>(slot->get_response.ByteSizeLong()),
                       std::memory_order_relaxed);
      if (slot->get_response.arrival_id().empty() ||
          (!settings_.echo && slot->get_response.arrival_id() != slot->get_request.arrival_id())) {
        problem = absl::StrCat("GetArrival ", slot->get_request.arrival_id(),
                               " answered arrival \"", slot->get_response.arrival_id(), "\"");
      }
    } else {
      bytes_.fetch_add(static_cast<int64_t>(slot->list_response.ByteSizeLong()),
                       std::memory_order_relaxed);
      if (slot->list_response.arrivals_size() == 0 ||
          slot->list_response.arrivals_size() > settings_.page_size) {
        problem = absl::StrCat("ListArrivals answered ", slot->list_response.arrivals_size(),
                               " arrivals (page_size ", settings_.page_size, ")");
      }
    }
    if (!problem.empty()) {
      errors_.fetch_add(1);
      absl::MutexLock lock(&mu_);
      if (first_errors_.size() < kMaxErrorsShown) first_errors_.push_back(problem);
    } else if (slot->sent_in_window && measuring_.load(std::memory_order_relaxed)) {
      slot->latencies.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - slot->sent).count());
    }
    if (stopping_.load()) {
      active_.fetch_sub(1);
      return;
    }
    Issue(slot);
  }

  const Settings settings_;
  const std::vector<std::string>* const ids_;
  const ListArrivalsRequest* const list_request_;  // nullptr: GetArrival
  std::vector<Slot> slots_;
  std::atomic<bool> measuring_{false}, stopping_{false};
  std::atomic<int> active_{0};
  std::atomic<int64_t> errors_{0}, bytes_{0};
  Clock::time_point window_start_, window_end_;
  mutable absl::Mutex mu_;
  std::vector<std::string> first_errors_ ABSL_GUARDED_BY(mu_);
};

bool ReadSettings(absl::string_view command, Settings* s) {
  s->as = absl::GetFlag(FLAGS_as);
  s->filled = absl::GetFlag(FLAGS_filled);
  s->in_flight = IntFlagOr("in_flight", absl::GetFlag(FLAGS_in_flight), 64);
  s->channels = IntFlagOr("channels", absl::GetFlag(FLAGS_channels), 4);
  s->duration = absl::Seconds(IntFlagOr("duration", absl::GetFlag(FLAGS_duration), 10));
  s->warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup));
  s->call_timeout = absl::Seconds(absl::GetFlag(FLAGS_call_timeout));
  s->page_size = absl::GetFlag(FLAGS_page_size);
  s->deep_pages = absl::GetFlag(FLAGS_deep_pages);
  s->echo = absl::GetFlag(FLAGS_echo);
  auto usage_error = [](absl::string_view message) {
    std::cerr << "enlace-loadgen: " << message << "\n(enlace-loadgen --help for usage)\n";
    return false;
  };
  if (s->as.empty()) return usage_error("--as names the calling agency");
  if (command != "report" && (s->filled < 1 || s->filled > 10'000'000'000LL)) {
    return usage_error("--filled must be the number of filled arrivals (1..10^10)");
  }
  if (s->in_flight < 1 || s->in_flight > 4096) return usage_error("--in-flight must be 1..4096");
  if (s->channels < 1 || s->channels > 256) return usage_error("--channels must be 1..256");
  s->channels = std::min(s->channels, s->in_flight);
  if (s->duration < absl::Seconds(1) || s->duration > absl::Hours(1)) {
    return usage_error("--duration must be 1..3600 seconds");
  }
  if (s->warmup < absl::ZeroDuration() || s->warmup > absl::Minutes(10)) {
    return usage_error("--warmup must be 0..600 seconds");
  }
  if (s->call_timeout < absl::Seconds(1)) return usage_error("--call-timeout must be at least 1");
  if (s->page_size < 1 || s->page_size > 500) return usage_error("--page-size must be 1..500");
  if (s->deep_pages < 1 || s->deep_pages > 100'000)
    return usage_error("--deep-pages must be 1..100000");
  return true;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) std::cerr << "enlace-loadgen: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

// capture: one real answer of each kind, serialized, for enlace-echo.
int RunCapture(const Target& target, const Settings& s) {
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) {
    std::cerr << "enlace-loadgen: capture needs --out-dir\n";
    return 2;
  }
  grpc::SslCredentialsOptions tls;
  if (!PersonaTls(target, s.as, &tls)) return 1;
  std::shared_ptr<grpc::Channel> channel = ConnectedChannel(target, tls);
  if (channel == nullptr) return 1;
  std::unique_ptr<ArrivalService::Stub> stub = ArrivalService::NewStub(channel);
  const std::vector<std::string> ids = VisibleIds(s.filled, s.as);
  if (ids.empty()) {
    std::cerr << "enlace-loadgen: " << s.as << " may see none of the " << s.filled
              << " filled arrivals\n";
    return 1;
  }
  GetArrivalRequest get;
  get.set_arrival_id(ids.front());
  Arrival arrival;
  grpc::ClientContext get_context;
  SetDeadline(&get_context, s.call_timeout);
  grpc::Status status = stub->GetArrival(&get_context, get, &arrival);
  if (!status.ok()) {
    std::cerr << "enlace-loadgen: GetArrival " << get.arrival_id() << " as " << s.as << ": "
              << StatusText(status) << "\n";
    return 1;
  }
  ListArrivalsRequest first;
  first.set_page_size(s.page_size);
  ListArrivalsResponse first_page;
  grpc::ClientContext list_context;
  SetDeadline(&list_context, s.call_timeout);
  status = stub->ListArrivals(&list_context, first, &first_page);
  if (!status.ok()) {
    std::cerr << "enlace-loadgen: ListArrivals as " << s.as << ": " << StatusText(status) << "\n";
    return 1;
  }
  DeepPage deep;
  if (!FollowPages(stub.get(), s, &deep)) return 1;
  ListArrivalsResponse deep_page;
  grpc::ClientContext deep_context;
  SetDeadline(&deep_context, s.call_timeout);
  status = stub->ListArrivals(&deep_context, deep.request, &deep_page);
  if (!status.ok()) {
    std::cerr << "enlace-loadgen: ListArrivals page " << deep.depth << " as " << s.as << ": "
              << StatusText(status) << "\n";
    return 1;
  }
  if (!WriteFile(absl::StrCat(out_dir, "/get.bin"), arrival.SerializeAsString()) ||
      !WriteFile(absl::StrCat(out_dir, "/list.bin"), first_page.SerializeAsString()) ||
      !WriteFile(absl::StrCat(out_dir, "/list_deep.bin"), deep_page.SerializeAsString())) {
    return 1;
  }
  std::cout << absl::StrFormat(
      "capture: as %s, GetArrival answer %d bytes, first page %d bytes (%d arrivals), page %d "
      "%d bytes (%d arrivals)\n",
      s.as, arrival.ByteSizeLong(), first_page.ByteSizeLong(), first_page.arrivals_size(),
      deep.depth, deep_page.ByteSizeLong(), deep_page.arrivals_size());
  std::cout << absl::StrFormat(
      "RESULT kind=capture as=%s get_bytes=%d list_bytes=%d list_deep_bytes=%d deep_page=%d\n",
      s.as, arrival.ByteSizeLong(), first_page.ByteSizeLong(), deep_page.ByteSizeLong(),
      deep.depth);
  return 0;
}

// get / list: the closed loop.
int RunLoop(absl::string_view command, const Target& target, const Settings& s) {
  const std::string page = absl::GetFlag(FLAGS_page);
  if (command == "list" && page != "first" && page != "deep") {
    std::cerr << "enlace-loadgen: --page must be first or deep\n";
    return 2;
  }
  grpc::SslCredentialsOptions tls;
  if (!PersonaTls(target, s.as, &tls)) return 1;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<ArrivalService::Stub>> stubs;
  for (int c = 0; c < s.channels; ++c) {
    channels.push_back(ConnectedChannel(target, tls));
    if (channels.back() == nullptr) return 1;
    stubs.push_back(ArrivalService::NewStub(channels.back()));
  }
  std::vector<std::string> ids;
  DeepPage list;
  const ListArrivalsRequest* list_request = nullptr;
  std::string what = "get";
  if (command == "get") {
    ids = VisibleIds(s.filled, s.as);
    if (ids.empty()) {
      std::cerr << "enlace-loadgen: " << s.as << " may see none of the " << s.filled
                << " filled arrivals\n";
      return 1;
    }
  } else {
    what = absl::StrCat("list_", page);
    Settings follow = s;
    if (page == "first") follow.deep_pages = 0;
    if (!FollowPages(stubs.front().get(), follow, &list)) return 1;
    list_request = &list.request;
  }

  ClosedLoop loop(s, &stubs, &ids, list_request);
  loop.Start();
  absl::SleepFor(s.warmup);
  loop.BeginWindow();
  absl::SleepFor(s.duration);
  loop.EndWindow();
  const bool drained = loop.Stop(s.call_timeout + absl::Seconds(5));

  const std::vector<int64_t> latencies = loop.Latencies();
  const double seconds = loop.window_seconds();
  const double rate = seconds > 0 ? static_cast<double>(latencies.size()) / seconds : 0;
  const std::string target_name = s.echo ? "echo" : "enlace";
  std::cout << absl::StrFormat(
      "%s (%s, as %s%s): %d calls in flight over %d connections for %.1f s: %d calls = %.0f "
      "calls/s; p50 %.2f ms, p99 %.2f ms, max %.2f ms; errors %d\n",
      what, target_name, s.as,
      command == "list" ? absl::StrCat(", page ", list.depth, ", page_size ", s.page_size) : "",
      s.in_flight, s.channels, seconds, latencies.size(), rate, PercentileMs(latencies, 50),
      PercentileMs(latencies, 99), PercentileMs(latencies, 100), loop.errors());
  std::cout << absl::StrFormat(
      "RESULT kind=%s target=%s as=%s filled=%d in_flight=%d channels=%d seconds=%.3f calls=%d "
      "calls_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d page=%d page_size=%d\n",
      what, target_name, s.as, s.filled, s.in_flight, s.channels, seconds, latencies.size(), rate,
      PercentileMs(latencies, 50), PercentileMs(latencies, 99), PercentileMs(latencies, 100),
      loop.errors(), command == "list" ? list.depth : 0, s.page_size);
  std::cout.flush();
  for (const std::string& error : loop.first_errors()) {
    std::cerr << "enlace-loadgen: call failed: " << error << "\n";
  }
  if (!drained) std::cerr << "enlace-loadgen: calls still in flight after the deadline\n";
  if (loop.errors() > 0 || !drained || latencies.empty()) return 1;
  return 0;
}

// report: sequential GetProgrammeReport calls.
int RunReport(const Target& target, const Settings& s) {
  const int calls = absl::GetFlag(FLAGS_calls);
  const int year = absl::GetFlag(FLAGS_year);
  if (calls < 1 || calls > 100'000 || year < 1900 || year > 2999) {
    std::cerr << "enlace-loadgen: --calls must be 1..100000 and --year a year\n";
    return 2;
  }
  grpc::SslCredentialsOptions tls;
  if (!PersonaTls(target, s.as, &tls)) return 1;
  std::shared_ptr<grpc::Channel> channel = ConnectedChannel(target, tls);
  if (channel == nullptr) return 1;
  std::unique_ptr<enlace::v1::ReportService::Stub> stub =
      enlace::v1::ReportService::NewStub(channel);
  enlace::v1::GetProgrammeReportRequest request;
  request.set_period_from(absl::StrFormat("%04d-01-01", year));
  request.set_period_to(absl::StrFormat("%04d-12-31", year));
  std::vector<int64_t> latencies;
  int64_t errors = 0, returnees = 0, suppressed = 0;
  std::string first_error;
  // One call more than measured: the first warms the caches and connections.
  for (int c = 0; c <= calls; ++c) {
    enlace::v1::ProgrammeReport report;
    grpc::ClientContext context;
    SetDeadline(&context, s.call_timeout);
    const Clock::time_point sent = Clock::now();
    const grpc::Status status = stub->GetProgrammeReport(&context, request, &report);
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
    if (!status.ok()) {
      ++errors;
      if (first_error.empty()) first_error = StatusText(status);
      continue;
    }
    if (c == 0) continue;
    latencies.push_back(us);
    returnees = suppressed = 0;
    for (const auto& d : report.returnees_by_department()) {
      returnees += d.returnees().count();
      suppressed += d.returnees().suppressed() ? 1 : 0;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  // What the filled arrivals of that year add up to (exact for their submitter, mfa).
  int64_t filled_in_year = 0;
  for (int64_t i = 0; i < s.filled; ++i) filled_in_year += ArrivalYearOf(i) == year ? 1 : 0;
  std::cout << absl::StrFormat(
      "report (as %s, %d): %d sequential calls: p50 %.1f ms, p99 %.1f ms, max %.1f ms; errors %d; "
      "returnees counted %d (%d departments suppressed)\n",
      s.as, year, latencies.size(), PercentileMs(latencies, 50), PercentileMs(latencies, 99),
      PercentileMs(latencies, 100), errors, returnees, suppressed);
  std::cout << absl::StrFormat(
      "RESULT kind=report as=%s year=%d calls=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d "
      "returnees=%d suppressed_departments=%d filled_in_year=%d\n",
      s.as, year, latencies.size(), PercentileMs(latencies, 50), PercentileMs(latencies, 99),
      PercentileMs(latencies, 100), errors, returnees, suppressed, filled_in_year);
  std::cout.flush();
  if (!first_error.empty()) std::cerr << "enlace-loadgen: report failed: " << first_error << "\n";
  return errors > 0 ? 1 : 0;
}

}  // namespace

bool IsReadCommand(absl::string_view command) {
  return command == "get" || command == "list" || command == "capture" || command == "report";
}

int RunReadCommand(absl::string_view command, const Target& target) {
  Settings settings;
  if (!ReadSettings(command, &settings)) return 2;
  if (target.addr.empty() || target.ca_pem.empty() || target.pki_dir.empty()) {
    std::cerr << "enlace-loadgen: " << command << " needs --addr, --ca and --pki-dir\n";
    return 2;
  }
  if (command == "capture") return RunCapture(target, settings);
  if (command == "report") return RunReport(target, settings);
  return RunLoop(command, target, settings);
}

}  // namespace enlace::bench
