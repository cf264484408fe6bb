// FUZZ_CHECK(condition, message): the invariant check of the fuzz harnesses.
// On failure it prints the message and aborts, which libFuzzer reports as a
// crash (saving the input) and the replay main as a failed test. Unlike
// assert() it stays on in Release builds.
#ifndef ENLACE_TESTS_FUZZ_FUZZ_CHECK_H_
#define ENLACE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, message)                                                           \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, #condition, \
                   std::string(message).c_str());                                                \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

#endif  // ENLACE_TESTS_FUZZ_FUZZ_CHECK_H_
