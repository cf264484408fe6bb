// The fixed token keys of the page and resume token harnesses: the same two
// keys in every run, so a seed token made with them (corpus/) verifies, and
// a key file without the signing key, for the "key no longer held" path.
#ifndef ENLACE_TESTS_FUZZ_TOKEN_FUZZ_KEYS_H_
#define ENLACE_TESTS_FUZZ_TOKEN_FUZZ_KEYS_H_

#include <cstdlib>
#include <memory>

#include "server/token_keys.h"

namespace enlace::fuzz {

// k2 signs (32 bytes of 0x02), k1 still verifies (32 bytes of 0x01).
inline const server::TokenKeys& FuzzKeys() {
  static const server::TokenKeys* keys = [] {
    absl::StatusOr<std::unique_ptr<server::TokenKeys>> parsed = server::TokenKeys::Parse(
        "k2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"
        "k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n");
    if (!parsed.ok()) std::abort();
    return parsed->release();
  }();
  return *keys;
}

// Only k1: tokens signed by k2 are from a key it no longer holds.
inline const server::TokenKeys& RotatedKeys() {
  static const server::TokenKeys* keys = [] {
    absl::StatusOr<std::unique_ptr<server::TokenKeys>> parsed =
        server::TokenKeys::Parse("k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n");
    if (!parsed.ok()) std::abort();
    return parsed->release();
  }();
  return *keys;
}

}  // namespace enlace::fuzz

#endif  // ENLACE_TESTS_FUZZ_TOKEN_FUZZ_KEYS_H_
