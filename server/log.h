// Minimal structured-enough logging to stderr for the server (Debian's Abseil
// has no absl/log). One line per message, UTC timestamp first; safe from any
// thread. Never log personal data: ids and codes only.
#ifndef ENLACE_SERVER_LOG_H_
#define ENLACE_SERVER_LOG_H_

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace enlace::server {

inline void LogLine(absl::string_view message) {
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines do not interleave
}

template <typename... Parts>
void Log(const Parts&... parts) {
  LogLine(absl::StrCat(parts...));
}

}  // namespace enlace::server

#endif  // ENLACE_SERVER_LOG_H_
