// Parsing and lookups of the El Salvador gazetteer (see gazetteer.h).

#include "server/gazetteer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/arrival_validation.h"

namespace enlace::server {
namespace {

constexpr absl::string_view kHeader = "department_code,department,municipality,programme_site";

bool IsDepartmentCode(absl::string_view code) {
  return code.size() == 5 && absl::StartsWith(code, "SV-") &&
         absl::ascii_isupper(static_cast<unsigned char>(code[3])) &&
         absl::ascii_isupper(static_cast<unsigned char>(code[4]));
}

absl::Status LineError(size_t line_number, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("gazetteer line ", line_number, ": ", what));
}

}  // namespace

absl::StatusOr<Gazetteer> Gazetteer::Parse(absl::string_view csv) {
  Gazetteer gazetteer;
  bool seen_header = false;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    ++line_number;
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (line.empty()) continue;
    if (!IsValidUtf8(line)) return LineError(line_number, "invalid UTF-8");
    if (HasControlCharacter(line)) {
      return LineError(line_number, "control character");
    }
    if (absl::StrContains(line, '"')) {
      return LineError(line_number, "quoted fields are not supported");
    }
    if (!seen_header) {
      if (line != kHeader) {
        return LineError(line_number, absl::StrCat("header must be \"", kHeader, "\""));
      }
      seen_header = true;
      continue;
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() != 4) {
      return LineError(line_number, absl::StrCat("expected 4 fields, found ", fields.size()));
    }
    const absl::string_view code = fields[0];
    const absl::string_view name = fields[1];
    const absl::string_view municipality = fields[2];
    const absl::string_view site = fields[3];
    if (!IsDepartmentCode(code)) {
      return LineError(line_number,
                       "department_code must be \"SV-\" and two upper-case "
                       "letters");
    }
    if (name.empty()) return LineError(line_number, "department is empty");
    if (!site.empty() && site != "yes") {
      return LineError(line_number, "programme_site must be empty or \"yes\"");
    }
    if (site == "yes" && municipality.empty()) {
      return LineError(line_number, "a programme site needs a municipality");
    }

    auto it = std::find_if(gazetteer.departments_.begin(), gazetteer.departments_.end(),
                           [code](const Department& d) { return d.code == code; });
    if (it == gazetteer.departments_.end()) {
      gazetteer.departments_.push_back(Department{std::string(code), std::string(name), {}});
      it = gazetteer.departments_.end() - 1;
    } else if (it->name != name) {
      return LineError(line_number, absl::StrCat("department ", code, " is named both \"", it->name,
                                                 "\" and \"", name, "\""));
    }
    if (municipality.empty()) continue;
    for (const Municipality& m : it->municipalities) {
      if (absl::EqualsIgnoreCase(m.name, municipality)) {
        return LineError(line_number, absl::StrCat("municipality \"", municipality,
                                                   "\" appears twice in ", code));
      }
    }
    it->municipalities.push_back(Municipality{std::string(municipality), site == "yes"});
  }
  if (!seen_header) {
    return absl::InvalidArgumentError("gazetteer: empty, no header");
  }
  if (gazetteer.departments_.empty()) {
    return absl::InvalidArgumentError("gazetteer: no departments");
  }
  std::stable_sort(gazetteer.departments_.begin(), gazetteer.departments_.end(),
                   [](const Department& a, const Department& b) { return a.code < b.code; });
  return gazetteer;
}

std::optional<std::string> Gazetteer::DepartmentPcode(absl::string_view code) const {
  if (!HasDepartment(code)) return std::nullopt;
  // The national statistics office's department numbers, west to east.
  static constexpr std::pair<absl::string_view, absl::string_view> kPcodes[] = {
      {"SV-AH", "SV01"}, {"SV-SA", "SV02"}, {"SV-SO", "SV03"}, {"SV-CH", "SV04"}, {"SV-LI", "SV05"},
      {"SV-SS", "SV06"}, {"SV-CU", "SV07"}, {"SV-PA", "SV08"}, {"SV-CA", "SV09"}, {"SV-SV", "SV10"},
      {"SV-US", "SV11"}, {"SV-SM", "SV12"}, {"SV-MO", "SV13"}, {"SV-UN", "SV14"},
  };
  for (const auto& [iso, pcode] : kPcodes) {
    if (iso == code) return std::string(pcode);
  }
  return std::nullopt;
}

const Gazetteer& Gazetteer::Default() {
  static const Gazetteer* const kDefault = [] {
    absl::StatusOr<Gazetteer> parsed = Parse(EmbeddedGazetteerCsv());
    if (!parsed.ok()) {
      std::fprintf(stderr, "embedded gazetteer does not parse: %s\n",
                   parsed.status().ToString().c_str());
      std::abort();
    }
    return new Gazetteer(*std::move(parsed));
  }();
  return *kDefault;
}

const Gazetteer::Department* Gazetteer::FindDepartment(absl::string_view code) const {
  auto it = std::lower_bound(departments_.begin(), departments_.end(), code,
                             [](const Department& d, absl::string_view c) { return d.code < c; });
  if (it == departments_.end() || it->code != code) return nullptr;
  return &*it;
}

const Gazetteer::Municipality* Gazetteer::FindMunicipality(absl::string_view department_code,
                                                           absl::string_view municipality) const {
  const Department* department = FindDepartment(department_code);
  if (department == nullptr) return nullptr;
  for (const Municipality& m : department->municipalities) {
    if (m.name == municipality) return &m;
  }
  // Parse refused names equal ignoring ASCII case, so this match is unique.
  for (const Municipality& m : department->municipalities) {
    if (absl::EqualsIgnoreCase(m.name, municipality)) return &m;
  }
  return nullptr;
}

bool Gazetteer::HasDepartment(absl::string_view code) const {
  return FindDepartment(code) != nullptr;
}

bool Gazetteer::DepartmentListsMunicipalities(absl::string_view code) const {
  const Department* department = FindDepartment(code);
  return department != nullptr && !department->municipalities.empty();
}

bool Gazetteer::HasMunicipality(absl::string_view department_code,
                                absl::string_view municipality) const {
  return FindMunicipality(department_code, municipality) != nullptr;
}

std::optional<std::string> Gazetteer::CanonicalMunicipality(absl::string_view department_code,
                                                            absl::string_view municipality) const {
  const Municipality* m = FindMunicipality(department_code, municipality);
  if (m == nullptr) return std::nullopt;
  return m->name;
}

std::optional<std::string> Gazetteer::DepartmentName(absl::string_view code) const {
  const Department* department = FindDepartment(code);
  if (department == nullptr) return std::nullopt;
  return department->name;
}

std::vector<std::string> Gazetteer::DepartmentCodes() const {
  std::vector<std::string> codes;
  codes.reserve(departments_.size());
  for (const Department& d : departments_) codes.push_back(d.code);
  return codes;
}

std::vector<std::string> Gazetteer::Municipalities(absl::string_view code) const {
  std::vector<std::string> names;
  const Department* department = FindDepartment(code);
  if (department == nullptr) return names;
  for (const Municipality& m : department->municipalities) {
    names.push_back(m.name);
  }
  return names;
}

std::vector<Gazetteer::Site> Gazetteer::ProgrammeSites() const {
  std::vector<Site> sites;
  for (const Department& d : departments_) {
    for (const Municipality& m : d.municipalities) {
      if (m.programme_site) sites.push_back(Site{d.code, m.name});
    }
  }
  return sites;
}

}  // namespace enlace::server
