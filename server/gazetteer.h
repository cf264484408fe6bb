// The gazetteer of El Salvador that arrival destinations are checked against:
// the 14 departments (ISO 3166-2 codes such as "SV-SS") and, for the programme
// departments only, their municipalities, with the programme sites marked.
//
// Checking rule (applied by arrival_validation.h):
//   - department_code must be a department of the gazetteer, spelled exactly;
//   - for a department whose municipalities the gazetteer lists
//     (DepartmentListsMunicipalities), the municipality must be one of them;
//   - for any other department the gazetteer cannot check the name: it must
//     only be non-empty, bounded and clean text (that check is the caller's).
// Municipality names match exactly as spelled in the gazetteer (UTF-8, with
// accents), or equal to it ignoring ASCII case only ("GUAZAPA" matches
// "Guazapa"; "San Martin" does NOT match "San Martín": no accent folding).

#ifndef ENLACE_SERVER_GAZETTEER_H_
#define ENLACE_SERVER_GAZETTEER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::server {

// The CSV embedded in the binary at build time (see gazetteer_data.cc.in).
absl::string_view EmbeddedGazetteerCsv();

// Immutable after Parse; safe to read from any number of threads.
class Gazetteer {
 public:
  // A municipality that hosts the programme (marked "yes" in the CSV).
  struct Site {
    std::string department_code;
    std::string municipality;
  };

  // Parses CSV text with the exact header
  //   department_code,department,municipality,programme_site
  // One record per line (LF or CRLF; blank lines ignored); no quoting, so no
  // field may contain '"' or ','. department_code is "SV-" and two upper-case
  // letters; department is non-empty and the same on every row of a code; a
  // row with an empty municipality only declares its department; a non-empty
  // municipality must be unique in its department even ignoring ASCII case;
  // programme_site is empty or "yes" (and "yes" needs a municipality). All
  // text must be valid UTF-8 without control characters. Anything else is
  // InvalidArgument naming the line.
  static absl::StatusOr<Gazetteer> Parse(absl::string_view csv);

  // The embedded gazetteer, parsed once on first use. Aborts the process if
  // the embedded CSV does not parse (a build defect, caught by the unit tests).
  static const Gazetteer& Default();

  // True iff `code` is a department, spelled exactly ("SV-SS", not "sv-ss").
  bool HasDepartment(absl::string_view code) const;

  // True iff the gazetteer lists municipalities for department `code`.
  bool DepartmentListsMunicipalities(absl::string_view code) const;

  // True iff `municipality` is listed under `department_code`, exactly or
  // ignoring ASCII case. False for departments that list no municipalities:
  // callers decide what that means (see the rule at the top of this file).
  bool HasMunicipality(absl::string_view department_code, absl::string_view municipality) const;

  // The gazetteer's own spelling of a listed municipality matched as
  // HasMunicipality does ("guazapa" -> "Guazapa"); nullopt if not listed.
  // Servers should store this spelling so that filters match.
  std::optional<std::string> CanonicalMunicipality(absl::string_view department_code,
                                                   absl::string_view municipality) const;

  // The department's name ("San Salvador" for "SV-SS"); nullopt if unknown.
  std::optional<std::string> DepartmentName(absl::string_view code) const;

  // The department's P-code, the place code of humanitarian datasets
  // ("SV06" for "SV-SS": OCHA's common operational dataset for El Salvador,
  // which numbers the departments as the national statistics office does;
  // docs/report-export.md); nullopt if unknown.
  std::optional<std::string> DepartmentPcode(absl::string_view code) const;

  // All department codes, sorted.
  std::vector<std::string> DepartmentCodes() const;

  // The municipalities listed for `code`, in CSV order; empty if none.
  std::vector<std::string> Municipalities(absl::string_view code) const;

  // The programme sites, by department code, then in CSV order.
  std::vector<Site> ProgrammeSites() const;

 private:
  struct Municipality {
    std::string name;
    bool programme_site = false;
  };
  struct Department {
    std::string code;
    std::string name;
    std::vector<Municipality> municipalities;
  };

  Gazetteer() = default;
  const Department* FindDepartment(absl::string_view code) const;
  const Municipality* FindMunicipality(absl::string_view department_code,
                                       absl::string_view municipality) const;

  std::vector<Department> departments_;  // sorted by code
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_GAZETTEER_H_
