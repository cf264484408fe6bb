// A WatchReferrals client for end-to-end tests: it reads events on a thread
// of its own, lets the test wait for a number of events or for the stream's
// end, and keeps the start token the server sends as initial metadata.
// Header-only.
//
//   Watcher watcher(ReferralService::NewStub(channel), /*resume_token=*/"");
//   std::vector<v1::ReferralEvent> seen = watcher.WaitFor(2);
//   grpc::Status ended = watcher.WaitForEnd(absl::Seconds(5));
#ifndef ENLACE_TESTS_TESTING_WATCHER_H_
#define ENLACE_TESTS_TESTING_WATCHER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "enlace/v1/referrals.grpc.pb.h"

namespace enlace::testing {

class Watcher {
 public:
  Watcher(std::unique_ptr<v1::ReferralService::Stub> stub, const std::string& resume_token)
      : stub_(std::move(stub)) {
    v1::WatchReferralsRequest request;
    request.set_resume_token(resume_token);
    reader_ = stub_->WatchReferrals(&ctx_, request);
    reader_->WaitForInitialMetadata();
    auto token = ctx_.GetServerInitialMetadata().find("enlace-resume-token");
    if (token != ctx_.GetServerInitialMetadata().end()) {
      start_token_ = std::string(token->second.data(), token->second.size());
    }
    thread_ = std::thread([this] {
      v1::ReferralEvent event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      end_ = status;
    });
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  ~Watcher() { Stop(); }

  // Cancels the watch (if still open) and waits for the reading thread.
  void Stop() {
    if (!thread_.joinable()) return;
    ctx_.TryCancel();
    thread_.join();
  }
  // The position the watch started from, sent before any event ("" when
  // the call was refused before it started).
  const std::string& start_token() const { return start_token_; }
  size_t Count() {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }
  std::vector<v1::ReferralEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // Waits until `n` events arrived or the stream ended (at most `timeout`);
  // returns what arrived.
  std::vector<v1::ReferralEvent> WaitFor(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return events_.size() >= n || end_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return events_;
  }
  // Waits for the server to end the stream (at most `timeout`); returns its
  // status, or a DEADLINE_EXCEEDED status of the test's own when it did not end.
  grpc::Status WaitForEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ended = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "test: the stream did not end");
    }
    return *end_;
  }

 private:
  std::unique_ptr<v1::ReferralService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::ReferralEvent>> reader_;
  std::string start_token_;
  absl::Mutex mu_;
  std::vector<v1::ReferralEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_WATCHER_H_
