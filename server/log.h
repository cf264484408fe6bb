// The server's logs, on stderr (Debian's Abseil has no absl/log): one JSON
// object per line by default, for log collectors,
//   {"time":"2026-12-01T15:40:59.123Z","level":"INFO","message":"..."}
// with more fields on access lines (one per RPC ended, CallGate):
//   {...,"message":"rpc","method":"/enlace.v1.ArrivalService/GetArrival",
//    "caller":"spiffe://enlace/agency/iom","status":"OK","latency_ms":2.481,
//    "request_id":"4f1c..."}
// or, with --log_format=text, "<time> [LEVEL ]message key=value..." for a
// terminal. Every line is one write, so lines of concurrent threads never
// interleave; safe from any thread. Never log personal data: ids and codes
// only (a returnee's name, birth date or place never reaches a log line).
//
//   Log("listening on ", port);                 // INFO
//   LogWarning("certificate ", serial, " expires in ", days, " days");
//   LogError("CRL not published: ", status.message());
// Log() of a message starting "WARNING " or "ERROR " (older call sites)
// logs it at that level, without the word.
#ifndef ENLACE_SERVER_LOG_H_
#define ENLACE_SERVER_LOG_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace enlace::server {

enum class LogLevel { kInfo, kWarning, kError };
enum class LogFormat { kJson, kText };

// The format of every later line (default: JSON). Set once, at start-up.
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
// "json" or "text"; false for anything else.
bool ParseLogFormat(absl::string_view text, LogFormat* format);

// A field of a line besides time, level and message. `number` values are
// written bare (they must be a JSON number), others as strings.
struct LogField {
  std::string key;
  std::string value;
  bool number = false;
};

// `text` as a JSON string, quotes included: quotes, backslashes and control
// characters escaped, bytes that are not valid UTF-8 replaced by U+FFFD (a
// line always parses, whatever a message carried).
std::string JsonQuote(absl::string_view text);

// One line as it is written, newline included (exposed for tests).
std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view message,
                          const std::vector<LogField>& fields, LogFormat format);

// Writes one line now, in the current format.
void LogLine(LogLevel level, absl::string_view message, const std::vector<LogField>& fields = {});

// Log(parts...) as one message: INFO, or WARNING / ERROR when the message
// starts with that word and a space (which is then dropped).
void LogMessage(absl::string_view message);

template <typename... Parts>
void Log(const Parts&... parts) {
  LogMessage(absl::StrCat(parts...));
}
template <typename... Parts>
void LogWarning(const Parts&... parts) {
  LogLine(LogLevel::kWarning, absl::StrCat(parts...));
}
template <typename... Parts>
void LogError(const Parts&... parts) {
  LogLine(LogLevel::kError, absl::StrCat(parts...));
}

}  // namespace enlace::server

#endif  // ENLACE_SERVER_LOG_H_
