// The synthetic population of `bench.sh fill` (see synthetic.h): every field
// of filled arrival i is a function of i, drawn from splitmix64 hashes.
#include "clients/bench/synthetic.h"

#include <algorithm>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace enlace::bench {
namespace {

// A 32-hex-digit id, unique per (kind, n): its low half is a bijection of n.
std::string Id(uint64_t kind, uint64_t n) {
  return absl::StrFormat("%016x%016x", Mix(n ^ (kind * 0x51ED27A1B3C4D5E7ULL)), Mix(n ^ kind));
}

constexpr uint64_t kArrivalKind = 0xA11;
constexpr uint64_t kCaseKind = 0xCA5E;
constexpr uint64_t kServiceKind = 0x5E7;
constexpr uint64_t kReferralKind = 0x7EF;
constexpr uint64_t kInitiativeKind = 0x1A1;

constexpr const char* kFemaleNames[] = {"María",  "Ana",   "Rosa",  "Carmen",
                                        "Gloria", "Sofía", "Marta", "Elena"};
constexpr const char* kMaleNames[] = {"José",  "Juan",  "Carlos", "Luis",
                                      "Mario", "Óscar", "Miguel", "Pedro"};
constexpr const char* kFamilyNames[] = {"Hernández", "López", "Martínez", "Rivas", "Flores",
                                        "Ramírez",   "Cruz",  "Mejía",    "Pérez", "Reyes"};
constexpr const char* kOrigins[] = {"US", "US", "US", "MX", "MX", "GT"};
constexpr const char* kSectors[] = {"agriculture", "commerce", "food", "services", "crafts"};

template <typename T, size_t N>
const T& Pick(const T (&items)[N], uint64_t h) {
  return items[h % N];
}

int64_t MicrosOf(absl::CivilDay day, int64_t seconds_into_day) {
  return absl::ToUnixMicros(absl::FromCivil(day, absl::UTCTimeZone())) +
         seconds_into_day * 1'000'000;
}

absl::CivilDay DayOfMicros(int64_t us) {
  return absl::ToCivilDay(absl::FromUnixMicros(us), absl::UTCTimeZone());
}

// The arrival day of the arrival whose first hash is `h`.
absl::CivilDay ArrivalDay(uint64_t h) {
  const absl::CivilDay first(kFirstYear, 1, 1);
  const int days = static_cast<int>(absl::CivilDay(kLastYear + 1, 1, 1) - first);
  return first + static_cast<int>(h % static_cast<uint64_t>(days));
}

constexpr int kNeedCount = 7;  // NEED_PSYCHOSOCIAL_SUPPORT (1) .. NEED_EMPLOYMENT (7)

}  // namespace

absl::StatusOr<std::vector<Place>> ParseGazetteer(absl::string_view csv) {
  std::vector<Place> places;
  std::vector<absl::string_view> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  if (lines.empty() || !absl::StartsWith(lines[0], "department_code,")) {
    return absl::InvalidArgumentError("gazetteer: the header department_code,... is missing");
  }
  for (size_t n = 1; n < lines.size(); ++n) {
    std::vector<std::string> fields = absl::StrSplit(absl::StripSuffix(lines[n], "\r"), ',');
    if (fields.size() < 3 || fields[0].empty() || fields[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("gazetteer: bad line ", n + 1));
    }
    places.push_back(Place{fields[0], fields[2].empty() ? fields[1] : fields[2]});
  }
  if (places.empty()) return absl::InvalidArgumentError("gazetteer: no places");
  return places;
}

std::string FillExternalId(int64_t index) {
  return absl::StrFormat("%s%010d", kExternalIdPrefix, index);
}

Population::Population(std::vector<Place> places) : places_(std::move(places)) {
  // Weights: San Salvador's municipalities 40%, La Libertad's 25% (the
  // programme's sites), every other department 35% together.
  std::vector<size_t> ss, li, other;
  for (size_t p = 0; p < places_.size(); ++p) {
    const std::string& d = places_[p].department_code;
    (d == "SV-SS" ? ss : d == "SV-LI" ? li : other).push_back(p);
  }
  for (const auto& [group, weight] :
       {std::pair(&ss, 40), std::pair(&li, 25), std::pair(&other, 35)}) {
    if (group->empty()) continue;
    // `weight` * 100 slots shared by the group's places.
    for (int s = 0; s < weight * 100; ++s) weighted_.push_back((*group)[s % group->size()]);
  }
}

std::string Population::ArrivalId(int64_t index) {
  return Id(kArrivalKind, static_cast<uint64_t>(index));
}

int ArrivalYearOf(int64_t index) {
  return static_cast<int>(ArrivalDay(Mix(static_cast<uint64_t>(index) ^ 0xF111ULL)).year());
}

FilledConsent ConsentOf(int64_t index) {
  const uint64_t h3 = Mix(Mix(Mix(static_cast<uint64_t>(index) ^ 0xF111ULL)));
  FilledConsent consent;
  // Each agency named independently, so each sees its own share.
  if ((h3 >> 16) % 100 < 80) consent.agencies.push_back("iom");
  if ((h3 >> 24) % 100 < 25) consent.agencies.push_back("undp");
  if ((h3 >> 32) % 100 < 45) consent.agencies.push_back("unhcr");
  const int purposes = static_cast<int>((h3 >> 40) % 100);
  if (purposes < 70) {
    consent.purposes_mask = (1u << kPurposeReintegration) | (1u << kPurposeStatistics);
  } else if (purposes < 85) {
    consent.purposes_mask = (1u << kPurposeProtection) | (1u << kPurposeStatistics);
  } else if (purposes < 95) {
    consent.purposes_mask =
        (1u << kPurposeReintegration) | (1u << kPurposeProtection) | (1u << kPurposeStatistics);
  } else {
    consent.purposes_mask = 1u << kPurposeStatistics;
  }
  return consent;
}

bool VisibleTo(int64_t index, absl::string_view agency) {
  if (agency == kSubmitter) return true;
  const FilledConsent consent = ConsentOf(index);
  if ((consent.purposes_mask & ((1u << kPurposeReintegration) | (1u << kPurposeProtection))) == 0) {
    return false;
  }
  return std::find(consent.agencies.begin(), consent.agencies.end(), agency) !=
         consent.agencies.end();
}

FilledArrival Population::Arrival(int64_t index) const {
  const uint64_t i = static_cast<uint64_t>(index);
  const uint64_t h = Mix(i ^ 0xF111ULL);
  const uint64_t h2 = Mix(h);
  const uint64_t h3 = Mix(h2);
  const uint64_t h4 = Mix(h3);
  FilledArrival a;
  a.index = index;
  a.arrival_id = ArrivalId(index);
  a.external_id = FillExternalId(index);
  a.content_hash.reserve(32);
  for (uint64_t word : {Mix(h4 ^ 1), Mix(h4 ^ 2), Mix(h4 ^ 3), Mix(h4 ^ 4)}) {
    for (int b = 0; b < 8; ++b) a.content_hash.push_back(static_cast<char>(word >> (8 * b)));
  }

  const absl::CivilDay arrived = ArrivalDay(h);
  a.arrival_date = absl::FormatCivilTime(arrived);
  a.origin_country = Pick(kOrigins, h >> 12);
  a.mode = a.origin_country == "US" || (h >> 16) % 5 == 0 ? 1 /* AIR */ : 2 /* LAND */;
  const bool female = (h >> 20) % 100 < 45;
  a.sex = female ? 1 : 2;
  a.given_name = female ? Pick(kFemaleNames, h >> 24) : Pick(kMaleNames, h >> 24);
  a.family_name = Pick(kFamilyNames, h >> 28);
  const absl::CivilDay born = absl::CivilDay(1960, 1, 1) + static_cast<int>(h2 % (41 * 365 + 10));
  a.birth_date = absl::FormatCivilTime(born);
  a.document_number = absl::StrFormat("%08d-%d", (h2 >> 20) % 100000000, index % 10);
  a.place = &places_[weighted_[(h2 >> 40) % weighted_.size()]];
  const int needs = static_cast<int>((h3 >> 8) % 4);
  const int first_need = static_cast<int>((h3 >> 12) % kNeedCount);
  for (int n = 0; n < needs; ++n) a.needs_mask |= 1u << (1 + (first_need + 2 * n) % kNeedCount);

  FilledConsent consent = ConsentOf(index);
  a.consent_agencies = std::move(consent.agencies);
  a.purposes_mask = consent.purposes_mask;
  a.consent_given_at_us =
      MicrosOf(arrived, int64_t{8} * 3600 + static_cast<int64_t>((h3 >> 48) % 7200));
  a.recorded_at_us =
      a.consent_given_at_us + 3600'000'000LL + static_cast<int64_t>(h4 % 86400) * 1'000'000;

  // A case for about 30% of arrivals (42% of those whose consent lets iom or
  // unhcr open one), owned by one of them.
  const bool reintegration = (a.purposes_mask & (1u << kPurposeReintegration)) != 0;
  auto named = [&a](absl::string_view agency) {
    return std::find(a.consent_agencies.begin(), a.consent_agencies.end(), agency) !=
           a.consent_agencies.end();
  };
  const bool iom = named("iom"), unhcr = named("unhcr");
  if (!reintegration || (!iom && !unhcr) || (h4 >> 8) % 1000 >= 421) return a;
  const uint64_t c = Mix(h4 ^ 0xCA5EULL);
  FilledCase k;
  k.case_id = Id(kCaseKind, i);
  k.owner = iom && (!unhcr || c % 100 < 65) ? "iom" : "unhcr";
  const int status = static_cast<int>((c >> 8) % 100);
  k.status = status < 30 ? 1 /* OPEN */ : status < 75 ? 2 /* IN_PROGRESS */ : 3 /* CLOSED */;
  k.version = k.status;
  k.created_at_us = a.recorded_at_us + static_cast<int64_t>(1 + (c >> 16) % 60) * 86400'000'000LL;
  k.updated_at_us = k.created_at_us + static_cast<int64_t>((c >> 24) % 120) * 86400'000'000LL;
  const absl::CivilDay opened = DayOfMicros(k.created_at_us);
  const int services = static_cast<int>((c >> 32) % 4);
  for (int s = 0; s < services; ++s) {
    const uint64_t sh = Mix(c ^ static_cast<uint64_t>(s + 1));
    FilledService service;
    service.service_id = Id(kServiceKind, (i << 2) | static_cast<uint64_t>(s));
    service.service = 1 + static_cast<int>(sh % kNeedCount);
    service.delivered_on = absl::FormatCivilTime(opened + static_cast<int>(1 + (sh >> 8) % 180));
    k.services.push_back(std::move(service));
  }
  // A referral for about a quarter of cases, to another agency the consent names.
  std::vector<std::string> others;
  for (const std::string& agency : a.consent_agencies) {
    if (agency != k.owner) others.push_back(agency);
  }
  if (!others.empty() && (c >> 40) % 100 < 25) {
    const uint64_t rh = Mix(c ^ 0x7EFULL);
    FilledReferral r;
    r.referral_id = Id(kReferralKind, i);
    r.to_agency = others[rh % others.size()];
    r.service = 1 + static_cast<int>((rh >> 8) % kNeedCount);
    const int s = static_cast<int>((rh >> 16) % 100);
    // PENDING 20%, ACCEPTED 25%, DECLINED 10%, COMPLETED 35%, WITHDRAWN 10%
    r.status = s < 20 ? 1 : s < 45 ? 2 : s < 55 ? 3 : s < 90 ? 4 : 5;
    r.version = r.status == 1 ? 1 : r.status == 4 ? 3 : 2;
    r.created_at_us = k.created_at_us + static_cast<int64_t>(1 + (rh >> 24) % 30) * 86400'000'000LL;
    r.updated_at_us =
        r.created_at_us +
        (r.status == 1 ? 0 : static_cast<int64_t>(1 + (rh >> 32) % 30) * 86400'000'000LL);
    k.referral = std::move(r);
  }
  // An initiative for about 4% of cases.
  if ((c >> 48) % 100 < 4) {
    FilledInitiative initiative;
    initiative.initiative_id = Id(kInitiativeKind, i);
    initiative.name = absl::StrCat("Emprendimiento ", index);
    initiative.sector = Pick(kSectors, c >> 52);
    initiative.registered_at_us =
        k.created_at_us + static_cast<int64_t>(1 + (c >> 56) % 90) * 86400'000'000LL;
    k.initiative = std::move(initiative);
  }
  a.case_record = std::move(k);
  return a;
}

std::vector<std::string> VisibleIds(int64_t filled, absl::string_view agency) {
  constexpr int64_t kIdSample = 200'000;
  std::vector<std::string> ids;
  const int64_t draws = std::min(filled, kIdSample);
  for (int64_t k = 0; k < draws; ++k) {
    const int64_t index = filled <= kIdSample
                              ? k
                              : static_cast<int64_t>(Mix(0xB3AD5 + static_cast<uint64_t>(k)) %
                                                     static_cast<uint64_t>(filled));
    if (VisibleTo(index, agency)) ids.push_back(Population::ArrivalId(index));
  }
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[Mix(i) % i]);
  return ids;
}

}  // namespace enlace::bench
