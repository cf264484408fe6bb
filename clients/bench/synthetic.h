// The synthetic population of `scripts/bench.sh fill`: what the filled
// arrival number i (0, 1, 2, ...) holds, computed from i alone, so that the
// filler (enlace-benchfill) and the load generator (which needs the ids an
// agency may see, without asking the database) agree on every row.
//
// Each arrival is recorded by the ministry (mfa) with external_id
// "fill-<i, 10 digits>"; its consent names iom, unhcr and undp independently
// (about 80%, 45% and 25% of arrivals), so each agency sees a different
// share; purposes are mostly reintegration. About 30% of arrivals have a case
// owned by iom or unhcr (named in the consent for reintegration), with 0-3
// services; about a quarter of cases are referred to another agency the
// consent names, in every status; a few cases register an initiative.
// Arrival dates are spread over 2015-01-01 .. 2024-12-31.
//
//   enlace::bench::Population population(gazetteer);   // data/sv_gazetteer.csv rows
//   enlace::bench::FilledArrival a = population.Arrival(i);
//   if (enlace::bench::VisibleTo(i, "iom")) ... Population::ArrivalId(i) ...
#ifndef ENLACE_CLIENTS_BENCH_SYNTHETIC_H_
#define ENLACE_CLIENTS_BENCH_SYNTHETIC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::bench {

// The Purpose and Need numbers of protos/enlace/v1/arrivals.proto, and the
// CaseStatus and ReferralStatus of cases.proto and referrals.proto.
inline constexpr int kPurposeReintegration = 1;
inline constexpr int kPurposeProtection = 2;
inline constexpr int kPurposeStatistics = 3;

// Every year of the fill: arrival dates run from kFirstYear-01-01 to
// kLastYear-12-31.
inline constexpr int kFirstYear = 2015;
inline constexpr int kLastYear = 2024;

// One municipality of the gazetteer (a department without municipalities in
// it contributes its own name, which the validation accepts as any clean name).
struct Place {
  std::string department_code;
  std::string municipality;
};

// The places of data/sv_gazetteer.csv, read from its text (header first).
absl::StatusOr<std::vector<Place>> ParseGazetteer(absl::string_view csv);

struct FilledService {
  std::string service_id;
  int service = 0;  // a Need
  std::string delivered_on;  // YYYY-MM-DD
};

struct FilledReferral {
  std::string referral_id;
  std::string to_agency;
  int service = 0;  // a Need
  int status = 0;  // a ReferralStatus
  int version = 1;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
};

struct FilledInitiative {
  std::string initiative_id;
  std::string name;
  std::string sector;
  int64_t registered_at_us = 0;
};

struct FilledCase {
  std::string case_id;
  std::string owner;  // iom or unhcr
  int status = 0;  // a CaseStatus
  int version = 1;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  std::vector<FilledService> services;
  std::optional<FilledReferral> referral;
  std::optional<FilledInitiative> initiative;
};

struct FilledArrival {
  int64_t index = 0;
  std::string arrival_id;  // 32 lowercase hex digits, unique per index
  std::string external_id;  // fill-<index, 10 digits>
  std::string content_hash;  // 32 bytes
  std::string arrival_date;  // YYYY-MM-DD
  int mode = 0;
  std::string origin_country;
  std::string given_name, family_name, birth_date, document_number;
  int sex = 0;
  const Place* place = nullptr;
  uint32_t needs_mask = 0;
  std::vector<std::string> consent_agencies;  // sorted
  uint32_t purposes_mask = 0;  // bit (1 << Purpose)
  int64_t consent_given_at_us = 0;
  int64_t recorded_at_us = 0;
  std::optional<FilledCase> case_record;
};

// splitmix64's finalizer: a bijection of 64-bit words, behind every
// pseudo-random choice of the population and of the load generator's picks.
inline uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline constexpr char kSubmitter[] = "mfa";
inline constexpr char kExternalIdPrefix[] = "fill-";

// "fill-0000000042" for 42.
std::string FillExternalId(int64_t index);

class Population {
 public:
  explicit Population(std::vector<Place> places);

  FilledArrival Arrival(int64_t index) const;
  // Only the id (cheaper than Arrival()).
  static std::string ArrivalId(int64_t index);

 private:
  std::vector<Place> places_;
  std::vector<size_t> weighted_;  // indexes into places_, drawn uniformly
};

struct FilledConsent {
  std::vector<std::string> agencies;  // sorted
  uint32_t purposes_mask = 0;  // bit (1 << Purpose)
};

// The consent of filled arrival `index` (what Arrival(index) holds).
FilledConsent ConsentOf(int64_t index);

// The year of filled arrival `index`'s arrival_date.
int ArrivalYearOf(int64_t index);

// Whether `agency` may read filled arrival `index` itself: it submitted it,
// or the consent names it with a purpose that allows the record
// (reintegration or protection), as db/visibility.h says.
bool VisibleTo(int64_t index, absl::string_view agency);

// Ids of filled arrivals `agency` may see, drawn at random among the first
// `filled` (at most 200,000 of them are looked at), shuffled so that
// consecutive reads touch unrelated rows. The same for the same arguments.
std::vector<std::string> VisibleIds(int64_t filled, absl::string_view agency);

}  // namespace enlace::bench

#endif  // ENLACE_CLIENTS_BENCH_SYNTHETIC_H_
