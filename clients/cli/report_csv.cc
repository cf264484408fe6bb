// `enlacectl report --output csv` (see report_csv.h): a header
// department_code,returnees and one row per department ("*" when suppressed).
#include "clients/cli/report_csv.h"

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/structured.h"

namespace enlace::cli {

int PrintReportCsv(const enlace::v1::ProgrammeReport& report) {
  std::cout << CsvLine({"department_code", "returnees"});
  for (const auto& department : report.returnees_by_department()) {
    const auto& cell = department.returnees();
    std::cout << CsvLine(
        {department.department_code(), cell.suppressed() ? "*" : absl::StrCat(cell.count())});
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace enlace::cli
