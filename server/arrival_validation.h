// Validation of API input for ArrivalService: a new Arrival (RecordArrival,
// RecordArrivals) and a Consent (UpdateConsent). Pure functions, no I/O: the
// caller supplies the clock and the set of known agencies in a
// ValidationContext. The services turn a violation into INVALID_ARGUMENT with
// the offending field named (ToStatus, or RecordError{code, message, field}).

#ifndef ENLACE_SERVER_ARRIVAL_VALIDATION_H_
#define ENLACE_SERVER_ARRIVAL_VALIDATION_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "enlace/v1/arrivals.pb.h"
#include "server/gazetteer.h"

namespace enlace::server {

// Why an input was refused: the offending field's path and a human reason.
// `message` never repeats personal data from the input (names, document
// numbers); it may quote codes that were already found well-formed.
struct FieldViolation {
  std::string field;  // request path, e.g. "arrival.person.birth_date"
  std::string message;  // e.g. "must not be after arrival_date"
};

// What validation needs from the outside world. Every field must be set:
// default-constructed `today`/`now` (1970) refuse nearly everything, and an
// empty `is_known_agency` knows no agency. Use MakeValidationContext.
struct ValidationContext {
  absl::CivilDay today;  // UTC today; dates after it are refused
  absl::Time now;  // consent given_at after now + 5 min is refused
  // Agency codes that may appear in consent (registered agencies).
  std::function<bool(absl::string_view)> is_known_agency;
  // Never null.
  const Gazetteer* gazetteer = &Gazetteer::Default();
};

// A context for the instant `now`: today is now's UTC calendar day, the
// gazetteer is the embedded one.
ValidationContext MakeValidationContext(absl::Time now,
                                        std::function<bool(absl::string_view)> is_known_agency);

// The first violation found in a new arrival, or nullopt if it is acceptable.
// Fields are checked in proto field-number order, and inside a field in a
// fixed order, so the result is deterministic. Field paths are request
// paths, e.g. "arrival.person.birth_date", "arrival.consent.agencies[1]".
//
// Rules:
//  - arrival_id, recorded_at, submitted_by, consent_version: assigned by the
//    server, must be empty/unset.
//  - external_id: required, 1..64 bytes of [A-Za-z0-9._:/-].
//  - arrival_date: required YYYY-MM-DD real day, 1990-01-01..today.
//  - mode: a known value other than UNSPECIFIED (unknown numbers refused).
//  - origin_country: ISO 3166-1 alpha-2, upper case (iso_countries.h).
//  - person: required. given_name, family_name: required clean text (see
//    CheckCleanText) of at most 100 code points. birth_date: required real
//    day, not after arrival_date nor more than 120 years before it. sex: known,
//    not UNSPECIFIED. document_number: optional, at most 64 [A-Za-z0-9-].
//  - destination: required. department_code: a gazetteer department, exact.
//    municipality: required clean text of at most 100 code points, and listed
//    in the gazetteer if its department lists municipalities (gazetteer.h).
//  - needs: at most 7, each known and not UNSPECIFIED, no duplicates.
//  - consent: required; then as ValidateConsent with prefix "arrival.consent",
//    the returnee being a minor when UnderEighteenOn(birth_date, arrival_date).
std::optional<FieldViolation> ValidateNewArrival(const enlace::v1::Arrival& arrival,
                                                 const ValidationContext& ctx);

// Validates a consent; paths start with `prefix`, e.g. "consent" for
// UpdateConsentRequest. Rules:
//  - agencies: at most 32; each matches [a-z][a-z0-9_-]{0,31} and
//    ctx.is_known_agency accepts it; no duplicates.
//  - purposes: each known and not UNSPECIFIED; no duplicates.
//  - agencies and purposes are both empty (no sharing; a full withdrawal) or
//    both non-empty.
//  - given_at: required when agencies is non-empty; when set, a valid
//    Timestamp (seconds within 0001-01-01..9999-12-31, nanos 0..999999999),
//    not before 1990-01-01T00:00:00Z and not after ctx.now + 5 minutes.
//  - guardian: required when agencies is non-empty and `returnee_is_minor`
//    (a child's data is shared only on a guardian's word); refused when the
//    returnee is not a minor (no third person's name is stored without
//    need). When set: name is required clean text of at most 100 code
//    points; relationship is known and not UNSPECIFIED. A withdrawal (no
//    agencies) may name the guardian who withdrew.
std::optional<FieldViolation> ValidateConsent(const enlace::v1::Consent& consent,
                                              absl::string_view prefix,
                                              const ValidationContext& ctx, bool returnee_is_minor);

// True iff someone born on `birth` had not turned 18 on `day`. Someone born
// on 29 February turns 18 on 1 March of a common year.
bool UnderEighteenOn(absl::CivilDay birth, absl::CivilDay day);

// Whether the returnee of a stored `arrival` was under 18 on its arrival
// date; false when either date does not parse (stored arrivals always do).
bool ReturneeWasMinor(const enlace::v1::Arrival& arrival);

// The paths CorrectArrival may name, in the order they are listed in its
// proto: arrival_date, mode, origin_country, person.given_name, ...
const std::vector<std::string>& CorrectablePaths();

// Applies a CorrectArrival to the `stored` arrival: *corrected becomes the
// stored content with the fields `paths` names taken from `patch` (the
// server's fields cleared, the consent kept). The first violation, or
// nullopt:
//  - update_mask: at least one path; each one of CorrectablePaths(), at
//    most once (consent, external_id and the server's fields are refused);
//    the named fields must change something.
//  - the corrected content follows every rule of ValidateNewArrival (paths
//    "arrival.*"), its consent apart: it was validated when given;
//  - a correction that makes the returnee under 18 on arrival_date while the
//    consent in force shares with agencies and names no guardian is refused
//    on the corrected date's path ("arrival.person.birth_date" or
//    "arrival.arrival_date"): withdraw the consent first, then give it anew
//    with the guardian.
std::optional<FieldViolation> ApplyCorrection(const enlace::v1::Arrival& stored,
                                              const enlace::v1::Arrival& patch,
                                              const std::vector<std::string>& paths,
                                              const ValidationContext& ctx,
                                              enlace::v1::Arrival* corrected);

// "YYYY-MM-DD" (exactly 10 characters, ASCII digits) that is a real calendar
// day; nullopt otherwise ("2018-02-30", "2018-2-3", " 2018-02-03" refused).
std::optional<absl::CivilDay> ParseDate(absl::string_view text);

// An InvalidArgument status whose message is "<field>: <message>".
absl::Status ToStatus(const FieldViolation& v);

// Text helpers, shared with other validators.

// True iff `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// Number of code points in `text`, which must be valid UTF-8.
size_t CountCodePoints(absl::string_view text);

// True iff valid UTF-8 `text` holds a C0 control (U+0000..U+001F), DEL
// (U+007F) or a C1 control (U+0080..U+009F).
bool HasControlCharacter(absl::string_view text);

// Why `text` is not acceptable free text, or nullopt: required (non-empty),
// valid UTF-8, no control characters, at most `max_code_points` code points,
// not only white space (Unicode White_Space, zero-width space, BOM).
std::optional<std::string> CheckCleanText(absl::string_view text, size_t max_code_points);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ARRIVAL_VALIDATION_H_
