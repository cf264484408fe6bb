// A program with one deliberate error per mode, for the ASan suite's negative
// self-tests (tests/asan/CMakeLists.txt): each must be reported by
// AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer through the
// suite's options and suppressions, and the report must fail the test.
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace enlace::asan_selftest {

// volatile: the compiler must not see through the errors and drop them.
int UseAfterFree() {
  int* p = new int[4];
  delete[] p;
  volatile int* q = p;
  return q[1];
}

int HeapOverflow() {
  volatile std::size_t n =
      8;  // a size the compiler cannot see (else UBSan's object-size check comes first)
  char* buf = new char[n];
  volatile char* v = buf;
  v[n] = 'x';
  int r = v[0];
  delete[] buf;
  return r;
}

void* volatile leaked = nullptr;
int Leak() {
  leaked = std::malloc(123);
  std::memset(leaked, 1, 123);
  leaked = nullptr;  // the only pointer is gone: a leak at exit
  return 0;
}

int SignedOverflow(const char* arg) {
  volatile int x = INT_MAX;
  int y = static_cast<int>(std::strlen(arg));  // 1 or more
  return x + y;
}

}  // namespace enlace::asan_selftest

int main(int argc, char** argv) {
  using namespace enlace::asan_selftest;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "use-after-free") return UseAfterFree() == 7 ? 0 : 0;
  if (mode == "heap-overflow") return HeapOverflow() == 7 ? 0 : 0;
  if (mode == "leak") return Leak();
  if (mode == "signed-overflow") return SignedOverflow(argv[0]) == 7 ? 0 : 0;
  if (mode == "child-leak") {
    // The error is in a child process, whose status the parent ignores (as a
    // Python test ignores how the server it stops ends): only the report
    // file can fail the test.
    pid_t pid = fork();
    if (pid == 0) {
      execl(argv[0], argv[0], "leak", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return 0;
  }
  if (mode == "clean") return 0;
  std::fprintf(stderr,
               "usage: %s use-after-free|heap-overflow|leak|signed-overflow|child-leak|clean\n",
               argv[0]);
  return 2;
}
