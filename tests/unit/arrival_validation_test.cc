// Unit tests for API input validation of arrivals and consent
// (server/arrival_validation.h), the gazetteer and the ISO country list.

#include "server/arrival_validation.h"

#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "enlace/v1/arrivals.pb.h"
#include "gtest/gtest.h"
#include "server/gazetteer.h"
#include "server/iso_countries.h"

namespace enlace::server {
namespace {

using ::enlace::v1::Arrival;

// "Now" for every test: 2024-06-01T12:00:00Z.
absl::Time TestNow() {
  return absl::FromCivil(absl::CivilSecond(2024, 6, 1, 12, 0, 0), absl::UTCTimeZone());
}

bool IsKnownAgency(absl::string_view code) {
  return code == "mfa" || code == "iom" || code == "unhcr" || code == "undp";
}

ValidationContext TestContext() { return MakeValidationContext(TestNow(), IsKnownAgency); }

int64_t UnixSeconds(int y, int m, int d, int hh, int mm, int ss) {
  return absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone()));
}

Arrival ValidArrival() {
  Arrival a;
  a.set_external_id("MFA-2018/000123");
  a.set_arrival_date("2018-04-10");
  a.set_mode(v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  v1::Person* p = a.mutable_person();
  p->set_given_name("José María");
  p->set_family_name("Hernández López");
  p->set_birth_date("1990-05-17");
  p->set_sex(v1::SEX_MALE);
  p->set_document_number("01234567-8");
  a.mutable_destination()->set_department_code("SV-SS");
  a.mutable_destination()->set_municipality("Guazapa");
  a.add_needs(v1::NEED_PSYCHOSOCIAL_SUPPORT);
  a.add_needs(v1::NEED_TRAINING);
  v1::Consent* c = a.mutable_consent();
  c->add_agencies("iom");
  c->add_agencies("unhcr");
  c->add_purposes(v1::PURPOSE_REINTEGRATION);
  c->add_purposes(v1::PURPOSE_PROTECTION);
  c->mutable_given_at()->set_seconds(UnixSeconds(2018, 4, 10, 15, 0, 0));
  return a;
}

// Makes the returnee 12 on arrival, with the guardian who consented.
void MakeMinorWithGuardian(Arrival* a) {
  a->mutable_person()->set_birth_date("2005-06-07");
  a->mutable_person()->clear_document_number();
  v1::Guardian* guardian = a->mutable_consent()->mutable_guardian();
  guardian->set_name("Ana López");
  guardian->set_relationship(v1::GUARDIAN_RELATIONSHIP_PARENT);
}

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s.data(), s.size());
  return out;
}

TEST(ValidateNewArrivalTest, ValidArrivalPasses) {
  std::optional<FieldViolation> v = ValidateNewArrival(ValidArrival(), TestContext());
  EXPECT_FALSE(v.has_value()) << v->field << ": " << v->message;
}

TEST(ValidateNewArrivalTest, QuezaltepequeInLaLibertadPasses) {
  Arrival a = ValidArrival();
  a.mutable_destination()->set_department_code("SV-LI");
  a.mutable_destination()->set_municipality("Quezaltepeque");
  std::optional<FieldViolation> v = ValidateNewArrival(a, TestContext());
  EXPECT_FALSE(v.has_value()) << v->field << ": " << v->message;
}

// One change to a valid arrival, and the field it must be refused on ("" for
// changes that must be accepted).
struct Case {
  std::string name;
  std::function<void(Arrival*)> change;
  std::string field;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  return {
      // Server-assigned fields.
      {"ArrivalIdSet", [](Arrival* a) { a->set_arrival_id("a-1"); }, "arrival.arrival_id"},
      {"RecordedAtSet", [](Arrival* a) { a->mutable_recorded_at()->set_seconds(1); },
       "arrival.recorded_at"},
      {"SubmittedBySet", [](Arrival* a) { a->set_submitted_by("mfa"); }, "arrival.submitted_by"},
      {"ConsentVersionSet", [](Arrival* a) { a->set_consent_version(1); },
       "arrival.consent_version"},
      // external_id.
      {"ExternalIdMissing", [](Arrival* a) { a->clear_external_id(); }, "arrival.external_id"},
      {"ExternalId65Bytes", [](Arrival* a) { a->set_external_id(std::string(65, 'x')); },
       "arrival.external_id"},
      {"ExternalId64BytesOk", [](Arrival* a) { a->set_external_id(std::string(64, 'x')); }, ""},
      {"ExternalIdWithSpace", [](Arrival* a) { a->set_external_id("MFA 123"); },
       "arrival.external_id"},
      {"ExternalIdAllPunctuationOk", [](Arrival* a) { a->set_external_id("a.b_c:d/e-f"); }, ""},
      // arrival_date.
      {"ArrivalDateFeb30", [](Arrival* a) { a->set_arrival_date("2018-02-30"); },
       "arrival.arrival_date"},
      {"ArrivalDateInFuture", [](Arrival* a) { a->set_arrival_date("2024-06-02"); },
       "arrival.arrival_date"},
      {"ArrivalDateTodayOk", [](Arrival* a) { a->set_arrival_date("2024-06-01"); }, ""},
      {"ArrivalDateBefore1990",
       [](Arrival* a) {
         a->set_arrival_date("1989-12-31");
         a->mutable_person()->set_birth_date("1970-01-01");
       },
       "arrival.arrival_date"},
      {"ArrivalDateNotPadded", [](Arrival* a) { a->set_arrival_date("2018-4-10"); },
       "arrival.arrival_date"},
      {"ArrivalDateMissing", [](Arrival* a) { a->clear_arrival_date(); }, "arrival.arrival_date"},
      // mode.
      {"ModeUnspecified", [](Arrival* a) { a->set_mode(v1::ARRIVAL_MODE_UNSPECIFIED); },
       "arrival.mode"},
      {"ModeUnknownNumber", [](Arrival* a) { a->set_mode(static_cast<v1::ArrivalMode>(99)); },
       "arrival.mode"},
      // origin_country.
      {"OriginUnknownXX", [](Arrival* a) { a->set_origin_country("XX"); },
       "arrival.origin_country"},
      {"OriginLowerCase", [](Arrival* a) { a->set_origin_country("sv"); },
       "arrival.origin_country"},
      {"OriginSvOk", [](Arrival* a) { a->set_origin_country("SV"); }, ""},
      {"OriginAlpha3", [](Arrival* a) { a->set_origin_country("USA"); }, "arrival.origin_country"},
      {"OriginMissing", [](Arrival* a) { a->clear_origin_country(); }, "arrival.origin_country"},
      // person.
      {"PersonMissing", [](Arrival* a) { a->clear_person(); }, "arrival.person"},
      {"GivenNameInvalidUtf8",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("\xff")); },
       "arrival.person.given_name"},
      {"GivenNameOverlongUtf8",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("Jos\xC0\xAF")); },
       "arrival.person.given_name"},
      {"GivenNameTruncatedUtf8",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("Jos\xC3")); },
       "arrival.person.given_name"},
      {"GivenNameSurrogate",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("\xED\xA0\x80")); },
       "arrival.person.given_name"},
      {"GivenNameControlChar",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("Jo\x01se")); },
       "arrival.person.given_name"},
      {"GivenNameNul",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string("Jo\0se", 5)); },
       "arrival.person.given_name"},
      {"GivenNameC1Control",
       [](Arrival* a) {
         a->mutable_person()->set_given_name("Jose\xC2\x85");  // U+0085 NEL
       },
       "arrival.person.given_name"},
      {"GivenNameDel", [](Arrival* a) { a->mutable_person()->set_given_name("Jose\x7F"); },
       "arrival.person.given_name"},
      {"GivenName101CodePoints",
       [](Arrival* a) { a->mutable_person()->set_given_name(std::string(101, 'a')); },
       "arrival.person.given_name"},
      {"GivenName100AccentedCodePointsOk",
       [](Arrival* a) {
         a->mutable_person()->set_given_name(Repeat("á", 100));  // 200 bytes
       },
       ""},
      {"GivenName101AccentedCodePoints",
       [](Arrival* a) { a->mutable_person()->set_given_name(Repeat("á", 101)); },
       "arrival.person.given_name"},
      {"GivenNameOnlySpaces", [](Arrival* a) { a->mutable_person()->set_given_name("   "); },
       "arrival.person.given_name"},
      {"GivenNameOnlyNoBreakSpace",
       [](Arrival* a) { a->mutable_person()->set_given_name("\u00A0"); },
       "arrival.person.given_name"},
      {"GivenNameMissing", [](Arrival* a) { a->mutable_person()->clear_given_name(); },
       "arrival.person.given_name"},
      {"FamilyNameMissing", [](Arrival* a) { a->mutable_person()->clear_family_name(); },
       "arrival.person.family_name"},
      {"BirthAfterArrival", [](Arrival* a) { a->mutable_person()->set_birth_date("2018-04-11"); },
       "arrival.person.birth_date"},
      {"BirthOnArrivalDayOk",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);  // a newborn's consent is a guardian's
         a->mutable_person()->set_birth_date("2018-04-10");
       },
       ""},
      {"Birth120YearsBeforeOk",
       [](Arrival* a) { a->mutable_person()->set_birth_date("1898-04-10"); }, ""},
      {"BirthMoreThan120YearsBefore",
       [](Arrival* a) { a->mutable_person()->set_birth_date("1898-04-09"); },
       "arrival.person.birth_date"},
      {"BirthDateMissing", [](Arrival* a) { a->mutable_person()->clear_birth_date(); },
       "arrival.person.birth_date"},
      {"SexUnspecified", [](Arrival* a) { a->mutable_person()->set_sex(v1::SEX_UNSPECIFIED); },
       "arrival.person.sex"},
      {"SexUnknownNumber",
       [](Arrival* a) { a->mutable_person()->set_sex(static_cast<v1::Sex>(7)); },
       "arrival.person.sex"},
      {"DocumentNumberEmptyOk", [](Arrival* a) { a->mutable_person()->clear_document_number(); },
       ""},
      {"DocumentNumberWithSpace",
       [](Arrival* a) { a->mutable_person()->set_document_number("0123 4567"); },
       "arrival.person.document_number"},
      {"DocumentNumber65Chars",
       [](Arrival* a) { a->mutable_person()->set_document_number(std::string(65, '1')); },
       "arrival.person.document_number"},
      // destination.
      {"DestinationMissing", [](Arrival* a) { a->clear_destination(); }, "arrival.destination"},
      {"DepartmentUnknown",
       [](Arrival* a) { a->mutable_destination()->set_department_code("SV-ZZ"); },
       "arrival.destination.department_code"},
      {"DepartmentLowerCase",
       [](Arrival* a) { a->mutable_destination()->set_department_code("sv-ss"); },
       "arrival.destination.department_code"},
      {"MunicipalityNotInGazetteer",
       [](Arrival* a) { a->mutable_destination()->set_municipality("Springfield"); },
       "arrival.destination.municipality"},
      {"MunicipalityOfOtherDepartment",
       [](Arrival* a) { a->mutable_destination()->set_municipality("Quezaltepeque"); },
       "arrival.destination.municipality"},
      {"MunicipalityAsciiCaseDiffersOk",
       [](Arrival* a) { a->mutable_destination()->set_municipality("GUAZAPA"); }, ""},
      {"MunicipalityAccentedAsciiCaseDiffersOk",
       [](Arrival* a) { a->mutable_destination()->set_municipality("SAN MARTíN"); }, ""},
      {"MunicipalityWithoutAccentRefused",
       [](Arrival* a) { a->mutable_destination()->set_municipality("San Martin"); },
       "arrival.destination.municipality"},
      {"MunicipalityOfUnlistedDepartmentOk",
       [](Arrival* a) {
         a->mutable_destination()->set_department_code("SV-SA");
         a->mutable_destination()->set_municipality("Chalchuapa");
       },
       ""},
      {"MunicipalityOfUnlistedDepartmentEmpty",
       [](Arrival* a) {
         a->mutable_destination()->set_department_code("SV-SA");
         a->mutable_destination()->clear_municipality();
       },
       "arrival.destination.municipality"},
      {"MunicipalityOfUnlistedDepartmentControlChar",
       [](Arrival* a) {
         a->mutable_destination()->set_department_code("SV-SA");
         a->mutable_destination()->set_municipality("Chalchuapa\n");
       },
       "arrival.destination.municipality"},
      {"MunicipalityOfUnlistedDepartmentTooLong",
       [](Arrival* a) {
         a->mutable_destination()->set_department_code("SV-SA");
         a->mutable_destination()->set_municipality(std::string(101, 'x'));
       },
       "arrival.destination.municipality"},
      // needs.
      {"NeedsEmptyOk", [](Arrival* a) { a->clear_needs(); }, ""},
      {"NeedDuplicate", [](Arrival* a) { a->add_needs(v1::NEED_PSYCHOSOCIAL_SUPPORT); },
       "arrival.needs[2]"},
      {"NeedUnspecified", [](Arrival* a) { a->add_needs(v1::NEED_UNSPECIFIED); },
       "arrival.needs[2]"},
      {"NeedUnknownNumber", [](Arrival* a) { a->add_needs(static_cast<v1::Need>(42)); },
       "arrival.needs[2]"},
      {"AllSevenNeedsOk",
       [](Arrival* a) {
         a->clear_needs();
         for (int n = 1; n <= 7; ++n) a->add_needs(static_cast<v1::Need>(n));
       },
       ""},
      {"EightNeeds",
       [](Arrival* a) {
         a->clear_needs();
         for (int n = 1; n <= 7; ++n) a->add_needs(static_cast<v1::Need>(n));
         a->add_needs(v1::NEED_HEALTH);
       },
       "arrival.needs"},
      // consent.
      {"ConsentMissing", [](Arrival* a) { a->clear_consent(); }, "arrival.consent"},
      {"ConsentEmptyOk", [](Arrival* a) { a->mutable_consent()->Clear(); }, ""},
      {"ConsentUnknownAgency", [](Arrival* a) { a->mutable_consent()->set_agencies(1, "acme"); },
       "arrival.consent.agencies[1]"},
      {"ConsentAgencyNotACode", [](Arrival* a) { a->mutable_consent()->set_agencies(0, "IOM"); },
       "arrival.consent.agencies[0]"},
      {"ConsentAgencyDuplicate", [](Arrival* a) { a->mutable_consent()->add_agencies("iom"); },
       "arrival.consent.agencies[2]"},
      {"ConsentAgenciesWithoutPurposes", [](Arrival* a) { a->mutable_consent()->clear_purposes(); },
       "arrival.consent.purposes"},
      {"ConsentPurposesWithoutAgencies", [](Arrival* a) { a->mutable_consent()->clear_agencies(); },
       "arrival.consent.agencies"},
      {"ConsentPurposeDuplicate",
       [](Arrival* a) { a->mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION); },
       "arrival.consent.purposes[2]"},
      {"ConsentPurposeUnspecified",
       [](Arrival* a) { a->mutable_consent()->add_purposes(v1::PURPOSE_UNSPECIFIED); },
       "arrival.consent.purposes[2]"},
      {"ConsentGivenAtMissing", [](Arrival* a) { a->mutable_consent()->clear_given_at(); },
       "arrival.consent.given_at"},
      {"ConsentGivenAtBadNanos",
       [](Arrival* a) { a->mutable_consent()->mutable_given_at()->set_nanos(-1); },
       "arrival.consent.given_at"},
      {"ConsentGivenAtFarFuture",
       [](Arrival* a) {
         a->mutable_consent()->mutable_given_at()->set_seconds(
             absl::ToUnixSeconds(TestNow() + absl::Minutes(6)));
       },
       "arrival.consent.given_at"},
      {"ConsentGivenAtWithinClockSkewOk",
       [](Arrival* a) {
         a->mutable_consent()->mutable_given_at()->set_seconds(
             absl::ToUnixSeconds(TestNow() + absl::Minutes(4)));
       },
       ""},
      {"ConsentGivenAtBefore1990",
       [](Arrival* a) {
         a->mutable_consent()->mutable_given_at()->set_seconds(
             UnixSeconds(1989, 12, 31, 23, 59, 59));
       },
       "arrival.consent.given_at"},
      {"ConsentGivenAtOutOfRange",
       [](Arrival* a) {
         a->mutable_consent()->mutable_given_at()->set_seconds(253402300800);  // 10000-01-01
       },
       "arrival.consent.given_at"},
      // guardian: a returnee under 18 on arrival_date (2018-04-10) needs one.
      {"MinorWithoutGuardian",
       [](Arrival* a) { a->mutable_person()->set_birth_date("2005-01-01"); },
       "arrival.consent.guardian"},
      {"MinorOneDayShortOf18WithoutGuardian",
       [](Arrival* a) { a->mutable_person()->set_birth_date("2000-04-11"); },
       "arrival.consent.guardian"},
      {"EighteenOnTheArrivalDateOk",
       [](Arrival* a) { a->mutable_person()->set_birth_date("2000-04-10"); }, ""},
      {"MinorWithGuardianOk", [](Arrival* a) { MakeMinorWithGuardian(a); }, ""},
      {"MinorSharingWithNobodyNeedsNoGuardian",
       [](Arrival* a) {
         a->mutable_person()->set_birth_date("2005-01-01");
         a->mutable_consent()->clear_agencies();
         a->mutable_consent()->clear_purposes();
       },
       ""},
      {"AdultWithGuardian",
       [](Arrival* a) {
         a->mutable_consent()->mutable_guardian()->set_name("Ana López");
         a->mutable_consent()->mutable_guardian()->set_relationship(
             v1::GUARDIAN_RELATIONSHIP_PARENT);
       },
       "arrival.consent.guardian"},
      {"GuardianNameEmpty",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);
         a->mutable_consent()->mutable_guardian()->clear_name();
       },
       "arrival.consent.guardian.name"},
      {"GuardianNameBlank",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);
         a->mutable_consent()->mutable_guardian()->set_name(" \u3000 ");
       },
       "arrival.consent.guardian.name"},
      {"GuardianName101",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);
         a->mutable_consent()->mutable_guardian()->set_name(std::string(101, 'a'));
       },
       "arrival.consent.guardian.name"},
      {"GuardianRelationshipUnspecified",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);
         a->mutable_consent()->mutable_guardian()->clear_relationship();
       },
       "arrival.consent.guardian.relationship"},
      {"GuardianRelationshipUnknown",
       [](Arrival* a) {
         MakeMinorWithGuardian(a);
         a->mutable_consent()->mutable_guardian()->set_relationship(
             static_cast<v1::GuardianRelationship>(99));
       },
       "arrival.consent.guardian.relationship"},
      // Several faults: the first in field order is reported.
      {"FirstFieldWins",
       [](Arrival* a) {
         a->set_origin_country("XX");
         a->set_arrival_date("2018-02-30");
         a->mutable_person()->clear_given_name();
       },
       "arrival.arrival_date"},
  };
}

class BreakageTest : public testing::TestWithParam<Case> {};

TEST_P(BreakageTest, RefusedOnFieldOrAccepted) {
  const Case& c = GetParam();
  Arrival arrival = ValidArrival();
  c.change(&arrival);
  std::optional<FieldViolation> v = ValidateNewArrival(arrival, TestContext());
  if (c.field.empty()) {
    EXPECT_FALSE(v.has_value()) << v->field << ": " << v->message;
  } else {
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->field, c.field);
    EXPECT_FALSE(v->message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(SingleChanges, BreakageTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<Case>& param_info) {
                           return param_info.param.name;
                         });

TEST(ValidateNewArrivalTest, MessagesDoNotEchoPersonalData) {
  Arrival a = ValidArrival();
  a.mutable_person()->set_given_name(std::string(101, 'Q'));
  std::optional<FieldViolation> v = ValidateNewArrival(a, TestContext());
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(absl::StrContains(v->message, "QQQ")) << v->message;
}

TEST(ValidateNewArrivalTest, NoAgencyIsKnownWithoutLookup) {
  ValidationContext ctx = TestContext();
  ctx.is_known_agency = nullptr;
  std::optional<FieldViolation> v = ValidateNewArrival(ValidArrival(), ctx);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "arrival.consent.agencies[0]");
}

TEST(ValidateConsentTest, PathsStartWithPrefix) {
  v1::Consent consent = ValidArrival().consent();
  EXPECT_FALSE(ValidateConsent(consent, "consent", TestContext(), false).has_value());
  consent.add_agencies("nobody");
  std::optional<FieldViolation> v = ValidateConsent(consent, "consent", TestContext(), false);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "consent.agencies[2]");
}

TEST(ValidateConsentTest, FullWithdrawalIsValid) {
  v1::Consent withdrawn;
  withdrawn.mutable_given_at()->set_seconds(absl::ToUnixSeconds(TestNow()));
  EXPECT_FALSE(ValidateConsent(withdrawn, "consent", TestContext(), false).has_value());
  EXPECT_FALSE(ValidateConsent(v1::Consent(), "consent", TestContext(), false).has_value());
}

TEST(ValidateConsentTest, AtMost32Agencies) {
  v1::Consent consent = ValidArrival().consent();
  consent.clear_agencies();
  for (int i = 0; i < 33; ++i) consent.add_agencies("a" + std::to_string(i));
  ValidationContext ctx = TestContext();
  ctx.is_known_agency = [](absl::string_view) { return true; };
  std::optional<FieldViolation> v = ValidateConsent(consent, "consent", ctx, false);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "consent.agencies");
  consent.mutable_agencies()->RemoveLast();
  EXPECT_FALSE(ValidateConsent(consent, "consent", ctx, false).has_value());
}

// UpdateConsent: the caller says whether the stored returnee was a minor.
TEST(ValidateConsentTest, AMinorsConsentNamesTheGuardianAWithdrawalNeedsNone) {
  v1::Consent consent = ValidArrival().consent();
  std::optional<FieldViolation> v = ValidateConsent(consent, "consent", TestContext(), true);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "consent.guardian");
  consent.mutable_guardian()->set_name("Ana López");
  consent.mutable_guardian()->set_relationship(v1::GUARDIAN_RELATIONSHIP_LEGAL_GUARDIAN);
  EXPECT_FALSE(ValidateConsent(consent, "consent", TestContext(), true).has_value());
  v = ValidateConsent(consent, "consent", TestContext(), false);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "consent.guardian");
  EXPECT_FALSE(ValidateConsent(v1::Consent(), "consent", TestContext(), true).has_value());
  v1::Consent withdrawn_by_guardian;
  *withdrawn_by_guardian.mutable_guardian() = consent.guardian();
  EXPECT_FALSE(ValidateConsent(withdrawn_by_guardian, "consent", TestContext(), true).has_value());
}

TEST(UnderEighteenOnTest, TheEighteenthBirthdayIsTheFirstAdultDay) {
  EXPECT_TRUE(UnderEighteenOn(absl::CivilDay(2000, 4, 11), absl::CivilDay(2018, 4, 10)));
  EXPECT_FALSE(UnderEighteenOn(absl::CivilDay(2000, 4, 10), absl::CivilDay(2018, 4, 10)));
  // Born on 29 February: 18 on 1 March of a common year.
  EXPECT_TRUE(UnderEighteenOn(absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 2, 28)));
  EXPECT_FALSE(UnderEighteenOn(absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 3, 1)));
  Arrival a = ValidArrival();
  EXPECT_FALSE(ReturneeWasMinor(a));
  a.mutable_person()->set_birth_date("2001-01-01");
  EXPECT_TRUE(ReturneeWasMinor(a));
  a.mutable_person()->set_birth_date("not a date");
  EXPECT_FALSE(ReturneeWasMinor(a));
}

// CorrectArrival: the stored arrival (with its server fields) and a patch.
Arrival StoredArrival() {
  Arrival a = ValidArrival();
  a.set_arrival_id("arr-1");
  a.set_submitted_by("mfa");
  a.set_consent_version(2);
  a.set_version(3);
  a.mutable_recorded_at()->set_seconds(UnixSeconds(2018, 4, 11, 0, 0, 0));
  return a;
}

struct CorrectionCase {
  std::string name;
  std::vector<std::string> paths;
  std::function<void(Arrival*)> patch;
  std::string field;  // "" when accepted
};

void PrintTo(const CorrectionCase& c, std::ostream* os) { *os << c.name; }

class CorrectionTest : public testing::TestWithParam<CorrectionCase> {};

TEST_P(CorrectionTest, RefusedOnFieldOrApplied) {
  const CorrectionCase& c = GetParam();
  Arrival patch;
  c.patch(&patch);
  Arrival corrected;
  std::optional<FieldViolation> v =
      ApplyCorrection(StoredArrival(), patch, c.paths, TestContext(), &corrected);
  if (c.field.empty()) {
    ASSERT_FALSE(v.has_value()) << v->field << ": " << v->message;
    EXPECT_TRUE(corrected.arrival_id().empty() && corrected.submitted_by().empty() &&
                corrected.version() == 0 && !corrected.has_recorded_at());
    EXPECT_EQ(corrected.external_id(), "MFA-2018/000123");
    EXPECT_EQ(corrected.consent().agencies_size(), 2);  // the consent is kept
  } else {
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->field, c.field) << v->message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corrections, CorrectionTest,
    testing::ValuesIn(std::vector<CorrectionCase>{
        {"BirthDate",
         {"person.birth_date"},
         [](Arrival* a) { a->mutable_person()->set_birth_date("1991-05-17"); },
         ""},
        {"SeveralFields",
         {"person.given_name", "destination.department_code", "destination.municipality", "needs"},
         [](Arrival* a) {
           a->mutable_person()->set_given_name("José");
           a->mutable_destination()->set_department_code("SV-LI");
           a->mutable_destination()->set_municipality("Quezaltepeque");
           a->add_needs(v1::NEED_HEALTH);
         },
         ""},
        {"ClearDocumentNumber", {"person.document_number"}, [](Arrival*) {}, ""},
        {"NoPaths", {}, [](Arrival*) {}, "update_mask"},
        {"UnknownPath", {"person.nickname"}, [](Arrival*) {}, "update_mask"},
        {"ConsentIsNotCorrected", {"consent.agencies"}, [](Arrival*) {}, "update_mask"},
        {"ExternalIdNeverChanges", {"external_id"}, [](Arrival*) {}, "update_mask"},
        {"ServerFieldsAreNotCorrected", {"submitted_by"}, [](Arrival*) {}, "update_mask"},
        {"WholePersonIsNotAPath", {"person"}, [](Arrival*) {}, "update_mask"},
        {"PathTwice",
         {"mode", "mode"},
         [](Arrival* a) { a->set_mode(v1::ARRIVAL_MODE_LAND); },
         "update_mask"},
        {"NothingChanges",
         {"mode"},
         [](Arrival* a) { a->set_mode(v1::ARRIVAL_MODE_AIR); },
         "update_mask"},
        {"NeedsInAnotherOrderChangeNothing",
         {"needs"},
         [](Arrival* a) {
           a->add_needs(v1::NEED_TRAINING);
           a->add_needs(v1::NEED_PSYCHOSOCIAL_SUPPORT);
         },
         "update_mask"},
        {"ANamedFieldLeftEmptyIsRequired",
         {"person.given_name"},
         [](Arrival*) {},
         "arrival.person.given_name"},
        {"BadValue",
         {"destination.department_code"},
         [](Arrival* a) { a->mutable_destination()->set_department_code("SV-ZZ"); },
         "arrival.destination.department_code"},
        {"BirthAfterArrival",
         {"person.birth_date"},
         [](Arrival* a) { a->mutable_person()->set_birth_date("2019-01-01"); },
         "arrival.person.birth_date"},
        {"ArrivalBeforeBirth",
         {"arrival_date"},
         [](Arrival* a) { a->set_arrival_date("1989-01-01"); },
         "arrival.arrival_date"},
        // The consent in force names agencies and no guardian.
        {"MadeAMinorWithoutAGuardiansConsent",
         {"person.birth_date"},
         [](Arrival* a) { a->mutable_person()->set_birth_date("2005-01-01"); },
         "arrival.person.birth_date"},
        {"MadeAMinorByTheArrivalDate",
         {"arrival_date"},
         [](Arrival* a) { a->set_arrival_date("2000-01-01"); },
         "arrival.arrival_date"},
    }),
    [](const testing::TestParamInfo<CorrectionCase>& info) { return info.param.name; });

TEST(CorrectionTest, OnlyTheNamedFieldsChange) {
  Arrival patch;
  patch.mutable_person()->set_birth_date("1991-05-17");
  patch.mutable_person()->set_given_name("not named, not applied");
  patch.set_mode(v1::ARRIVAL_MODE_SEA);
  Arrival corrected;
  ASSERT_FALSE(
      ApplyCorrection(StoredArrival(), patch, {"person.birth_date"}, TestContext(), &corrected)
          .has_value());
  Arrival expected = StoredArrival();
  expected.mutable_person()->set_birth_date("1991-05-17");
  expected.clear_arrival_id();
  expected.clear_submitted_by();
  expected.clear_consent_version();
  expected.clear_version();
  expected.clear_recorded_at();
  EXPECT_EQ(corrected.SerializeAsString(), expected.SerializeAsString());
}

TEST(CorrectionTest, AMinorWhoseConsentNamesAGuardianMayBeCorrectedEitherWay) {
  Arrival minor = StoredArrival();
  MakeMinorWithGuardian(&minor);
  Arrival patch;
  patch.mutable_person()->set_birth_date("2005-06-08");
  Arrival corrected;
  EXPECT_FALSE(
      ApplyCorrection(minor, patch, {"person.birth_date"}, TestContext(), &corrected).has_value());
  // Found to be an adult: the guardian's consent stays what was given.
  patch.mutable_person()->set_birth_date("1995-06-08");
  EXPECT_FALSE(
      ApplyCorrection(minor, patch, {"person.birth_date"}, TestContext(), &corrected).has_value());
  EXPECT_TRUE(corrected.consent().has_guardian());
}

TEST(ToStatusTest, InvalidArgumentWithFieldAndMessage) {
  absl::Status status = ToStatus(FieldViolation{"arrival.person.birth_date",
                                                "must not be after "
                                                "arrival_date"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "arrival.person.birth_date: must not be after arrival_date");
}

TEST(ParseDateTest, RealDaysOnly) {
  EXPECT_EQ(ParseDate("2018-04-10"), absl::CivilDay(2018, 4, 10));
  EXPECT_EQ(ParseDate("2024-02-29"), absl::CivilDay(2024, 2, 29));
  EXPECT_FALSE(ParseDate("2023-02-29").has_value());
  EXPECT_FALSE(ParseDate("2018-02-30").has_value());
  EXPECT_FALSE(ParseDate("2018-13-01").has_value());
  EXPECT_FALSE(ParseDate("2018-00-10").has_value());
  EXPECT_FALSE(ParseDate("2018-04-00").has_value());
  EXPECT_FALSE(ParseDate("2018-4-10").has_value());
  EXPECT_FALSE(ParseDate("+018-04-10").has_value());
  EXPECT_FALSE(ParseDate("2018-04-10 ").has_value());
  EXPECT_FALSE(ParseDate("2018/04/10").has_value());
  EXPECT_FALSE(ParseDate("").has_value());
}

TEST(TextTest, Utf8AndControls) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("Cuscatlán \u20AC \U0001F600"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\x80"));  // overlong
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_EQ(CountCodePoints("Cuscatlán"), 9u);
  EXPECT_EQ(CountCodePoints("\U0001F600"), 1u);
  EXPECT_TRUE(HasControlCharacter("a\tb"));
  EXPECT_TRUE(HasControlCharacter("\xC2\x9F"));
  EXPECT_FALSE(HasControlCharacter("\xC2\xA0"));
  EXPECT_FALSE(CheckCleanText("Ana", 3).has_value());
  EXPECT_TRUE(CheckCleanText("Anas", 3).has_value());
  EXPECT_TRUE(CheckCleanText("\u3000\u200B", 3).has_value());
}

TEST(IsoCountriesTest, FullUpperCaseList) {
  EXPECT_TRUE(IsIsoAlpha2Country("SV"));
  EXPECT_TRUE(IsIsoAlpha2Country("US"));
  EXPECT_TRUE(IsIsoAlpha2Country("AD"));
  EXPECT_TRUE(IsIsoAlpha2Country("ZW"));
  EXPECT_TRUE(IsIsoAlpha2Country("SS"));
  EXPECT_FALSE(IsIsoAlpha2Country("sv"));
  EXPECT_FALSE(IsIsoAlpha2Country("Sv"));
  EXPECT_FALSE(IsIsoAlpha2Country("XX"));
  EXPECT_FALSE(IsIsoAlpha2Country("XK"));
  EXPECT_FALSE(IsIsoAlpha2Country("UK"));
  EXPECT_FALSE(IsIsoAlpha2Country("EU"));
  EXPECT_FALSE(IsIsoAlpha2Country("SLV"));
  EXPECT_FALSE(IsIsoAlpha2Country(""));
  std::vector<absl::string_view> all = IsoAlpha2Countries();
  EXPECT_EQ(all.size(), 249u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

TEST(GazetteerTest, EmbeddedDefault) {
  const Gazetteer& g = Gazetteer::Default();
  EXPECT_EQ(g.DepartmentCodes().size(), 14u);
  EXPECT_TRUE(g.HasDepartment("SV-SS"));
  EXPECT_FALSE(g.HasDepartment("sv-ss"));
  EXPECT_TRUE(g.DepartmentListsMunicipalities("SV-SS"));
  EXPECT_TRUE(g.DepartmentListsMunicipalities("SV-LI"));
  EXPECT_FALSE(g.DepartmentListsMunicipalities("SV-SA"));
  EXPECT_FALSE(g.DepartmentListsMunicipalities("SV-ZZ"));
  EXPECT_EQ(g.DepartmentName("SV-CA"), "Cabañas");  // accents survive CMake
  EXPECT_EQ(g.DepartmentName("SV-UN"), "La Unión");
  EXPECT_FALSE(g.DepartmentName("SV-ZZ").has_value());
  EXPECT_TRUE(g.HasMunicipality("SV-SS", "San Martín"));
  EXPECT_TRUE(g.HasMunicipality("SV-SS", "san martín"));
  EXPECT_FALSE(g.HasMunicipality("SV-SS", "San Martin"));
  EXPECT_FALSE(g.HasMunicipality("SV-SA", "Chalchuapa"));
  EXPECT_EQ(g.CanonicalMunicipality("SV-LI", "quezaltepeque"), "Quezaltepeque");
  EXPECT_EQ(g.Municipalities("SV-SS").size(), 19u);
  EXPECT_EQ(g.Municipalities("SV-LI").size(), 22u);
  std::vector<Gazetteer::Site> sites = g.ProgrammeSites();
  ASSERT_EQ(sites.size(), 3u);
  EXPECT_EQ(sites[0].department_code, "SV-LI");
  EXPECT_EQ(sites[0].municipality, "Quezaltepeque");
  EXPECT_EQ(sites[1].municipality, "Guazapa");
  EXPECT_EQ(sites[2].municipality, "Mejicanos");
  EXPECT_EQ(&g, &Gazetteer::Default());
}

TEST(GazetteerTest, ParsesSmallCsvWithCrlf) {
  absl::StatusOr<Gazetteer> g = Gazetteer::Parse(
      "department_code,department,municipality,programme_site\r\n"
      "SV-AH,Ahuachapán,,\r\n"
      "SV-SS,San Salvador,Guazapa,yes\r\n"
      "\r\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->HasMunicipality("SV-SS", "Guazapa"));
  EXPECT_FALSE(g->DepartmentListsMunicipalities("SV-AH"));
}

TEST(GazetteerTest, MalformedCsvFails) {
  const std::string header = "department_code,department,municipality,programme_site\n";
  const std::vector<std::string> malformed = {
      "",
      "code,name,municipality,site\nSV-SS,San Salvador,,\n",
      header,  // no departments
      header + "SV-SS,San Salvador,Guazapa\n",  // 3 fields
      header + "SV-SS,San Salvador,Guazapa,yes,x\n",  // 5 fields
      header + "sv-ss,San Salvador,,\n",
      header + "SV-SSS,San Salvador,,\n",
      header + "SV-SS,,,\n",
      header + "SV-SS,San Salvador,Guazapa,no\n",
      header + "SV-SS,San Salvador,,yes\n",
      header + "SV-SS,\"San Salvador\",,\n",
      header + "SV-SS,San Salvador,,\nSV-SS,Other,,\n",
      header + "SV-SS,San Salvador,Guazapa,\nSV-SS,San Salvador,GUAZAPA,\n",
      header + "SV-SS,San Salvador,\xff,\n",
      header + "SV-SS,San Salvador,Gua\tzapa,\n",
  };
  for (const std::string& csv : malformed) {
    absl::StatusOr<Gazetteer> g = Gazetteer::Parse(csv);
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument) << csv;
  }
}

}  // namespace
}  // namespace enlace::server
