// The log line encoding (server/log.h): every line is one JSON object that
// an independent parser (protobuf's JSON to google.protobuf.Struct) reads
// back to the same text, whatever bytes a message carried; WARNING / ERROR
// prefixes of older call sites become the level.
#include "server/log.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "gtest/gtest.h"

namespace enlace::server {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1764603659123);  // 2025-12-01T15:40:59.123Z

google::protobuf::Struct Parse(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
  google::protobuf::Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(line, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return parsed;
}

TEST(LogTest, JsonLineHasTimeLevelMessageAndFields) {
  std::string line = FormatLogLine(
      kTime, LogLevel::kInfo, "rpc",
      {{"method", "/enlace.v1.ArrivalService/GetArrival"}, {"latency_ms", "2.481", true}},
      LogFormat::kJson);
  EXPECT_EQ(line,
            "{\"time\":\"2025-12-01T15:40:59.123Z\",\"level\":\"INFO\",\"message\":\"rpc\","
            "\"method\":\"/enlace.v1.ArrivalService/GetArrival\",\"latency_ms\":2.481}\n");
  google::protobuf::Struct parsed = Parse(line);
  EXPECT_EQ(parsed.fields().at("latency_ms").number_value(), 2.481);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "INFO");
}

TEST(LogTest, QuotesBackslashesAndControlCharactersAreEscaped) {
  const std::string message = "say \"hi\" \\ path\nnext\tcol\r\x01\x1f\x7f end";
  EXPECT_EQ(JsonQuote(message),
            "\"say \\\"hi\\\" \\\\ path\\nnext\\tcol\\r\\u0001\\u001f\\u007f end\"");
  google::protobuf::Struct parsed =
      Parse(FormatLogLine(kTime, LogLevel::kError, message, {}, LogFormat::kJson));
  EXPECT_EQ(parsed.fields().at("message").string_value(), message);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "ERROR");
}

TEST(LogTest, ValidUtf8IsKeptAndInvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(JsonQuote("Quezaltepeque – año 🙂"), "\"Quezaltepeque – año 🙂\"");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // surrogate, a code point past U+10FFFF and a byte that never starts one.
  EXPECT_EQ(JsonQuote("a\x80"
                      "b\xC3"
                      "c\xC0\xAF"
                      "d\xED\xA0\x80"
                      "e\xF4\x90\x80\x80"
                      "f\xFF"),
            "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd"
            "\\ufffdf\\ufffd\"");
  google::protobuf::Struct parsed = Parse(
      FormatLogLine(kTime, LogLevel::kInfo, "x\xC3(y", {{"k", "\xFE\xFF"}}, LogFormat::kJson));
  EXPECT_EQ(parsed.fields().at("message").string_value(), "x\xEF\xBF\xBD(y");
  EXPECT_EQ(parsed.fields().at("k").string_value(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(LogTest, TextFormatIsOneLineWithLevelAndFields) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kWarning, "two\nlines", {{"caller", "spiffe://x"}},
                          LogFormat::kText),
            "2025-12-01T15:40:59.123Z WARNING two\\nlines caller=\"spiffe://x\"\n");
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kInfo, "plain", {}, LogFormat::kText),
            "2025-12-01T15:40:59.123Z plain\n");
}

TEST(LogTest, ParseLogFormatTakesJsonAndTextOnly) {
  LogFormat format = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON", &format));
  EXPECT_FALSE(ParseLogFormat("", &format));
}

TEST(LogTest, OlderPrefixesBecomeTheLevel) {
  // LogMessage writes to stderr: capture it through a pipe-free temporary file.
  std::FILE* saved = stderr;
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  stderr = capture;
  SetLogFormat(LogFormat::kJson);
  Log("WARNING ", "disk ", 91, "% full");
  Log("ERROR CRL not published");
  Log("all ", "good");
  stderr = saved;
  std::rewind(capture);
  std::string lines[3];
  char buffer[512];
  for (std::string& line : lines) {
    ASSERT_NE(std::fgets(buffer, sizeof(buffer), capture), nullptr);
    line = buffer;
  }
  std::fclose(capture);
  EXPECT_EQ(Parse(lines[0]).fields().at("level").string_value(), "WARNING");
  EXPECT_EQ(Parse(lines[0]).fields().at("message").string_value(), "disk 91% full");
  EXPECT_EQ(Parse(lines[1]).fields().at("level").string_value(), "ERROR");
  EXPECT_EQ(Parse(lines[1]).fields().at("message").string_value(), "CRL not published");
  EXPECT_EQ(Parse(lines[2]).fields().at("level").string_value(), "INFO");
  EXPECT_EQ(Parse(lines[2]).fields().at("message").string_value(), "all good");
}

}  // namespace
}  // namespace enlace::server
