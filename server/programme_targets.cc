// The programme's targets and the report's progress towards them (see
// programme_targets.h).
#include "server/programme_targets.h"

#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace enlace::server {
namespace {

constexpr int64_t kMaxTarget = 1'000'000'000'000;

// What the report achieved towards `indicator`, as a count.
enlace::v1::CountCell Achieved(const std::string& indicator,
                               const enlace::v1::ProgrammeReport& report) {
  if (indicator == "initiatives") return report.initiatives();
  if (indicator == "returnees_served") return report.returnees_served();
  if (indicator == "women_served") return report.women_served();
  if (indicator == "youth_served") return report.youth_served();
  if (indicator == "training_completed") return report.training_completed();
  enlace::v1::CountCell dollars;  // seed_capital_usd
  if (report.seed_capital_usd_cents().suppressed()) {
    dollars.set_suppressed(true);
  } else {
    dollars.set_count(report.seed_capital_usd_cents().amount() / 100);
  }
  return dollars;
}

}  // namespace

ProgrammeTargets::ProgrammeTargets() { targets_["initiatives"] = 70; }

const std::vector<std::string>& ProgrammeTargets::Indicators() {
  static const auto* const kIndicators =
      new std::vector<std::string>{"initiatives",  "returnees_served",   "women_served",
                                   "youth_served", "training_completed", "seed_capital_usd"};
  return *kIndicators;
}

absl::StatusOr<ProgrammeTargets> ProgrammeTargets::Parse(absl::string_view spec) {
  ProgrammeTargets parsed;
  std::map<std::string, int64_t> given;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    std::string indicator(absl::StripAsciiWhitespace(kv.first));
    bool known = false;
    for (const std::string& name : Indicators()) known = known || name == indicator;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("programme_targets: \"", item,
                       "\": unknown indicator; known: ", absl::StrJoin(Indicators(), ", ")));
    }
    int64_t target = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(kv.second), &target) || target < 1 ||
        target > kMaxTarget) {
      return absl::InvalidArgumentError(absl::StrCat(
          "programme_targets: \"", item, "\": the target must be a whole number from 1 to 10^12"));
    }
    if (!given.emplace(indicator, target).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("programme_targets: ", indicator, " is given twice"));
    }
  }
  for (const auto& [indicator, target] : given) parsed.targets_[indicator] = target;
  return parsed;
}

int64_t ProgrammeTargets::Target(const std::string& indicator) const {
  auto it = targets_.find(indicator);
  return it == targets_.end() ? 0 : it->second;
}

void ProgrammeTargets::Apply(enlace::v1::ProgrammeReport* report) const {
  report->clear_targets();
  for (const std::string& indicator : Indicators()) {
    int64_t target = Target(indicator);
    if (target == 0) continue;
    enlace::v1::ProgrammeReport::TargetProgress* progress = report->add_targets();
    progress->set_indicator(indicator);
    progress->set_target(target);
    *progress->mutable_achieved() = Achieved(indicator, *report);
    if (!progress->achieved().suppressed()) {
      progress->set_share(static_cast<double>(progress->achieved().count()) /
                          static_cast<double>(target));
    }
  }
  int64_t initiatives = Target("initiatives");
  report->set_initiatives_target(static_cast<int32_t>(
      initiatives > std::numeric_limits<int32_t>::max() ? std::numeric_limits<int32_t>::max()
                                                        : initiatives));
}

}  // namespace enlace::server
