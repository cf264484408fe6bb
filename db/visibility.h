// The one rule that decides whether an agency may see a returnee's records,
// and for what purpose. Every read path applies it: the stores' queries
// through ConsentAllowsSql() (or, for lists driven by an index,
// ConsentedArrivalsSql() and ConsentJoinSql()), the live referral feed and
// its catch-up through ConsentAllows(); docs/data-protection.md states the
// same rules in prose.
//
// An arrival's consent names agencies and purposes (one set of each). An
// agency other than the submitter reaches a record only when the consent
// names it AND includes a purpose that allows that kind of record:
//
//   reach              purposes that allow it     what it is
//   kArrivalRecord     REINTEGRATION, PROTECTION  the arrival with name, birth date, document
//   kCase              REINTEGRATION              opening, reading, updating a case; its services
//   kReferral          REINTEGRATION              referrals, their feed events, returnee summary
//   kInitiative        REINTEGRATION              economic initiatives listed with their names
//
// STATISTICS allows no record at all: it only lets the returnee be counted,
// and programme reports count every record for everyone under small-cell
// suppression (db/report_store.h), so it grants nothing beyond that.
// Beyond consent, the stores add who-may-see rules of their own (the case's
// owner, a referral's two parties); consent is necessary, never sufficient.
//
// Data-sharing agreements (db/agreement_store.h) bound every flow: a record
// reaches an agency other than the arrival's submitter only while an
// agreement between the two is in force (today, UTC) and covers one of the
// purposes the consent gives that allow the reach; a referral's events and
// its record also need one between its sender and receiver covering
// REINTEGRATION (AgreementInForceSql). The SQL forms below apply it with
// the consent; the live feed applies it from memory
// (server/sharing_agreements.h).
//
// Example:
//   std::string sql = absl::StrCat("... WHERE c.seq = ? AND ",
//       ConsentAllowsSql(Reach::kCase, "c.arrival_seq", "a.consent_purposes_mask",
//                        "a.submitted_by"));
//   // bind: ..., viewer.agency
//   if (ConsentAllows(Reach::kReferral, "undp", consent)) { ... }
#ifndef ENLACE_DB_VISIBILITY_H_
#define ENLACE_DB_VISIBILITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::db {

enum class Reach { kArrivalRecord, kCase, kReferral, kInitiative };

// An arrival's current consent, as the rule needs it.
struct ConsentState {
  int version = 0;  // arrivals.consent_version; higher is newer
  std::vector<std::string> agencies;  // agency codes named
  uint32_t purposes_mask = 0;  // bit (1 << Purpose) per purpose given
};

// The bit mask (1 << enlace::v1::Purpose) of the purposes that allow `reach`.
uint32_t PurposesAllowing(Reach reach);

// True when `consent` names `agency` with a purpose that allows `reach`.
bool ConsentAllows(Reach reach, absl::string_view agency, const ConsentState& consent);

// The same rule, with the agreements, as an SQL condition on the arrival
// whose seq is `arrival_seq_column`, purposes mask `purposes_column` and
// submitter `submitter_column`. It has exactly one placeholder: the agency
// code. Column names come from code, never from input.
std::string ConsentAllowsSql(Reach reach, absl::string_view arrival_seq_column,
                             absl::string_view purposes_column, absl::string_view submitter_column);

// An SQL condition, no placeholder: the organisations `party_a` and
// `party_b` (columns or expressions) are the same, or an agreement between
// them is in force today (UTC) and covers a purpose of the mask
// `purposes_expression`. One primary-key-prefix lookup per row.
std::string AgreementInForceSql(absl::string_view party_a, absl::string_view party_b,
                                absl::string_view purposes_expression);

// The same rule as a list: "SELECT v.arrival_seq FROM ... WHERE ..." of the
// arrivals (alias `c`, for `conditions_on_c`) whose consent allows `reach`
// to the agency bound at the first placeholder, with seq above the second,
// under the agreements as ConsentAllowsSql().
// Driven by the consent table's (agency_code, arrival_seq) key, so that a
// page ("... ORDER BY v.arrival_seq LIMIT ?" appended by the caller) is one
// bounded index range however many arrivals the agency is named in, where
// ConsentAllowsSql() as a filter over arrivals is not. `conditions_on_c`:
// more " AND ..." conditions (with their placeholders after these two).
std::string ConsentedArrivalsSql(Reach reach, absl::string_view conditions_on_c);

// The same rule as one more table in a join, for a query driven by another
// index: " STRAIGHT_JOIN arrival_consent_agencies <alias> ON ..." (one
// primary-key lookup per row: at most one row, so the join keeps EXISTS's
// meaning) plus the purposes and agreement condition to add to the WHERE
// clause, on the arrival's purposes mask and submitter columns. One
// placeholder: the agency, in the join.
struct ConsentJoin {
  std::string join;  // append after the table the arrival seq comes from
  std::string condition;  // "(<mask> & N) <> 0 AND <agreement>", for the WHERE clause
};
ConsentJoin ConsentJoinSql(Reach reach, absl::string_view alias,
                           absl::string_view arrival_seq_column, absl::string_view purposes_column,
                           absl::string_view submitter_column);

// The mask form of a list of purposes (1 << value for each).
uint32_t PurposesMaskOf(const std::vector<enlace::v1::Purpose>& purposes);

}  // namespace enlace::db

#endif  // ENLACE_DB_VISIBILITY_H_
