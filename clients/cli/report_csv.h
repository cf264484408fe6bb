// The programme report as a spreadsheet for donors: `enlacectl report
// --output csv`. One row per time bucket (month or quarter) and department
// (ProgrammeReport.sites), after two header rows: the column titles, then
// the Humanitarian Exchange Language (HXL) hashtags that the humanitarian
// data exchange reads (docs/report-export.md lists every column).
//
//   Period,Start,End,P-code,Department,Returnees,...
//   #date,#date+start,#date+end,#adm1+code,#adm1+name,#affected+returnees+ind,...
//   2018-03,2018-03-01,2018-03-31,SV06,San Salvador,320,...
//
// A suppressed figure (a sum of a grid cell of 1 to 4 records that are not
// the caller's: docs/report-suppression.md) is an empty field, never 0.
// Money is in US dollars with two decimals. Fields are quoted (RFC 4180)
// when they hold a comma, a quote or a line break; lines end with CRLF.
#ifndef ENLACE_CLIENTS_CLI_REPORT_CSV_H_
#define ENLACE_CLIENTS_CLI_REPORT_CSV_H_

#include <string>

#include "enlace/v1/reports.pb.h"

namespace enlace::cli {

// The CSV text of `report` (both header rows, then its sites).
std::string ReportCsv(const enlace::v1::ProgrammeReport& report);

// Writes ReportCsv(report) to stdout; returns the exit status (0, or 1 when
// stdout cannot be written).
int PrintReportCsv(const enlace::v1::ProgrammeReport& report);

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_REPORT_CSV_H_
