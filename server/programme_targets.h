// The programme's targets, a setting of the server (enlace-server
// --programme_targets), and what a report achieved towards each.
//
//   absl::StatusOr<ProgrammeTargets> targets =
//       ProgrammeTargets::Parse("initiatives=70,youth_served=400");
//   targets->Apply(&report);  // report.targets, report.initiatives_target
//
// Indicators (each the report's own number, docs/api.md "Outcomes and the
// report"): initiatives, returnees_served, women_served, youth_served,
// training_completed, seed_capital_usd (whole US dollars). Only initiatives
// has a default: 70, the programme's target of economic initiatives
// (docs/programme.md). A target is reported with what the period achieved;
// a suppressed number stays suppressed (its share 0).
//
// Thread safety: immutable after Parse; safe to share.
#ifndef ENLACE_SERVER_PROGRAMME_TARGETS_H_
#define ENLACE_SERVER_PROGRAMME_TARGETS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "enlace/v1/reports.pb.h"

namespace enlace::server {

class ProgrammeTargets {
 public:
  // The default: initiatives=70.
  ProgrammeTargets();

  // "indicator=target,..." (spaces around items allowed; an empty spec is
  // the default). Each indicator at most once, a known one, with a target
  // from 1 to 10^12. Listing initiatives replaces the default; the others
  // are added to it. INVALID_ARGUMENT naming the item otherwise.
  static absl::StatusOr<ProgrammeTargets> Parse(absl::string_view spec);

  // The known indicators, in report order.
  static const std::vector<std::string>& Indicators();

  // The target of `indicator`, 0 when none is set.
  int64_t Target(const std::string& indicator) const;

  // Sets report->targets (one per target set, in Indicators() order) and
  // report->initiatives_target from the report's own numbers.
  void Apply(enlace::v1::ProgrammeReport* report) const;

 private:
  std::map<std::string, int64_t> targets_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_PROGRAMME_TARGETS_H_
