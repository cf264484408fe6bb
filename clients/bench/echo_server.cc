// enlace-echo: the bare mTLS server that `scripts/bench.sh get`, `list` and
// `watch` measure Enlace against. It serves the calls those scenarios make
// with the same gRPC API flavour as enlace-server (the callback API), the
// same TLS set-up (certificates re-read by a file watcher, client
// certificate required and verified against the CA) and the same channel
// limits, and answers every call at once. No identity, policy, database or
// audit: the floor of a call.
//
//   get, list  GetArrival and ListArrivals answer with canned answers
//              captured from the real server (`enlace-loadgen capture`), so
//              the same bytes cross the wire: --responses holds get.bin (an
//              Arrival), list.bin (the first page) and list_deep.bin (a deep
//              page, for a ListArrivals with a page_token).
//   watch      RecordArrival, OpenCase, CreateReferral and WithdrawReferral
//              answer at once with new ids; each referral change is sent, as
//              its ReferralEvent (committed_at: now), to every open
//              WatchReferrals stream, from the caller's thread: the floor of
//              the fan-out that `enlace-loadgen watch` times.
//
//   enlace-echo --addr=127.0.0.1:0 --ca_cert=pki/ca.crt --server_cert=pki/server.crt
//       --server_key=pki/server.key [--responses=DIR] --ready_file=echo.ready
//
// Without --responses, GetArrival and ListArrivals answer FAILED_PRECONDITION.
// --ready_file gets the bound port once serving. SIGTERM or SIGINT stop it.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/bench/tool_usage.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "server/server.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:0", "where to listen (port 0: any free port)");
ABSL_FLAG(std::string, ca_cert, "", "PEM of the CA that client certificates must chain to");
ABSL_FLAG(std::string, server_cert, "", "PEM of the server certificate");
ABSL_FLAG(std::string, server_key, "", "PEM of the server key");
ABSL_FLAG(std::string, responses, "",
          "directory of get.bin, list.bin and list_deep.bin (get and list; not needed by watch)");
ABSL_FLAG(std::string, ready_file, "", "written with the bound port once serving");

namespace enlace::bench {
namespace {

using enlace::v1::Arrival;
using enlace::v1::GetArrivalRequest;
using enlace::v1::ListArrivalsRequest;
using enlace::v1::ListArrivalsResponse;
using enlace::v1::Referral;
using enlace::v1::ReferralEvent;

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void OnSignal(int) { stop_requested = 1; }

template <typename Message>
bool ReadMessage(const std::string& path, Message* message) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in || !message->ParseFromString(bytes.str())) {
    std::cerr << "enlace-echo: cannot read a " << message->GetTypeName() << " from " << path
              << "\n";
    return false;
  }
  return true;
}

// A new id for each record the echo "creates": 32 hex digits, like the
// server's.
std::string NewEchoId() {
  static std::atomic<uint64_t> next{1};
  return absl::StrFormat("%032x", next.fetch_add(1));
}

google::protobuf::Timestamp Now() {
  const int64_t us = absl::ToUnixMicros(absl::Now());
  google::protobuf::Timestamp t;
  t.set_seconds(us / 1'000'000);
  t.set_nanos(static_cast<int32_t>(us % 1'000'000) * 1000);
  return t;
}

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

class EchoArrivals final : public enlace::v1::ArrivalService::CallbackService {
 public:
  // `canned`: false when there is no --responses (get and list refused).
  EchoArrivals(bool canned, Arrival arrival, ListArrivalsResponse first, ListArrivalsResponse deep)
      : canned_(canned),
        arrival_(std::move(arrival)),
        first_(std::move(first)),
        deep_(std::move(deep)) {}

  grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* context,
                                       const GetArrivalRequest*, Arrival* response) override {
    if (!canned_) return Answer(context, NoResponses());
    *response = arrival_;
    return Answer(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListArrivals(grpc::CallbackServerContext* context,
                                         const ListArrivalsRequest* request,
                                         ListArrivalsResponse* response) override {
    if (!canned_) return Answer(context, NoResponses());
    *response = request->page_token().empty() ? first_ : deep_;
    return Answer(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* RecordArrival(grpc::CallbackServerContext* context,
                                          const enlace::v1::RecordArrivalRequest* request,
                                          enlace::v1::RecordArrivalResponse* response) override {
    response->set_external_id(request->arrival().external_id());
    response->set_arrival_id(NewEchoId());
    response->set_outcome(enlace::v1::OUTCOME_CREATED);
    return Answer(context, grpc::Status::OK);
  }

 private:
  static grpc::Status NoResponses() {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "enlace-echo was started without --responses");
  }

  const bool canned_;
  const Arrival arrival_;
  const ListArrivalsResponse first_, deep_;
};

class EchoCases final : public enlace::v1::CaseService::CallbackService {
 public:
  grpc::ServerUnaryReactor* OpenCase(grpc::CallbackServerContext* context,
                                     const enlace::v1::OpenCaseRequest* request,
                                     enlace::v1::Case* response) override {
    response->set_case_id(NewEchoId());
    response->set_arrival_id(request->arrival_id());
    response->set_summary(request->summary());
    response->set_status(enlace::v1::CASE_STATUS_OPEN);
    *response->mutable_created_at() = Now();
    *response->mutable_updated_at() = response->created_at();
    return Answer(context, grpc::Status::OK);
  }
};

// One WatchReferrals stream: the events sent to it are written one at a
// time, in order. Owned by a shared_ptr of its own until OnDone, so that a
// change being sent never reaches a deleted stream; gRPC is never called
// with the stream's lock held.
class EchoWatch final : public grpc::ServerWriteReactor<ReferralEvent>,
                        public std::enable_shared_from_this<EchoWatch> {
 public:
  using Registry = std::function<void(const EchoWatch*)>;

  // Starts the stream; `unregister` is called in OnDone.
  void Begin(std::shared_ptr<EchoWatch> self, grpc::CallbackServerContext* context,
             Registry unregister) {
    self_ = std::move(self);
    unregister_ = std::move(unregister);
    // As the server: the resume token of "now" at once, in the headers.
    context->AddInitialMetadata("enlace-resume-token", std::string(96, 'r'));
    StartSendInitialMetadata();
  }

  void Send(const ReferralEvent& event) {
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      queued_.push_back(event);
      if (writing_) return;
      writing_ = true;
      in_flight_ = std::move(queued_.front());
      queued_.pop_front();
    }
    StartWrite(&in_flight_);
  }

  void OnSendInitialMetadataDone(bool) override {}

  void OnWriteDone(bool ok) override {
    bool finish = false, write_next = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || cancelled_) {
        queued_.clear();
        finish = !ended_;
        ended_ = true;
      } else if (!queued_.empty()) {
        writing_ = write_next = true;
        in_flight_ = std::move(queued_.front());
        queued_.pop_front();
      }
    }
    if (finish) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled"));
    } else if (write_next) {
      StartWrite(&in_flight_);
    }
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (!writing_ && !ended_) finish = ended_ = true;  // else OnWriteDone finishes
    }
    if (finish) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled"));
  }

  void OnDone() override {
    unregister_(this);
    std::shared_ptr<EchoWatch> last = std::move(self_);  // may delete this on return
  }

 private:
  std::shared_ptr<EchoWatch> self_;
  Registry unregister_;
  absl::Mutex mu_;
  std::deque<ReferralEvent> queued_ ABSL_GUARDED_BY(mu_);
  ReferralEvent in_flight_;  // set under mu_ before StartWrite
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class EchoReferrals final : public enlace::v1::ReferralService::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateReferral(grpc::CallbackServerContext* context,
                                           const enlace::v1::CreateReferralRequest* request,
                                           Referral* response) override {
    response->set_referral_id(NewEchoId());
    response->set_case_id(request->case_id());
    response->set_from_agency("iom");
    response->set_to_agency(request->to_agency());
    response->set_service(request->service());
    response->set_reason(request->reason());
    response->set_status(enlace::v1::REFERRAL_STATUS_PENDING);
    *response->mutable_created_at() = Now();
    *response->mutable_updated_at() = response->created_at();
    response->set_etag(std::string(24, 'e'));
    {
      absl::MutexLock lock(&mu_);
      referrals_[response->referral_id()] = *response;
    }
    Broadcast(enlace::v1::REFERRAL_EVENT_TYPE_CREATED, *response);
    return Answer(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* WithdrawReferral(grpc::CallbackServerContext* context,
                                             const enlace::v1::WithdrawReferralRequest* request,
                                             Referral* response) override {
    {
      absl::MutexLock lock(&mu_);
      auto it = referrals_.find(request->referral_id());
      if (it == referrals_.end()) {
        return Answer(context, grpc::Status(grpc::StatusCode::NOT_FOUND, "no such referral"));
      }
      it->second.set_status(enlace::v1::REFERRAL_STATUS_WITHDRAWN);
      *it->second.mutable_updated_at() = Now();
      *response = it->second;
      referrals_.erase(it);
    }
    Broadcast(enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN, *response);
    return Answer(context, grpc::Status::OK);
  }

  grpc::ServerWriteReactor<ReferralEvent>* WatchReferrals(
      grpc::CallbackServerContext* context, const enlace::v1::WatchReferralsRequest*) override {
    auto stream = std::make_shared<EchoWatch>();
    {
      absl::MutexLock lock(&mu_);
      streams_[stream.get()] = stream;
    }
    stream->Begin(stream, context, [this](const EchoWatch* done) {
      absl::MutexLock lock(&mu_);
      streams_.erase(done);
    });
    return stream.get();
  }

 private:
  // The change's event, committed "now", to every open stream.
  void Broadcast(enlace::v1::ReferralEventType type, const Referral& referral) {
    ReferralEvent event;
    event.set_type(type);
    *event.mutable_referral() = referral;
    event.set_resume_token(std::string(96, 't'));  // the server's tokens are about this long
    *event.mutable_committed_at() = Now();
    std::vector<std::shared_ptr<EchoWatch>> open;
    {
      absl::MutexLock lock(&mu_);
      open.reserve(streams_.size());
      for (const auto& [key, stream] : streams_) {
        if (std::shared_ptr<EchoWatch> alive = stream.lock()) open.push_back(std::move(alive));
      }
    }
    for (const std::shared_ptr<EchoWatch>& stream : open) stream->Send(event);
  }

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Referral> referrals_ ABSL_GUARDED_BY(mu_);  // not withdrawn
  absl::flat_hash_map<const EchoWatch*, std::weak_ptr<EchoWatch>> streams_ ABSL_GUARDED_BY(mu_);
};

int Main(int argc, char** argv) {
  SetToolUsage(
      "the bare mTLS echo server of scripts/bench.sh get/list; see the top of "
      "clients/bench/echo_server.cc",
      "clients/bench/echo_server.cc");
  absl::ParseCommandLine(argc, argv);
  for (const auto& [flag, value] : {std::pair("ca_cert", absl::GetFlag(FLAGS_ca_cert)),
                                    std::pair("server_cert", absl::GetFlag(FLAGS_server_cert)),
                                    std::pair("server_key", absl::GetFlag(FLAGS_server_key))}) {
    if (value.empty()) {
      std::cerr << "enlace-echo: --" << flag << " is required (--help for usage)\n";
      return 2;
    }
  }
  const std::string dir = absl::GetFlag(FLAGS_responses);
  Arrival arrival;
  ListArrivalsResponse first, deep;
  if (!dir.empty() &&
      (!ReadMessage(dir + "/get.bin", &arrival) || !ReadMessage(dir + "/list.bin", &first) ||
       !ReadMessage(dir + "/list_deep.bin", &deep))) {
    return 2;
  }
  EchoArrivals service(!dir.empty(), std::move(arrival), std::move(first), std::move(deep));
  EchoCases cases;
  EchoReferrals referrals;

  // As enlace-server: the files are watched (re-read every 5 s) and a client
  // certificate is required and verified.
  auto certificates = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      absl::GetFlag(FLAGS_server_key), absl::GetFlag(FLAGS_server_cert),
      absl::GetFlag(FLAGS_ca_cert), 5);
  grpc::experimental::TlsServerCredentialsOptions tls_options(certificates);
  tls_options.watch_root_certs();
  tls_options.watch_identity_key_cert_pairs();
  tls_options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::ServerBuilder builder;
  // The limits enlace-server sets with its defaults, so both servers
  // negotiate the same HTTP/2 settings.
  server::ApplyServerLimits(server::ServerConfig{}, builder);
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_addr),
                           grpc::experimental::TlsServerCredentials(tls_options), &port);
  builder.RegisterService(&service);
  builder.RegisterService(&cases);
  builder.RegisterService(&referrals);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "enlace-echo: cannot listen on " << absl::GetFlag(FLAGS_addr) << "\n";
    return 1;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  if (const std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    std::ofstream out(ready + ".tmp", std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out || std::rename((ready + ".tmp").c_str(), ready.c_str()) != 0) {
      std::cerr << "enlace-echo: cannot write " << ready << "\n";
      return 1;
    }
  }
  std::cerr << "enlace-echo: listening on port " << port << "\n";
  while (stop_requested == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace enlace::bench

int main(int argc, char** argv) { return enlace::bench::Main(argc, argv); }
