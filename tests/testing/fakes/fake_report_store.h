// An in-memory db::ReportStore for unit tests, over the records of a
// FakeCaseStore (its arrivals, cases, referrals, services and initiatives),
// with the same observable contract as MysqlReportStore, checked by the
// same suite (tests/conformance/report_store_conformance.h): the grid cells
// of db/report_store.h counted from the records (a case's role by the
// returnee's first case; months in UTC; a service owned by its case's owner
// and by the agency that recorded it), filtered by whole months and
// department, and released by report_cells.h's rule (AggregateReport), the
// very code the MySQL store releases its cells with.
//
//   FakeCaseStore cases;
//   FakeReportStore reports(&cases);
//   absl::StatusOr<enlace::v1::ProgrammeReport> report = reports.Compute({.viewer_agency = "iom"});
//
// Where it simplifies: it counts the records on every call (MySQL keeps the
// cells up to date in each change's transaction).
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_REPORT_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_REPORT_STORE_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/report_store.h"
#include "tests/testing/fakes/fake_case_store.h"

namespace enlace::testing {

class FakeReportStore : public db::ReportStore {
 public:
  // `cases` must outlive the store.
  explicit FakeReportStore(FakeCaseStore* cases) : cases_(cases) {}

  absl::StatusOr<enlace::v1::ProgrammeReport> Compute(const db::ReportQuery& query) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every Compute fails with `status` (OK: works again).
  void FailCalls(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  FakeCaseStore* const cases_;
  absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_REPORT_STORE_H_
