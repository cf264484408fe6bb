// Where the programme's indicators are computed: ReportStore turns the
// records (arrivals, cases, services, initiatives, referrals) into a
// ProgrammeReport of counts, and nothing else. MysqlReportStore
// (mysql_report_store.h) implements it with SQL aggregates: no record ever
// leaves the database, only per-cell totals.
//
// Data minimization (DOMAIN.md rule 3) is part of the contract, so that no
// caller can forget it. Every cell is counted twice: how many records it
// holds (`total`) and how many of them the viewer owns (`owned`). A cell of
// 1 to 4 records is suppressed (count 0, suppressed = true) unless the viewer
// owns every record in it; 0 and 5 or more are always shown. ReportCell()
// below is that rule, and the only place it is written. Cells of 0 records
// are left out of the repeated fields.
//
// Who owns a record:
//   arrival           its submitter (arrivals.submitted_by)
//   case              its owner_agency
//   referral          its from_agency (the sender)
//   service record    the owner of its case
//   initiative        its owner_agency
//   served returnee   (an arrival with at least one counted case) the viewer,
//                     when every counted case of it is the viewer's
// An empty viewer (an administrator) owns nothing and so sees every small
// cell suppressed.
//
// Filters (all optional, dates inclusive, whole UTC days):
//   period: arrivals by arrival_date, cases and referrals by their creation
//           instant, services by delivered_on, initiatives by registration;
//           returnees served are the arrivals of the cases counted.
//   department: arrivals', cases' and initiatives' own department_code;
//           referrals and services through their case's.
//
// Example:
//   ReportQuery query{.period_from = "2017-01-01", .period_to = "2017-12-31",
//                     .viewer_agency = "iom"};
//   absl::StatusOr<enlace::v1::ProgrammeReport> report = store->Compute(query);
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_REPORT_STORE_H_
#define ENLACE_DB_REPORT_STORE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "enlace/v1/reports.pb.h"

namespace enlace::db {

// Cells with fewer records than this (but at least one) are suppressed.
inline constexpr int64_t kMinimumShownCount = 5;

// The programme's target of economic initiatives (DOMAIN.md).
inline constexpr int32_t kInitiativesTarget = 70;

struct ReportQuery {
  std::string period_from;      // YYYY-MM-DD inclusive; empty: open
  std::string period_to;        // YYYY-MM-DD inclusive; empty: open
  std::string department_code;  // empty: all departments
  std::string viewer_agency;    // agency code of the caller; empty: an administrator
};

// The cell a viewer gets for `total` records of which it owns `owned`:
// `total` shown when it is 0 or at least kMinimumShownCount, or when the
// viewer owns all of them (owned == total); otherwise count 0, suppressed.
// Anything inconsistent (owned < 0 or owned > total) owns nothing.
inline enlace::v1::CountCell ReportCell(int64_t total, int64_t owned) {
  enlace::v1::CountCell cell;
  if (total <= 0) return cell;
  bool owns_all = owned == total;
  if (total >= kMinimumShownCount || owns_all) {
    cell.set_count(total);
  } else {
    cell.set_suppressed(true);
  }
  return cell;
}

// women / served, as the report shows it: 0 when either cell is suppressed
// or nobody was served (a share must not reveal a suppressed count).
inline double WomenShare(const enlace::v1::CountCell& women, const enlace::v1::CountCell& served) {
  if (women.suppressed() || served.suppressed() || served.count() <= 0) return 0;
  return static_cast<double>(women.count()) / static_cast<double>(served.count());
}

class ReportStore {
 public:
  virtual ~ReportStore() = default;

  // The report for `query`, its cells already minimized for
  // query.viewer_agency as described at the top of this file, and the
  // query's period and department echoed. Department names are left empty:
  // naming departments is the caller's (the gazetteer is not the store's).
  // Repeated fields are ordered by their keys (department; month then
  // department; status; from, to, status; service type).
  // REQUIRES: period_from and period_to empty or real YYYY-MM-DD days, from
  // not after to (INVALID_ARGUMENT otherwise). UNAVAILABLE when the database
  // cannot be reached.
  virtual absl::StatusOr<enlace::v1::ProgrammeReport> Compute(const ReportQuery& query) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_REPORT_STORE_H_
