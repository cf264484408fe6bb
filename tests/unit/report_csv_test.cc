// The report's CSV export with HXL hashtags (clients/cli/report_csv.h): the
// two header rows, one row per site, suppressed figures as empty fields
// (never 0), dollars from cents, the bounds of months and quarters, and
// RFC 4180 quoting.
#include "clients/cli/report_csv.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

std::vector<std::string> Lines(const std::string& csv) {
  EXPECT_TRUE(csv.size() >= 2 && csv.substr(csv.size() - 2) == "\r\n") << "CRLF line ends";
  std::vector<std::string> lines = absl::StrSplit(csv, "\r\n");
  lines.pop_back();  // after the last CRLF
  return lines;
}

std::vector<std::string> Fields(const std::string& line) { return absl::StrSplit(line, ','); }

TEST(ReportCsvTest, AnEmptyReportIsTheTwoHeaderRows) {
  std::vector<std::string> lines = Lines(ReportCsv(enlace::v1::ProgrammeReport()));
  ASSERT_THAT(lines, SizeIs(2));
  std::vector<std::string> tags = Fields(lines[1]);
  EXPECT_EQ(Fields(lines[0]).size(), tags.size());
  EXPECT_EQ(tags[0], "#date");
  EXPECT_EQ(tags[3], "#adm1+code");
  EXPECT_EQ(tags[4], "#adm1+name");
  EXPECT_THAT(tags, ::testing::Contains("#affected+returnees+ind+f+adults"));
  EXPECT_THAT(tags, ::testing::Contains("#affected+returnees+ind+m+children"));
  EXPECT_THAT(tags, ::testing::Contains("#reached+ind"));
  EXPECT_THAT(tags, ::testing::Contains("#value+seed_capital+usd"));
  for (const std::string& tag : tags) EXPECT_EQ(tag[0], '#') << tag;
}

TEST(ReportCsvTest, ASiteIsOneRowWithSuppressedFiguresEmpty) {
  enlace::v1::ProgrammeReport report;
  enlace::v1::ProgrammeReport::SiteRow* site = report.add_sites();
  site->set_period("2018-02");
  site->set_department_code("SV-SS");
  site->set_department_pcode("SV06");
  site->set_department_name("San Salvador");
  site->mutable_returnees()->set_count(320);
  site->mutable_returnees_female_children()->set_suppressed(true);
  site->mutable_returnees_female_adults()->set_count(0);
  site->mutable_seed_capital_usd_cents()->set_amount(125005);
  site->mutable_seed_capital_disbursements()->set_count(3);
  std::vector<std::string> lines = Lines(ReportCsv(report));
  ASSERT_THAT(lines, SizeIs(3));
  std::vector<std::string> tags = Fields(lines[1]);
  std::vector<std::string> row = Fields(lines[2]);
  ASSERT_EQ(row.size(), tags.size());
  auto at = [&](const std::string& tag) {
    for (size_t i = 0; i < tags.size(); ++i) {
      if (tags[i] == tag) return row[i];
    }
    ADD_FAILURE() << "no column " << tag;
    return std::string();
  };
  EXPECT_EQ(at("#date"), "2018-02");
  EXPECT_EQ(at("#date+start"), "2018-02-01");
  EXPECT_EQ(at("#date+end"), "2018-02-28");
  EXPECT_EQ(at("#adm1+code"), "SV06");
  EXPECT_EQ(at("#adm1+name"), "San Salvador");
  EXPECT_EQ(at("#affected+returnees+ind"), "320");
  EXPECT_EQ(at("#affected+returnees+ind+f+children"), "");  // suppressed
  EXPECT_EQ(at("#affected+returnees+ind+f+adults"), "0");  // a real zero
  EXPECT_EQ(at("#value+seed_capital+usd"), "1250.05");
  EXPECT_EQ(at("#output+seed_capital+num"), "3");
}

TEST(ReportCsvTest, QuartersHaveTheirBoundsAndTextIsQuoted) {
  enlace::v1::ProgrammeReport report;
  enlace::v1::ProgrammeReport::SiteRow* q4 = report.add_sites();
  q4->set_period("2016-Q4");
  q4->set_department_name("La Paz, \"central\"");
  enlace::v1::ProgrammeReport::SiteRow* q1 = report.add_sites();
  q1->set_period("2016-Q1");
  std::vector<std::string> lines = Lines(ReportCsv(report));
  ASSERT_THAT(lines, SizeIs(4));
  EXPECT_THAT(lines[2], ::testing::StartsWith("2016-Q4,2016-10-01,2016-12-31,,\"La Paz, "
                                              "\"\"central\"\"\","));
  EXPECT_THAT(lines[3], ::testing::StartsWith("2016-Q1,2016-01-01,2016-03-31,,,"));
}

}  // namespace
}  // namespace enlace::cli
