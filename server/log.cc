// The server's log lines: JSON or text, one write each (see log.h).
#include "server/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace enlace::server {

namespace {

std::atomic<LogFormat> log_format{LogFormat::kJson};

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kInfo: break;
  }
  return "INFO";
}

// The length of the valid UTF-8 sequence at text[i], or 0 if there is none
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceAt(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char first = byte(i);
  size_t length = 0;
  uint32_t code = 0;
  if (first >= 0xC2 && first <= 0xDF) {
    length = 2;
    code = first & 0x1F;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3;
    code = first & 0x0F;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4;
    code = first & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
      (length == 4 && (code < 0x10000 || code > 0x10FFFF))) {
    return 0;
  }
  return length;
}

}  // namespace

void SetLogFormat(LogFormat format) { log_format.store(format); }

LogFormat CurrentLogFormat() { return log_format.load(); }

bool ParseLogFormat(absl::string_view text, LogFormat* format) {
  if (text == "json") {
    *format = LogFormat::kJson;
  } else if (text == "text") {
    *format = LogFormat::kText;
  } else {
    return false;
  }
  return true;
}

std::string JsonQuote(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t length = Utf8SequenceAt(text, i);
      if (length == 0) {
        out.append("\\ufffd");
        ++i;
      } else {
        out.append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view message,
                          const std::vector<LogField>& fields, LogFormat format) {
  std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string line;
  if (format == LogFormat::kText) {
    // Text is for a terminal; it is still one line: control characters are
    // escaped as in JSON, without the quotes.
    std::string quoted = JsonQuote(message);
    line = absl::StrCat(stamp, " ", level == LogLevel::kInfo ? "" : LevelName(level),
                        level == LogLevel::kInfo ? "" : " ",
                        absl::string_view(quoted).substr(1, quoted.size() - 2));
    for (const LogField& field : fields) {
      absl::StrAppend(&line, " ", field.key, "=",
                      field.number ? field.value : JsonQuote(field.value));
    }
  } else {
    line = absl::StrCat("{\"time\":\"", stamp, "\",\"level\":\"", LevelName(level),
                        "\",\"message\":", JsonQuote(message));
    for (const LogField& field : fields) {
      absl::StrAppend(&line, ",", JsonQuote(field.key), ":",
                      field.number ? field.value : JsonQuote(field.value));
    }
    line.push_back('}');
  }
  line.push_back('\n');
  return line;
}

void LogLine(LogLevel level, absl::string_view message, const std::vector<LogField>& fields) {
  std::string line = FormatLogLine(absl::Now(), level, message, fields, CurrentLogFormat());
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines do not interleave
}

void LogMessage(absl::string_view message) {
  LogLevel level = LogLevel::kInfo;
  if (absl::ConsumePrefix(&message, "WARNING ")) {
    level = LogLevel::kWarning;
  } else if (absl::ConsumePrefix(&message, "ERROR ")) {
    level = LogLevel::kError;
  }
  LogLine(level, message);
}

}  // namespace enlace::server
