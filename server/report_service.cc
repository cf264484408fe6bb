// ReportService handler (see report_service.h).
#include "server/report_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "db/report_cells.h"
#include "server/gazetteer.h"

namespace enlace::server {
namespace {

constexpr char kGetProgrammeReport[] = "/enlace.v1.ReportService/GetProgrammeReport";

}  // namespace

absl::Status ValidateGetProgrammeReportRequest(
    const enlace::v1::GetProgrammeReportRequest& request) {
  // Whole calendar months only (db/report_cells.h): a period that cut a
  // month would let two reports differ by a few days' records.
  if (absl::Status s =
          db::ValidateReportPeriod(request.period_from(), request.period_to(), request.interval());
      !s.ok()) {
    return s;
  }
  if (!request.department_code().empty() &&
      !Gazetteer::Default().HasDepartment(request.department_code())) {
    return absl::InvalidArgumentError(
        "department_code: not a department of the gazetteer (e.g. SV-SS)");
  }
  return absl::OkStatus();
}

ReportServiceImpl::ReportServiceImpl(CallGate* gate, db::ReportStore* store,
                                     const ProgrammeTargets* targets)
    : gate_(gate), store_(store), targets_(targets) {}

grpc::ServerUnaryReactor* ReportServiceImpl::GetProgrammeReport(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetProgrammeReportRequest* request,
    enlace::v1::ProgrammeReport* response) {
  return gate_->Unary(ctx, kGetProgrammeReport, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = ValidateGetProgrammeReportRequest(*request); !s.ok()) return s;
    db::ReportQuery query;
    query.period_from = request->period_from();
    query.period_to = request->period_to();
    query.department_code = request->department_code();
    query.interval = request->interval() == enlace::v1::REPORT_INTERVAL_QUARTER
                         ? enlace::v1::REPORT_INTERVAL_QUARTER
                         : enlace::v1::REPORT_INTERVAL_MONTH;
    // Only an agency can own records; an administrator sees small cells
    // suppressed like any non-owner.
    if (caller.principal.is_agency()) query.viewer_agency = caller.principal.name;
    absl::StatusOr<enlace::v1::ProgrammeReport> report = store_->Compute(query);
    if (!report.ok()) return report.status();
    const Gazetteer& gazetteer = Gazetteer::Default();
    for (enlace::v1::ProgrammeReport::DepartmentCount& department :
         *report->mutable_returnees_by_department()) {
      department.set_department_name(
          gazetteer.DepartmentName(department.department_code()).value_or(""));
    }
    for (enlace::v1::ProgrammeReport::SiteRow& site : *report->mutable_sites()) {
      site.set_department_name(gazetteer.DepartmentName(site.department_code()).value_or(""));
      site.set_department_pcode(gazetteer.DepartmentPcode(site.department_code()).value_or(""));
    }
    targets_->Apply(&*report);
    *response = *std::move(report);
    note->detail =
        absl::StrCat("period ", query.period_from.empty() ? "open" : query.period_from, "..",
                     query.period_to.empty() ? "open" : query.period_to, ", department ",
                     query.department_code.empty() ? "all" : query.department_code);
    return absl::OkStatus();
  });
}

}  // namespace enlace::server
