// The mixed scenario of enlace-loadgen (see mixed.h): ingest, reads,
// referral moves and watchers at fixed rates for a minute, counting errors.
#include "clients/bench/mixed.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"

// Defined in clients/loadgen.cc.
ABSL_DECLARE_FLAG(int, duration);
ABSL_DECLARE_FLAG(int, watchers);
ABSL_DECLARE_FLAG(int, cases);
ABSL_DECLARE_FLAG(int, server_pid);
ABSL_DECLARE_FLAG(std::string, prefix);

ABSL_FLAG(int, ingest_rate, 100, "mixed: arrivals a second mfa streams");
ABSL_FLAG(int, read_rate, 100, "mixed: iom's reads a second (4 GetArrival : 1 ListArrivals)");
ABSL_FLAG(int, transition_rate, 5, "mixed: referral moves a second, one at a time");

namespace enlace::bench {

const char kMixedUsage[] = R"(
The mixed scenario (clients/bench/mixed.h):
  enlace-loadgen mixed --addr A --ca CA --pki-dir DIR [--duration 60] [--watchers 100]
      [--cases 50] [--ingest-rate 100] [--read-rate 100] [--transition-rate 5]
      [--server-pid PID]
  ingest (mfa), reads (iom), referral moves (iom and undp) and watchers (undp)
  at once, at fixed rates, for --duration seconds; every watcher must see every
  move. Output: RESULT kind=mixed ... errors=N rss_start_mb= rss_end_mb=
)";

namespace {

using Clock = std::chrono::steady_clock;
using enlace::v1::Arrival;
using enlace::v1::ArrivalService;
using enlace::v1::CaseService;
using enlace::v1::ReferralEvent;
using enlace::v1::ReferralService;

constexpr char kWarmUpReason[] = "enlace-loadgen mixed warm-up";
constexpr char kMoveReason[] = "enlace-loadgen mixed";
constexpr absl::Duration kCallLimit = absl::Seconds(30);
constexpr size_t kMaxErrorsShown = 8;
constexpr int kWatchChannels = 4;

struct Settings {
  absl::Duration duration;
  int watchers = 100;
  int cases = 50;
  int ingest_rate = 100;
  int read_rate = 100;
  int transition_rate = 5;
  int server_pid = 0;
  std::string prefix;
};

// Errors of every kind, the first few kept. Thread-safe.
class Errors {
 public:
  void Add(absl::string_view what) {
    count_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    if (first_.size() < kMaxErrorsShown) first_.emplace_back(what);
  }
  int64_t count() const { return count_.load(); }
  std::vector<std::string> first() const {
    absl::MutexLock lock(&mu_);
    return first_;
  }

 private:
  std::atomic<int64_t> count_{0};
  mutable absl::Mutex mu_;
  std::vector<std::string> first_ ABSL_GUARDED_BY(mu_);
};

// A valid arrival whose consent names iom and undp for reintegration.
void MixedArrival(absl::string_view prefix, int64_t index, Arrival* arrival) {
  const uint64_t h = Mix(static_cast<uint64_t>(index) ^ 0x313DULL);
  arrival->set_external_id(absl::StrCat(prefix, "-", index));
  arrival->set_arrival_date(
      absl::FormatCivilTime(absl::CivilDay(2023, 1, 1) + static_cast<int>(h % 365)));
  arrival->set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  arrival->set_origin_country("US");
  enlace::v1::Person* person = arrival->mutable_person();
  person->set_given_name((h >> 8) % 2 == 0 ? "Ana" : "José");
  person->set_family_name((h >> 9) % 2 == 0 ? "López" : "Rivas");
  person->set_birth_date("1990-01-01");
  person->set_sex((h >> 8) % 2 == 0 ? enlace::v1::SEX_FEMALE : enlace::v1::SEX_MALE);
  arrival->mutable_destination()->set_department_code("SV-SS");
  arrival->mutable_destination()->set_municipality("Guazapa");
  arrival->add_needs(enlace::v1::NEED_TRAINING);
  enlace::v1::Consent* consent = arrival->mutable_consent();
  consent->add_agencies("iom");
  consent->add_agencies("undp");
  consent->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  consent->mutable_given_at()->set_seconds(1672560000);  // 2023-01-01
}

// One RecordArrivals stream; every answer must be CREATED.
class IngestStream {
 public:
  IngestStream(ArrivalService::Stub* stub, Errors* errors) : errors_(errors) {
    SetDeadline(&context_, absl::Hours(2));
    stream_ = stub->RecordArrivals(&context_);
    reader_ = std::thread([this] {
      enlace::v1::RecordArrivalsResponse response;
      while (stream_->Read(&response)) {
        if (response.outcome() != enlace::v1::OUTCOME_CREATED || response.arrival_id().empty()) {
          errors_->Add(absl::StrCat("ingest: ", response.external_id(), " answered ",
                                    enlace::v1::Outcome_Name(response.outcome()), " ",
                                    response.error().message()));
        } else {
          absl::MutexLock lock(&mu_);
          ids_.push_back(response.arrival_id());
        }
        answers_.fetch_add(1);
      }
    });
  }
  bool Write(const Arrival& arrival) {
    enlace::v1::RecordArrivalsRequest request;
    *request.mutable_arrival() = arrival;
    ++sent_;
    return stream_->Write(request);
  }
  // Ends the stream; true when every record was answered and it ended OK.
  bool Finish() {
    stream_->WritesDone();
    reader_.join();
    const grpc::Status status = stream_->Finish();
    if (!status.ok()) errors_->Add(absl::StrCat("ingest stream: ", StatusText(status)));
    if (answers_.load() != sent_) {
      errors_->Add(absl::StrCat("ingest: ", sent_ - answers_.load(), " records not answered"));
    }
    return status.ok() && answers_.load() == sent_;
  }
  std::vector<std::string> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }
  int64_t answers() const { return answers_.load(); }

 private:
  Errors* const errors_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<enlace::v1::RecordArrivalsRequest,
                                           enlace::v1::RecordArrivalsResponse>>
      stream_;
  std::thread reader_;
  int64_t sent_ = 0;
  std::atomic<int64_t> answers_{0};
  absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
};

// A WatchReferrals stream as undp, counting the moves it sees.
class Watcher final : public grpc::ClientReadReactor<ReferralEvent> {
 public:
  void Start(ReferralService::Stub* stub) {
    SetDeadline(&context_, absl::Hours(2));
    stub->async()->WatchReferrals(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (absl::StartsWith(event_.referral().reason(), kWarmUpReason)) {
      warm_.store(true);
    } else if (event_.referral().reason() == kMoveReason) {
      seen_.fetch_add(1);
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }
  void Cancel() { context_.TryCancel(); }
  bool warm() const { return warm_.load(); }
  int64_t seen() const { return seen_.load(); }
  // Waits for OnDone; its status, or nullopt after `limit`.
  std::optional<grpc::Status> AwaitDone(absl::Duration limit) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), limit)) return std::nullopt;
    return status_;
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }

 private:
  grpc::ClientContext context_;
  enlace::v1::WatchReferralsRequest request_;
  ReferralEvent event_;
  std::atomic<bool> warm_{false};
  std::atomic<int64_t> seen_{0};
  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// iom's reads, issued open loop by Issue(): kept until the end (a call's
// state outlives its callback).
class Reads {
 public:
  Reads(ArrivalService::Stub* stub, const std::vector<std::string>* ids, Errors* errors)
      : stub_(stub), ids_(ids), errors_(errors) {}

  void Issue(uint64_t n) {
    auto call = std::make_unique<Call>();
    Call* c = call.get();
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(std::move(call));
    }
    in_flight_.fetch_add(1);
    SetDeadline(&c->context, kCallLimit);
    c->sent = Clock::now();
    if (n % 5 == 4) {
      c->list_request.set_page_size(50);
      stub_->async()->ListArrivals(&c->context, &c->list_request, &c->list_response,
                                   [this, c](const grpc::Status& status) {
                                     Done(c, status, c->list_response.arrivals_size() > 0);
                                   });
    } else {
      c->get_request.set_arrival_id((*ids_)[Mix(n) % ids_->size()]);
      stub_->async()->GetArrival(
          &c->context, &c->get_request, &c->get_response, [this, c](const grpc::Status& status) {
            Done(c, status, c->get_response.arrival_id() == c->get_request.arrival_id());
          });
    }
  }
  bool Drain(absl::Duration limit) {
    const absl::Time give_up = absl::Now() + limit;
    while (in_flight_.load() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    absl::SleepFor(absl::Milliseconds(100));  // the last callbacks return
    return in_flight_.load() == 0;
  }
  std::vector<int64_t> Latencies() {
    absl::MutexLock lock(&mu_);
    std::vector<int64_t> all = latencies_;
    std::sort(all.begin(), all.end());
    return all;
  }
  int64_t issued() {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(calls_.size());
  }

 private:
  struct Call {
    grpc::ClientContext context;
    Clock::time_point sent;
    enlace::v1::GetArrivalRequest get_request;
    Arrival get_response;
    enlace::v1::ListArrivalsRequest list_request;
    enlace::v1::ListArrivalsResponse list_response;
  };
  void Done(Call* c, const grpc::Status& status, bool answer_ok) {
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c->sent).count();
    if (!status.ok()) {
      errors_->Add(absl::StrCat("read: ", StatusText(status)));
    } else if (!answer_ok) {
      errors_->Add("read: a wrong answer (another arrival, or an empty page)");
    } else {
      absl::MutexLock lock(&mu_);
      latencies_.push_back(us);
    }
    in_flight_.fetch_sub(1);
  }
  ArrivalService::Stub* const stub_;
  const std::vector<std::string>* const ids_;
  Errors* const errors_;
  std::atomic<int> in_flight_{0};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> latencies_ ABSL_GUARDED_BY(mu_);
};

// Referral moves, one at a time, along four plans.
class Moves {
 public:
  Moves(ReferralService::Stub* iom, ReferralService::Stub* undp,
        const std::vector<std::string>* cases, Errors* errors)
      : iom_(iom), undp_(undp), cases_(cases), errors_(errors) {}

  // One move: a new referral when few are under way, else the next step of
  // the oldest. True when it succeeded (and so produced one feed event).
  bool Step() {
    if (active_.size() < 4) return Create();
    Active a = active_.front();
    active_.pop_front();
    const Action step = kPlans[a.plan][a.step];
    enlace::v1::Referral referral;
    grpc::ClientContext context;
    SetDeadline(&context, kCallLimit);
    grpc::Status status;
    const Clock::time_point sent = Clock::now();
    switch (step) {
      case Action::kAccept: {
        enlace::v1::AcceptReferralRequest request;
        request.set_referral_id(a.referral_id);
        status = undp_->AcceptReferral(&context, request, &referral);
        break;
      }
      case Action::kDecline: {
        enlace::v1::DeclineReferralRequest request;
        request.set_referral_id(a.referral_id);
        request.set_reason("no capacity this month");
        status = undp_->DeclineReferral(&context, request, &referral);
        break;
      }
      case Action::kComplete: {
        enlace::v1::CompleteReferralRequest request;
        request.set_referral_id(a.referral_id);
        request.set_outcome("training delivered");
        status = undp_->CompleteReferral(&context, request, &referral);
        break;
      }
      case Action::kWithdraw: {
        enlace::v1::WithdrawReferralRequest request;
        request.set_referral_id(a.referral_id);
        status = iom_->WithdrawReferral(&context, request, &referral);
        break;
      }
      case Action::kEnd: break;
    }
    Note(sent);
    if (!status.ok()) {
      errors_->Add(absl::StrCat("referral move: ", StatusText(status)));
      return false;
    }
    ++a.step;
    if (kPlans[a.plan][a.step] != Action::kEnd) active_.push_back(a);
    return true;
  }

  std::vector<int64_t> Latencies() {
    std::sort(latencies_.begin(), latencies_.end());
    return latencies_;
  }

 private:
  enum class Action { kAccept, kDecline, kComplete, kWithdraw, kEnd };
  static constexpr Action kPlans[4][3] = {
      {Action::kAccept, Action::kComplete, Action::kEnd},
      {Action::kDecline, Action::kEnd, Action::kEnd},
      {Action::kWithdraw, Action::kEnd, Action::kEnd},
      {Action::kAccept, Action::kWithdraw, Action::kEnd},
  };
  struct Active {
    std::string referral_id;
    int plan = 0;
    int step = 0;
  };

  bool Create() {
    enlace::v1::CreateReferralRequest request;
    request.set_case_id((*cases_)[next_case_++ % cases_->size()]);
    request.set_to_agency("undp");
    request.set_service(enlace::v1::NEED_TRAINING);
    request.set_reason(kMoveReason);
    enlace::v1::Referral referral;
    grpc::ClientContext context;
    SetDeadline(&context, kCallLimit);
    const Clock::time_point sent = Clock::now();
    const grpc::Status status = iom_->CreateReferral(&context, request, &referral);
    Note(sent);
    if (!status.ok()) {
      errors_->Add(absl::StrCat("CreateReferral: ", StatusText(status)));
      return false;
    }
    active_.push_back(Active{referral.referral_id(), static_cast<int>(plans_++ % 4), 0});
    return true;
  }
  void Note(Clock::time_point sent) {
    latencies_.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count());
  }

  ReferralService::Stub* const iom_;
  ReferralService::Stub* const undp_;
  const std::vector<std::string>* const cases_;
  Errors* const errors_;
  std::deque<Active> active_;
  uint64_t next_case_ = 0, plans_ = 0;
  std::vector<int64_t> latencies_;
};

bool ReadSettings(Settings* s) {
  s->duration = absl::Seconds(IntFlagOr("duration", absl::GetFlag(FLAGS_duration), 60));
  s->watchers = IntFlagOr("watchers", absl::GetFlag(FLAGS_watchers), 100);
  s->cases = IntFlagOr("cases", absl::GetFlag(FLAGS_cases), 50);
  s->ingest_rate = absl::GetFlag(FLAGS_ingest_rate);
  s->read_rate = absl::GetFlag(FLAGS_read_rate);
  s->transition_rate = absl::GetFlag(FLAGS_transition_rate);
  s->server_pid = absl::GetFlag(FLAGS_server_pid);
  s->prefix = absl::GetFlag(FLAGS_prefix);
  if (s->prefix.empty()) s->prefix = absl::StrCat("mixed-", absl::ToUnixMillis(absl::Now()));
  if (s->duration < absl::Seconds(1) || s->duration > absl::Hours(1) || s->watchers < 0 ||
      s->watchers > 5000 || s->cases < 1 || s->cases > 10'000 || s->ingest_rate < 0 ||
      s->ingest_rate > 100'000 || s->read_rate < 0 || s->read_rate > 100'000 ||
      s->transition_rate < 0 || s->transition_rate > 1000) {
    std::cerr << "enlace-loadgen: mixed wants --duration 1..3600, --watchers 0..5000, --cases "
                 "1..10000, rates 0..100000 (--transition-rate 0..1000)\n";
    return false;
  }
  return true;
}

// Runs `tick(n)` at `rate` a second from `start` until `end` (open loop:
// a late tick does not delay the schedule of the next).
void Paced(int rate, Clock::time_point start, Clock::time_point end,
           const std::function<void(uint64_t)>& tick) {
  if (rate <= 0) return;
  for (uint64_t n = 0;; ++n) {
    const Clock::time_point at =
        start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(n) / rate));
    if (at >= end) return;
    std::this_thread::sleep_until(at);
    tick(n);
  }
}

// The mix's connections, as their stubs (each keeps its channel): mfa's
// set-up calls and ingest stream, iom's reads, cases and moves, undp's moves
// and undp's watch streams over up to kWatchChannels connections.
struct MixedClients {
  std::unique_ptr<ArrivalService::Stub> mfa_arrivals, mfa_stream, iom_arrivals;
  std::unique_ptr<CaseService::Stub> iom_cases;
  std::unique_ptr<ReferralService::Stub> iom_referrals, undp_referrals;
  std::vector<std::unique_ptr<ReferralService::Stub>> watch_stubs;
};

// Connects every client of the mix; nothing when one does not connect
// (ConnectedChannel says why).
std::optional<MixedClients> ConnectMixed(const Target& target, const Settings& s) {
  grpc::SslCredentialsOptions mfa_tls, iom_tls, undp_tls;
  if (!PersonaTls(target, "mfa", &mfa_tls) || !PersonaTls(target, "iom", &iom_tls) ||
      !PersonaTls(target, "undp", &undp_tls)) {
    return std::nullopt;
  }
  std::shared_ptr<grpc::Channel> mfa_ingest = ConnectedChannel(target, mfa_tls);
  std::shared_ptr<grpc::Channel> mfa_setup = ConnectedChannel(target, mfa_tls);
  std::shared_ptr<grpc::Channel> iom = ConnectedChannel(target, iom_tls);
  std::shared_ptr<grpc::Channel> undp = ConnectedChannel(target, undp_tls);
  std::vector<std::shared_ptr<grpc::Channel>> watch_channels;
  for (int c = 0; c < kWatchChannels && c < s.watchers; ++c) {
    watch_channels.push_back(ConnectedChannel(target, undp_tls));
    if (watch_channels.back() == nullptr) return std::nullopt;
  }
  if (!mfa_ingest || !mfa_setup || !iom || !undp) return std::nullopt;
  MixedClients clients;
  clients.mfa_arrivals = ArrivalService::NewStub(mfa_setup);
  clients.mfa_stream = ArrivalService::NewStub(mfa_ingest);
  clients.iom_arrivals = ArrivalService::NewStub(iom);
  clients.iom_cases = CaseService::NewStub(iom);
  clients.iom_referrals = ReferralService::NewStub(iom);
  clients.undp_referrals = ReferralService::NewStub(undp);
  clients.watch_stubs.reserve(watch_channels.size());
  for (auto& channel : watch_channels) {
    clients.watch_stubs.push_back(ReferralService::NewStub(channel));
  }
  return clients;
}

// The records the mix reads and moves: --cases arrivals (one stream) and a
// case of iom's for each.
struct MixedRecords {
  std::vector<std::string> arrival_ids;
  std::vector<std::string> case_ids;
};

// Records them; nothing (and why on stderr) when a call fails.
std::optional<MixedRecords> SetUpMixed(const Settings& s, MixedClients& clients) {
  Errors setup_errors;
  MixedRecords records;
  {
    IngestStream setup(clients.mfa_arrivals.get(), &setup_errors);
    for (int i = 0; i < s.cases; ++i) {
      Arrival arrival;
      MixedArrival(absl::StrCat(s.prefix, "-setup"), i, &arrival);
      if (!setup.Write(arrival)) break;
    }
    setup.Finish();
    records.arrival_ids = setup.ids();
  }
  for (const std::string& id : records.arrival_ids) {
    enlace::v1::OpenCaseRequest request;
    request.set_arrival_id(id);
    request.set_summary("enlace-loadgen mixed");
    enlace::v1::Case opened;
    grpc::ClientContext context;
    SetDeadline(&context, kCallLimit);
    const grpc::Status status = clients.iom_cases->OpenCase(&context, request, &opened);
    if (!status.ok()) {
      setup_errors.Add(absl::StrCat("OpenCase: ", StatusText(status)));
      break;
    }
    records.case_ids.push_back(opened.case_id());
  }
  if (setup_errors.count() > 0 || records.case_ids.size() != static_cast<size_t>(s.cases)) {
    for (const std::string& e : setup_errors.first())
      std::cerr << "enlace-loadgen: set-up: " << e << "\n";
    return std::nullopt;
  }
  return records;
}

// The watchers, started and live once a warm-up referral reached each;
// false (and why on stderr) when they are not within 60 s.
bool StartWatchers(const Settings& s, MixedClients& clients,
                   const std::vector<std::string>& case_ids,
                   std::vector<std::unique_ptr<Watcher>>& watchers) {
  for (int w = 0; w < s.watchers; ++w) {
    watchers.push_back(std::make_unique<Watcher>());
    watchers.back()->Start(
        clients.watch_stubs[static_cast<size_t>(w) % clients.watch_stubs.size()].get());
  }
  auto all_warm = [&] {
    return std::all_of(watchers.begin(), watchers.end(), [](auto& w) { return w->warm(); });
  };
  const absl::Time warm_limit = absl::Now() + absl::Seconds(60);
  for (int round = 0; !watchers.empty(); ++round) {
    if (all_warm()) break;
    if (absl::Now() > warm_limit) {
      std::cerr << "enlace-loadgen: the watchers did not all see a warm-up referral in 60 s\n";
      return false;
    }
    enlace::v1::CreateReferralRequest request;
    request.set_case_id(case_ids[static_cast<size_t>(round) % case_ids.size()]);
    request.set_to_agency("undp");
    request.set_service(enlace::v1::NEED_TRAINING);
    request.set_reason(kWarmUpReason);
    enlace::v1::Referral referral;
    grpc::ClientContext context;
    SetDeadline(&context, kCallLimit);
    const grpc::Status status = clients.iom_referrals->CreateReferral(&context, request, &referral);
    if (!status.ok()) {
      std::cerr << "enlace-loadgen: warm-up CreateReferral: " << StatusText(status) << "\n";
      return false;
    }
    const absl::Time round_end = absl::Now() + absl::Seconds(2);
    while (absl::Now() < round_end && !all_warm()) absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// The mix itself for --duration, each load on a thread of its own at its
// rate: arrivals streamed, reads, referral moves. Returns its seconds; the
// moves made are added to *moved.
double RunTheMix(const Settings& s, IngestStream& ingest, Reads& reads, Moves& moves,
                 std::atomic<int64_t>* moved) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::milliseconds(absl::ToInt64Milliseconds(s.duration));
  std::thread ingest_thread([&] {
    Paced(s.ingest_rate, start, end, [&](uint64_t n) {
      Arrival arrival;
      MixedArrival(s.prefix, static_cast<int64_t>(n), &arrival);
      ingest.Write(arrival);
    });
  });
  std::thread read_thread(
      [&] { Paced(s.read_rate, start, end, [&](uint64_t n) { reads.Issue(n); }); });
  std::thread move_thread([&] {
    Paced(s.transition_rate, start, end, [&](uint64_t) {
      if (moves.Step()) moved->fetch_add(1);
    });
  });
  ingest_thread.join();
  read_thread.join();
  move_thread.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Waits up to 30 s for every watcher to see `expected` moves.
void AwaitDeliveries(const std::vector<std::unique_ptr<Watcher>>& watchers, int64_t expected) {
  const absl::Time delivery_limit = absl::Now() + absl::Seconds(30);
  auto all_seen = [&] {
    return std::all_of(watchers.begin(), watchers.end(),
                       [&](auto& w) { return w->seen() >= expected; });
  };
  while (!all_seen() && absl::Now() < delivery_limit) absl::SleepFor(absl::Milliseconds(20));
}

struct MixedDeliveries {
  int64_t deliveries = 0;
  int64_t missing = 0;
};

// Counts what the watchers saw against the `expected` moves (every watcher
// must see every move), then ends their streams; each problem goes to
// `errors`.
MixedDeliveries EndWatchers(std::vector<std::unique_ptr<Watcher>>& watchers, int64_t expected,
                            Errors& errors) {
  MixedDeliveries result;
  int64_t extra = 0;
  for (auto& w : watchers) {
    result.deliveries += w->seen();
    result.missing += std::max<int64_t>(0, expected - w->seen());
    extra += std::max<int64_t>(0, w->seen() - expected);
    if (w->done()) errors.Add("a watch stream ended before it was cancelled");
  }
  if (result.missing > 0) errors.Add(absl::StrCat(result.missing, " deliveries missing"));
  if (extra > 0) errors.Add(absl::StrCat(extra, " deliveries more than the moves made"));
  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) {
    if (!w->AwaitDone(absl::Seconds(10)).has_value()) {
      errors.Add("a watch stream did not end");
      // NOLINTNEXTLINE(bugprone-unused-return-value): leaked on purpose.
      w.release();  // its call still runs: never destroyed
    }
  }
  return result;
}

}  // namespace

int RunMixed(const Target& target) {
  Settings s;
  if (!ReadSettings(&s)) return 2;
  if (target.addr.empty() || target.ca_pem.empty() || target.pki_dir.empty()) {
    std::cerr << "enlace-loadgen: mixed needs --addr, --ca and --pki-dir\n";
    return 2;
  }
  std::optional<MixedClients> clients = ConnectMixed(target, s);
  if (!clients.has_value()) return 1;
  std::optional<MixedRecords> records = SetUpMixed(s, *clients);
  if (!records.has_value()) return 1;
  std::vector<std::unique_ptr<Watcher>> watchers;
  if (!StartWatchers(s, *clients, records->case_ids, watchers)) return 1;

  const std::string rss_start = ResidentMegabytes(s.server_pid);
  Errors errors;
  IngestStream ingest(clients->mfa_stream.get(), &errors);
  Reads reads(clients->iom_arrivals.get(), &records->arrival_ids, &errors);
  Moves moves(clients->iom_referrals.get(), clients->undp_referrals.get(), &records->case_ids,
              &errors);
  std::atomic<int64_t> moved{0};
  const double seconds = RunTheMix(s, ingest, reads, moves, &moved);
  ingest.Finish();
  if (!reads.Drain(kCallLimit + absl::Seconds(5))) errors.Add("reads still in flight at the end");
  const int64_t expected = moved.load();
  AwaitDeliveries(watchers, expected);
  const std::string rss_end = ResidentMegabytes(s.server_pid);
  const MixedDeliveries seen = EndWatchers(watchers, expected, errors);

  const std::vector<int64_t> read_us = reads.Latencies();
  const std::vector<int64_t> move_us = moves.Latencies();
  std::cout << absl::StrFormat(
      "mixed: %.0f s; ingest %d records (%d/s target), reads %d (%d/s; p50 %.1f ms, p99 %.1f "
      "ms), referral moves %d (%d/s; p99 %.1f ms), %d watchers: %d deliveries, %d missing; "
      "errors %d; server RSS %s MB -> %s MB\n",
      seconds, ingest.answers(), s.ingest_rate, reads.issued(), s.read_rate,
      PercentileMs(read_us, 50), PercentileMs(read_us, 99), expected, s.transition_rate,
      PercentileMs(move_us, 99), s.watchers, seen.deliveries, seen.missing, errors.count(),
      rss_start, rss_end);
  std::cout << absl::StrFormat(
      "RESULT kind=mixed seconds=%.1f ingest_rate=%d ingested=%d read_rate=%d reads=%d "
      "read_p50_ms=%.3f read_p99_ms=%.3f transition_rate=%d transitions=%d "
      "transition_p50_ms=%.3f transition_p99_ms=%.3f watchers=%d deliveries=%d missing=%d "
      "errors=%d rss_start_mb=%s rss_end_mb=%s\n",
      seconds, s.ingest_rate, ingest.answers(), s.read_rate, reads.issued(),
      PercentileMs(read_us, 50), PercentileMs(read_us, 99), s.transition_rate, expected,
      PercentileMs(move_us, 50), PercentileMs(move_us, 99), s.watchers, seen.deliveries,
      seen.missing, errors.count(), rss_start, rss_end);
  std::cout.flush();
  for (const std::string& e : errors.first()) std::cerr << "enlace-loadgen: mixed: " << e << "\n";
  return errors.count() > 0 ? 1 : 0;
}

}  // namespace enlace::bench
