// Where the programme's indicators are computed: ReportStore turns the
// records (arrivals, cases, services, initiatives, referrals) into a
// ProgrammeReport of counts, and nothing else. MysqlReportStore
// (mysql_report_store.h) implements it from grid cells pre-aggregated in the
// database (mysql_report_grid.h): no record ever leaves the database, only
// per-cell totals.
//
// Data minimization (docs/data-protection.md, section 5) is part of the
// contract, so that no caller can forget it. The rule is written once, in report_cells.h, and
// explained in docs/report-suppression.md:
//   - every indicator is counted per grid cell (its key, a department, a
//     calendar month), each with `total` records and `owned` by the viewer;
//   - a grid cell is hidden when the records the viewer does not own number
//     1 to 4 (total - owned in 1..4);
//   - every number of the report is a sum of grid cells, shown only when
//     none of them is hidden, else count 0 and suppressed = true;
//   - returnees served is shown only when both its women and its non-women
//     parts are free of hidden grid cells (women_share is 0 otherwise).
// Cells of 0 records are left out of the repeated fields.
//
// Who owns a record (its creator):
//   arrival           its submitter (arrivals.submitted_by)
//   case              its owner_agency
//   referral          its from_agency (the sender)
//   service record    the owner of its case, and also the agency that
//                     recorded it (a receiving agency records services on
//                     another agency's case: those records are its own doing)
//   initiative        its owner_agency
//   served returnee   the owner of the returnee's first case
// An empty viewer (an administrator) owns nothing.
//
// The grid cells (month = calendar month, UTC):
//   returnees         department, month of arrival_date
//   cases             status, role (first case of a woman, first case of
//                     anyone else, later case), case's department, month of
//                     creation
//   referrals         from, to, status, case's department, month of creation
//   services          type, case's department, month of delivered_on
//   initiatives       department, month of registration
//   returnees served  the first cases above: a returnee is counted once, in
//                     the department and month of their first case (the
//                     first opened), whatever its status; women served are the
//                     first cases of women.
//
// Filters (all optional):
//   period: whole calendar months (from the first day of a month to the last
//           day of a month, inclusive): arrivals by arrival_date, cases and
//           referrals by their creation instant, services by delivered_on,
//           initiatives by registration; returnees served are those whose
//           first case was opened in the period.
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
#include "db/report_cells.h"
#include "enlace/v1/reports.pb.h"

namespace enlace::db {

struct ReportQuery {
  std::string period_from;  // first day of a month, YYYY-MM-DD; empty: open
  std::string period_to;  // last day of a month, YYYY-MM-DD; empty: open
  std::string department_code;  // empty: all departments
  std::string viewer_agency;  // agency code of the caller; empty: an administrator
  // The buckets of ProgrammeReport.sites.
  enlace::v1::ReportInterval interval = enlace::v1::REPORT_INTERVAL_MONTH;
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;

  // The report for `query`, its cells already minimized for
  // query.viewer_agency as described at the top of this file, and the
  // query's period and department echoed. Department names are left empty:
  // naming departments is the caller's (the gazetteer is not the store's).
  // Repeated fields are ordered by their keys (department; month then
  // department; status; from, to, status; service type).
  // The programme's targets are the caller's (server/programme_targets.h).
  // REQUIRES: ValidateReportPeriod(period_from, period_to, interval) is OK:
  // whole months (whole quarters for QUARTER), from not after to
  // (INVALID_ARGUMENT otherwise, naming the field). UNAVAILABLE when the
  // database cannot be reached.
  virtual absl::StatusOr<enlace::v1::ProgrammeReport> Compute(const ReportQuery& query) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_REPORT_STORE_H_
