// The visibility rule (see visibility.h).
#include "db/visibility.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace enlace::db {
namespace {

constexpr uint32_t Bit(enlace::v1::Purpose purpose) { return 1u << purpose; }

}  // namespace

uint32_t PurposesAllowing(Reach reach) {
  switch (reach) {
    case Reach::kArrivalRecord:
      return Bit(enlace::v1::PURPOSE_REINTEGRATION) | Bit(enlace::v1::PURPOSE_PROTECTION);
    case Reach::kCase:
    case Reach::kReferral:
    case Reach::kInitiative: return Bit(enlace::v1::PURPOSE_REINTEGRATION);
  }
  return 0;
}

bool ConsentAllows(Reach reach, absl::string_view agency, const ConsentState& consent) {
  if (agency.empty() || (consent.purposes_mask & PurposesAllowing(reach)) == 0) return false;
  return std::find(consent.agencies.begin(), consent.agencies.end(), agency) !=
         consent.agencies.end();
}

std::string ConsentAllowsSql(Reach reach, absl::string_view arrival_seq_column,
                             absl::string_view purposes_column,
                             absl::string_view submitter_column) {
  const std::string allowed = absl::StrCat(purposes_column, " & ", PurposesAllowing(reach));
  return absl::StrCat("((", allowed,
                      ") <> 0 AND EXISTS (SELECT 1 FROM arrival_consent_agencies v WHERE "
                      "v.arrival_seq = ",
                      arrival_seq_column, " AND v.agency_code = ? AND ",
                      AgreementInForceSql(submitter_column, "v.agency_code", allowed), "))");
}

std::string AgreementInForceSql(absl::string_view party_a, absl::string_view party_b,
                                absl::string_view purposes_expression) {
  // UTC_DATE(): the dates are UTC days, as the server's in-memory copy
  // judges them (server/sharing_agreements.h).
  return absl::StrCat("(", party_a, " = ", party_b,
                      " OR EXISTS (SELECT 1 FROM sharing_agreements g FORCE INDEX "
                      "(k_sharing_agreements_parties) WHERE g.party_low = LEAST(",
                      party_a, ", ", party_b, ") AND g.party_high = GREATEST(", party_a, ", ",
                      party_b, ") AND (g.purposes_mask & (", purposes_expression,
                      ")) <> 0 AND g.ended_at_us IS NULL AND g.valid_from <= UTC_DATE() "
                      "AND g.valid_until >= UTC_DATE()))");
}

std::string ConsentedArrivalsSql(Reach reach, absl::string_view conditions_on_c) {
  // FORCE INDEX: on MySQL and MariaDB alike, never the primary key's
  // (arrival_seq, agency_code) range, which reads every agency's rows.
  // STRAIGHT_JOIN: the consent rows drive and each arrival is one primary
  // key lookup, even when a condition on `c` (a department) tempts the
  // optimizer to scan arrivals by another index first.
  const std::string allowed = absl::StrCat("c.consent_purposes_mask & ", PurposesAllowing(reach));
  return absl::StrCat(
      "SELECT v.arrival_seq FROM arrival_consent_agencies v FORCE INDEX (k_consent_agency) "
      "STRAIGHT_JOIN arrivals c ON c.seq = v.arrival_seq "
      "WHERE v.agency_code = ? AND v.arrival_seq > ? AND (",
      allowed, ") <> 0", conditions_on_c, " AND ",
      // Last: the cheaper conditions on `c` go first.
      AgreementInForceSql("c.submitted_by", "v.agency_code", allowed));
}

ConsentJoin ConsentJoinSql(Reach reach, absl::string_view alias,
                           absl::string_view arrival_seq_column, absl::string_view purposes_column,
                           absl::string_view submitter_column) {
  const std::string allowed = absl::StrCat(purposes_column, " & ", PurposesAllowing(reach));
  return ConsentJoin{
      absl::StrCat(" STRAIGHT_JOIN arrival_consent_agencies ", alias, " ON ", alias,
                   ".arrival_seq = ", arrival_seq_column, " AND ", alias, ".agency_code = ?"),
      absl::StrCat(
          "(", allowed, ") <> 0 AND ",
          AgreementInForceSql(submitter_column, absl::StrCat(alias, ".agency_code"), allowed))};
}

uint32_t PurposesMaskOf(const std::vector<enlace::v1::Purpose>& purposes) {
  uint32_t mask = 0;
  for (enlace::v1::Purpose p : purposes) mask |= Bit(p);
  return mask;
}

}  // namespace enlace::db
