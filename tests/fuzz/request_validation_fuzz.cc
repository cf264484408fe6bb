// Fuzz harness: the validation of API input (server/arrival_validation.h).
// The bytes are parsed as the wire form of a RecordArrivalRequest and of an
// UpdateConsentRequest, and validated as the services do; the same bytes are
// also given to the text helpers as a string. Invariants: validation is
// deterministic and survives a serialize/parse round trip; an accepted
// arrival or consent really keeps the rules the header promises; a refusal
// names a field under the request's own path; text accepted as clean text is
// valid UTF-8 with no control character, non-empty and within the limit.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "enlace/v1/arrivals.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "server/arrival_validation.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using enlace::server::FieldViolation;
using enlace::server::ValidationContext;

const ValidationContext& Context() {
  // A fixed clock: a finding must reproduce on any day.
  static const ValidationContext* ctx = new ValidationContext(enlace::server::MakeValidationContext(
      absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone()),
      [](absl::string_view code) {
        return code == "mfa" || code == "iom" || code == "unhcr" || code == "undp";
      }));
  return *ctx;
}

bool Same(const std::optional<FieldViolation>& a, const std::optional<FieldViolation>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || (a->field == b->field && a->message == b->message);
}

void CheckAcceptedConsent(const enlace::v1::Consent& consent) {
  const ValidationContext& ctx = Context();
  FUZZ_CHECK(consent.agencies_size() <= 32, "more than 32 agencies accepted");
  FUZZ_CHECK((consent.agencies_size() == 0) == (consent.purposes_size() == 0),
             "agencies without purposes, or the reverse, accepted");
  std::set<std::string> agencies;
  for (const std::string& agency : consent.agencies()) {
    FUZZ_CHECK(ctx.is_known_agency(agency), "unknown agency accepted: " + agency);
    FUZZ_CHECK(agencies.insert(agency).second, "duplicate agency accepted");
  }
  std::set<int> purposes;
  for (int purpose : consent.purposes()) {
    FUZZ_CHECK(enlace::v1::Purpose_IsValid(purpose) && purpose != 0, "bad purpose accepted");
    FUZZ_CHECK(purposes.insert(purpose).second, "duplicate purpose accepted");
  }
  if (consent.agencies_size() > 0) FUZZ_CHECK(consent.has_given_at(), "given_at missing");
  if (consent.has_given_at()) {
    absl::Time given = absl::FromUnixSeconds(consent.given_at().seconds());
    FUZZ_CHECK(given <= ctx.now + absl::Minutes(5), "given_at in the future accepted");
    FUZZ_CHECK(
        given >= absl::FromCivil(absl::CivilSecond(1990, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
        "given_at before 1990 accepted");
    FUZZ_CHECK(consent.given_at().nanos() >= 0 && consent.given_at().nanos() <= 999999999,
               "bad nanos accepted");
  }
}

// The guardian rule held for an accepted consent.
void CheckAcceptedGuardian(const enlace::v1::Consent& consent, bool minor) {
  if (minor && consent.agencies_size() > 0) {
    FUZZ_CHECK(consent.has_guardian(), "a minor's data shared without a guardian");
  }
  if (!minor) FUZZ_CHECK(!consent.has_guardian(), "a guardian accepted for an adult");
  if (consent.has_guardian()) {
    FUZZ_CHECK(!enlace::server::CheckCleanText(consent.guardian().name(), 100).has_value() &&
                   consent.guardian().relationship() != 0 &&
                   enlace::v1::GuardianRelationship_IsValid(consent.guardian().relationship()),
               "a bad guardian accepted");
  }
}

void CheckAcceptedArrival(const enlace::v1::Arrival& arrival) {
  const ValidationContext& ctx = Context();
  FUZZ_CHECK(arrival.arrival_id().empty() && arrival.submitted_by().empty() &&
                 !arrival.has_recorded_at() && arrival.consent_version() == 0,
             "server-assigned field accepted from a client");
  FUZZ_CHECK(!arrival.external_id().empty() && arrival.external_id().size() <= 64,
             "bad external_id accepted");
  std::optional<absl::CivilDay> arrived = enlace::server::ParseDate(arrival.arrival_date());
  FUZZ_CHECK(arrived.has_value() && *arrived <= ctx.today && *arrived >= absl::CivilDay(1990, 1, 1),
             "bad arrival_date accepted");
  std::optional<absl::CivilDay> born = enlace::server::ParseDate(arrival.person().birth_date());
  FUZZ_CHECK(born.has_value() && *born <= *arrived, "bad birth_date accepted");
  FUZZ_CHECK(arrival.has_person() && arrival.has_destination() && arrival.has_consent(),
             "a required message is missing");
  FUZZ_CHECK(
      !enlace::server::CheckCleanText(arrival.person().given_name(), 100).has_value() &&
          !enlace::server::CheckCleanText(arrival.person().family_name(), 100).has_value() &&
          !enlace::server::CheckCleanText(arrival.destination().municipality(), 100).has_value(),
      "unclean text accepted");
  FUZZ_CHECK(arrival.origin_country().size() == 2, "bad origin_country accepted");
  FUZZ_CHECK(arrival.needs_size() <= 7, "more than 7 needs accepted");
  FUZZ_CHECK(arrival.mode() != 0 && enlace::v1::ArrivalMode_IsValid(arrival.mode()),
             "bad mode accepted");
  CheckAcceptedConsent(arrival.consent());
  const bool minor = enlace::server::UnderEighteenOn(*born, *arrived);
  CheckAcceptedGuardian(arrival.consent(), minor);
}

void FuzzArrival(const uint8_t* data, size_t size) {
  enlace::v1::RecordArrivalRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  std::optional<FieldViolation> first =
      enlace::server::ValidateNewArrival(request.arrival(), Context());
  FUZZ_CHECK(Same(first, enlace::server::ValidateNewArrival(request.arrival(), Context())),
             "validation is not deterministic");
  enlace::v1::RecordArrivalRequest again;
  FUZZ_CHECK(again.ParseFromString(request.SerializeAsString()), "own serialization unparsable");
  FUZZ_CHECK(Same(first, enlace::server::ValidateNewArrival(again.arrival(), Context())),
             "validation changed across a serialize/parse round trip");
  if (first.has_value()) {
    FUZZ_CHECK(absl::StartsWith(first->field, "arrival."),
               "field outside the request: " + first->field);
    FUZZ_CHECK(!first->message.empty(), "a refusal without a reason");
    absl::Status status = enlace::server::ToStatus(*first);
    FUZZ_CHECK(absl::IsInvalidArgument(status) && absl::StartsWith(status.message(), first->field),
               "ToStatus is not INVALID_ARGUMENT naming the field");
  } else {
    CheckAcceptedArrival(request.arrival());
  }
}

void FuzzConsent(const uint8_t* data, size_t size) {
  enlace::v1::UpdateConsentRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  // Whether the stored returnee was a minor comes from outside the request:
  // both answers are exercised, chosen by the input's length.
  const bool minor = size % 2 == 1;
  std::optional<FieldViolation> first =
      enlace::server::ValidateConsent(request.consent(), "consent", Context(), minor);
  FUZZ_CHECK(
      Same(first, enlace::server::ValidateConsent(request.consent(), "consent", Context(), minor)),
      "validation is not deterministic");
  if (first.has_value()) {
    FUZZ_CHECK(absl::StartsWith(first->field, "consent"),
               "field outside the request: " + first->field);
  } else {
    CheckAcceptedConsent(request.consent());
    CheckAcceptedGuardian(request.consent(), minor);
  }
}

void FuzzText(absl::string_view text) {
  bool utf8 = enlace::server::IsValidUtf8(text);
  if (utf8) {
    size_t count = enlace::server::CountCodePoints(text);
    FUZZ_CHECK(count <= text.size() && (count == 0) == text.empty(),
               "code point count out of range");
    enlace::server::HasControlCharacter(text);
  }
  for (size_t limit : {size_t{1}, size_t{100}}) {
    if (!enlace::server::CheckCleanText(text, limit).has_value()) {
      FUZZ_CHECK(utf8, "invalid UTF-8 accepted as clean text");
      FUZZ_CHECK(!text.empty(), "empty text accepted");
      FUZZ_CHECK(!enlace::server::HasControlCharacter(text), "control character accepted");
      FUZZ_CHECK(enlace::server::CountCodePoints(text) <= limit, "text over the limit accepted");
    }
  }
  std::optional<absl::CivilDay> day = enlace::server::ParseDate(text);
  if (day.has_value()) {
    // Years before 1000 too: "0032-02-14" is a real day (range checks come later).
    FUZZ_CHECK(absl::StrFormat("%04d-%02d-%02d", day->year(), day->month(), day->day()) == text,
               "a date that does not print back as itself");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field is refused by the parser, which logs
  // each one: quiet, or the log is all a run writes.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  FuzzArrival(data, size);
  FuzzConsent(data, size);
  FuzzText(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
