// `enlacectl report --output csv`: the programme report as CSV. A placeholder
// (returnees by department only) until the HXL export replaces this file.
#ifndef ENLACE_CLIENTS_CLI_REPORT_CSV_H_
#define ENLACE_CLIENTS_CLI_REPORT_CSV_H_

#include "enlace/v1/reports.pb.h"

namespace enlace::cli {

// Prints the report as CSV on stdout; returns the exit status.
int PrintReportCsv(const enlace::v1::ProgrammeReport& report);

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_REPORT_CSV_H_
