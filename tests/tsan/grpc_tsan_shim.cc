// grpc_tsan_shim.cc: the orderings gRPC's own (uninstrumented) code gives
// our code, told to ThreadSanitizer. Linked into every TSan executable next
// to absl_tsan_shim.cc, and interposing the same way (exported definitions
// in the executable come before libgrpc's and libgrpc++'s).
//
// Most of what gRPC hands between threads passes an absl::Mutex, which the
// Abseil shim shows TSan. Three orderings our code relies on do not:
//
// 1. A batch of operations and its completion. Our thread fills in a batch
//    (the inline grpcpp code of StartWrite/Finish/... writes the tag and the
//    CallOpSet) and gRPC runs the completion on one of its threads, after a
//    hand-off through the call combiner's atomics. So: release on the tag in
//    grpc_call_start_batch; acquire on it where the completion starts: for
//    the callback API, in a trampoline put in front of the tag's functor
//    (grpcpp's CallbackWithSuccessTag/CallbackWithStatusTag::StaticRun); for
//    completion queues, when grpc_completion_queue_next/pluck return it.
//
// 2. A server reactor's OnDone (and OnCancel) runs once the last of the
//    call's outstanding operations has dropped its count: our completion
//    callbacks decrement it in inline grpcpp code (instrumented: a release on
//    the counter); libgrpc++ decrements it too, unseen, e.g. right after it
//    ran the reactor's OnCancel on an executor thread. So: acquire on the
//    counter where ScheduleOnDone/CallOnCancel start, on the thread that
//    dropped it last; and release on it when OnCancel returns (CallOnCancel
//    is handed a proxy of the reactor that does so).
//
// 3. grpc::Server::Shutdown returns only after every callback RPC is done
//    (its reactor's OnDone has returned): each finished call drops a server
//    ref with an atomic decrement in UnrefWithPossibleNotify, and only the
//    last one takes the mutex Shutdown waits on. So: release on the server
//    in UnrefWithPossibleNotify, acquire on it when ShutdownInternal returns.
//
// The self-test `race_selftest grpc-callback` shows that our code running in
// gRPC callbacks is still checked.
#include <grpc/grpc.h>
#include <grpcpp/server.h>
#include <grpcpp/support/server_callback.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>

#include "tests/tsan/shim_util.h"

namespace {

using enlace::tsan_shim::InExecutableCode;
using FunctorRun = void (*)(grpc_completion_queue_functor*, int);

// The functors whose completions we order: one trampoline per distinct
// StaticRun of our code seen so far (grpcpp has two; a few spare slots).
constexpr int kSlots = 8;
std::atomic<FunctorRun> g_original[kSlots];

template <int kSlot>
void AcquireThenRun(grpc_completion_queue_functor* functor, int ok) {
  __tsan_acquire(functor);
  g_original[kSlot].load(std::memory_order_acquire)(functor, ok);
}

constexpr FunctorRun kTrampolines[kSlots] = {
    &AcquireThenRun<0>, &AcquireThenRun<1>, &AcquireThenRun<2>, &AcquireThenRun<3>,
    &AcquireThenRun<4>, &AcquireThenRun<5>, &AcquireThenRun<6>, &AcquireThenRun<7>};

bool IsTrampoline(FunctorRun run) {
  for (FunctorRun t : kTrampolines) {
    if (t == run) return true;
  }
  return false;
}

// The trampoline for `original`, registering it on first sight.
FunctorRun TrampolineFor(FunctorRun original) {
  for (int i = 0; i < kSlots; ++i) {
    FunctorRun seen = g_original[i].load(std::memory_order_acquire);
    if (seen == original) return kTrampolines[i];
    if (seen == nullptr) {
      FunctorRun expected = nullptr;
      if (g_original[i].compare_exchange_strong(expected, original, std::memory_order_acq_rel) ||
          expected == original) {
        return kTrampolines[i];
      }
    }
  }
  return nullptr;  // full: leave this kind of tag alone
}

// A tag of the callback API is a grpc_completion_queue_functor whose first
// word, functor_run, points to a StaticRun in our code. Other tags (a
// CallOpSet of a synchronous call, ...) start with a vtable pointer, which
// never points into code.
void RouteCompletionThroughAcquire(void* tag) {
  if (tag == nullptr) return;
  auto* functor = static_cast<grpc_completion_queue_functor*>(tag);
  FunctorRun run = functor->functor_run;
  if (IsTrampoline(run) || !InExecutableCode(reinterpret_cast<const void*>(run))) return;
  if (FunctorRun trampoline = TrampolineFor(run)) functor->functor_run = trampoline;
}

}  // namespace

extern "C" grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops,
                                                 void* tag, void* reserved) {
  auto real = ENLACE_TSAN_NEXT(grpc_call_error(*)(grpc_call*, const grpc_op*, size_t, void*, void*),
                               "grpc_call_start_batch");
  RouteCompletionThroughAcquire(tag);
  __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

extern "C" grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                                 void* reserved) {
  auto real = ENLACE_TSAN_NEXT(grpc_event(*)(grpc_completion_queue*, gpr_timespec, void*),
                               "grpc_completion_queue_next");
  grpc_event event = real(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

extern "C" grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag,
                                                  gpr_timespec deadline, void* reserved) {
  auto real = ENLACE_TSAN_NEXT(grpc_event(*)(grpc_completion_queue*, void*, gpr_timespec, void*),
                               "grpc_completion_queue_pluck");
  grpc_event event = real(cq, tag, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

namespace grpc {

namespace internal {

namespace {

// The reactor as CallOnCancel sees it: the same OnCancel, followed by a release
// on the call's count, which libgrpc++ decrements next. Used for that one call.
class OnCancelThenRelease final : public ServerReactor {
 public:
  OnCancelThenRelease(ServerReactor* reactor, void* count) : reactor_(reactor), count_(count) {}
  void OnCancel() override {
    ServerReactor* reactor = reactor_;
    void* count = count_;
    delete this;
    reactor->OnCancel();
    __tsan_release(count);
  }
  void OnDone() override { reactor_->OnDone(); }  // never called: CallOnCancel only cancels
  bool InternalInlineable() override { return reactor_->InternalInlineable(); }

 private:
  ServerReactor* reactor_;
  void* count_;
};

}  // namespace

void ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  auto real = ENLACE_TSAN_NEXT(void (*)(ServerCallbackCall*, bool),
                               "_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb");
  __tsan_acquire(&callbacks_outstanding_);
  real(this, inline_ondone);
}

void ServerCallbackCall::CallOnCancel(ServerReactor* reactor) {
  auto real =
      ENLACE_TSAN_NEXT(void (*)(ServerCallbackCall*, ServerReactor*),
                       "_ZN4grpc8internal18ServerCallbackCall12CallOnCancelEPNS0_13ServerReactorE");
  __tsan_acquire(&on_cancel_conditions_remaining_);
  real(this, new OnCancelThenRelease(reactor, &callbacks_outstanding_));
}

}  // namespace internal

void Server::UnrefWithPossibleNotify() {
  auto real = ENLACE_TSAN_NEXT(void (*)(Server*), "_ZN4grpc6Server23UnrefWithPossibleNotifyEv");
  __tsan_release(this);
  real(this);
}

void Server::ShutdownInternal(gpr_timespec deadline) {
  auto real = ENLACE_TSAN_NEXT(void (*)(Server*, gpr_timespec),
                               "_ZN4grpc6Server16ShutdownInternalE12gpr_timespec");
  real(this, deadline);
  __tsan_acquire(this);
}

}  // namespace grpc
