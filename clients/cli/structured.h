// enlacectl's machine-readable output: the proto3 JSON mapping of a response
// (what --output json prints) rendered again as YAML (--output yaml) or as
// CSV (--output csv: RFC 4180, a header row). Works on the JSON text, so that
// what YAML and CSV show is exactly what JSON shows, field names included.
//
// CSV: a list response (an object holding one array of objects and nothing
// else, or only scalars besides nextPageToken) is one row per item; anything
// else, e.g. a case with its services, is one row. Nested objects become dotted columns
// ("returnee.givenName"), arrays of scalars one cell joined by ';', arrays of objects one cell of
// compact JSON.
#ifndef ENLACE_CLIENTS_CLI_STRUCTURED_H_
#define ENLACE_CLIENTS_CLI_STRUCTURED_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::cli {

// --output: table (for people, the default), json, yaml or csv.
enum class Output { kTable, kJson, kYaml, kCsv };

// A parsed JSON value; objects keep their members' order.
struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // kBool: "true"/"false"; kNumber: as written; kString: decoded UTF-8
  std::vector<JsonValue> items;  // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject
};

absl::StatusOr<JsonValue> ParseJson(absl::string_view json);

// The document as YAML (block style; every string double-quoted), ending
// with a newline.
std::string ToYaml(const JsonValue& document);

// One CSV line (RFC 4180: fields with a comma, quote, CR or LF quoted, quotes
// doubled), ending with CRLF.
std::string CsvLine(const std::vector<std::string>& fields);

// The rows of `document` as CSV columns -> values, in order (see above).
std::vector<std::vector<std::pair<std::string, std::string>>> CsvRecords(const JsonValue& document);

// The document as CSV: a header row (`columns` first, then any other column
// in the order first seen) and its rows. Empty when there are neither rows
// nor `columns`.
std::string ToCsv(const JsonValue& document, const std::vector<std::string>& columns = {});

// JSON text -> `output` (kJson: as given, with a final newline).
absl::StatusOr<std::string> RenderJson(absl::string_view json, Output output,
                                       const std::vector<std::string>& columns = {});

// CSV of a stream of records (one JSON document each): the header from the
// first record (and `columns`), then one row per record in those columns.
class CsvStream {
 public:
  explicit CsvStream(std::vector<std::string> columns = {}) : columns_(std::move(columns)) {}
  // The lines to print for the next record (the header too, the first time).
  absl::StatusOr<std::string> Next(absl::string_view json);

 private:
  std::vector<std::string> columns_;
  bool header_done_ = false;
};

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_STRUCTURED_H_
