// The data-minimization rule of programme reports (db/report_store.h):
// ReportCell(total, owned) and WomenShare, pure functions; and the request
// check of ReportService (server/report_service.h).
#include "db/report_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/report_service.h"
#include "tests/testing/status_matchers.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::StartsWith;

void ExpectShown(int64_t total, int64_t owned, int64_t count) {
  enlace::v1::CountCell cell = ReportCell(total, owned);
  EXPECT_FALSE(cell.suppressed()) << total << "/" << owned;
  EXPECT_EQ(cell.count(), count) << total << "/" << owned;
}

void ExpectSuppressed(int64_t total, int64_t owned) {
  enlace::v1::CountCell cell = ReportCell(total, owned);
  EXPECT_TRUE(cell.suppressed()) << total << "/" << owned;
  EXPECT_EQ(cell.count(), 0) << total << "/" << owned;
}

TEST(ReportCellTest, ZeroIsShownAsZeroAndNotSuppressed) {
  ExpectShown(0, 0, 0);
}

TEST(ReportCellTest, OneToFourAreSuppressedForWhoeverOwnsNone) {
  for (int64_t total = 1; total <= 4; ++total) ExpectSuppressed(total, 0);
}

TEST(ReportCellTest, OneToFourAreSuppressedWhenTheViewerOwnsOnlySome) {
  ExpectSuppressed(2, 1);
  ExpectSuppressed(3, 2);  // e.g. 3 cases: 2 iom, 1 undp, seen by iom
  ExpectSuppressed(4, 1);
  ExpectSuppressed(4, 3);
}

TEST(ReportCellTest, OneToFourAreShownToTheOwnerOfEveryRecord) {
  for (int64_t total = 1; total <= 4; ++total) ExpectShown(total, total, total);
}

TEST(ReportCellTest, FiveOrMoreAreNeverSuppressed) {
  ExpectShown(5, 0, 5);
  ExpectShown(5, 3, 5);
  ExpectShown(5, 5, 5);
  ExpectShown(6, 0, 6);
  ExpectShown(3988, 0, 3988);
}

TEST(ReportCellTest, InconsistentOwnershipOwnsNothing) {
  ExpectSuppressed(3, 4);
  ExpectSuppressed(3, -1);
  ExpectShown(-2, 0, 0);
}

TEST(WomenShareTest, IsWomenOverServed) {
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(5, 0), ReportCell(8, 0)), 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(3, 3), ReportCell(3, 3)), 1.0);  // the owner
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(0, 0), ReportCell(6, 0)), 0.0);
}

TEST(WomenShareTest, IsZeroWhenEitherCellIsSuppressedOrNobodyWasServed) {
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(3, 0), ReportCell(9, 0)), 0.0);
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(0, 0), ReportCell(4, 0)), 0.0);
  EXPECT_DOUBLE_EQ(WomenShare(ReportCell(0, 0), ReportCell(0, 0)), 0.0);
}

enlace::v1::GetProgrammeReportRequest Request(std::string from, std::string to,
                                              std::string department) {
  enlace::v1::GetProgrammeReportRequest request;
  request.set_period_from(from);
  request.set_period_to(to);
  request.set_department_code(department);
  return request;
}

TEST(ValidateGetProgrammeReportRequestTest, AcceptsOpenAndBoundedPeriods) {
  using server::ValidateGetProgrammeReportRequest;
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("", "", "")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("2017-01-01", "2017-12-31", "SV-SS")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("2018-02-28", "2018-02-28", "")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("", "2018-02-28", "SV-LI")).ok());
}

TEST(ValidateGetProgrammeReportRequestTest, NamesTheOffendingFieldFirst) {
  using server::ValidateGetProgrammeReportRequest;
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-02-30", "", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-2-3", "", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "yesterday", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_to: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-03-01", "2018-02-28", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "", "sv-ss")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("department_code: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "", "SV-XX")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("department_code: ")));
}

}  // namespace
}  // namespace enlace::db
