// enlacectl arrivals (push, get, list) and consent (update): the ministry's
// side of ArrivalService, and what agencies read of it.
//
// `arrivals push` streams a file through RecordArrivals: a writer thread reads
// the file record by record and writes requests (blocking when the server
// pushes back, so a huge file never sits in memory), while the main thread
// reads the responses, which may come in any order and are tied to their rows
// by external_id. At most one row per external_id is in flight at a time (a
// later row with the same external_id waits until the earlier one is
// answered), so every answer maps to exactly one line of the file.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki.h"
#include "clients/cli/cli.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/arrivals.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;
using google::protobuf::util::TimeUtil;
using ArrivalStub = v1::ArrivalService::Stub;

// ---------------------------------------------------------------------------
// Display of arrivals.

std::string NeedsText(const google::protobuf::RepeatedField<int>& needs) {
  std::vector<std::string> names;
  for (int need : needs) {
    names.push_back(ShortName("NEED_", static_cast<v1::Need>(need)));
  }
  return names.empty() ? "-" : absl::StrJoin(names, ",");
}

std::string PurposesText(const google::protobuf::RepeatedField<int>& purposes) {
  std::vector<std::string> names;
  for (int purpose : purposes) {
    names.push_back(ShortName("PURPOSE_", static_cast<v1::Purpose>(purpose)));
  }
  return absl::StrJoin(names, ",");
}

std::string ConsentText(const v1::Consent& consent) {
  if (consent.agencies().empty()) return "none (no sharing)";
  std::string text = absl::StrCat(absl::StrJoin(consent.agencies(), ","), " for ",
                                  PurposesText(consent.purposes()), ", given ",
                                  FormatTimestamp(consent.given_at()));
  if (consent.has_guardian()) {
    absl::StrAppend(&text, " by the guardian ", consent.guardian().name(), " (",
                    ShortName("GUARDIAN_RELATIONSHIP_", consent.guardian().relationship()), ")");
  }
  if (!consent.objected_purposes().empty()) {
    absl::StrAppend(&text, "; objected to ", PurposesText(consent.objected_purposes()));
  }
  return text;
}

void PrintArrivalDetails(const v1::Arrival& a) {
  PrintDetails({
      {"arrival id", a.arrival_id()},
      {"external id", a.external_id()},
      {"arrival date", a.arrival_date()},
      {"mode", ShortName("ARRIVAL_MODE_", a.mode())},
      {"origin country", OrDash(a.origin_country())},
      {"name", absl::StrCat(a.person().given_name(), " ", a.person().family_name())},
      {"birth date", OrDash(a.person().birth_date())},
      {"sex", ShortName("SEX_", a.person().sex())},
      {"document", OrDash(a.person().document_number())},
      {"department", a.destination().department_code()},
      {"municipality", a.destination().municipality()},
      {"needs", NeedsText(a.needs())},
      {"consent", ConsentText(a.consent())},
      {"consent version", absl::StrCat(a.consent_version())},
      {"version", absl::StrCat(a.version())},
      {"submitted by", OrDash(a.submitted_by())},
      {"recorded at", FormatTimestamp(a.recorded_at())},
      {"erased at", a.has_erased_at() ? FormatTimestamp(a.erased_at()) : "-"},
      {"person id", OrDash(a.person_id())},
  });
}

void PrintArrivalTable(const v1::ListArrivalsResponse& all) {
  PrintTableOf(
      {"ARRIVAL ID", "EXTERNAL ID", "ARRIVED", "MODE", "NAME", "SEX", "DEPT", "MUNICIPALITY",
       "NEEDS", "CONSENT"},
      all.arrivals(), [](const v1::Arrival& a) -> TableRow {
        return {a.arrival_id(),
                a.external_id(),
                a.arrival_date(),
                ShortName("ARRIVAL_MODE_", a.mode()),
                absl::StrCat(a.person().given_name(), " ", a.person().family_name()),
                ShortName("SEX_", a.person().sex()),
                a.destination().department_code(),
                a.destination().municipality(),
                NeedsText(a.needs()),
                a.consent().agencies().empty() ? "-" : absl::StrJoin(a.consent().agencies(), ",")};
      });
}

// ---------------------------------------------------------------------------
// Reading the input of `arrivals push`.

enum class Format { kCsv, kJsonl };

// True iff `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF): protobuf refuses other strings.
bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > n) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// One record of the input: the fields of a CSV row or the text of a JSON
// line, or why it could not even be split.
struct RawRecord {
  int64_t line = 0;  // the (first) line of the record, 1-based
  std::vector<std::string> fields;  // CSV
  std::string text;  // JSON lines
  std::string error;  // set when malformed
};

// Reads records one at a time: CSV as RFC 4180 (quoted fields may hold
// commas, doubled quotes and line breaks; LF or CRLF; a UTF-8 byte order mark
// is skipped; blank lines are skipped), or JSON lines (blank lines skipped).
class RecordReader {
 public:
  RecordReader(std::FILE* file, Format format) : file_(file), format_(format) {}
  ~RecordReader() { std::free(buffer_); }
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record; false at the end of the input or on a read error
  // (then status() says which).
  bool Next(RawRecord* record) {
    *record = RawRecord();
    absl::string_view line;
    do {
      if (!ReadLine(&line)) return false;
    } while (absl::StripAsciiWhitespace(line).empty());
    record->line = line_number_;
    if (format_ == Format::kJsonl) {
      record->text = std::string(line);
      return true;
    }
    SplitCsv(line, record);
    return true;
  }

  const absl::Status& status() const { return status_; }

 private:
  // One physical line without its line break; false at the end.
  bool ReadLine(absl::string_view* line) {
    errno = 0;
    const ssize_t n = ::getline(&buffer_, &capacity_, file_);
    if (n < 0) {
      if (std::ferror(file_)) {
        status_ = absl::ErrnoToStatus(errno, "cannot read the input");
      }
      return false;
    }
    ++line_number_;
    absl::string_view text(buffer_, static_cast<size_t>(n));
    absl::ConsumeSuffix(&text, "\n");
    absl::ConsumeSuffix(&text, "\r");
    if (line_number_ == 1) absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
    *line = text;
    return true;
  }

  void SplitCsv(absl::string_view line, RawRecord* record) {
    std::string field;
    bool in_quotes = false;
    bool quoted = false;  // the current field was quoted and is closed
    for (;;) {
      for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (in_quotes) {
          if (c == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
              field.push_back('"');
              ++i;
            } else {
              in_quotes = false;
              quoted = true;
            }
          } else {
            field.push_back(c);
          }
        } else if (c == ',') {
          record->fields.push_back(std::move(field));
          field.clear();
          quoted = false;
        } else if (quoted) {
          if (c == ' ' || c == '\t') continue;  // blanks after a closing quote
          record->error =
              absl::StrCat("field ", record->fields.size() + 1, ": text after a closing quote");
          return;
        } else if (c == '"' && absl::StripAsciiWhitespace(field).empty()) {
          field.clear();
          in_quotes = true;
        } else {
          field.push_back(c);
        }
      }
      if (!in_quotes) break;
      // A line break inside quotes belongs to the field.
      absl::string_view next;
      if (!ReadLine(&next)) {
        record->error =
            absl::StrCat("field ", record->fields.size() + 1, ": quote opened but never closed");
        return;
      }
      field.push_back('\n');
      line = next;
    }
    record->fields.push_back(std::move(field));
  }

  std::FILE* const file_;
  const Format format_;
  char* buffer_ = nullptr;
  size_t capacity_ = 0;
  int64_t line_number_ = 0;
  absl::Status status_;
};

// The CSV columns, in the order of the documentation.
constexpr const char* kColumns[] = {"external_id",
                                    "arrival_date",
                                    "mode",
                                    "origin_country",
                                    "given_name",
                                    "family_name",
                                    "birth_date",
                                    "sex",
                                    "document_number",
                                    "department_code",
                                    "municipality",
                                    "needs",
                                    "consent_agencies",
                                    "consent_purposes",
                                    "consent_given_at",
                                    "consent_guardian_name",
                                    "consent_guardian_relationship"};
constexpr size_t kColumnCount = sizeof(kColumns) / sizeof(kColumns[0]);
// Columns the header must have; the others may be left out.
constexpr const char* kRequiredColumns[] = {
    "external_id", "arrival_date", "mode", "origin_country",  "given_name",
    "family_name", "birth_date",   "sex",  "department_code", "municipality"};

// Which field of a row holds each column (-1: absent).
struct CsvHeader {
  int index[kColumnCount];
  size_t fields = 0;

  int Of(absl::string_view column) const {
    for (size_t i = 0; i < kColumnCount; ++i) {
      if (column == kColumns[i]) return index[i];
    }
    return -1;
  }
};

absl::StatusOr<CsvHeader> ParseHeader(const RawRecord& record) {
  if (!record.error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", record.line, " (the header): ", record.error));
  }
  CsvHeader header;
  for (int& index : header.index) index = -1;
  header.fields = record.fields.size();
  for (size_t f = 0; f < record.fields.size(); ++f) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(record.fields[f]));
    if (name.empty()) continue;  // e.g. a trailing comma: the column is ignored
    size_t known = kColumnCount;
    for (size_t i = 0; i < kColumnCount; ++i) {
      if (name == kColumns[i]) known = i;
    }
    if (known == kColumnCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", record.line, " (the header): unknown column \"", record.fields[f],
                       "\"; the columns are ", absl::StrJoin(kColumns, ",")));
    }
    if (header.index[known] != -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", record.line, " (the header): column ", name, " appears twice"));
    }
    header.index[known] = static_cast<int>(f);
  }
  std::vector<std::string> missing;
  for (const char* column : kRequiredColumns) {
    if (header.Of(column) == -1) missing.emplace_back(column);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", record.line, " (the header): missing column", missing.size() > 1 ? "s " : " ",
        absl::StrJoin(missing, ","), " (is the first line a header?)"));
  }
  return header;
}

// Why a row was refused before it was sent.
struct LocalReject {
  std::string field;  // e.g. "arrival.mode"; empty for the whole row
  std::string message;
};

// The items of a ';'-separated list, trimmed, empty ones dropped.
std::vector<std::string> SplitList(absl::string_view text) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(text, ';')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

// Builds the Arrival of a CSV row, or says why it cannot be built.
std::optional<LocalReject> ArrivalFromCsv(const CsvHeader& header, const RawRecord& record,
                                          v1::Arrival* arrival, std::string* external_id) {
  const int id_index = header.Of("external_id");
  if (id_index >= 0 && static_cast<size_t>(id_index) < record.fields.size()) {
    *external_id = std::string(absl::StripAsciiWhitespace(record.fields[id_index]));
    if (!IsValidUtf8(*external_id)) external_id->clear();
  }
  if (!record.error.empty()) return LocalReject{"", absl::StrCat("bad CSV: ", record.error)};
  if (record.fields.size() != header.fields) {
    return LocalReject{"", absl::StrCat("expected ", header.fields,
                                        " fields as in the header, found ", record.fields.size())};
  }
  auto get = [&](absl::string_view column) -> std::string {
    int index = header.Of(column);
    if (index < 0) return "";
    return std::string(absl::StripAsciiWhitespace(record.fields[index]));
  };
  for (size_t i = 0; i < kColumnCount; ++i) {
    if (header.index[i] >= 0 && !IsValidUtf8(record.fields[header.index[i]])) {
      return LocalReject{"", absl::StrCat("column ", kColumns[i], ": not valid UTF-8")};
    }
  }
  arrival->set_external_id(get("external_id"));
  arrival->set_arrival_date(get("arrival_date"));
  if (std::string mode = get("mode"); !mode.empty()) {
    absl::StatusOr<v1::ArrivalMode> parsed =
        ParseEnum<v1::ArrivalMode>("ARRIVAL_MODE_", "mode", mode);
    if (!parsed.ok()) return LocalReject{"arrival.mode", std::string(parsed.status().message())};
    arrival->set_mode(*parsed);
  }
  arrival->set_origin_country(get("origin_country"));
  v1::Person* person = arrival->mutable_person();
  person->set_given_name(get("given_name"));
  person->set_family_name(get("family_name"));
  person->set_birth_date(get("birth_date"));
  if (std::string sex = get("sex"); !sex.empty()) {
    absl::StatusOr<v1::Sex> parsed = ParseEnum<v1::Sex>("SEX_", "sex", sex);
    if (!parsed.ok()) {
      return LocalReject{"arrival.person.sex", std::string(parsed.status().message())};
    }
    person->set_sex(*parsed);
  }
  person->set_document_number(get("document_number"));
  v1::Destination* destination = arrival->mutable_destination();
  destination->set_department_code(get("department_code"));
  destination->set_municipality(get("municipality"));
  std::vector<std::string> needs = SplitList(get("needs"));
  for (size_t i = 0; i < needs.size(); ++i) {
    absl::StatusOr<v1::Need> parsed = ParseEnum<v1::Need>("NEED_", "needs", needs[i]);
    if (!parsed.ok()) {
      return LocalReject{absl::StrCat("arrival.needs[", i, "]"),
                         std::string(parsed.status().message())};
    }
    arrival->add_needs(*parsed);
  }
  v1::Consent* consent = arrival->mutable_consent();
  for (std::string& agency : SplitList(get("consent_agencies"))) {
    consent->add_agencies(std::move(agency));
  }
  std::vector<std::string> purposes = SplitList(get("consent_purposes"));
  for (size_t i = 0; i < purposes.size(); ++i) {
    absl::StatusOr<v1::Purpose> parsed =
        ParseEnum<v1::Purpose>("PURPOSE_", "consent_purposes", purposes[i]);
    if (!parsed.ok()) {
      return LocalReject{absl::StrCat("arrival.consent.purposes[", i, "]"),
                         std::string(parsed.status().message())};
    }
    consent->add_purposes(*parsed);
  }
  if (std::string given_at = get("consent_given_at"); !given_at.empty()) {
    if (!TimeUtil::FromString(given_at, consent->mutable_given_at())) {
      return LocalReject{"arrival.consent.given_at",
                         "consent_given_at must be an RFC 3339 time like "
                         "2026-05-01T12:00:00Z"};
    }
  }
  std::string guardian_name = get("consent_guardian_name");
  std::string relationship = get("consent_guardian_relationship");
  if (!guardian_name.empty() || !relationship.empty()) {
    v1::Guardian* guardian = consent->mutable_guardian();
    guardian->set_name(std::move(guardian_name));
    if (!relationship.empty()) {
      absl::StatusOr<v1::GuardianRelationship> parsed = ParseEnum<v1::GuardianRelationship>(
          "GUARDIAN_RELATIONSHIP_", "consent_guardian_relationship", relationship);
      if (!parsed.ok()) {
        return LocalReject{"arrival.consent.guardian.relationship",
                           std::string(parsed.status().message())};
      }
      guardian->set_relationship(*parsed);
    }
  }
  return std::nullopt;
}

std::optional<LocalReject> ArrivalFromJson(const RawRecord& record, v1::Arrival* arrival,
                                           std::string* external_id) {
  if (!IsValidUtf8(record.text)) return LocalReject{"", "not valid UTF-8"};
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(record.text, arrival, options);
  if (!status.ok()) {
    // For the rejects file: the external_id, if the line has one at all.
    v1::Arrival lenient;
    options.ignore_unknown_fields = true;
    if (google::protobuf::util::JsonStringToMessage(record.text, &lenient, options).ok()) {
      *external_id = lenient.external_id();
    }
    arrival->Clear();
    return LocalReject{
        "", absl::StrCat("not an Arrival in protobuf JSON: ", std::string(status.message()))};
  }
  *external_id = arrival->external_id();
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// The rejects file: CSV "line,external_id,code,field,message".

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CodeName(int code) {
  if (code < 0 || code > 16) return absl::StrCat(code);
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// ---------------------------------------------------------------------------
// Progress on stderr.

std::string FormatEta(double seconds) {
  if (seconds < 0 || seconds > 360000) return "--:--";
  const int64_t s = std::llround(seconds);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

class Progress {
 public:
  enum class Mode { kNone, kBar, kLines };

  Progress(Mode mode, const std::atomic<int64_t>* done, const std::atomic<int64_t>* total)
      : mode_(mode), done_(done), total_(total), started_(absl::Now()) {
    if (mode_ != Mode::kNone) thread_ = std::thread([this] { Loop(); });
  }

  ~Progress() { Stop(); }

  // Stops the display and erases the bar.
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (mode_ == Mode::kBar && drawn_) std::cerr << "\r\x1b[K" << std::flush;
  }

 private:
  void Loop() {
    const auto period =
        mode_ == Mode::kBar ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      Draw();
    }
  }

  void Draw() {
    const int64_t done = done_->load();
    const int64_t total = total_->load();  // -1: not known (yet)
    // Rows as doubles for the rate, share and ETA (exact up to 2^53 rows).
    const auto done_rows = static_cast<double>(done);
    const auto total_rows = static_cast<double>(total);
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - started_);
    const double rate = elapsed > 0 ? done_rows / elapsed : 0;
    std::string line;
    if (mode_ == Mode::kBar) {
      if (total > 0) {
        constexpr int kWidth = 30;
        const double fraction = std::min(1.0, done_rows / total_rows);
        const int filled = static_cast<int>(fraction * kWidth);
        line =
            absl::StrFormat("[%s%s] %d/%d %3.0f%%  %.0f rows/s  ETA %s", std::string(filled, '#'),
                            std::string(kWidth - filled, '-'), done, total, fraction * 100, rate,
                            rate > 0 ? FormatEta((total_rows - done_rows) / rate) : "--:--");
      } else {
        line = absl::StrFormat("%d rows  %.0f rows/s", done, rate);
      }
      std::cerr << "\r\x1b[K" << line << std::flush;
      drawn_ = true;
    } else {
      if (total > 0) {
        line = absl::StrFormat("enlacectl: pushed %d/%d rows (%.0f%%), %.0f rows/s, ETA %s", done,
                               total, std::min(100.0, 100.0 * done_rows / total_rows), rate,
                               rate > 0 ? FormatEta((total_rows - done_rows) / rate) : "--:--");
      } else {
        line = absl::StrFormat("enlacectl: pushed %d rows, %.0f rows/s", done, rate);
      }
      std::cerr << line << "\n" << std::flush;
    }
  }

  const Mode mode_;
  const std::atomic<int64_t>* const done_;
  const std::atomic<int64_t>* const total_;
  const absl::Time started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;
  std::thread thread_;
};

// Counts the records of the file at `path` (rows after the header for CSV)
// into `*total`, on a thread of its own so that the push starts at once.
class Counter {
 public:
  Counter(const std::string& path, Format format, std::atomic<int64_t>* total) : stop_(false) {
    thread_ = std::thread([this, path, format, total] {
      std::FILE* file = std::fopen(path.c_str(), "re");
      if (file == nullptr) return;
      RecordReader reader(file, format);
      RawRecord record;
      int64_t records = 0;
      while (!stop_.load(std::memory_order_relaxed) && reader.Next(&record)) ++records;
      std::fclose(file);
      if (stop_.load() || !reader.status().ok()) return;
      if (format == Format::kCsv && records > 0) --records;  // the header
      total->store(records);
    });
  }
  ~Counter() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// enlacectl arrivals push

constexpr absl::string_view kPushPath = "enlacectl arrivals push";

std::string PushUsage() {
  return absl::StrCat(
      Tr(R"(Record arrivals in bulk from a file (ArrivalService.RecordArrivals; the
ministry only). Rows are streamed as they are read, with flow control, so files
of any size work; the server answers each row once it is durably stored.

Safe to rerun: external_id is the idempotency key, so after a crash or an
interrupted push, running the same command again reports the rows already
stored as "already recorded" and stores the rest. A row with an external_id
already recorded with different content is rejected (ALREADY_EXISTS).

Usage: enlacectl arrivals push FILE|- [--rejects FILE] [--format csv|jsonl] [flags]

  FILE                   the arrivals; "-" reads standard input
Flags:
  --format csv|jsonl     default: from FILE's extension (.csv; .jsonl, .ndjson,
                         .json); required with "-"
  --rejects FILE         write the rejected rows there, as CSV with the header
                         line,external_id,code,field,message (in the order the
                         rejections happen); without it the first 20 go to stderr
  --progress auto|bar|lines|none
                         auto (default): a bar with rate and ETA when stderr is
                         a terminal, else a plain line every 2 s
)"),
      OutputHelp(), ConnectionHelp(),
      Tr(R"(  (--timeout, when given, limits the whole push; by default it has no deadline)

CSV: a header row naming the columns, in any order (a column with an empty
name is ignored), then one arrival per row (RFC 4180: quote fields holding
commas, quotes or line breaks; double the quotes inside; UTF-8):
  external_id, arrival_date (YYYY-MM-DD), mode (AIR, LAND, SEA), origin_country
  (ISO 3166-1 alpha-2), given_name, family_name, birth_date, sex (FEMALE, MALE,
  OTHER, UNDISCLOSED), department_code (e.g. SV-SS), municipality: required;
  document_number; needs (';'-separated: PSYCHOSOCIAL_SUPPORT, TRAINING,
  SEED_CAPITAL, PROTECTION, HEALTH, LEGAL_ASSISTANCE, EMPLOYMENT, with or
  without the NEED_ prefix); consent_agencies (';'-separated agency codes);
  consent_purposes (';'-separated: REINTEGRATION, PROTECTION, STATISTICS);
  consent_given_at (RFC 3339); consent_guardian_name and
  consent_guardian_relationship (PARENT, LEGAL_GUARDIAN, OTHER_RELATIVE): the
  guardian who consented, required when consent_agencies is set and the
  returnee was under 18 on arrival_date. Enum names are case-insensitive.
JSON lines: one Arrival per line in the protobuf JSON mapping.

A row that cannot be read (wrong number of fields, an unknown enum name, bad
quoting) is rejected here with its line number and never sent. The summary,
on stdout:
  pushed N rows: C created, A already recorded, R rejected (rejects: FILE)
or with --output json: {"rows":N,"created":C,"alreadyRecorded":A,"rejected":R,
"rejectedLocally":L,"rejectsFile":"FILE","seconds":S}.

Example:
  $ cat arrivals.csv
  external_id,arrival_date,mode,origin_country,given_name,family_name,birth_date,sex,document_number,department_code,municipality,needs,consent_agencies,consent_purposes,consent_given_at
  MRE-2026-000123,2026-01-15,AIR,US,Ana,"López Díaz",1990-03-02,FEMALE,,SV-SS,Guazapa,PSYCHOSOCIAL_SUPPORT;SEED_CAPITAL,iom;undp,REINTEGRATION;STATISTICS,2026-01-15T10:00:00Z
  $ enlacectl arrivals push arrivals.csv --rejects rejects.csv
  pushed 1 rows: 1 created, 0 already recorded, 0 rejected (rejects: rejects.csv)
  $ zcat day.jsonl.gz | enlacectl arrivals push - --format jsonl --output json

Exit status: 0 every row was created or already recorded; 3 some rows were
rejected (every other row was stored); 1 the push failed ("enlacectl: <gRPC
code>: <message>" on stderr; rerun it: stored rows come back as already
recorded); 2 usage error; 4 not authenticated; 5 permission denied;
7 unavailable (retry later: stored rows come back as already recorded).
)"));
}

struct Row {
  int64_t line = 0;
  std::string external_id;
  v1::RecordArrivalsRequest request;
};

class Push {
 public:
  Push(std::FILE* input, Format format, std::FILE* rejects, std::string rejects_path)
      : input_(input), format_(format), rejects_(rejects), rejects_path_(std::move(rejects_path)) {}

  std::atomic<int64_t>* done() { return &done_; }

  // Runs the stream to its end. Returns the stream's status (or a local
  // failure: an unreadable input, a bad CSV header).
  absl::Status Run(v1::ArrivalService::Stub& stub, std::optional<absl::Duration> timeout) {
    grpc::ClientContext context;
    if (timeout.has_value()) {
      context.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
    }
    std::unique_ptr<grpc::ClientReaderWriter<v1::RecordArrivalsRequest, v1::RecordArrivalsResponse>>
        stream = stub.RecordArrivals(&context);
    std::thread writer([this, &stream] { WriteAll(*stream); });
    v1::RecordArrivalsResponse response;
    while (stream->Read(&response)) OnResponse(response);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ended_ = true;
    }
    cv_.notify_all();
    writer.join();
    absl::Status status = FromGrpc(stream->Finish());
    std::lock_guard<std::mutex> lock(mu_);
    if (!local_failure_.ok()) return local_failure_;
    if (status.ok() && !outstanding_.empty()) {
      return absl::InternalError(absl::StrCat("the server ended the stream without answering ",
                                              outstanding_.size(), " rows"));
    }
    return status;
  }

  int64_t rows() const { return rows_; }
  int64_t created() const { return created_; }
  int64_t already() const { return already_; }
  int64_t rejected() const { return rejected_; }
  int64_t rejected_locally() const { return rejected_locally_; }
  int64_t unanswered() const {
    return static_cast<int64_t>(outstanding_.size()) + deferred_count_ +
           static_cast<int64_t>(released_.size());
  }
  const std::vector<std::string>& first_rejects() const { return first_rejects_; }

 private:
  static constexpr int64_t kMaxDeferred = 10000;  // rows waiting for an earlier same-id row
  static constexpr size_t kShownRejects = 20;

  // The writer thread: reads the input, rejects what cannot be read, and
  // sends the rest; then half-closes the stream.
  void WriteAll(
      grpc::ClientReaderWriter<v1::RecordArrivalsRequest, v1::RecordArrivalsResponse>& stream) {
    RecordReader reader(input_, format_);
    std::optional<CsvHeader> header;
    bool input_done = false;
    for (;;) {
      std::optional<Row> send;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stream_ended_ || !released_.empty() ||
                 (!input_done && deferred_count_ < kMaxDeferred) ||
                 (input_done && deferred_count_ == 0);
        });
        if (stream_ended_) return;
        if (!released_.empty()) {
          send = std::move(released_.front());
          released_.pop_front();
        } else if (input_done) {
          break;
        }
      }
      if (!send.has_value()) {
        RawRecord record;
        if (!reader.Next(&record)) {
          input_done = true;
          if (!reader.status().ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            local_failure_ = reader.status();
            break;
          }
          continue;
        }
        if (format_ == Format::kCsv && !header.has_value()) {
          absl::StatusOr<CsvHeader> parsed = ParseHeader(record);
          if (!parsed.ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            local_failure_ = parsed.status();
            break;
          }
          header = *parsed;
          continue;
        }
        Row row;
        row.line = record.line;
        std::optional<LocalReject> reject =
            format_ == Format::kCsv
                ? ArrivalFromCsv(*header, record, row.request.mutable_arrival(), &row.external_id)
                : ArrivalFromJson(record, row.request.mutable_arrival(), &row.external_id);
        std::lock_guard<std::mutex> lock(mu_);
        ++rows_;
        if (reject.has_value()) {
          ++rejected_;
          ++rejected_locally_;
          ++done_;
          Reject(row.line, row.external_id, "INVALID_ARGUMENT", reject->field, reject->message);
          continue;
        }
        if (outstanding_.contains(row.external_id)) {
          deferred_[row.external_id].push_back(std::move(row));
          ++deferred_count_;
          continue;
        }
        outstanding_.emplace(row.external_id, row.line);
        send = std::move(row);
      }
      if (!stream.Write(send->request)) {
        std::lock_guard<std::mutex> lock(mu_);
        stream_ended_ = true;
        return;
      }
    }
    // Everything is sent, or the input failed: half-close (on an input
    // failure the server then answers what it has, and the push fails).
    stream.WritesDone();
  }

  void OnResponse(const v1::RecordArrivalsResponse& response) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t line = 0;
    auto it = outstanding_.find(response.external_id());
    if (it != outstanding_.end()) {
      line = it->second;
      outstanding_.erase(it);
      auto waiting = deferred_.find(response.external_id());
      if (waiting != deferred_.end()) {
        Row next = std::move(waiting->second.front());
        waiting->second.pop_front();
        if (waiting->second.empty()) deferred_.erase(waiting);
        --deferred_count_;
        outstanding_.emplace(next.external_id, next.line);
        released_.push_back(std::move(next));
        cv_.notify_all();
      }
    }
    ++done_;
    switch (response.outcome()) {
      case v1::OUTCOME_CREATED: ++created_; break;
      case v1::OUTCOME_ALREADY_RECORDED: ++already_; break;
      default:
        ++rejected_;
        Reject(line, response.external_id(),
               response.has_error() ? CodeName(response.error().code()) : "UNKNOWN",
               response.error().field(),
               response.has_error() ? response.error().message()
                                    : absl::StrCat("outcome ", response.outcome()));
    }
  }

  // Records one rejected row (mu_ held).
  void Reject(int64_t line, absl::string_view external_id, absl::string_view code,
              absl::string_view field, absl::string_view message) {
    const std::string line_text = line > 0 ? absl::StrCat(line) : "";
    if (rejects_ != nullptr) {
      std::string out = absl::StrCat(line_text, ",", CsvField(external_id), ",", code, ",",
                                     CsvField(field), ",", CsvField(message), "\n");
      std::fwrite(out.data(), 1, out.size(), rejects_);
    } else if (first_rejects_.size() < kShownRejects) {
      // The server's messages start with the field already.
      const std::string prefix =
          field.empty() || absl::StartsWith(message, field) ? "" : absl::StrCat(field, ": ");
      first_rejects_.push_back(absl::StrCat("line ", line_text.empty() ? "?" : line_text, " (",
                                            external_id.empty() ? "no external_id" : external_id,
                                            "): ", code, ": ", prefix, message));
    }
  }

  std::FILE* const input_;
  const Format format_;
  std::FILE* const rejects_;
  const std::string rejects_path_;

  std::atomic<int64_t> done_{0};  // rows answered or rejected locally

  std::mutex mu_;
  std::condition_variable cv_;
  bool stream_ended_ = false;
  absl::Status local_failure_;
  // The line of the one row in flight per external_id.
  absl::flat_hash_map<std::string, int64_t> outstanding_;
  // Rows whose external_id is in flight, waiting for its answer.
  absl::flat_hash_map<std::string, std::deque<Row>> deferred_;
  int64_t deferred_count_ = 0;
  std::deque<Row> released_;  // deferred rows now free to go
  int64_t rows_ = 0;
  int64_t created_ = 0;
  int64_t already_ = 0;
  int64_t rejected_ = 0;
  int64_t rejected_locally_ = 0;
  std::vector<std::string> first_rejects_;
};

// The input's format: --format, else the file name's extension. The exit
// status of a usage error when neither tells.
std::optional<int> PushFormat(const Invocation& call, const std::string& path, bool from_stdin,
                              Format* format) {
  std::optional<std::string> format_flag = call.flags().Get("format");
  if (format_flag.has_value()) {
    if (*format_flag == "csv") {
      *format = Format::kCsv;
    } else if (*format_flag == "jsonl") {
      *format = Format::kJsonl;
    } else {
      return call.Value(absl::StrCat("--format must be csv or jsonl, not \"", *format_flag, "\""));
    }
    return std::nullopt;
  }
  if (from_stdin) return call.Usage("reading standard input (\"-\") needs --format csv|jsonl");
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".csv")) {
    *format = Format::kCsv;
  } else if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
             absl::EndsWith(lower, ".json")) {
    *format = Format::kJsonl;
  } else {
    return call.Usage(absl::StrCat("cannot tell the format of \"", path,
                                   "\" from its name: give --format csv|jsonl"));
  }
  return std::nullopt;
}

// --progress auto|bar|lines|none (auto: a bar on a terminal, else lines).
std::optional<int> PushProgressMode(const Invocation& call, Progress::Mode* mode) {
  const std::string progress = call.flags().Get("progress").value_or("auto");
  if (progress == "auto") {
    *mode = ::isatty(STDERR_FILENO) ? Progress::Mode::kBar : Progress::Mode::kLines;
  } else if (progress == "bar") {
    *mode = Progress::Mode::kBar;
  } else if (progress == "lines") {
    *mode = Progress::Mode::kLines;
  } else if (progress == "none") {
    *mode = Progress::Mode::kNone;
  } else {
    return call.Value(
        absl::StrCat("--progress must be auto, bar, lines or none, not \"", progress, "\""));
  }
  return std::nullopt;
}

// After the push: the first rejected rows and, if it stopped, how far it got
// on stderr; the summary (a line, or JSON) on stdout. Returns the exit
// status: the failure's, kExitRejected when rows were rejected, else OK.
int ReportPush(const Invocation& call, const Push& push,
               const std::optional<std::string>& rejects_path, bool rejects_kept, double seconds,
               const absl::Status& status) {
  for (const std::string& line : push.first_rejects()) {
    std::cerr << "rejected: " << line << "\n";
  }
  const int64_t shown = static_cast<int64_t>(push.first_rejects().size());
  if (shown < push.rejected() && !rejects_kept) {
    std::cerr << "(" << push.rejected() - shown
              << " more rejected rows: use --rejects FILE to keep them all)\n";
  }
  const int64_t answered =
      push.created() + push.already() + push.rejected() - push.rejected_locally();
  if (!status.ok() && answered > 0) {
    std::cerr << "enlacectl: the push stopped after " << push.rows() << " rows: " << push.created()
              << " created, " << push.already() << " already recorded, " << push.rejected()
              << " rejected, " << push.unanswered()
              << " not answered. Rerun the same command to push the rest: rows already "
                 "stored come back as already recorded.\n";
  }
  if (!status.ok()) return Fail(status);
  if (call.json()) {
    const int exit = PrintJsonText(absl::StrCat(
        "{\"rows\": ", push.rows(), ", \"created\": ", push.created(),
        ", \"alreadyRecorded\": ", push.already(), ", \"rejected\": ", push.rejected(),
        ", \"rejectedLocally\": ", push.rejected_locally(),
        ", \"rejectsFile\": ", rejects_path.has_value() ? JsonQuote(*rejects_path) : "null",
        ", \"seconds\": ", absl::StrFormat("%.3f", seconds), "}"));
    if (exit != kExitOk) return exit;
  } else {
    std::cout << "pushed " << push.rows() << " rows: " << push.created() << " created, "
              << push.already() << " already recorded, " << push.rejected() << " rejected";
    if (rejects_path.has_value()) std::cout << " (rejects: " << *rejects_path << ")";
    std::cout << "\n";
  }
  std::cout.flush();
  return push.rejected() > 0 ? kExitRejected : kExitOk;
}

int RunArrivalsPush(const Args& args) {
  static const Leaf leaf = {
      std::string(kPushPath), PushUsage(), {"format", "rejects", "progress"}, {"FILE"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  const std::string path = call.positional(0);
  const bool from_stdin = path == "-";

  Format format;
  if (std::optional<int> exit = PushFormat(call, path, from_stdin, &format)) return *exit;
  Progress::Mode progress_mode;
  if (std::optional<int> exit = PushProgressMode(call, &progress_mode)) return *exit;
  std::optional<std::string> rejects_path = call.flags().Get("rejects");
  if (rejects_path.has_value() && rejects_path->empty()) {
    return call.Value("--rejects must not be empty");
  }
  if (rejects_path.has_value() && !from_stdin && *rejects_path == path) {
    return call.Value("--rejects must not be the input file");
  }
  absl::StatusOr<std::optional<absl::Duration>> timeout = ParseTimeoutFlag(call.flags());
  if (!timeout.ok()) return call.Value(timeout.status().message());

  std::FILE* input = stdin;
  if (!from_stdin) {
    input = std::fopen(path.c_str(), "re");
    if (input == nullptr) {
      return Fail(absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path)));
    }
  }
  struct Closer {
    std::FILE* file;
    ~Closer() {
      if (file != nullptr && file != stdin) std::fclose(file);
    }
  } input_closer{input};
  std::FILE* rejects = nullptr;
  if (rejects_path.has_value()) {
    rejects = std::fopen(rejects_path->c_str(), "we");
    if (rejects == nullptr) {
      return Fail(absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", *rejects_path)));
    }
    std::fputs("line,external_id,code,field,message\n", rejects);
  }
  Closer rejects_closer{rejects};

  absl::StatusOr<std::unique_ptr<ArrivalStub>> stub = NewStub<ArrivalStub>(call);
  if (!stub.ok()) return Fail(stub.status());

  std::atomic<int64_t> total{-1};
  std::optional<Counter> counter;
  struct stat st;
  if (progress_mode != Progress::Mode::kNone && !from_stdin && ::stat(path.c_str(), &st) == 0 &&
      S_ISREG(st.st_mode)) {
    counter.emplace(path, format, &total);
  }
  Push push(input, format, rejects, rejects_path.value_or(""));
  const absl::Time started = absl::Now();
  absl::Status status;
  {
    Progress display(progress_mode, push.done(), &total);
    status = push.Run(**stub, *timeout);
  }
  counter.reset();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  if (rejects != nullptr && std::fflush(rejects) != 0) {
    return Fail(absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", *rejects_path)));
  }
  return ReportPush(call, push, rejects_path, rejects != nullptr, seconds, status);
}

// ---------------------------------------------------------------------------
// enlacectl arrivals get

std::string ArrivalsGetUsage() {
  return ServerUsage(
      R"(Show one arrival (ArrivalService.GetArrival): the ministry, and agencies
named in the returnee's consent. NOT_FOUND also when you may not see it.

Usage: enlacectl arrivals get ARRIVAL_ID [flags]

Flags:
)",
      R"(
Example:
  enlacectl arrivals get 01HV6Q3J0R8X2M4W9K7T5B1C3D --output json
)");
}

int RunArrivalsGet(const Args& args) {
  static const Leaf leaf = {"enlacectl arrivals get", ArrivalsGetUsage(), {}, {"ARRIVAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::GetArrivalRequest request;
  request.set_arrival_id(call.positional(0));
  return CallAndPrint(call, &ArrivalStub::GetArrival, request, PrintArrivalDetails);
}

// ---------------------------------------------------------------------------
// enlacectl arrivals list

std::string ArrivalsListUsage() {
  return ServerUsage(
      R"(List arrivals (ArrivalService.ListArrivals), oldest first: the ministry
sees all; an agency, those whose consent names it.

Usage: enlacectl arrivals list [flags]

Flags:
  --department CODE      only this destination department (e.g. SV-SS)
  --municipality NAME    only this municipality
  --from YYYY-MM-DD      arrived on or after
  --to YYYY-MM-DD        arrived on or before
)",
      R"(
Table columns: ARRIVAL ID, EXTERNAL ID, ARRIVED, MODE, NAME, SEX, DEPT,
MUNICIPALITY, NEEDS, CONSENT (agencies). The JSON document is a
ListArrivalsResponse with every page's arrivals.

Example:
  enlacectl arrivals list --department SV-SS --from 2026-01-01 --limit 20
)",
      /*list=*/true);
}

int RunArrivalsList(const Args& args) {
  static const Leaf leaf = {"enlacectl arrivals list",
                            ArrivalsListUsage(),
                            {"department", "municipality", "from", "to"},
                            {},
                            {},
                            true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = CheckDateFlags(call.flags(), {"from", "to"}); !s.ok()) {
    return call.Value(s.message());
  }
  v1::ListArrivalsRequest request;
  request.set_department_code(call.flags().Get("department").value_or(""));
  request.set_municipality(call.flags().Get("municipality").value_or(""));
  request.set_arrival_date_from(call.flags().Get("from").value_or(""));
  request.set_arrival_date_to(call.flags().Get("to").value_or(""));
  return ListAndPrint(call, &ArrivalStub::ListArrivals, &v1::ListArrivalsResponse::mutable_arrivals,
                      request, PrintArrivalTable);
}

// ---------------------------------------------------------------------------
// enlacectl arrivals correct

// The flags of `arrivals correct`, and the CorrectArrival path each sets.
struct CorrectionFlag {
  const char* flag;
  const char* path;
};
constexpr CorrectionFlag kCorrectionFlags[] = {
    {"arrival-date", "arrival_date"},
    {"mode", "mode"},
    {"origin-country", "origin_country"},
    {"given-name", "person.given_name"},
    {"family-name", "person.family_name"},
    {"birth-date", "person.birth_date"},
    {"sex", "person.sex"},
    {"document-number", "person.document_number"},
    {"department", "destination.department_code"},
    {"municipality", "destination.municipality"},
    {"needs", "needs"},
};

std::string ArrivalsCorrectUsage() {
  return ServerUsage(
      R"(Correct an arrival the ministry recorded (ArrivalService.CorrectArrival):
the fields given take the new values, every other field is kept, and the
earlier version stays readable (enlacectl arrivals versions). The consent has
its own command (enlacectl consent update). Prints the corrected arrival.

Usage: enlacectl arrivals correct ARRIVAL_ID --reason TEXT FIELD-FLAGS... [flags]

Flags:
  --reason TEXT          why the record was wrong (required, at most 500 characters)
  --arrival-date YYYY-MM-DD  --mode AIR|LAND|SEA  --origin-country CC
  --given-name NAME  --family-name NAME  --birth-date YYYY-MM-DD
  --sex FEMALE|MALE|OTHER|UNDISCLOSED  --document-number TEXT ("" clears it)
  --department CODE  --municipality NAME
  --needs LIST           comma-separated, e.g. training,seed_capital ("" clears them)
)",
      R"(
Example:
  enlacectl arrivals correct 01HV6Q3J0R8X2M4W9K7T5B1C3D --birth-date 1995-12-07 \
      --reason "birth date copied wrong from the passport"
)");
}

int RunArrivalsCorrect(const Args& args) {
  static const Leaf leaf = [] {
    Leaf l{"enlacectl arrivals correct", ArrivalsCorrectUsage(), {"reason"}, {"ARRIVAL_ID"}};
    for (const CorrectionFlag& f : kCorrectionFlags) l.flags.emplace_back(f.flag);
    return l;
  }();
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"reason"}); !s.ok()) {
    return call.Usage(s.message());
  }
  if (absl::Status s = CheckDateFlags(call.flags(), {"arrival-date", "birth-date"}); !s.ok()) {
    return call.Value(s.message());
  }
  v1::CorrectArrivalRequest request;
  request.set_arrival_id(call.positional(0));
  request.set_reason(call.flags().Get("reason").value_or(""));
  v1::Arrival* arrival = request.mutable_arrival();
  for (const CorrectionFlag& f : kCorrectionFlags) {
    std::optional<std::string> value = call.flags().Get(f.flag);
    if (!value.has_value()) continue;
    request.mutable_update_mask()->add_paths(f.path);
    const absl::string_view path = f.path;
    if (path == "arrival_date") arrival->set_arrival_date(*value);
    if (path == "origin_country") arrival->set_origin_country(*value);
    if (path == "person.given_name") arrival->mutable_person()->set_given_name(*value);
    if (path == "person.family_name") arrival->mutable_person()->set_family_name(*value);
    if (path == "person.birth_date") arrival->mutable_person()->set_birth_date(*value);
    if (path == "person.document_number") arrival->mutable_person()->set_document_number(*value);
    if (path == "destination.department_code") {
      arrival->mutable_destination()->set_department_code(*value);
    }
    if (path == "destination.municipality") {
      arrival->mutable_destination()->set_municipality(*value);
    }
    if (path == "mode") {
      absl::StatusOr<v1::ArrivalMode> mode =
          ParseEnum<v1::ArrivalMode>("ARRIVAL_MODE_", "--mode", *value);
      if (!mode.ok()) return call.Value(mode.status().message());
      arrival->set_mode(*mode);
    }
    if (path == "person.sex") {
      absl::StatusOr<v1::Sex> sex = ParseEnum<v1::Sex>("SEX_", "--sex", *value);
      if (!sex.ok()) return call.Value(sex.status().message());
      arrival->mutable_person()->set_sex(*sex);
    }
    if (path == "needs") {
      for (absl::string_view text : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
        absl::StatusOr<v1::Need> need =
            ParseEnum<v1::Need>("NEED_", "--needs", absl::StripAsciiWhitespace(text));
        if (!need.ok()) return call.Value(need.status().message());
        arrival->add_needs(*need);
      }
    }
  }
  if (request.update_mask().paths().empty()) {
    return call.Usage("name at least one field to correct, e.g. --birth-date");
  }
  return CallAndPrint(call, &ArrivalStub::CorrectArrival, request, [](const v1::Arrival& a) {
    std::cout << "corrected arrival " << a.arrival_id() << " (version " << a.version() << ")\n";
    PrintArrivalDetails(a);
  });
}

// ---------------------------------------------------------------------------
// enlacectl arrivals versions

std::string ArrivalsVersionsUsage() {
  return ServerUsage(
      R"(Every version of an arrival, oldest first (ArrivalService.ListArrivalVersions):
what each correction changed, why, by whom and when. For whoever may see the
arrival; NOT_FOUND otherwise.

Usage: enlacectl arrivals versions ARRIVAL_ID [flags]

Flags:
)",
      R"(
Table columns: VERSION, CORRECTED AT, BY, NAME, BIRTH DATE, SEX, DEPT,
MUNICIPALITY, REASON. The JSON document is a ListArrivalVersionsResponse.

Example:
  enlacectl arrivals versions 01HV6Q3J0R8X2M4W9K7T5B1C3D
)",
      /*list=*/true);
}

int RunArrivalsVersions(const Args& args) {
  static const Leaf leaf = {
      "enlacectl arrivals versions", ArrivalsVersionsUsage(), {}, {"ARRIVAL_ID"}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::ListArrivalVersionsRequest request;
  request.set_arrival_id(call.positional(0));
  return ListAndPrint(
      call, &ArrivalStub::ListArrivalVersions, &v1::ListArrivalVersionsResponse::mutable_versions,
      request, [](const v1::ListArrivalVersionsResponse& all) {
        PrintTableOf({"VERSION", "CORRECTED AT", "BY", "NAME", "BIRTH DATE", "SEX", "DEPT",
                      "MUNICIPALITY", "REASON"},
                     all.versions(), [](const v1::ArrivalVersion& v) -> TableRow {
                       const v1::Arrival& a = v.arrival();
                       return {absl::StrCat(v.version()),
                               FormatTimestamp(v.corrected_at()),
                               v.corrected_by(),
                               absl::StrCat(a.person().given_name(), " ", a.person().family_name()),
                               a.person().birth_date(),
                               ShortName("SEX_", a.person().sex()),
                               a.destination().department_code(),
                               a.destination().municipality(),
                               OrDash(v.reason())};
                     });
      });
}

// ---------------------------------------------------------------------------
// enlacectl arrivals export

std::string ArrivalsExportUsage() {
  return ServerUsage(
      R"(Everything Enlace holds about one returnee, across the ministry and every
agency (ArrivalService.ExportReturneeData): the arrival and its versions, the
consent history, every case with its services, the referrals, the economic
initiatives, and the audit events of every access to any of them; the same
for every arrival linked with this one (arrivals link), under
linkedArrivals. For the ministry, about arrivals it recorded; NOT_FOUND
otherwise. The export is itself audited, on each record it names.

Prints the JSON document (an enlace.v1.ReturneeData, see docs/api.md), or
writes it to FILE with --to: mode 0600, never over an existing file. It holds
every personal detail of the returnee: hand it over as the returnee's access
request asks, and keep no copy.

Usage: enlacectl arrivals export ARRIVAL_ID [--to FILE] [flags]

Flags:
  --to FILE              write the document to FILE instead of standard output
)",
      R"(
Example:
  enlacectl arrivals export 01HV6Q3J0R8X2M4W9K7T5B1C3D --to returnee.json
)");
}

int RunArrivalsExport(const Args& args) {
  static const Leaf leaf = {
      "enlacectl arrivals export", ArrivalsExportUsage(), {"to"}, {"ARRIVAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  const std::optional<std::string> to = call.flags().Get("to");
  if (to.has_value() && to->empty()) return call.Value("--to: name a file");
  v1::ExportReturneeDataRequest request;
  request.set_arrival_id(call.positional(0));
  v1::ReturneeDataExport exported;
  if (absl::Status s = CallUnary(call, &ArrivalStub::ExportReturneeData, request, &exported);
      !s.ok()) {
    return Fail(s);
  }
  if (!to.has_value()) {
    std::cout << exported.document() << "\n";
    return kExitOk;
  }
  if (absl::Status s =
          auth::WriteFileAtomically(*to, exported.document() + "\n", 0600, auth::IfExists::kFail);
      !s.ok()) {
    return Fail(s);
  }
  std::cout << "wrote " << *to << " (mode 0600): everything held about the returnee of arrival "
            << exported.arrival_id() << ", exported at " << FormatTimestamp(exported.exported_at())
            << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl arrivals erase

std::string ArrivalsEraseUsage() {
  return ServerUsage(
      R"(Erase who a returnee is (ArrivalService.EraseReturnee): the names, document
number, municipality and guardian's name of the arrival and of every version,
and the free text of every agency's cases, services, referrals and initiatives
(summaries, notes, reasons, outcomes, initiative names). The birth date keeps
only the age on arrival. What the programme counts stays: the report does not
change. An erasure is of the person: every arrival linked with this one
(arrivals link) is erased too, and listed. Cannot be undone. For the ministry,
about arrivals it recorded; NOT_FOUND otherwise. Idempotent: a repeat says it
was erased already.

Usage: enlacectl arrivals erase ARRIVAL_ID --reason TEXT [flags]

Flags:
  --reason TEXT          why (required, at most 500 characters): the request and
                         its reference, not who asked
)",
      R"(
Example:
  enlacectl arrivals erase 01HV6Q3J0R8X2M4W9K7T5B1C3D --reason "erasure request 2026-114"
)");
}

int RunArrivalsErase(const Args& args) {
  static const Leaf leaf = {
      "enlacectl arrivals erase", ArrivalsEraseUsage(), {"reason"}, {"ARRIVAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"reason"}); !s.ok()) {
    return call.Usage(s.message());
  }
  v1::EraseReturneeRequest request;
  request.set_arrival_id(call.positional(0));
  request.set_reason(call.flags().Get("reason").value_or(""));
  return CallAndPrint(
      call, &ArrivalStub::EraseReturnee, request, [](const v1::EraseReturneeResponse& r) {
        std::cout << (r.already_erased() ? "already erased: arrival " : "erased arrival ")
                  << r.arrival_id() << " at " << FormatTimestamp(r.erased_at()) << "\n";
        for (const std::string& id : r.linked_arrival_ids()) {
          std::cout << "  and arrival " << id << " of the same person\n";
        }
      });
}

// ---------------------------------------------------------------------------
// enlacectl arrivals duplicates

std::string ArrivalsDuplicatesUsage() {
  return ServerUsage(
      R"(Arrivals that may be the same person as ARRIVAL_ID
(ArrivalService.FindPossibleDuplicates), among those you may see, highest
score first, with the rules that matched:
  document          the same document number (0.95; 0.99 with a name rule)
  names+birth       the same names, ignoring case and accents, and birth date (0.90)
  similar+birth     names one slip apart, or one lacking a second name (0.75)
  names+swapped     the same names, birth day and month swapped (0.60)
Arrivals already linked to it, or decided not to be it, are not shown.

Usage: enlacectl arrivals duplicates ARRIVAL_ID [flags]
)",
      R"(
Example:
  enlacectl arrivals duplicates 01HV6Q3J0R8X2M4W9K7T5B1C3D
  enlacectl arrivals link 01HV6Q3J0R8X2M4W9K7T5B1C3D 01HV6Q3J0R8X2M4W9K7T5B1C3E --reason "..."
)",
      /*list=*/true);
}

std::string DuplicateReasonName(int reason) {
  switch (reason) {
    case v1::DUPLICATE_REASON_DOCUMENT_NUMBER: return "document";
    case v1::DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE: return "names+birth";
    case v1::DUPLICATE_REASON_SIMILAR_NAMES_AND_BIRTH_DATE: return "similar+birth";
    case v1::DUPLICATE_REASON_SAME_NAMES_AND_SWAPPED_BIRTH_DATE: return "names+swapped";
    default: return absl::StrCat(reason);
  }
}

int RunArrivalsDuplicates(const Args& args) {
  static const Leaf leaf = {
      "enlacectl arrivals duplicates", ArrivalsDuplicatesUsage(), {}, {"ARRIVAL_ID"}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::FindPossibleDuplicatesRequest request;
  request.set_arrival_id(call.positional(0));
  return ListAndPrint(
      call, &ArrivalStub::FindPossibleDuplicates,
      &v1::FindPossibleDuplicatesResponse::mutable_candidates, request,
      [](const v1::FindPossibleDuplicatesResponse& all) {
        PrintTableOf(
            {"SCORE", "ARRIVAL ID", "ARRIVED", "NAME", "BIRTH DATE", "DOCUMENT", "REASONS"},
            all.candidates(), [](const v1::DuplicateCandidate& c) -> TableRow {
              const v1::Arrival& a = c.arrival();
              std::vector<std::string> reasons;
              for (int r : c.reasons()) reasons.push_back(DuplicateReasonName(r));
              return {absl::StrFormat("%.2f", c.score()),
                      a.arrival_id(),
                      a.arrival_date(),
                      absl::StrCat(a.person().given_name(), " ", a.person().family_name()),
                      a.person().birth_date(),
                      OrDash(a.person().document_number()),
                      absl::StrJoin(reasons, ",")};
            });
      });
}

// ---------------------------------------------------------------------------
// enlacectl arrivals link / unlink

std::string ArrivalsLinkUsage() {
  return ServerUsage(
      R"(Record the ministry's reviewed decision that arrivals it recorded are of one
person (ArrivalService.LinkArrivals): from then on they share one person id
(the earliest arrival's), and are not proposed as duplicates of each other.
Prints the person and all its arrivals. Idempotent.

Usage: enlacectl arrivals link ARRIVAL_ID ARRIVAL_ID [ARRIVAL_ID...] --reason TEXT [flags]

Flags:
  --reason TEXT          why (required, at most 500 characters): what was checked;
                         kept with the decision, never in the audit log
)",
      R"(
Example:
  enlacectl arrivals link 01HV6Q3J0R8X2M4W9K7T5B1C3D 01HV6Q3J0R8X2M4W9K7T5B1C3E \
      --reason "same DUI, confirmed by phone on 2026-11-30"
)");
}

std::string ArrivalsUnlinkUsage() {
  return ServerUsage(
      R"(Record the ministry's reviewed decision that arrivals are NOT of one person
(ArrivalService.UnlinkArrivals): the links between them go, each group they
leave becomes a person of its own (with a new person id, but for the group
holding the earliest arrival), and they are not proposed as duplicates of
each other again. Refused (FAILED_PRECONDITION) when two of them would still
be one person through links to arrivals not named. Idempotent.

Usage: enlacectl arrivals unlink ARRIVAL_ID ARRIVAL_ID [ARRIVAL_ID...] --reason TEXT [flags]

Flags:
  --reason TEXT          why (required, at most 500 characters)
)",
      R"(
Example:
  enlacectl arrivals unlink 01HV6Q3J0R8X2M4W9K7T5B1C3D 01HV6Q3J0R8X2M4W9K7T5B1C3E \
      --reason "different mothers' names on the birth certificates"
)");
}

void PrintLinkedPerson(const v1::LinkedPerson& person) {
  std::cout << "person " << person.person_id() << ": arrivals "
            << absl::StrJoin(person.arrival_ids(), ", ") << "\n";
}

// `arrivals link` and `arrivals unlink`: the same arguments (2 to 20
// arrival ids and --reason), one call of `method`, its answer printed.
template <typename Request, typename Response, typename Print>
int RunPersonDecision(const Leaf& leaf, const Args& args,
                      UnaryMethod<ArrivalStub, Request, Response> method, Print print) {
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"reason"}); !s.ok()) {
    return call.Usage(s.message());
  }
  Request request;
  for (const std::string& id : call.flags().positionals()) request.add_arrival_ids(id);
  request.set_reason(call.flags().Get("reason").value_or(""));
  return CallAndPrint(call, method, request, print);
}

// Two arrival ids required, up to 18 more: the server's 2 to 20.
Leaf PersonDecisionLeaf(std::string path, std::string usage) {
  Leaf leaf{std::move(path), std::move(usage), {"reason"}, {"ARRIVAL_ID", "ARRIVAL_ID"}};
  leaf.optional_positionals = 18;
  return leaf;
}

int RunArrivalsLink(const Args& args) {
  static const Leaf leaf = PersonDecisionLeaf("enlacectl arrivals link", ArrivalsLinkUsage());
  return RunPersonDecision(
      leaf, args, &ArrivalStub::LinkArrivals,
      [](const v1::LinkArrivalsResponse& r) { PrintLinkedPerson(r.person()); });
}

int RunArrivalsUnlink(const Args& args) {
  static const Leaf leaf = PersonDecisionLeaf("enlacectl arrivals unlink", ArrivalsUnlinkUsage());
  return RunPersonDecision(leaf, args, &ArrivalStub::UnlinkArrivals,
                           [](const v1::UnlinkArrivalsResponse& r) {
                             for (const v1::LinkedPerson& person : r.persons()) {
                               PrintLinkedPerson(person);
                             }
                           });
}

// ---------------------------------------------------------------------------
// enlacectl consent update

std::string ConsentUpdateUsage() {
  return ServerUsage(
      R"(Replace the consent a returnee gave (ArrivalService.UpdateConsent; the
ministry only): which agencies may see the record, and for what. Withdrawing
an agency also withdraws its pending referrals. Prints the updated arrival.

Usage: enlacectl consent update ARRIVAL_ID (--agencies LIST --purposes LIST | --withdraw) [flags]

Flags:
  --agencies LIST        comma-separated agency codes, e.g. iom,undp
  --purposes LIST        comma-separated: reintegration, protection, statistics
  --given-at TIME        when the returnee gave it (RFC 3339); default now
  --withdraw             withdraw all consent: no agency sees the record
  --guardian NAME        the guardian who gave (or withdrew) it: required when the
                         returnee was under 18 on the arrival date and agencies
                         are named; refused for an adult
  --guardian-relationship parent|legal_guardian|other_relative
                         how the guardian is related to the returnee (with --guardian)
)",
      R"(
Example:
  enlacectl consent update 01HV6Q3J0R8X2M4W9K7T5B1C3D --agencies iom,undp \
      --purposes reintegration,statistics
  enlacectl consent update 01HV6Q3J0R8X2M4W9K7T5B1C3D --withdraw
  enlacectl consent update 01HV6Q3J0R8X2M4W9K7T5B1C3D --agencies iom \
      --purposes reintegration --guardian "Rosa Hernández" --guardian-relationship parent
)");
}

int RunConsentUpdate(const Args& args) {
  static const Leaf leaf = {
      "enlacectl consent update",
      ConsentUpdateUsage(),
      {"agencies", "purposes", "given-at", "guardian", "guardian-relationship"},
      {"ARRIVAL_ID"},
      {"withdraw"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::UpdateConsentRequest request;
  request.set_arrival_id(call.positional(0));
  const bool withdraw = call.flags().GetBool("withdraw");
  if (withdraw) {
    if (call.flags().Has("agencies") || call.flags().Has("purposes") ||
        call.flags().Has("given-at")) {
      return call.Usage("--withdraw takes no --agencies, --purposes or --given-at");
    }
    request.mutable_consent();
  } else {
    if (absl::Status s = RequireFlags(call.flags(), {"agencies", "purposes"}); !s.ok()) {
      return call.Usage(absl::StrCat(s.message(), " (or --withdraw)"));
    }
    v1::Consent* consent = request.mutable_consent();
    const std::vector<std::string> agencies = *call.flags().GetList("agencies");
    const std::vector<std::string> purposes = *call.flags().GetList("purposes");
    for (const std::string& agency : agencies) consent->add_agencies(agency);
    for (const std::string& text : purposes) {
      absl::StatusOr<v1::Purpose> purpose = ParseEnum<v1::Purpose>("PURPOSE_", "--purposes", text);
      if (!purpose.ok()) return call.Value(purpose.status().message());
      consent->add_purposes(*purpose);
    }
    absl::StatusOr<google::protobuf::Timestamp> given_at =
        ParseInstant("--given-at", call.flags().Get("given-at").value_or("now"), absl::Now());
    if (!given_at.ok()) return call.Value(given_at.status().message());
    *consent->mutable_given_at() = *given_at;
  }
  if (call.flags().Has("guardian") != call.flags().Has("guardian-relationship")) {
    return call.Usage("--guardian and --guardian-relationship go together");
  }
  if (call.flags().Has("guardian")) {
    absl::StatusOr<v1::GuardianRelationship> relationship =
        ParseEnum<v1::GuardianRelationship>("GUARDIAN_RELATIONSHIP_", "--guardian-relationship",
                                            call.flags().Get("guardian-relationship").value_or(""));
    if (!relationship.ok()) return call.Value(relationship.status().message());
    v1::Guardian* guardian = request.mutable_consent()->mutable_guardian();
    guardian->set_name(call.flags().Get("guardian").value_or(""));
    guardian->set_relationship(*relationship);
  }
  return CallAndPrint(call, &ArrivalStub::UpdateConsent, request, [](const v1::Arrival& arrival) {
    std::cout << "updated the consent of arrival " << arrival.arrival_id() << " (version "
              << arrival.consent_version() << ")\n";
    PrintArrivalDetails(arrival);
  });
}

// ---------------------------------------------------------------------------
// enlacectl consent object

std::string ConsentObjectUsage() {
  return ServerUsage(
      R"(Record the returnee's objection to one purpose (ArrivalService.RecordObjection;
the ministry only). It acts as a withdrawal of that purpose from the consent:
what the purpose allowed disappears for the agencies and pending referrals
are withdrawn. No later consent may give the purpose back. The objection is
the person's: every arrival linked with this one (arrivals link) takes it
too. A repeat changes nothing. Prints the updated arrival.

Usage: enlacectl consent object ARRIVAL_ID --purpose PURPOSE [flags]

Flags:
  --purpose PURPOSE      reintegration, protection or statistics
)",
      R"(
Example:
  enlacectl consent object 01HV6Q3J0R8X2M4W9K7T5B1C3D --purpose reintegration
)");
}

int RunConsentObject(const Args& args) {
  static const Leaf leaf = {
      "enlacectl consent object", ConsentObjectUsage(), {"purpose"}, {"ARRIVAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"purpose"}); !s.ok()) {
    return call.Usage(s.message());
  }
  absl::StatusOr<v1::Purpose> purpose =
      ParseEnum<v1::Purpose>("PURPOSE_", "--purpose", *call.flags().Get("purpose"));
  if (!purpose.ok()) return call.Value(purpose.status().message());
  v1::RecordObjectionRequest request;
  request.set_arrival_id(call.positional(0));
  request.set_purpose(*purpose);
  return CallAndPrint(call, &ArrivalStub::RecordObjection, request, [](const v1::Arrival& arrival) {
    std::cout << "recorded the objection for arrival " << arrival.arrival_id()
              << " (consent version " << arrival.consent_version() << ")\n";
    PrintArrivalDetails(arrival);
  });
}

}  // namespace

int RunArrivals(const Args& args) {
  static const auto* group = new Group{
      "enlacectl arrivals",
      "Arrivals of returnees: the ministry records them; agencies named in a\n"
      "returnee's consent read them.",
      {
          {"push", "record arrivals from a CSV or JSON-lines file (ministry)", &RunArrivalsPush},
          {"get", "show one arrival", &RunArrivalsGet},
          {"list", "list the arrivals you may see", &RunArrivalsList},
          {"correct", "correct fields of an arrival, keeping the earlier version (ministry)",
           &RunArrivalsCorrect},
          {"versions", "every version of an arrival", &RunArrivalsVersions},
          {"export", "everything held about a returnee, as one JSON document (ministry)",
           &RunArrivalsExport},
          {"erase", "erase who a returnee is, keeping the programme's counts (ministry)",
           &RunArrivalsErase},
          {"duplicates", "arrivals that may be the same person as one, scored",
           &RunArrivalsDuplicates},
          {"link", "decide that arrivals are one person (ministry)", &RunArrivalsLink},
          {"unlink", "decide that arrivals are not one person (ministry)", &RunArrivalsUnlink},
      },
      "enlacectl arrivals push arrivals.csv --rejects rejects.csv\n"
      "enlacectl arrivals list --department SV-SS --output json"};
  return RunGroup(*group, args);
}

int RunConsent(const Args& args) {
  static const auto* group = new Group{
      "enlacectl consent",
      "The consent a returnee gives to share their record.",
      {
          {"update", "replace or withdraw a returnee's consent (ministry)", &RunConsentUpdate},
          {"object", "record the returnee's objection to a purpose (ministry)", &RunConsentObject},
      },
      "enlacectl consent update ARRIVAL_ID --agencies iom,undp --purposes reintegration\n"
      "enlacectl consent object ARRIVAL_ID --purpose reintegration"};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
