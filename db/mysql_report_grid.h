// The programme report's grid, pre-aggregated in the database (migration
// 0007): one table of grid cells per indicator, each cell with the number of
// records in it, kept in step with the records in the transaction that
// changes them. MysqlReportStore reads these cells, never the records, so a
// report costs the same with 10^5 or 10^7 records stored.
//
// Which cell a record belongs to is written once, here, as SQL over the
// record's row (GridRecordCell in the .cc): the same expressions move a
// record between cells (CountInGrid) and rebuild every cell from the records
// (RecountReportGrid). The cells split report_cells.h's grid by the agencies
// ownership depends on, so the store can count what any viewer owns:
//   returnees    month of arrival_date, department, submitter
//   cases        month of creation, the case's department, status, role
//                (CaseRole), owner
//   referrals    month of creation, the case's department, from, to, status
//   services     month of delivered_on, the case's department, service,
//                the case's owner, who recorded it
//   initiatives  month of registration, department, owner
// A case's role: the returnee's first case is the one opened first (lowest
// seq; OpenCase locks the arrival, so cases of one returnee are opened one
// at a time), kFirstFemale or kFirstOther by the returnee's sex; every later
// case is kLater.
//
// How a change keeps the cells right: in its transaction, after the records
// it creates are written, CountInGrid(+1) for them; a record that changes
// cell (a case's or a referral's status) is counted out (-1) before its
// UPDATE and in (+1) after. A change that rolls back rolls its counts back.
//
// Example (in a store's transaction, after inserting referral seq 42):
//   CountInGrid(conn, ReportGrid::kReferrals, {42}, +1);
#ifndef ENLACE_DB_MYSQL_REPORT_GRID_H_
#define ENLACE_DB_MYSQL_REPORT_GRID_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "db/mysql_pool.h"

namespace enlace::db {

enum class ReportGridTable { kReturnees, kCases, kReferrals, kServices, kInitiatives };

// Adds `sign` (+1 or -1) to the cell of each record of `table` whose seq is
// in `seqs` (arrivals.seq, cases.seq, referrals.seq, case_services.seq,
// initiatives.seq), as the record's row reads now in this transaction.
// Throws sql::SQLException like any statement (the pool converts).
void CountInGrid(MysqlConnection& c, ReportGridTable table, absl::Span<const int64_t> seqs,
                 int sign);

// Rebuilds every grid table from the records, in one transaction, and marks
// the grid as counted (report_grid_state). Safe while servers write: a
// record committed after the recount read the records adds itself to the
// rebuilt cell, and one the recount read was committed with its count in a
// cell the recount replaced. Needs DELETE on the grid tables (the migration
// user's). UNAVAILABLE when the database cannot be reached.
absl::Status RecountReportGrid(MysqlPool& pool);

// True until RecountReportGrid has run once on this database (migration
// 0007 leaves the grid uncounted).
absl::StatusOr<bool> ReportGridNeedsRecount(MysqlPool& pool);

// The grid month "YYYY-MM" (UTC) of a column of microseconds since the
// epoch, as a SQL expression in integer arithmetic (no session time zone, no
// decimal rounding).
std::string MonthOfInstantSql(absl::string_view column);

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_REPORT_GRID_H_
