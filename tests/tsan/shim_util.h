// Helpers of the TSan shims (absl_tsan_shim.cc, grpc_tsan_shim.cc): finding
// the real definition of a function the executable interposes, and telling
// our (instrumented) code from the shared libraries'.
#ifndef ENLACE_TESTS_TSAN_SHIM_UTIL_H_
#define ENLACE_TESTS_TSAN_SHIM_UTIL_H_

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace enlace::tsan_shim {

// The definition of `mangled_name` that ours hides: the next one in the
// dynamic linker's search order (the library's). Aborts if there is none.
inline void* NextDefinition(const char* mangled_name) {
  void* fn = dlsym(RTLD_NEXT, mangled_name);
  if (fn == nullptr) {
    std::fprintf(stderr, "enlace TSan shim: no definition of %s after ours: %s\n", mangled_name,
                 dlerror());
    std::abort();
  }
  return fn;
}

// Resolves once per call site; later calls only load the pointer.
#define ENLACE_TSAN_NEXT(type, mangled_name_expr)                  \
  ([]() -> type {                                                  \
    static std::atomic<void*> slot{nullptr};                       \
    void* fn = slot.load(std::memory_order_acquire);               \
    if (fn == nullptr) {                                           \
      fn = ::enlace::tsan_shim::NextDefinition(mangled_name_expr); \
      slot.store(fn, std::memory_order_release);                   \
    }                                                              \
    return reinterpret_cast<type>(fn);                             \
  }())

struct CodeRange {
  uintptr_t begin = UINTPTR_MAX;
  uintptr_t end = 0;
};

inline int FindExecutableCode(struct dl_phdr_info* info, size_t, void* data) {
  auto* range = static_cast<CodeRange*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (begin < range->begin) range->begin = begin;
    if (begin + ph.p_memsz > range->end) range->end = begin + ph.p_memsz;
  }
  return 1;  // the executable comes first: stop there
}

// Is `pc` in the code of the executable itself (ours, instrumented), rather
// than in a shared library (gRPC, Abseil, ...)?
inline bool InExecutableCode(const void* pc) {
  static const CodeRange code = [] {
    CodeRange range;
    dl_iterate_phdr(FindExecutableCode, &range);
    return range;
  }();
  auto p = reinterpret_cast<uintptr_t>(pc);
  return code.begin <= p && p < code.end;
}

}  // namespace enlace::tsan_shim

#endif  // ENLACE_TESTS_TSAN_SHIM_UTIL_H_
