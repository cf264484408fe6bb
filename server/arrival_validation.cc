// Validation of ArrivalService input: see arrival_validation.h for the rules.

#include "server/arrival_validation.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/iso_countries.h"

namespace enlace::server {
namespace {

constexpr size_t kMaxExternalIdBytes = 64;
constexpr size_t kMaxNameCodePoints = 100;
constexpr size_t kMaxMunicipalityCodePoints = 100;
constexpr size_t kMaxDocumentNumberChars = 64;
constexpr int kMaxNeeds = 7;
constexpr int kMaxAgencies = 32;
constexpr size_t kMaxAgencyCodeChars = 32;
constexpr int kMaxAgeYears = 120;
constexpr int kAgeOfMajority = 18;
constexpr absl::Duration kConsentClockSkew = absl::Minutes(5);
constexpr absl::CivilDay kEarliestArrival(1990, 1, 1);
// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

constexpr char kServerAssigned[] = "assigned by the server; leave it empty";

// Decodes the code point at text[*pos] and advances *pos past it. Returns
// false, leaving *pos unspecified, on malformed UTF-8.
bool DecodeOne(absl::string_view text, size_t* pos, char32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(*pos);
  if (lead < 0x80) {
    *code_point = lead;
    *pos += 1;
    return true;
  }
  size_t length;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // no overlong forms
    if (lead == 0xED) second_max = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // no overlong forms
    if (lead == 0xF4) second_max = 0x8F;  // nothing above U+10FFFF
  } else {
    return false;  // continuation byte, overlong lead C0/C1, or F5..FF
  }
  if (text.size() - *pos < length) return false;
  if (byte(*pos + 1) < second_min || byte(*pos + 1) > second_max) return false;
  char32_t value = lead & (0xFF >> (length + 1));
  for (size_t i = 1; i < length; ++i) {
    const unsigned char b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) return false;
    value = (value << 6) | (b & 0x3F);
  }
  *code_point = value;
  *pos += length;
  return true;
}

bool IsControl(char32_t c) { return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F); }

// Unicode White_Space (controls aside: those are refused anyway), plus the
// invisible ZERO WIDTH SPACE and BOM, which must not make a name on their own.
bool IsBlank(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

FieldViolation Violation(absl::string_view field, std::string message) {
  return FieldViolation{std::string(field), std::move(message)};
}

bool IsExternalIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
         c == '/' || c == '-';
}

bool IsAgencyCode(absl::string_view code) {
  if (code.empty() || code.size() > kMaxAgencyCodeChars) return false;
  if (code[0] < 'a' || code[0] > 'z') return false;
  for (char c : code) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A required date field: parsed, or the violation.
std::optional<FieldViolation> CheckDate(absl::string_view field, absl::string_view text,
                                        absl::CivilDay* day) {
  if (text.empty()) return Violation(field, "required (YYYY-MM-DD)");
  std::optional<absl::CivilDay> parsed = ParseDate(text);
  if (!parsed.has_value()) {
    return Violation(field, "must be a real calendar day written YYYY-MM-DD");
  }
  *day = *parsed;
  return std::nullopt;
}

std::optional<FieldViolation> CheckText(absl::string_view field, absl::string_view text,
                                        size_t max_code_points) {
  std::optional<std::string> problem = CheckCleanText(text, max_code_points);
  if (problem.has_value()) return Violation(field, *std::move(problem));
  return std::nullopt;
}

std::optional<FieldViolation> CheckPerson(const enlace::v1::Person& person,
                                          absl::CivilDay arrival_date) {
  if (auto v = CheckText("arrival.person.given_name", person.given_name(), kMaxNameCodePoints)) {
    return v;
  }
  if (auto v = CheckText("arrival.person.family_name", person.family_name(), kMaxNameCodePoints)) {
    return v;
  }
  constexpr absl::string_view kBirth = "arrival.person.birth_date";
  absl::CivilDay birth;
  if (auto v = CheckDate(kBirth, person.birth_date(), &birth)) return v;
  if (birth > arrival_date) {
    return Violation(kBirth, "must not be after arrival_date");
  }
  const absl::CivilDay oldest(arrival_date.year() - kMaxAgeYears, arrival_date.month(),
                              arrival_date.day());
  if (birth < oldest) {
    return Violation(
        kBirth, absl::StrCat("must not be more than ", kMaxAgeYears, " years before arrival_date"));
  }
  constexpr absl::string_view kSex = "arrival.person.sex";
  if (!enlace::v1::Sex_IsValid(person.sex())) {
    return Violation(kSex, absl::StrCat("unknown value ", person.sex()));
  }
  if (person.sex() == enlace::v1::SEX_UNSPECIFIED) {
    return Violation(kSex,
                     "required: FEMALE, MALE, OTHER or UNDISCLOSED (not "
                     "SEX_UNSPECIFIED)");
  }
  constexpr absl::string_view kDocument = "arrival.person.document_number";
  const std::string& document = person.document_number();
  if (document.size() > kMaxDocumentNumberChars) {
    return Violation(kDocument,
                     absl::StrCat("must be at most ", kMaxDocumentNumberChars, " characters"));
  }
  for (char c : document) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return Violation(kDocument, "may contain only ASCII letters, digits and '-'");
    }
  }
  return std::nullopt;
}

std::optional<FieldViolation> CheckDestination(const enlace::v1::Destination& destination,
                                               const Gazetteer& gazetteer) {
  constexpr absl::string_view kDepartment = "arrival.destination.department_code";
  const std::string& code = destination.department_code();
  if (code.empty()) {
    return Violation(kDepartment, "required (ISO 3166-2, e.g. SV-SS)");
  }
  if (!gazetteer.HasDepartment(code)) {
    return Violation(kDepartment,
                     "not a department of El Salvador (ISO 3166-2 code in "
                     "upper case, e.g. SV-SS)");
  }
  constexpr absl::string_view kMunicipality = "arrival.destination.municipality";
  if (auto v = CheckText(kMunicipality, destination.municipality(), kMaxMunicipalityCodePoints)) {
    return v;
  }
  if (gazetteer.DepartmentListsMunicipalities(code) &&
      !gazetteer.HasMunicipality(code, destination.municipality())) {
    return Violation(kMunicipality, absl::StrCat("not a municipality of ", code,
                                                 " in the gazetteer (spell it as the "
                                                 "gazetteer does, with accents)"));
  }
  return std::nullopt;
}

std::optional<FieldViolation> CheckNeeds(const google::protobuf::RepeatedField<int>& needs) {
  if (needs.size() > kMaxNeeds) {
    return Violation("arrival.needs", absl::StrCat("at most ", kMaxNeeds, " needs"));
  }
  for (int i = 0; i < needs.size(); ++i) {
    const std::string field = absl::StrCat("arrival.needs[", i, "]");
    if (!enlace::v1::Need_IsValid(needs[i])) {
      return Violation(field, absl::StrCat("unknown value ", needs[i]));
    }
    if (needs[i] == enlace::v1::NEED_UNSPECIFIED) {
      return Violation(field, "must not be NEED_UNSPECIFIED");
    }
    for (int j = 0; j < i; ++j) {
      if (needs[j] == needs[i]) {
        return Violation(field, absl::StrCat("duplicate of needs[", j, "]"));
      }
    }
  }
  return std::nullopt;
}

}  // namespace

ValidationContext MakeValidationContext(absl::Time now,
                                        std::function<bool(absl::string_view)> is_known_agency) {
  ValidationContext ctx;
  ctx.today = absl::ToCivilDay(now, absl::UTCTimeZone());
  ctx.now = now;
  ctx.is_known_agency = std::move(is_known_agency);
  return ctx;
}

std::optional<FieldViolation> ValidateNewArrival(const enlace::v1::Arrival& arrival,
                                                 const ValidationContext& ctx) {
  if (!arrival.arrival_id().empty()) {
    return Violation("arrival.arrival_id", kServerAssigned);
  }

  constexpr absl::string_view kExternalId = "arrival.external_id";
  const std::string& external_id = arrival.external_id();
  if (external_id.empty()) {
    return Violation(kExternalId, "required (the submitter's record number)");
  }
  if (external_id.size() > kMaxExternalIdBytes) {
    return Violation(kExternalId,
                     absl::StrCat("must be at most ", kMaxExternalIdBytes, " characters"));
  }
  for (char c : external_id) {
    if (!IsExternalIdChar(c)) {
      return Violation(kExternalId, "may contain only ASCII letters, digits and . _ : / -");
    }
  }

  constexpr absl::string_view kArrivalDate = "arrival.arrival_date";
  absl::CivilDay arrival_date;
  if (auto v = CheckDate(kArrivalDate, arrival.arrival_date(), &arrival_date)) {
    return v;
  }
  if (arrival_date > ctx.today) {
    return Violation(kArrivalDate, "must not be in the future");
  }
  if (arrival_date < kEarliestArrival) {
    return Violation(kArrivalDate, "must not be before 1990-01-01");
  }

  constexpr absl::string_view kMode = "arrival.mode";
  if (!enlace::v1::ArrivalMode_IsValid(arrival.mode())) {
    return Violation(kMode, absl::StrCat("unknown value ", arrival.mode()));
  }
  if (arrival.mode() == enlace::v1::ARRIVAL_MODE_UNSPECIFIED) {
    return Violation(kMode,
                     "required: AIR, LAND or SEA (not "
                     "ARRIVAL_MODE_UNSPECIFIED)");
  }

  constexpr absl::string_view kOrigin = "arrival.origin_country";
  if (arrival.origin_country().empty()) {
    return Violation(kOrigin, "required (ISO 3166-1 alpha-2, e.g. US)");
  }
  if (!IsIsoAlpha2Country(arrival.origin_country())) {
    return Violation(kOrigin,
                     "not an ISO 3166-1 alpha-2 country code in upper case "
                     "(e.g. US, MX, GT)");
  }

  if (!arrival.has_person()) return Violation("arrival.person", "required");
  if (auto v = CheckPerson(arrival.person(), arrival_date)) return v;

  if (!arrival.has_destination()) {
    return Violation("arrival.destination", "required");
  }
  if (auto v = CheckDestination(arrival.destination(), *ctx.gazetteer)) {
    return v;
  }

  if (auto v = CheckNeeds(arrival.needs())) return v;

  if (!arrival.has_consent()) {
    return Violation("arrival.consent", "required (an empty consent means: shared with no agency)");
  }
  // CheckPerson has parsed birth_date by now.
  const bool minor = UnderEighteenOn(*ParseDate(arrival.person().birth_date()), arrival_date);
  if (auto v = ValidateConsent(arrival.consent(), "arrival.consent", ctx, minor)) {
    return v;
  }

  if (arrival.has_recorded_at()) {
    return Violation("arrival.recorded_at", kServerAssigned);
  }
  if (!arrival.submitted_by().empty()) {
    return Violation("arrival.submitted_by", kServerAssigned);
  }
  if (arrival.consent_version() != 0) {
    return Violation("arrival.consent_version", kServerAssigned);
  }
  return std::nullopt;
}

namespace {

// The guardian rule of ValidateConsent (arrival_validation.h).
std::optional<FieldViolation> CheckGuardian(const enlace::v1::Consent& consent,
                                            absl::string_view prefix, bool returnee_is_minor) {
  const std::string guardian_field = absl::StrCat(prefix, ".guardian");
  if (!consent.has_guardian()) {
    if (returnee_is_minor && consent.agencies_size() > 0) {
      return Violation(guardian_field,
                       "required: the returnee was under 18 on arrival_date, so consent "
                       "must name the guardian who gave it (name and relationship)");
    }
    return std::nullopt;
  }
  if (!returnee_is_minor) {
    return Violation(guardian_field,
                     "only for a returnee under 18 on arrival_date; an adult consents "
                     "for themselves");
  }
  const enlace::v1::Guardian& guardian = consent.guardian();
  if (auto v =
          CheckText(absl::StrCat(guardian_field, ".name"), guardian.name(), kMaxNameCodePoints)) {
    return v;
  }
  const std::string relationship_field = absl::StrCat(guardian_field, ".relationship");
  if (!enlace::v1::GuardianRelationship_IsValid(guardian.relationship())) {
    return Violation(relationship_field, absl::StrCat("unknown value ", guardian.relationship()));
  }
  if (guardian.relationship() == enlace::v1::GUARDIAN_RELATIONSHIP_UNSPECIFIED) {
    return Violation(relationship_field,
                     "required: PARENT, LEGAL_GUARDIAN or OTHER_RELATIVE (not "
                     "GUARDIAN_RELATIONSHIP_UNSPECIFIED)");
  }
  return std::nullopt;
}

}  // namespace

bool UnderEighteenOn(absl::CivilDay birth, absl::CivilDay day) {
  // CivilDay normalizes 29 February of a common year to 1 March.
  const absl::CivilDay adult(birth.year() + kAgeOfMajority, birth.month(), birth.day());
  return day < adult;
}

bool ReturneeWasMinor(const enlace::v1::Arrival& arrival) {
  std::optional<absl::CivilDay> birth = ParseDate(arrival.person().birth_date());
  std::optional<absl::CivilDay> arrived = ParseDate(arrival.arrival_date());
  return birth.has_value() && arrived.has_value() && UnderEighteenOn(*birth, *arrived);
}

std::optional<FieldViolation> ValidateConsent(const enlace::v1::Consent& consent,
                                              absl::string_view prefix,
                                              const ValidationContext& ctx,
                                              bool returnee_is_minor) {
  const std::string agencies_field = absl::StrCat(prefix, ".agencies");
  const std::string purposes_field = absl::StrCat(prefix, ".purposes");
  const std::string given_at_field = absl::StrCat(prefix, ".given_at");

  if (consent.agencies_size() > kMaxAgencies) {
    return Violation(agencies_field, absl::StrCat("at most ", kMaxAgencies, " agencies"));
  }
  for (int i = 0; i < consent.agencies_size(); ++i) {
    const std::string field = absl::StrCat(agencies_field, "[", i, "]");
    const std::string& agency = consent.agencies(i);
    if (!IsAgencyCode(agency)) {
      return Violation(field,
                       "not an agency code (a lower-case letter, then up to 31 "
                       "of a-z, 0-9, _ and -)");
    }
    if (!ctx.is_known_agency || !ctx.is_known_agency(agency)) {
      return Violation(field, absl::StrCat("unknown agency \"", agency, "\""));
    }
    for (int j = 0; j < i; ++j) {
      if (consent.agencies(j) == agency) {
        return Violation(field, absl::StrCat("duplicate of agencies[", j, "]"));
      }
    }
  }

  for (int i = 0; i < consent.purposes_size(); ++i) {
    const std::string field = absl::StrCat(purposes_field, "[", i, "]");
    const int purpose = consent.purposes(i);
    if (!enlace::v1::Purpose_IsValid(purpose)) {
      return Violation(field, absl::StrCat("unknown value ", purpose));
    }
    if (purpose == enlace::v1::PURPOSE_UNSPECIFIED) {
      return Violation(field, "must not be PURPOSE_UNSPECIFIED");
    }
    for (int j = 0; j < i; ++j) {
      if (consent.purposes(j) == purpose) {
        return Violation(field, absl::StrCat("duplicate of purposes[", j, "]"));
      }
    }
  }

  if (consent.agencies_size() > 0 && consent.purposes_size() == 0) {
    return Violation(purposes_field,
                     "required when agencies is non-empty: say what the "
                     "agencies may use the data for");
  }
  if (consent.purposes_size() > 0 && consent.agencies_size() == 0) {
    return Violation(agencies_field,
                     "required when purposes is non-empty: say which agencies "
                     "the data is shared with");
  }

  if (!consent.has_given_at()) {
    if (consent.agencies_size() > 0) {
      return Violation(given_at_field,
                       "required when agencies is non-empty: when the "
                       "returnee gave consent");
    }
    return CheckGuardian(consent, prefix, returnee_is_minor);
  }
  const google::protobuf::Timestamp& given_at = consent.given_at();
  if (given_at.seconds() < kMinTimestampSeconds || given_at.seconds() > kMaxTimestampSeconds ||
      given_at.nanos() < 0 || given_at.nanos() > 999999999) {
    return Violation(given_at_field,
                     "not a valid timestamp (seconds out of range or nanos "
                     "outside 0..999999999)");
  }
  const absl::Time given =
      absl::FromUnixSeconds(given_at.seconds()) + absl::Nanoseconds(given_at.nanos());
  if (given > ctx.now + kConsentClockSkew) {
    return Violation(given_at_field, "must not be in the future");
  }
  if (given < absl::FromCivil(absl::CivilSecond(1990, 1, 1, 0, 0, 0), absl::UTCTimeZone())) {
    return Violation(given_at_field, "must not be before 1990-01-01");
  }
  return CheckGuardian(consent, prefix, returnee_is_minor);
}

const std::vector<std::string>& CorrectablePaths() {
  static const std::vector<std::string>* const kPaths =
      new std::vector<std::string>{"arrival_date",
                                   "mode",
                                   "origin_country",
                                   "person.given_name",
                                   "person.family_name",
                                   "person.birth_date",
                                   "person.sex",
                                   "person.document_number",
                                   "destination.department_code",
                                   "destination.municipality",
                                   "needs"};
  return *kPaths;
}

std::optional<FieldViolation> ApplyCorrection(const enlace::v1::Arrival& stored,
                                              const enlace::v1::Arrival& patch,
                                              const std::vector<std::string>& paths,
                                              const ValidationContext& ctx,
                                              enlace::v1::Arrival* corrected) {
  constexpr absl::string_view kMask = "update_mask";
  if (paths.empty()) {
    return Violation(kMask, "name at least one field to correct, e.g. person.birth_date");
  }
  const std::vector<std::string>& allowed = CorrectablePaths();
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (std::find(allowed.begin(), allowed.end(), path) == allowed.end()) {
      const bool consent = path == "consent" || absl::StartsWith(path, "consent.");
      return Violation(
          kMask, absl::StrCat("\"", absl::CHexEscape(path.substr(0, 64)), "\" cannot be corrected",
                              consent ? " (the consent changes through UpdateConsent)" : "",
                              "; the fields that can: ", absl::StrJoin(allowed, ", ")));
    }
    for (size_t j = 0; j < i; ++j) {
      if (paths[j] == path) return Violation(kMask, absl::StrCat("names ", path, " twice"));
    }
  }
  enlace::v1::Arrival merged = stored;
  merged.clear_arrival_id();
  merged.clear_recorded_at();
  merged.clear_submitted_by();
  merged.clear_consent_version();
  merged.clear_version();
  for (const std::string& path : paths) {
    if (path == "arrival_date") merged.set_arrival_date(patch.arrival_date());
    if (path == "mode") merged.set_mode(patch.mode());
    if (path == "origin_country") merged.set_origin_country(patch.origin_country());
    enlace::v1::Person* person = merged.mutable_person();
    if (path == "person.given_name") person->set_given_name(patch.person().given_name());
    if (path == "person.family_name") person->set_family_name(patch.person().family_name());
    if (path == "person.birth_date") person->set_birth_date(patch.person().birth_date());
    if (path == "person.sex") person->set_sex(patch.person().sex());
    if (path == "person.document_number") {
      person->set_document_number(patch.person().document_number());
    }
    enlace::v1::Destination* destination = merged.mutable_destination();
    if (path == "destination.department_code") {
      destination->set_department_code(patch.destination().department_code());
    }
    if (path == "destination.municipality") {
      destination->set_municipality(patch.destination().municipality());
    }
    if (path == "needs") *merged.mutable_needs() = patch.needs();
  }
  // The consent in force was validated when it was given.
  enlace::v1::Arrival checked = merged;
  checked.mutable_consent()->Clear();
  if (auto v = ValidateNewArrival(checked, ctx)) return v;

  enlace::v1::Arrival before = stored;
  before.clear_arrival_id();
  before.clear_recorded_at();
  before.clear_submitted_by();
  before.clear_consent_version();
  before.clear_version();
  std::sort(before.mutable_needs()->begin(), before.mutable_needs()->end());
  enlace::v1::Arrival after = merged;
  std::sort(after.mutable_needs()->begin(), after.mutable_needs()->end());
  if (before.SerializeAsString() == after.SerializeAsString()) {
    return Violation(kMask, "the named fields already hold these values: nothing to correct");
  }

  const enlace::v1::Consent& consent = stored.consent();
  if (ReturneeWasMinor(merged) && consent.agencies_size() > 0 && !consent.has_guardian()) {
    const bool date_named =
        std::find(paths.begin(), paths.end(), "arrival_date") != paths.end() &&
        std::find(paths.begin(), paths.end(), "person.birth_date") == paths.end();
    return Violation(date_named ? "arrival.arrival_date" : "arrival.person.birth_date",
                     "makes the returnee under 18 on arrival_date, but the consent in force "
                     "shares their data without a guardian's consent: withdraw it "
                     "(UpdateConsent with no agencies), correct, then record the guardian's "
                     "consent");
  }
  *corrected = std::move(merged);
  return std::nullopt;
}

std::optional<absl::CivilDay> ParseDate(absl::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
        return std::nullopt;
      }
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const absl::CivilDay day(parts[0], parts[1], parts[2]);
  // CivilDay normalizes (Feb 30 becomes Mar 2): a real day survives intact.
  if (day.year() != parts[0] || day.month() != parts[1] || day.day() != parts[2]) {
    return std::nullopt;
  }
  return day;
}

absl::Status ToStatus(const FieldViolation& v) {
  return absl::InvalidArgumentError(absl::StrCat(v.field, ": ", v.message));
}

bool IsValidUtf8(absl::string_view text) {
  size_t pos = 0;
  char32_t code_point;
  while (pos < text.size()) {
    if (!DecodeOne(text, &pos, &code_point)) return false;
  }
  return true;
}

size_t CountCodePoints(absl::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool HasControlCharacter(absl::string_view text) {
  size_t pos = 0;
  char32_t code_point;
  while (pos < text.size()) {
    if (!DecodeOne(text, &pos, &code_point)) return false;
    if (IsControl(code_point)) return true;
  }
  return false;
}

std::optional<std::string> CheckCleanText(absl::string_view text, size_t max_code_points) {
  if (text.empty()) return "required";
  if (!IsValidUtf8(text)) return "must be valid UTF-8";
  if (HasControlCharacter(text)) {
    return "must not contain control characters (tabs, line breaks, ...)";
  }
  if (CountCodePoints(text) > max_code_points) {
    return absl::StrCat("must be at most ", max_code_points, " characters");
  }
  size_t pos = 0;
  char32_t code_point;
  bool all_blank = true;
  while (pos < text.size() && all_blank) {
    DecodeOne(text, &pos, &code_point);
    all_blank = IsBlank(code_point);
  }
  if (all_blank) return "must not be only white space";
  return std::nullopt;
}

}  // namespace enlace::server
