// ReportService: the programme report (docs/api.md), for every caller the policy
// admits. Checks the request, asks the ReportStore for the counts as the
// caller may see them (suppression of small cells is the store's contract,
// see db/report_store.h and docs/report-suppression.md) and names the
// departments from the gazetteer (names and humanitarian P-codes), and sets
// the programme's targets (server/programme_targets.h).
// Authorization, audit and status conversion happen in the CallGate.
#ifndef ENLACE_SERVER_REPORT_SERVICE_H_
#define ENLACE_SERVER_REPORT_SERVICE_H_

#include "absl/status/status.h"
#include "db/report_store.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "server/call_gate.h"
#include "server/programme_targets.h"

namespace enlace::server {

// OK, or INVALID_ARGUMENT naming the field first ("period_from: ..."):
// period_from and period_to are empty or real YYYY-MM-DD days covering whole
// calendar months (from the first day of a month, to the last day of a
// month: "period_from: reports cover whole months; use 2018-01-01"), from is
// not after to, whole quarters for REPORT_INTERVAL_QUARTER and a known
// interval (db::ValidateReportPeriod), and department_code is empty or a
// department of the gazetteer.
absl::Status ValidateGetProgrammeReportRequest(
    const enlace::v1::GetProgrammeReportRequest& request);

class ReportServiceImpl final : public enlace::v1::ReportService::CallbackService {
 public:
  // Pointers must outlive the service.
  ReportServiceImpl(CallGate* gate, db::ReportStore* store, const ProgrammeTargets* targets);

  grpc::ServerUnaryReactor* GetProgrammeReport(grpc::CallbackServerContext* ctx,
                                               const enlace::v1::GetProgrammeReportRequest* request,
                                               enlace::v1::ProgrammeReport* response) override;

 private:
  CallGate* const gate_;
  db::ReportStore* const store_;
  const ProgrammeTargets* const targets_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REPORT_SERVICE_H_
