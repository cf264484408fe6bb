// The negative self-test of the TSan suite (linked with the shim, run with the
// suite's TSAN_OPTIONS and suppressions by expect_tsan_report.sh, which
// requires TSan's exit code and report):
//   race_selftest counter     two threads increment a plain int with no lock:
//                             a data race in namespace enlace must be reported
//                             (so TSan is on, and the suppressions do not hide
//                             races in our code);
//   race_selftest lock-order  two absl::Mutex taken in both orders: the lock
//                             order inversion must be reported (so the shim
//                             shows TSan absl::Mutex acquisitions);
//   race_selftest grpc-callback  our code in a gRPC server callback, on a
//                             thread libgrpc created, writes what a plain
//                             thread wrote: the race must be reported (so
//                             ignoring what libgrpc itself touches, see
//                             tsan.supp, leaves our code on its threads checked);
//   race_selftest unknown-methods  many calls of a method no service has, each
//                             answered UNIMPLEMENTED by gRPC's own generic
//                             reactor, which deletes itself on another thread
//                             right after libgrpc++ released its mutex: must
//                             pass with no report (the positive test of the
//                             tsan.supp entry for InternalBindStream).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace enlace::tsan_selftest {

int counter = 0;

__attribute__((noinline)) void IncrementWithoutLock() {
  for (int i = 0; i < 100000; ++i) ++counter;
}

int RacyCounter() {
  std::thread a(IncrementWithoutLock);
  std::thread b(IncrementWithoutLock);
  a.join();
  b.join();
  std::printf("counter = %d (anything up to 200000: the increments race)\n", counter);
  return 0;
}

absl::Mutex first_mu;
absl::Mutex second_mu;

__attribute__((noinline)) void LockInOrder(absl::Mutex* outer, absl::Mutex* inner) {
  absl::MutexLock hold_outer(outer);
  absl::MutexLock hold_inner(inner);
}

int LockOrderInversion() {
  // TSan must report it, not Abseil's own deadlock detector (which aborts).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // One after the other, so that nothing can actually deadlock.
  std::thread([] { LockInOrder(&first_mu, &second_mu); }).join();
  std::thread([] { LockInOrder(&second_mu, &first_mu); }).join();
  std::printf("took the two mutexes in both orders\n");
  return 0;
}

int shared_value = 0;
// Relaxed: tells the gRPC thread to go on without ordering anything for TSan.
std::atomic<bool> plain_thread_wrote{false};

__attribute__((noinline)) void WriteFromPlainThread() { shared_value = 1; }
__attribute__((noinline)) void WriteFromGrpcCallback() { shared_value = 2; }

class RacyService : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() {
        for (int i = 0; i < 10000 && !plain_thread_wrote.load(std::memory_order_relaxed); ++i) {
          absl::SleepFor(absl::Milliseconds(1));
        }
        WriteFromGrpcCallback();
        Finish(grpc::Status::OK);
      }
      void OnDone() override { delete this; }
    };
    return new Reactor;
  }
};

// A plaintext server on a free loopback port with `service` as its generic
// service; sets *port. Null if it did not start.
std::unique_ptr<grpc::Server> StartGenericServer(grpc::CallbackGenericService* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterCallbackGenericService(service);
  return builder.BuildAndStart();
}

// One unary call of `method` with a small payload; waits for its status.
grpc::Status CallAndWait(grpc::GenericStub& stub, const std::string& method) {
  grpc::ClientContext context;
  grpc::Slice payload("ping");
  grpc::ByteBuffer request(&payload, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](const grpc::Status& s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

grpc::GenericStub StubFor(int port) {
  return grpc::GenericStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
}

int GrpcCallbackRace() {
  RacyService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartGenericServer(&service, &port);
  if (server == nullptr) return 1;
  std::thread plain([] {
    WriteFromPlainThread();
    plain_thread_wrote.store(true, std::memory_order_relaxed);
  });
  grpc::GenericStub stub = StubFor(port);
  CallAndWait(stub, "/enlace.tsan.SelfTest/Race");
  plain.join();
  server->Shutdown();
  std::printf("wrote from a plain thread and from a gRPC callback\n");
  return 0;
}

// A server with one callback service (so gRPC answers any other method with
// its own generic reactor) and kUnknownMethodCalls calls of a method nobody
// serves, two at a time: each must be UNIMPLEMENTED, and TSan must stay quiet.
int UnknownMethodCalls() {
  constexpr int kUnknownMethodCalls = 300;
  grpc::CallbackGenericService unimplemented;
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartGenericServer(&unimplemented, &port);
  if (server == nullptr) return 1;
  grpc::GenericStub stub = StubFor(port);
  std::atomic<int> unimplemented_answers{0};
  auto call_many = [&](int calls) {
    for (int i = 0; i < calls; ++i) {
      grpc::Status status = CallAndWait(stub, "/enlace.tsan.SelfTest/NoSuchMethod");
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) ++unimplemented_answers;
    }
  };
  std::thread other(call_many, kUnknownMethodCalls / 2);
  call_many(kUnknownMethodCalls - kUnknownMethodCalls / 2);
  other.join();
  server->Shutdown();
  std::printf("%d of %d calls of an unknown method were UNIMPLEMENTED\n",
              unimplemented_answers.load(), kUnknownMethodCalls);
  return unimplemented_answers.load() == kUnknownMethodCalls ? 0 : 1;
}

}  // namespace enlace::tsan_selftest

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "counter") == 0)
    return enlace::tsan_selftest::RacyCounter();
  if (argc == 2 && std::strcmp(argv[1], "lock-order") == 0) {
    return enlace::tsan_selftest::LockOrderInversion();
  }
  if (argc == 2 && std::strcmp(argv[1], "grpc-callback") == 0) {
    return enlace::tsan_selftest::GrpcCallbackRace();
  }
  if (argc == 2 && std::strcmp(argv[1], "unknown-methods") == 0) {
    return enlace::tsan_selftest::UnknownMethodCalls();
  }
  std::fprintf(stderr, "usage: %s counter|lock-order|grpc-callback|unknown-methods\n", argv[0]);
  return 2;
}
