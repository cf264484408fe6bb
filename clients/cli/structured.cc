// enlacectl's YAML and CSV renderings of the proto3 JSON mapping (see
// structured.h).
#include "clients/cli/structured.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace enlace::cli {
namespace {

using Kind = JsonValue::Kind;

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> Document() {
    JsonValue value;
    if (!Value(&value, 0)) return Error();
    SkipSpace();
    if (pos_ != text_.size()) return Error();
    return value;
  }

 private:
  absl::Status Error() const {
    return absl::InternalError(absl::StrCat("cannot parse the JSON document at byte ", pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool Literal(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool Value(JsonValue* out, int depth) {
    if (depth > 200) return false;
    SkipSpace();
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    if (c == '{') {
      out->kind = Kind::kObject;
      ++pos_;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '}') return ++pos_, true;
      for (;;) {
        SkipSpace();
        std::string key;
        if (!String(&key)) return false;
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_++] != ':') return false;
        JsonValue member;
        if (!Value(&member, depth + 1)) return false;
        out->members.emplace_back(std::move(key), std::move(member));
        SkipSpace();
        if (pos_ >= text_.size()) return false;
        if (text_[pos_] == '}') return ++pos_, true;
        if (text_[pos_++] != ',') return false;
      }
    }
    if (c == '[') {
      out->kind = Kind::kArray;
      ++pos_;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ']') return ++pos_, true;
      for (;;) {
        JsonValue item;
        if (!Value(&item, depth + 1)) return false;
        out->items.push_back(std::move(item));
        SkipSpace();
        if (pos_ >= text_.size()) return false;
        if (text_[pos_] == ']') return ++pos_, true;
        if (text_[pos_++] != ',') return false;
      }
    }
    if (c == '"') {
      out->kind = Kind::kString;
      return String(&out->text);
    }
    if (Literal("true") || Literal("false")) {
      out->kind = Kind::kBool;
      out->text = c == 't' ? "true" : "false";
      return true;
    }
    if (Literal("null")) {
      out->kind = Kind::kNull;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && std::strchr("+-0123456789.eE", text_[pos_]) != nullptr) ++pos_;
    if (pos_ == start) return false;
    out->kind = Kind::kNumber;
    out->text = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool Hex4(uint32_t* code) {
    if (pos_ + 4 > text_.size()) return false;
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      *code <<= 4;
      if (h >= '0' && h <= '9') {
        *code |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        *code |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        *code |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  bool String(std::string* out) {
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char e = text_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t code = 0;
          if (!Hex4(&code)) return false;
          if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t low = 0;
            if (!Hex4(&low) || low < 0xDC00 || low >= 0xE000) return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(code, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// A YAML double-quoted scalar: JSON's escapes (which YAML shares), and the
// characters YAML does not allow unescaped (DEL, the C1 controls).
std::string YamlQuote(absl::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char u = static_cast<unsigned char>(text[i]);
    switch (text[i]) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (u < 0x20 || u == 0x7F) {
      absl::StrAppend(&out, "\\x", std::string(1, kHex[u >> 4]), std::string(1, kHex[u & 15]));
    } else if (u == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      const unsigned char c1 = static_cast<unsigned char>(text[++i]);
      absl::StrAppend(&out, "\\x", std::string(1, kHex[c1 >> 4]), std::string(1, kHex[c1 & 15]));
    } else {
      out.push_back(text[i]);
    }
  }
  out += "\"";
  return out;
}

// A mapping key: plain when it is an identifier YAML reads as a string.
std::string YamlKey(absl::string_view key) {
  static const char* const kReserved[] = {"y",   "n",    "yes",   "no",   "on",
                                          "off", "true", "false", "null", "~"};
  bool plain =
      !key.empty() && (absl::ascii_isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_');
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') plain = false;
  }
  const std::string lower = absl::AsciiStrToLower(key);
  for (const char* word : kReserved) {
    if (lower == word) plain = false;
  }
  return plain ? std::string(key) : YamlQuote(key);
}

// A number YAML 1.1 readers (PyYAML) take as one: a float's exponent needs a
// fraction ("1e+21" -> "1.0e+21") and a sign.
std::string YamlNumber(std::string text) {
  const size_t e = text.find_first_of("eE");
  if (e == std::string::npos) return text;
  if (text.find('.') == std::string::npos) text.insert(e, ".0");
  const size_t at = text.find_first_of("eE") + 1;
  if (at < text.size() && text[at] != '+' && text[at] != '-') text.insert(at, "+");
  return text;
}

std::string YamlScalar(const JsonValue& value) {
  switch (value.kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return value.text;
    case Kind::kNumber: return YamlNumber(value.text);
    case Kind::kString: return YamlQuote(value.text);
    case Kind::kArray: return "[]";
    case Kind::kObject: return "{}";
  }
  return "null";
}

bool IsBlock(const JsonValue& value) {
  return (value.kind == Kind::kObject && !value.members.empty()) ||
         (value.kind == Kind::kArray && !value.items.empty());
}

// A block value at `indent` spaces, every line ending with a newline.
void EmitYaml(const JsonValue& value, size_t indent, std::string* out) {
  const std::string pad(indent, ' ');
  if (value.kind == Kind::kObject) {
    for (const auto& [key, member] : value.members) {
      absl::StrAppend(out, pad, YamlKey(key), ":");
      if (IsBlock(member)) {
        out->push_back('\n');
        EmitYaml(member, indent + 2, out);
      } else {
        absl::StrAppend(out, " ", YamlScalar(member), "\n");
      }
    }
    return;
  }
  for (const JsonValue& item : value.items) {
    if (item.kind == Kind::kObject && !item.members.empty()) {
      // "- first: ..." then the other members under it.
      std::string nested;
      EmitYaml(item, indent + 2, &nested);
      absl::StrAppend(out, pad, "- ", nested.substr(indent + 2));
    } else if (IsBlock(item)) {
      absl::StrAppend(out, pad, "-\n");
      EmitYaml(item, indent + 2, out);
    } else {
      absl::StrAppend(out, pad, "- ", YamlScalar(item), "\n");
    }
  }
}

std::string CompactJson(const JsonValue& value);

std::string JsonString(absl::string_view text) {
  std::string out = YamlQuote(text);  // the same escapes but \x: redo those
  std::string fixed;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\\' && i + 1 < out.size() && out[i + 1] == 'x') {
      absl::StrAppend(&fixed, "\\u00");
      i += 1;
    } else if (out[i] == '\\' && i + 1 < out.size()) {
      fixed.push_back(out[i]);
      fixed.push_back(out[++i]);
    } else {
      fixed.push_back(out[i]);
    }
  }
  return fixed;
}

std::string CompactJson(const JsonValue& value) {
  switch (value.kind) {
    case Kind::kNull: return "null";
    case Kind::kBool:
    case Kind::kNumber: return value.text;
    case Kind::kString: return JsonString(value.text);
    case Kind::kArray: {
      std::vector<std::string> items;
      for (const JsonValue& item : value.items) items.push_back(CompactJson(item));
      return absl::StrCat("[", absl::StrJoin(items, ","), "]");
    }
    case Kind::kObject: {
      std::vector<std::string> members;
      for (const auto& [key, member] : value.members) {
        members.push_back(absl::StrCat(JsonString(key), ":", CompactJson(member)));
      }
      return absl::StrCat("{", absl::StrJoin(members, ","), "}");
    }
  }
  return "null";
}

using Record = std::vector<std::pair<std::string, std::string>>;

void Flatten(const JsonValue& value, const std::string& prefix, Record* record) {
  switch (value.kind) {
    case Kind::kObject:
      if (value.members.empty() && !prefix.empty()) record->emplace_back(prefix, "");
      for (const auto& [key, member] : value.members) {
        Flatten(member, prefix.empty() ? key : absl::StrCat(prefix, ".", key), record);
      }
      return;
    case Kind::kArray: {
      const bool scalars = std::all_of(value.items.begin(), value.items.end(),
                                       [](const JsonValue& item) { return !IsBlock(item); });
      if (!scalars) {
        record->emplace_back(prefix, CompactJson(value));
        return;
      }
      std::vector<std::string> cells;
      for (const JsonValue& item : value.items) {
        cells.push_back(item.kind == Kind::kNull ? "" : item.text);
      }
      record->emplace_back(prefix, absl::StrJoin(cells, ";"));
      return;
    }
    case Kind::kNull: record->emplace_back(prefix, ""); return;
    default: record->emplace_back(prefix.empty() ? "value" : prefix, value.text); return;
  }
}

// The items of a list response: the one array of objects (or empty array)
// of an object that holds nothing else, or only scalars besides
// nextPageToken (a List RPC's response); nullptr for anything else (a
// record with a repeated field, such as a case and its services).
const JsonValue* ListItems(const JsonValue& document) {
  if (document.kind != Kind::kObject) return nullptr;
  const JsonValue* items = nullptr;
  bool paged = false;
  for (const auto& [key, member] : document.members) {
    if (member.kind == Kind::kArray) {
      if (items != nullptr) return nullptr;
      for (const JsonValue& item : member.items) {
        if (item.kind != Kind::kObject) return nullptr;
      }
      items = &member;
    } else if (member.kind == Kind::kObject) {
      return nullptr;
    }
    if (key == "nextPageToken") paged = true;
  }
  if (items == nullptr || (!paged && document.members.size() > 1)) return nullptr;
  return items;
}

void AddColumns(const Record& record, std::vector<std::string>* header) {
  for (const auto& [column, value] : record) {
    if (std::find(header->begin(), header->end(), column) == header->end()) {
      header->push_back(column);
    }
  }
}

std::vector<std::string> RowIn(const Record& record, const std::vector<std::string>& header) {
  std::vector<std::string> row(header.size());
  for (const auto& [column, value] : record) {
    auto it = std::find(header.begin(), header.end(), column);
    if (it != header.end()) row[static_cast<size_t>(it - header.begin())] = value;
  }
  return row;
}

}  // namespace

absl::StatusOr<JsonValue> ParseJson(absl::string_view json) { return Parser(json).Document(); }

std::string ToYaml(const JsonValue& document) {
  if (!IsBlock(document)) return absl::StrCat(YamlScalar(document), "\n");
  std::string out;
  EmitYaml(document, 0, &out);
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    const std::string& field = fields[i];
    if (field.find_first_of(",\"\r\n") == std::string::npos) {
      line += field;
      continue;
    }
    line.push_back('"');
    for (char c : field) {
      if (c == '"') line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  }
  line += "\r\n";
  return line;
}

std::vector<Record> CsvRecords(const JsonValue& document) {
  std::vector<Record> records;
  if (const JsonValue* items = ListItems(document)) {
    for (const JsonValue& item : items->items) {
      Record record;
      Flatten(item, "", &record);
      records.push_back(std::move(record));
    }
    return records;
  }
  Record record;
  Flatten(document, "", &record);
  records.push_back(std::move(record));
  return records;
}

std::string ToCsv(const JsonValue& document, const std::vector<std::string>& columns) {
  const std::vector<Record> records = CsvRecords(document);
  std::vector<std::string> header = columns;
  for (const Record& record : records) AddColumns(record, &header);
  if (header.empty()) return "";
  std::string out = CsvLine(header);
  for (const Record& record : records) out += CsvLine(RowIn(record, header));
  return out;
}

absl::StatusOr<std::string> RenderJson(absl::string_view json, Output output,
                                       const std::vector<std::string>& columns) {
  if (output == Output::kJson || output == Output::kTable) return absl::StrCat(json, "\n");
  absl::StatusOr<JsonValue> document = ParseJson(json);
  if (!document.ok()) return document.status();
  if (output == Output::kYaml) return ToYaml(*document);
  return ToCsv(*document, columns);
}

absl::StatusOr<std::string> CsvStream::Next(absl::string_view json) {
  absl::StatusOr<JsonValue> document = ParseJson(json);
  if (!document.ok()) return document.status();
  Record record;
  Flatten(*document, "", &record);
  std::string out;
  if (!header_done_) {
    AddColumns(record, &columns_);
    out = CsvLine(columns_);
    header_done_ = true;
  }
  out += CsvLine(RowIn(record, columns_));
  return out;
}

}  // namespace enlace::cli
