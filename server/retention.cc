// Retention settings and job (see retention.h).
#include "server/retention.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "db/audit_chain.h"
#include "enlace/v1/admin.pb.h"
#include "server/log.h"

namespace enlace::server {
namespace {

constexpr int kMaxYears = 100;
constexpr int kBatch = 500;
constexpr char kEraseMethod[] = "/enlace.v1.ArrivalService/EraseReturnee";

}  // namespace

absl::StatusOr<db::RetentionYears> ParseRetentionYears(absl::string_view spec) {
  db::RetentionYears years;
  const std::pair<const char*, int db::RetentionYears::*> kPurposes[] = {
      {"reintegration", &db::RetentionYears::reintegration},
      {"protection", &db::RetentionYears::protection},
      {"statistics", &db::RetentionYears::statistics},
      {"none", &db::RetentionYears::none},
  };
  bool seen[4] = {false, false, false, false};
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const absl::string_view purpose = absl::StripAsciiWhitespace(kv.first);
    int index = -1;
    for (int i = 0; i < 4; ++i) {
      if (purpose == kPurposes[i].first) index = i;
    }
    if (index < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("retention_years: \"", item,
                       "\": unknown purpose; known: reintegration, protection, statistics, none"));
    }
    int value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(kv.second), &value) || value < 1 ||
        value > kMaxYears) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention_years: \"", item, "\": the years must be a whole number from 1 to 100"));
    }
    if (seen[index]) {
      return absl::InvalidArgumentError(
          absl::StrCat("retention_years: ", purpose, " is given twice"));
    }
    seen[index] = true;
    years.*(kPurposes[index].second) = value;
  }
  return years;
}

RetentionJob::RetentionJob(db::ReturneeStore* store, db::RetentionYears years,
                           absl::Duration interval)
    : store_(store), years_(years), interval_(interval) {}

RetentionJob::~RetentionJob() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void RetentionJob::Start() {
  thread_ = std::thread([this] {
    do {
      absl::StatusOr<int> erased = RunOnce(absl::Now());
      if (!erased.ok()) {
        LogError("retention: ", erased.status().ToString(), " (tried again in ",
                 absl::FormatDuration(interval_), ")");
      } else if (*erased > 0) {
        Log("retention: erased ", *erased, " arrival(s) past their retention date");
      }
    } while (!stop_.WaitForNotificationWithTimeout(interval_));
  });
}

absl::StatusOr<int> RetentionJob::RunOnce(absl::Time now) {
  int total = 0;
  while (true) {
    db::AuditRecord event;
    event.at_us = absl::ToUnixMicros(absl::Now());
    event.principal = kRetentionPrincipal;
    event.method = kEraseMethod;
    event.decision = enlace::v1::DECISION_ALLOW;
    event.status_code = 0;
    event.detail = "erasure by retention";
    absl::StatusOr<int> erased = store_->EraseExpired(years_, now, kBatch, &event);
    if (!erased.ok()) return erased.status();
    total += *erased;
    if (*erased < kBatch || stop_.HasBeenNotified()) return total;
  }
}

}  // namespace enlace::server
