// FakeCaseStore: cases, referrals and the referral feed in memory (see
// fake_case_store.h). Each rule below is the one MysqlCaseStore's queries
// apply (db/mysql_case_store.cc), in the same order, so that both give the
// same code for the same call.
#include "tests/testing/fakes/fake_case_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "db/ids.h"
#include "db/visibility.h"
#include "google/protobuf/util/time_util.h"
#include "tests/testing/fakes/fake_audit_store.h"

namespace enlace::testing {
namespace {

using enlace::v1::Case;
using enlace::v1::Referral;
using enlace::v1::ReferralStatus;
using google::protobuf::util::TimeUtil;

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string EtagOf(int version) { return absl::StrCat("v", version); }

absl::Status CaseNotFound(const std::string& case_id) {
  return absl::NotFoundError(absl::StrCat("case ", case_id, " not found"));
}

absl::Status ReferralNotFound(const std::string& referral_id) {
  return absl::NotFoundError(absl::StrCat("referral ", referral_id, " not found"));
}

// A municipality as utf8mb4_unicode_ci compares it, for the gazetteer's
// names: case and the accents of Spanish folded, trailing spaces ignored.
std::string Folded(const std::string& text) {
  std::string out = absl::StrReplaceAll(text, {{"á", "a"},
                                               {"é", "e"},
                                               {"í", "i"},
                                               {"ó", "o"},
                                               {"ú", "u"},
                                               {"ü", "u"},
                                               {"ñ", "n"},
                                               {"Á", "a"},
                                               {"É", "e"},
                                               {"Í", "i"},
                                               {"Ó", "o"},
                                               {"Ú", "u"},
                                               {"Ü", "u"},
                                               {"Ñ", "n"}});
  absl::AsciiStrToLower(&out);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

db::ConsentState ConsentOf(const enlace::v1::Consent& consent, int version) {
  db::ConsentState state;
  state.version = version;
  state.agencies.assign(consent.agencies().begin(), consent.agencies().end());
  std::sort(state.agencies.begin(), state.agencies.end());
  state.agencies.erase(std::unique(state.agencies.begin(), state.agencies.end()),
                       state.agencies.end());
  for (int p : consent.purposes()) state.purposes_mask |= 1u << p;
  return state;
}

bool TransitionAllowed(ReferralStatus from, ReferralStatus to) {
  switch (from) {
    case enlace::v1::REFERRAL_STATUS_PENDING:
      return to == enlace::v1::REFERRAL_STATUS_ACCEPTED ||
             to == enlace::v1::REFERRAL_STATUS_DECLINED ||
             to == enlace::v1::REFERRAL_STATUS_WITHDRAWN;
    case enlace::v1::REFERRAL_STATUS_ACCEPTED:
      return to == enlace::v1::REFERRAL_STATUS_COMPLETED ||
             to == enlace::v1::REFERRAL_STATUS_WITHDRAWN;
    default: return false;
  }
}

enlace::v1::ReferralEventType EventFor(ReferralStatus to) {
  switch (to) {
    case enlace::v1::REFERRAL_STATUS_ACCEPTED: return enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED;
    case enlace::v1::REFERRAL_STATUS_DECLINED: return enlace::v1::REFERRAL_EVENT_TYPE_DECLINED;
    case enlace::v1::REFERRAL_STATUS_COMPLETED: return enlace::v1::REFERRAL_EVENT_TYPE_COMPLETED;
    case enlace::v1::REFERRAL_STATUS_WITHDRAWN: return enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN;
    default: return enlace::v1::REFERRAL_EVENT_TYPE_UNSPECIFIED;
  }
}

// A referral that keeps its receiver's sight of the case (as the MySQL
// store's "status IN (1, 2, 4)").
bool Live(ReferralStatus status) {
  return status == enlace::v1::REFERRAL_STATUS_PENDING ||
         status == enlace::v1::REFERRAL_STATUS_ACCEPTED ||
         status == enlace::v1::REFERRAL_STATUS_COMPLETED;
}

}  // namespace

FakeCaseStore::FakeCaseStore(db::AuditStore* audit)
    : own_audit_(audit == nullptr ? std::make_unique<FakeAuditStore>() : nullptr),
      audit_(audit == nullptr ? own_audit_.get() : audit) {}

FakeCaseStore::~FakeCaseStore() = default;

// --- The arrivals -----------------------------------------------------------

std::string FakeCaseStore::AddArrival(const enlace::v1::Arrival& arrival,
                                      const std::string& submitted_by) {
  absl::MutexLock lock(&mu_);
  ArrivalRow& row = arrivals_.emplace_back();
  row.seq = static_cast<int64_t>(arrivals_.size());
  row.arrival_id = arrival.arrival_id();
  if (row.arrival_id.empty()) {
    absl::StatusOr<std::string> id = db::NewRecordId();
    row.arrival_id = id.ok() ? *id : absl::StrCat("arrival", row.seq);
  }
  row.submitted_by = submitted_by;
  row.department_code = arrival.destination().department_code();
  row.municipality = arrival.destination().municipality();
  row.arrival_date = arrival.arrival_date();
  row.birth_date = arrival.person().birth_date();
  row.returnee.set_given_name(arrival.person().given_name());
  row.returnee.set_family_name(arrival.person().family_name());
  row.returnee.set_sex(arrival.person().sex());
  row.returnee.set_municipality(row.municipality);
  uint32_t needs = 0;
  for (int n : arrival.needs()) needs |= 1u << n;
  for (int n = enlace::v1::Need_MIN + 1; n <= enlace::v1::Need_MAX; ++n) {
    if (needs & (1u << n)) row.returnee.add_needs(static_cast<enlace::v1::Need>(n));
  }
  row.consent = ConsentOf(arrival.consent(), std::max(1, arrival.consent_version()));
  arrival_by_id_[row.arrival_id] = arrivals_.size() - 1;
  return row.arrival_id;
}

absl::StatusOr<std::vector<std::string>> FakeCaseStore::ChangeConsent(
    const std::string& arrival_id, const enlace::v1::Consent& consent) {
  absl::MutexLock lock(&mu_);
  auto it = arrival_by_id_.find(arrival_id);
  if (it == arrival_by_id_.end()) {
    return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  }
  ArrivalRow& arrival = arrivals_[it->second];
  arrival.consent = ConsentOf(consent, arrival.consent.version + 1);
  const int64_t now_us = NowMicros();
  db::FeedEvent& change = feed_.emplace_back();
  change.seq = static_cast<int64_t>(feed_.size());
  change.committed_at_us = now_us;
  change.arrival_seq = arrival.seq;
  change.consent_change = true;
  change.consent = arrival.consent;
  std::vector<std::string> withdrawn;
  for (ReferralRow& referral : referrals_) {
    if (cases_[referral.case_seq - 1].arrival_seq != arrival.seq ||
        referral.value.status() != enlace::v1::REFERRAL_STATUS_PENDING) {
      continue;
    }
    if (db::ConsentAllows(db::Reach::kReferral, referral.value.from_agency(), arrival.consent) &&
        db::ConsentAllows(db::Reach::kReferral, referral.value.to_agency(), arrival.consent)) {
      continue;
    }
    referral.version += 1;
    referral.value.set_status(enlace::v1::REFERRAL_STATUS_WITHDRAWN);
    referral.value.set_etag(EtagOf(referral.version));
    *referral.value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now_us);
    AppendReferralEvent(referral, enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN, now_us);
    withdrawn.push_back(referral.value.referral_id());
  }
  return withdrawn;
}

// --- What a test needs ------------------------------------------------------

void FakeCaseStore::FailCalls(absl::Status status) {
  absl::MutexLock lock(&mu_);
  error_ = std::move(status);
}

size_t FakeCaseStore::case_count() const {
  absl::MutexLock lock(&mu_);
  return cases_.size();
}

size_t FakeCaseStore::referral_count() const {
  absl::MutexLock lock(&mu_);
  return referrals_.size();
}

// --- Helpers ----------------------------------------------------------------

const FakeCaseStore::ArrivalRow* FakeCaseStore::ArrivalBySeq(int64_t seq) const {
  return &arrivals_[seq - 1];
}

bool FakeCaseStore::ReceivesLive(const CaseRow& row, const std::string& agency) const {
  for (const ReferralRow& referral : referrals_) {
    if (referral.case_seq == row.seq && referral.value.to_agency() == agency &&
        Live(referral.value.status())) {
      return true;
    }
  }
  return false;
}

FakeCaseStore::CaseRow* FakeCaseStore::VisibleCase(const std::string& case_id,
                                                   const db::Viewer& viewer) {
  auto it = case_by_id_.find(case_id);
  if (it == case_by_id_.end()) return nullptr;
  CaseRow& row = cases_[it->second];
  if (!db::ConsentAllows(db::Reach::kCase, viewer.agency, ArrivalBySeq(row.arrival_seq)->consent)) {
    return nullptr;
  }
  if (row.value.owner_agency() != viewer.agency && !ReceivesLive(row, viewer.agency)) {
    return nullptr;
  }
  return &row;
}

FakeCaseStore::ReferralRow* FakeCaseStore::VisibleReferral(const std::string& referral_id,
                                                           const db::Viewer& viewer) {
  auto it = referral_by_id_.find(referral_id);
  if (it == referral_by_id_.end()) return nullptr;
  ReferralRow& row = referrals_[it->second];
  if (row.value.from_agency() != viewer.agency && row.value.to_agency() != viewer.agency) {
    return nullptr;
  }
  const ArrivalRow* arrival = ArrivalBySeq(cases_[row.case_seq - 1].arrival_seq);
  if (!db::ConsentAllows(db::Reach::kReferral, viewer.agency, arrival->consent)) return nullptr;
  return &row;
}

Case FakeCaseStore::CaseAsSeenBy(const CaseRow& row, const db::Viewer& viewer,
                                 bool with_services) const {
  Case out = row.value;
  const bool owner = out.owner_agency() == viewer.agency;
  if (!owner) out.clear_psychosocial_notes();
  if (!with_services) return out;
  for (const ServiceRow& service : services_) {
    if (service.case_seq != row.seq) continue;
    enlace::v1::ServiceRecord* s = out.add_services();
    *s = service.value;
    // Notes and amounts stay with the case's owner and the agency that
    // wrote them.
    if (!owner && s->recorded_by() != viewer.agency) {
      s->clear_notes();
      s->clear_amount_usd_cents();
    }
  }
  return out;
}

Referral FakeCaseStore::ReferralAsSeen(const ReferralRow& row) const {
  Referral out = row.value;
  *out.mutable_returnee() = ArrivalBySeq(cases_[row.case_seq - 1].arrival_seq)->returnee;
  return out;
}

absl::Status FakeCaseStore::AppendAudit(db::AuditRecord* audit,
                                        const std::vector<std::string>& extra_ids) {
  if (audit == nullptr) return absl::OkStatus();
  std::vector<db::AuditRecord> events(1, *audit);
  for (const std::string& id : extra_ids) events[0].record_ids.push_back(id);
  if (absl::Status s = audit_->Append(&events); !s.ok()) return s;
  *audit = std::move(events[0]);
  return absl::OkStatus();
}

void FakeCaseStore::AppendReferralEvent(const ReferralRow& row, enlace::v1::ReferralEventType type,
                                        int64_t now_us) {
  db::FeedEvent& event = feed_.emplace_back();
  event.seq = static_cast<int64_t>(feed_.size());
  event.type = type;
  event.from_agency = row.value.from_agency();
  event.to_agency = row.value.to_agency();
  event.committed_at_us = now_us;
  event.referral = row.value;
  event.referral.clear_returnee();
  event.arrival_seq = cases_[row.case_seq - 1].arrival_seq;
}

// --- Cases ------------------------------------------------------------------

absl::StatusOr<Case> FakeCaseStore::OpenCase(const std::string& arrival_id,
                                             const std::string& summary, const db::Viewer& viewer,
                                             db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  auto it = arrival_by_id_.find(arrival_id);
  if (it == arrival_by_id_.end() ||
      !db::ConsentAllows(db::Reach::kArrivalRecord, viewer.agency, arrivals_[it->second].consent)) {
    return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  }
  const ArrivalRow& arrival = arrivals_[it->second];
  if ((arrival.consent.purposes_mask & db::PurposesAllowing(db::Reach::kCase)) == 0) {
    return absl::FailedPreconditionError(
        "arrival_id: the returnee's consent does not cover reintegration");
  }
  for (const CaseRow& row : cases_) {
    if (row.arrival_seq == arrival.seq && row.value.owner_agency() == viewer.agency) {
      return absl::AlreadyExistsError(
          absl::StrCat("arrival_id: ", viewer.agency, " already has a case for this arrival"));
    }
  }
  absl::StatusOr<std::string> id = db::NewRecordId();
  if (!id.ok()) return id.status();
  if (absl::Status s = AppendAudit(audit, {*id}); !s.ok()) return s;
  const int64_t now = NowMicros();
  CaseRow& row = cases_.emplace_back();
  row.seq = static_cast<int64_t>(cases_.size());
  row.arrival_seq = arrival.seq;
  row.value.set_case_id(*id);
  row.value.set_arrival_id(arrival.arrival_id);
  row.value.set_owner_agency(viewer.agency);
  row.value.set_status(enlace::v1::CASE_STATUS_OPEN);
  row.value.set_department_code(arrival.department_code);
  row.value.set_municipality(arrival.municipality);
  row.value.set_summary(summary);
  row.value.set_etag(EtagOf(row.version));
  *row.value.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(now);
  *row.value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now);
  case_by_id_[*id] = cases_.size() - 1;
  return CaseAsSeenBy(row, viewer, /*with_services=*/true);
}

absl::StatusOr<Case> FakeCaseStore::GetCase(const std::string& case_id, const db::Viewer& viewer) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const CaseRow* row = VisibleCase(case_id, viewer);
  if (row == nullptr) return CaseNotFound(case_id);
  return CaseAsSeenBy(*row, viewer, /*with_services=*/true);
}

absl::StatusOr<db::CasePage> FakeCaseStore::ListCases(const db::CaseFilter& filter,
                                                      const db::Viewer& viewer, int64_t after,
                                                      int limit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  db::CasePage page;
  for (const CaseRow& row : cases_) {
    if (row.seq <= after) continue;
    if (VisibleCase(row.value.case_id(), viewer) == nullptr) continue;
    if (filter.status != enlace::v1::CASE_STATUS_UNSPECIFIED &&
        row.value.status() != filter.status) {
      continue;
    }
    if (!filter.municipality.empty() &&
        Folded(row.value.municipality()) != Folded(filter.municipality)) {
      continue;
    }
    if (static_cast<int>(page.cases.size()) == limit) {
      page.more = true;
      break;
    }
    page.last_position = row.seq;
    page.cases.push_back(CaseAsSeenBy(row, viewer, /*with_services=*/false));
  }
  return page;
}

absl::StatusOr<Case> FakeCaseStore::UpdateCase(const Case& update, const std::string& etag,
                                               const db::Viewer& viewer, db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  CaseRow* row = VisibleCase(update.case_id(), viewer);
  if (row == nullptr) return CaseNotFound(update.case_id());
  if (row->value.owner_agency() != viewer.agency) {
    return absl::PermissionDeniedError("only the case's owner may update it");
  }
  if (etag != EtagOf(row->version)) {
    return absl::AbortedError(absl::StrCat("etag: the case changed since it was read (now ",
                                           EtagOf(row->version), "); read it again"));
  }
  if (absl::Status s = AppendAudit(audit, {}); !s.ok()) return s;
  row->version += 1;
  row->value.set_status(update.status());
  row->value.set_summary(update.summary());
  row->value.set_psychosocial_notes(update.psychosocial_notes());
  row->value.set_etag(EtagOf(row->version));
  *row->value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  return CaseAsSeenBy(*row, viewer, /*with_services=*/true);
}

absl::StatusOr<enlace::v1::ServiceRecord> FakeCaseStore::RecordService(
    const enlace::v1::RecordServiceRequest& request, const db::Viewer& viewer,
    db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const CaseRow* row = VisibleCase(request.case_id(), viewer);
  if (row == nullptr) return CaseNotFound(request.case_id());
  if (row->value.owner_agency() != viewer.agency) {
    bool accepted = false;
    for (const ReferralRow& referral : referrals_) {
      accepted = accepted ||
                 (referral.case_seq == row->seq && referral.value.to_agency() == viewer.agency &&
                  referral.value.service() == request.service() &&
                  referral.value.status() == enlace::v1::REFERRAL_STATUS_ACCEPTED);
    }
    if (!accepted) {
      return absl::PermissionDeniedError(
          "only the case's owner, or an agency holding an accepted referral for this "
          "service, may record it");
    }
  }
  std::vector<std::string> ids;
  if (!request.initiative_id().empty()) {
    InitiativeRow* initiative = InitiativeById(request.initiative_id());
    if (initiative == nullptr || initiative->case_seq != row->seq) {
      return absl::InvalidArgumentError(
          "initiative_id: not an initiative of this case (see ListInitiatives)");
    }
  }
  absl::StatusOr<std::string> id = db::NewRecordId();
  if (!id.ok()) return id.status();
  ids.push_back(*id);
  if (!request.initiative_id().empty()) ids.push_back(request.initiative_id());
  if (absl::Status s = AppendAudit(audit, ids); !s.ok()) return s;
  if (!request.initiative_id().empty()) {
    InitiativeRow* initiative = InitiativeById(request.initiative_id());
    initiative->value.set_disbursed_usd_cents(initiative->value.disbursed_usd_cents() +
                                              request.amount_usd_cents());
  }
  ServiceRow& stored = services_.emplace_back();
  stored.case_seq = row->seq;
  stored.value.set_service_id(*id);
  stored.value.set_case_id(request.case_id());
  stored.value.set_service(request.service());
  stored.value.set_delivered_on(request.delivered_on());
  stored.value.set_notes(request.notes());
  stored.value.set_recorded_by(viewer.agency);
  stored.value.set_amount_usd_cents(request.amount_usd_cents());
  stored.value.set_initiative_id(request.initiative_id());
  stored.value.set_training_hours(request.training_hours());
  stored.value.set_training_completed(request.training_completed());
  *stored.value.mutable_recorded_at() = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  return stored.value;
}

absl::StatusOr<enlace::v1::Initiative> FakeCaseStore::RegisterInitiative(
    const enlace::v1::RegisterInitiativeRequest& request, const db::Viewer& viewer,
    db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const CaseRow* row = VisibleCase(request.case_id(), viewer);
  if (row == nullptr) return CaseNotFound(request.case_id());
  if (row->value.owner_agency() != viewer.agency) {
    return absl::PermissionDeniedError("only the case's owner may register its initiatives");
  }
  absl::StatusOr<std::string> id = db::NewRecordId();
  if (!id.ok()) return id.status();
  if (absl::Status s = AppendAudit(audit, {*id}); !s.ok()) return s;
  InitiativeRow& stored = initiatives_.emplace_back();
  stored.seq = static_cast<int64_t>(initiatives_.size());
  stored.case_seq = row->seq;
  stored.value.set_initiative_id(*id);
  stored.value.set_case_id(request.case_id());
  stored.value.set_name(request.name());
  stored.value.set_sector(request.sector());
  stored.value.set_municipality(request.municipality().empty() ? row->value.municipality()
                                                               : request.municipality());
  stored.value.set_department_code(row->value.department_code());
  stored.value.set_owner_agency(viewer.agency);
  stored.value.set_status(request.status() == enlace::v1::INITIATIVE_STATUS_UNSPECIFIED
                              ? enlace::v1::INITIATIVE_STATUS_PLANNED
                              : request.status());
  stored.value.set_jobs_created(request.jobs_created());
  stored.value.set_woman_led(request.woman_led());
  stored.value.set_etag(EtagOf(stored.version));
  *stored.value.mutable_registered_at() = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  *stored.value.mutable_updated_at() = stored.value.registered_at();
  return stored.value;
}

absl::StatusOr<enlace::v1::Initiative> FakeCaseStore::UpdateInitiative(
    const enlace::v1::Initiative& update, const std::string& etag, const db::Viewer& viewer,
    db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  InitiativeRow* row = InitiativeById(update.initiative_id());
  absl::Status not_found =
      absl::NotFoundError(absl::StrCat("initiative ", update.initiative_id(), " not found"));
  if (row == nullptr) return not_found;
  const ArrivalRow* arrival = ArrivalBySeq(cases_[row->case_seq - 1].arrival_seq);
  if (!db::ConsentAllows(db::Reach::kInitiative, viewer.agency, arrival->consent)) {
    return not_found;
  }
  if (row->value.owner_agency() != viewer.agency) {
    return absl::PermissionDeniedError("only the initiative's owner may update it");
  }
  if (etag != EtagOf(row->version)) {
    return absl::AbortedError(absl::StrCat("etag: the initiative changed since it was read (now ",
                                           EtagOf(row->version), "); read it again"));
  }
  if (absl::Status s = AppendAudit(audit, {}); !s.ok()) return s;
  ++row->version;
  row->value.set_status(update.status());
  row->value.set_jobs_created(update.jobs_created());
  row->value.set_woman_led(update.woman_led());
  row->value.set_etag(EtagOf(row->version));
  *row->value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  return row->value;
}

FakeCaseStore::InitiativeRow* FakeCaseStore::InitiativeById(const std::string& initiative_id) {
  for (InitiativeRow& row : initiatives_) {
    if (row.value.initiative_id() == initiative_id) return &row;
  }
  return nullptr;
}

absl::StatusOr<db::InitiativePage> FakeCaseStore::ListInitiatives(const std::string& municipality,
                                                                  const db::Viewer& viewer,
                                                                  int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  db::InitiativePage page;
  for (const InitiativeRow& row : initiatives_) {
    const ArrivalRow* arrival = ArrivalBySeq(cases_[row.case_seq - 1].arrival_seq);
    if (!db::ConsentAllows(db::Reach::kInitiative, viewer.agency, arrival->consent)) continue;
    if (!municipality.empty() && Folded(row.value.municipality()) != Folded(municipality)) {
      continue;
    }
    ++page.total_count;
    if (row.seq <= after) continue;
    if (static_cast<int>(page.initiatives.size()) == limit) {
      page.more = true;
      continue;  // counting goes on
    }
    page.last_position = row.seq;
    enlace::v1::Initiative& out = page.initiatives.emplace_back(row.value);
    if (out.owner_agency() != viewer.agency) {
      out.clear_case_id();
      out.clear_disbursed_usd_cents();
    }
  }
  return page;
}

absl::Status FakeCaseStore::CheckCaseOwner(const std::string& case_id, const db::Viewer& viewer) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const CaseRow* row = VisibleCase(case_id, viewer);
  if (row == nullptr || row->value.owner_agency() != viewer.agency) return CaseNotFound(case_id);
  return absl::OkStatus();
}

// --- Referrals --------------------------------------------------------------

absl::StatusOr<Referral> FakeCaseStore::CreateReferral(
    const std::string& case_id, const std::string& to_agency, enlace::v1::Need service,
    const std::string& reason, const db::Viewer& viewer, db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const CaseRow* found = VisibleCase(case_id, viewer);
  if (found == nullptr) return CaseNotFound(case_id);
  if (found->value.owner_agency() != viewer.agency) {
    return absl::PermissionDeniedError("only the case's owner may refer it");
  }
  if (to_agency == viewer.agency) {
    return absl::InvalidArgumentError("to_agency: a case cannot be referred to its owner");
  }
  if (!db::ConsentAllows(db::Reach::kReferral, to_agency,
                         ArrivalBySeq(found->arrival_seq)->consent)) {
    return absl::FailedPreconditionError(
        absl::StrCat("to_agency: the returnee's consent does not let ", to_agency,
                     " receive referrals (it must name it, for REINTEGRATION)"));
  }
  absl::StatusOr<std::string> id = db::NewRecordId();
  if (!id.ok()) return id.status();
  if (absl::Status s = AppendAudit(audit, {*id}); !s.ok()) return s;
  const int64_t now = NowMicros();
  const int64_t case_seq = found->seq;
  ReferralRow& row = referrals_.emplace_back();
  row.seq = static_cast<int64_t>(referrals_.size());
  row.case_seq = case_seq;
  row.value.set_referral_id(*id);
  row.value.set_case_id(case_id);
  row.value.set_from_agency(viewer.agency);
  row.value.set_to_agency(to_agency);
  row.value.set_service(service);
  row.value.set_reason(reason);
  row.value.set_status(enlace::v1::REFERRAL_STATUS_PENDING);
  row.value.set_etag(EtagOf(row.version));
  *row.value.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(now);
  *row.value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now);
  referral_by_id_[*id] = referrals_.size() - 1;
  AppendReferralEvent(row, enlace::v1::REFERRAL_EVENT_TYPE_CREATED, now);
  return ReferralAsSeen(row);
}

absl::StatusOr<Referral> FakeCaseStore::GetReferral(const std::string& referral_id,
                                                    const db::Viewer& viewer) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const ReferralRow* row = VisibleReferral(referral_id, viewer);
  if (row == nullptr) return ReferralNotFound(referral_id);
  return ReferralAsSeen(*row);
}

absl::StatusOr<db::ReferralPage> FakeCaseStore::ListReferrals(const db::ReferralFilter& filter,
                                                              const db::Viewer& viewer,
                                                              int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  db::ReferralPage page;
  for (const ReferralRow& row : referrals_) {
    if (row.seq <= after) continue;
    const std::string& party =
        filter.box == enlace::v1::BOX_OUTBOX ? row.value.from_agency() : row.value.to_agency();
    if (party != viewer.agency) continue;
    const ArrivalRow* arrival = ArrivalBySeq(cases_[row.case_seq - 1].arrival_seq);
    if (!db::ConsentAllows(db::Reach::kReferral, viewer.agency, arrival->consent)) continue;
    if (!filter.statuses.empty() && std::find(filter.statuses.begin(), filter.statuses.end(),
                                              row.value.status()) == filter.statuses.end()) {
      continue;
    }
    if (static_cast<int>(page.referrals.size()) == limit) {
      page.more = true;
      break;
    }
    page.last_position = row.seq;
    page.referrals.push_back(ReferralAsSeen(row));
  }
  return page;
}

absl::StatusOr<Referral> FakeCaseStore::TransitionReferral(const db::Transition& transition,
                                                           const db::Viewer& viewer,
                                                           db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  ReferralRow* row = VisibleReferral(transition.referral_id, viewer);
  if (row == nullptr) return ReferralNotFound(transition.referral_id);
  const bool by_receiver = transition.to != enlace::v1::REFERRAL_STATUS_WITHDRAWN;
  const std::string& allowed = by_receiver ? row->value.to_agency() : row->value.from_agency();
  if (allowed != viewer.agency) {
    return absl::PermissionDeniedError(
        by_receiver ? "only the receiving agency may accept, decline or complete a referral"
                    : "only the sending agency may withdraw a referral");
  }
  if (!transition.etag.empty() && transition.etag != EtagOf(row->version)) {
    return absl::AbortedError(absl::StrCat("etag: the referral changed since it was read (now ",
                                           EtagOf(row->version), "); read it again"));
  }
  if (!TransitionAllowed(row->value.status(), transition.to)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the referral is ", enlace::v1::ReferralStatus_Name(row->value.status()),
                     " and cannot become ", enlace::v1::ReferralStatus_Name(transition.to)));
  }
  if (absl::Status s = AppendAudit(audit, {row->value.case_id()}); !s.ok()) return s;
  const int64_t now = NowMicros();
  row->version += 1;
  row->value.set_status(transition.to);
  if (transition.to == enlace::v1::REFERRAL_STATUS_DECLINED) {
    row->value.set_decline_reason(transition.text);
  }
  if (transition.to == enlace::v1::REFERRAL_STATUS_COMPLETED)
    row->value.set_outcome(transition.text);
  row->value.set_etag(EtagOf(row->version));
  *row->value.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now);
  AppendReferralEvent(*row, EventFor(transition.to), now);
  return ReferralAsSeen(*row);
}

// --- The feed ---------------------------------------------------------------

absl::StatusOr<std::vector<db::FeedEvent>> FakeCaseStore::ReadFeed(int64_t after_seq,
                                                                   int64_t up_to_seq,
                                                                   const std::string& agency,
                                                                   int limit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  std::vector<db::FeedEvent> out;
  for (const db::FeedEvent& stored : feed_) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (stored.seq <= after_seq || (up_to_seq > 0 && stored.seq > up_to_seq)) continue;
    db::FeedEvent event = stored;
    // A referral event comes with its arrival's consent as it is now.
    if (!event.consent_change) event.consent = ArrivalBySeq(event.arrival_seq)->consent;
    if (!agency.empty()) {
      if (event.from_agency != agency && event.to_agency != agency) continue;
      if (!db::ConsentAllows(db::Reach::kReferral, agency, event.consent) || event.consent_change) {
        continue;
      }
    }
    out.push_back(std::move(event));
  }
  return out;
}

absl::StatusOr<int64_t> FakeCaseStore::FeedHead() {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  return static_cast<int64_t>(feed_.size());
}

}  // namespace enlace::testing
