// The in-memory copy of the data-sharing agreements (see sharing_agreements.h).
#include "server/sharing_agreements.h"

#include <algorithm>

#include "absl/time/civil_time.h"
#include "enlace/v1/admin.pb.h"

namespace enlace::server {

std::string AgreementDay(absl::Time now) {
  return absl::FormatCivilTime(absl::ToCivilDay(now, absl::UTCTimeZone()));
}

int AgreementStatusOn(const db::SharingAgreementRecord& agreement, absl::Time now) {
  const std::string day = AgreementDay(now);
  if (agreement.ended_at_us != 0) return enlace::v1::SHARING_AGREEMENT_STATUS_ENDED;
  if (day < agreement.valid_from) return enlace::v1::SHARING_AGREEMENT_STATUS_NOT_YET_IN_FORCE;
  if (day > agreement.valid_until) return enlace::v1::SHARING_AGREEMENT_STATUS_EXPIRED;
  return enlace::v1::SHARING_AGREEMENT_STATUS_IN_FORCE;
}

SharingAgreementBook::PurposesByPair SharingAgreementBook::InForceOn(
    const std::vector<db::SharingAgreementRecord>& agreements, absl::string_view day) {
  PurposesByPair in_force;
  for (const db::SharingAgreementRecord& a : agreements) {
    if (a.InForceOn(day)) in_force[{a.party_low, a.party_high}] |= a.purposes_mask;
  }
  return in_force;
}

absl::StatusOr<std::vector<std::string>> SharingAgreementBook::Refresh(absl::Time now) {
  absl::MutexLock refreshing(&refresh_mu_);
  const std::string day = AgreementDay(now);
  absl::StatusOr<std::vector<db::SharingAgreementRecord>> read = store_->NotEndedOnOrAfter(day);
  if (!read.ok()) return read.status();
  PurposesByPair in_force = InForceOn(*read, day);
  std::vector<std::string> lost;
  absl::MutexLock lock(&mu_);
  if (refreshed_) {
    for (const auto& [pair, before] : in_force_) {
      auto now_in_force = in_force.find(pair);
      uint32_t after = now_in_force == in_force.end() ? 0 : now_in_force->second;
      if ((before & ~after) == 0) continue;
      for (const std::string& agency : {pair.first, pair.second}) {
        if (std::find(lost.begin(), lost.end(), agency) == lost.end()) lost.push_back(agency);
      }
    }
  }
  for (const std::string& agency : lost) ++losses_[agency];
  agreements_ = *std::move(read);
  in_force_ = std::move(in_force);
  refreshed_ = true;
  return lost;
}

bool SharingAgreementBook::Allows(absl::string_view party_a, absl::string_view party_b,
                                  uint32_t purposes_mask, absl::Time now) const {
  if (party_a == party_b) return true;
  const std::string day = AgreementDay(now);
  absl::string_view low = std::min(party_a, party_b);
  absl::string_view high = std::max(party_a, party_b);
  absl::MutexLock lock(&mu_);
  for (const db::SharingAgreementRecord& a : agreements_) {
    if (a.party_low == low && a.party_high == high && (a.purposes_mask & purposes_mask) != 0 &&
        a.InForceOn(day)) {
      return true;
    }
  }
  return false;
}

uint64_t SharingAgreementBook::LossesOf(absl::string_view agency) const {
  absl::MutexLock lock(&mu_);
  auto it = losses_.find(agency);
  return it == losses_.end() ? 0 : it->second;
}

}  // namespace enlace::server
