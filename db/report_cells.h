// The release rule of programme reports, as pure functions with no I/O: the
// only place where it is decided which counts a viewer may see. The full
// rationale, and what the rule does not protect, is docs/report-suppression.md.
//
// 1. The grid. Every indicator is first counted per grid cell: the
//    indicator's own key, a department and a calendar month (UTC), e.g.
//    "cases IN_PROGRESS opened in SV-SS in 2018-03". A grid cell holds
//    `total` records, of which `owned` are the viewer's own (ReportGrid
//    below lists the grid of each indicator).
// 2. The hidden rule (IsHidden): a grid cell is hidden from a viewer when the
//    records it does NOT own, total - owned, number 1 to 4. The viewer's own
//    records never count towards showing a cell: adding records of one's own
//    cannot turn a hidden cell into a shown one. An administrator (empty
//    viewer) owns nothing.
// 3. Aggregation (CellSum): every number of a report is a sum of grid
//    cells, and is shown (its exact sum) only when none of the grid cells it
//    sums is hidden; otherwise it is suppressed (count 0, suppressed = true).
//    So every number shown is a function of non-hidden grid cells only, and
//    no sum or difference of shown numbers, from one report or many (of one
//    state of the data), can give the value of a hidden cell.
// 4. Complements (ReleaseServed): returnees served is the sum of a women part
//    and a non-women part; it is shown only when both parts are free of
//    hidden cells, so that served - women never reveals a hidden remainder.
// 5. Periods (ValidateReportPeriod) are whole calendar months, so that a
//    period never cuts a grid cell in two.
//
// Example:
//   ReportGrid grid;
//   grid.returnees.push_back({"SV-SS", "2018-03", {.total = 7, .owned = 0}});
//   grid.returnees.push_back({"SV-SS", "2018-04", {.total = 2, .owned = 0}});
//   enlace::v1::ProgrammeReport report;
//   AggregateReport(grid, &report);
//   // by month: 2018-03 = 7, 2018-04 suppressed; SV-SS suppressed (7 + hidden).
#ifndef ENLACE_DB_REPORT_CELLS_H_
#define ENLACE_DB_REPORT_CELLS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "enlace/v1/reports.pb.h"

namespace enlace::db {

// Grid cells in which the viewer does not own between 1 and this minus 1
// records are hidden.
inline constexpr int64_t kMinimumShownCount = 5;

// One grid cell as counted for one viewer.
struct GridCount {
  int64_t total = 0;  // records in the cell
  int64_t owned = 0;  // of them, the viewer's own (0 for an administrator)
};

// The records of `cell` that the viewer does not own: total - owned. An
// inconsistent `owned` (below 0 or above total) counts as owning nothing.
int64_t OthersIn(const GridCount& cell);

// THE rule: true when the viewer may not see `cell` because the records it
// does not own number 1 to kMinimumShownCount - 1.
bool IsHidden(const GridCount& cell);

// A number of the report: the sum of the grid cells added to it.
class CellSum {
 public:
  void Add(const GridCount& cell);
  void Add(const CellSum& other);

  int64_t total() const { return total_; }
  // Some grid cell added is hidden.
  bool hidden() const { return hidden_; }

  // What the viewer gets: the sum, or count 0 and suppressed when any grid
  // cell of it is hidden.
  enlace::v1::CountCell Release() const;

 private:
  int64_t total_ = 0;
  bool hidden_ = false;
};

// A sum of amounts (money, jobs) carried by the records of the grid cells
// added: released exactly when the count of those records is (CellSum), so
// an amount never tells more about a hidden cell than its count would.
class AmountSum {
 public:
  void Add(const GridCount& cell, int64_t amount);

  const CellSum& records() const { return records_; }
  int64_t amount() const { return amount_; }
  enlace::v1::AmountCell Release() const;

 private:
  CellSum records_;
  int64_t amount_ = 0;
};

// The age band of someone born on `birth` on the day `on`, by whole years
// of age (a birthday counts from its day; someone born on 29 February turns
// a year older on 1 March in common years). AGE_BAND_UNSPECIFIED when `on`
// is before `birth`. The SQL of the grid (mysql_report_grid.cc) computes the
// same band; the report conformance suite checks that they agree.
enlace::v1::AgeBand AgeBandOn(absl::CivilDay birth, absl::CivilDay on);

// Youth: 15 to 29 years old (AGE_BAND_15_17, _18_24, _25_29).
bool IsYouth(enlace::v1::AgeBand band);
// Children: under 18 (AGE_BAND_0_14, _15_17).
bool IsChild(enlace::v1::AgeBand band);

// Returnees served and the women among them, from their two disjoint parts:
// the returnees served who are women and those who are not. served is
// women + not_women, shown only when neither part has a hidden grid cell;
// women is shown when its own part has none. women_share is women / served
// when both are shown and served > 0, else 0.
struct ServedRelease {
  enlace::v1::CountCell served;
  enlace::v1::CountCell women;
  double women_share = 0;
};
ServedRelease ReleaseServed(const CellSum& women, const CellSum& not_women);

// What a case is for the served indicators. A returnee is served once, by
// the first case opened for them (cases of one returnee are opened one at a
// time, so the first is the one with the lowest sequence): that case is kFirstFemale or kFirstOther
// by the returnee's sex; any further case of the same returnee is kLater.
enum class CaseRole { kFirstFemale = 0, kFirstOther = 1, kLater = 2 };

// The grid of a report: one entry per non-empty grid cell, as the store
// counted it for the viewer. `month` is "YYYY-MM" (UTC), `department` a
// department code.
struct ReportGrid {
  // Arrivals by destination department, month of arrival_date, sex and
  // age band on arrival_date; owner: the submitter.
  struct Returnees {
    std::string department;
    std::string month;
    GridCount count;
    enlace::v1::Sex sex = enlace::v1::SEX_UNSPECIFIED;
    enlace::v1::AgeBand age_band = enlace::v1::AGE_BAND_UNSPECIFIED;
  };
  // Cases by status, role, the case's department and month of creation;
  // owner: the case's owner. Returnees served are the first cases
  // (kFirstFemale + kFirstOther), so cases by status and returnees served
  // are sums over one partition of the cases.
  // A first case also carries its returnee's sex and age band on the
  // arrival date (returnees served by sex and age); a later case carries
  // SEX_UNSPECIFIED and AGE_BAND_UNSPECIFIED, so that it splits no cell.
  struct Cases {
    enlace::v1::CaseStatus status = enlace::v1::CASE_STATUS_UNSPECIFIED;
    CaseRole role = CaseRole::kLater;
    std::string department;
    std::string month;
    GridCount count;
    enlace::v1::Sex sex = enlace::v1::SEX_UNSPECIFIED;
    enlace::v1::AgeBand age_band = enlace::v1::AGE_BAND_UNSPECIFIED;
  };
  // Referrals by sender, receiver, status, the referred case's department
  // and month of creation; owner: the sender.
  struct Referrals {
    std::string from_agency;
    std::string to_agency;
    enlace::v1::ReferralStatus status = enlace::v1::REFERRAL_STATUS_UNSPECIFIED;
    std::string department;
    std::string month;
    GridCount count;
  };
  // Service records by type, the case's department and month of
  // delivered_on; owned by the viewer when it owns the case or recorded the
  // service itself (a receiving agency records services on another's case).
  // Also split by training completion (true only for a completed
  // TRAINING); `amount_usd_cents` is the money its records disbursed (only
  // SEED_CAPITAL records carry any).
  struct Services {
    enlace::v1::Need service = enlace::v1::NEED_UNSPECIFIED;
    std::string department;
    std::string month;
    GridCount count;
    bool training_completed = false;
    int64_t amount_usd_cents = 0;
  };
  // Initiatives by department, month of registration, current status and
  // woman-led; `jobs_created` sums its records' jobs. Owner: the owner.
  struct Initiatives {
    std::string department;
    std::string month;
    GridCount count;
    enlace::v1::InitiativeStatus status = enlace::v1::INITIATIVE_STATUS_UNSPECIFIED;
    bool woman_led = false;
    int64_t jobs_created = 0;
  };

  std::vector<Returnees> returnees;
  std::vector<Cases> cases;
  std::vector<Referrals> referrals;
  std::vector<Services> services;
  std::vector<Initiatives> initiatives;
};

// Sets every count of `report` from `grid`: returnees by department (sums
// over months) and by month and department, cases by status, referrals by
// (from, to, status), services by type (sums over departments and months),
// initiatives, returnees served, women served and women_share; and the
// breakdowns: people by sex and age band (returnees, served), youth served,
// initiatives by status (woman-led, jobs), seed capital (disbursements,
// money), trainings completed, and `sites`: one row per bucket of
// `interval` (a month "2018-03" or a quarter "2018-Q1") and department.
// Every number is a CellSum or AmountSum of grid cells; served and women
// served (overall and per site) are released by ReleaseServed.
// Repeated fields are ordered by their keys (department; month then
// department; status; from, to, status; service; sex then band; bucket then
// department) and hold no entry whose sum is 0. Department names and
// P-codes of `sites`, the targets and everything else are left as they are.
// Two entries of `grid` with one key are judged separately, which can only
// suppress more.
void AggregateReport(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                     enlace::v1::ProgrammeReport* report);

// The bucket of grid month `month` ("YYYY-MM") for `interval`: the month
// itself, or "YYYY-Qn" for quarters.
std::string IntervalBucket(absl::string_view month, enlace::v1::ReportInterval interval);

// OK, or INVALID_ARGUMENT naming the field first: `from` and `to` are empty
// (open) or real YYYY-MM-DD days; `from` is the first day of a month and `to`
// the last day of a month ("period_from: reports cover whole months; use
// 2018-01-01"); `from` is not after `to`.
absl::Status ValidateReportPeriod(absl::string_view from, absl::string_view to);

// ValidateReportPeriod, and for REPORT_INTERVAL_QUARTER whole quarters:
// `from` the first day of January, April, July or October and `to` the last
// day of March, June, September or December ("period_from: a quarterly
// report covers whole quarters; use 2018-01-01"); an unknown interval is
// INVALID_ARGUMENT naming `interval`.
absl::Status ValidateReportPeriod(absl::string_view from, absl::string_view to,
                                  enlace::v1::ReportInterval interval);

}  // namespace enlace::db

#endif  // ENLACE_DB_REPORT_CELLS_H_
