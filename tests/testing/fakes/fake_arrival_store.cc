// FakeArrivalStore: arrivals in memory (see fake_arrival_store.h).
#include "tests/testing/fakes/fake_arrival_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
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

using enlace::v1::Arrival;
using enlace::v1::Consent;
using google::protobuf::util::TimeUtil;

// A timestamp as MySQL keeps it: whole microseconds.
google::protobuf::Timestamp Micros(const google::protobuf::Timestamp& t) {
  return TimeUtil::MicrosecondsToTimestamp(TimeUtil::TimestampToMicroseconds(t));
}

// A consent as MySQL returns it: agencies in code order, purposes in enum
// order (a mask: each once, none UNSPECIFIED), given_at to the microsecond,
// the guardian as given.
Consent NormalConsent(const Consent& in) {
  Consent out;
  std::vector<std::string> agencies(in.agencies().begin(), in.agencies().end());
  std::sort(agencies.begin(), agencies.end());
  agencies.erase(std::unique(agencies.begin(), agencies.end()), agencies.end());
  for (std::string& agency : agencies) out.add_agencies(std::move(agency));
  uint32_t mask = 0;
  for (int p : in.purposes()) mask |= 1u << p;
  for (int p = enlace::v1::Purpose_MIN + 1; p <= enlace::v1::Purpose_MAX; ++p) {
    if (mask & (1u << p)) out.add_purposes(static_cast<enlace::v1::Purpose>(p));
  }
  if (in.has_given_at()) *out.mutable_given_at() = Micros(in.given_at());
  if (in.has_guardian()) *out.mutable_guardian() = in.guardian();
  return out;
}

// The arrival as MySQL returns it, with the server's fields.
Arrival NormalArrival(const Arrival& in, const std::string& id, const std::string& submitter,
                      int64_t recorded_at_us) {
  Arrival out = in;
  out.set_arrival_id(id);
  out.set_submitted_by(submitter);
  out.set_consent_version(1);
  out.set_version(1);
  *out.mutable_recorded_at() = TimeUtil::MicrosecondsToTimestamp(recorded_at_us);
  out.mutable_person();
  out.mutable_destination();
  uint32_t needs = 0;
  for (int n : in.needs()) needs |= 1u << n;
  out.clear_needs();
  for (int n = enlace::v1::Need_MIN + 1; n <= enlace::v1::Need_MAX; ++n) {
    if (needs & (1u << n)) out.add_needs(static_cast<enlace::v1::Need>(n));
  }
  *out.mutable_consent() = NormalConsent(in.consent());
  return out;
}

db::ConsentState StateOf(const Arrival& arrival) {
  db::ConsentState state;
  state.version = arrival.consent_version();
  state.agencies.assign(arrival.consent().agencies().begin(), arrival.consent().agencies().end());
  for (int p : arrival.consent().purposes()) state.purposes_mask |= 1u << p;
  return state;
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

bool MatchesFilter(const Arrival& a, const db::ArrivalFilter& f) {
  if (!f.department_code.empty() && a.destination().department_code() != f.department_code) {
    return false;
  }
  if (!f.municipality.empty() && Folded(a.destination().municipality()) != Folded(f.municipality)) {
    return false;
  }
  if (!f.arrival_date_from.empty() && a.arrival_date() < f.arrival_date_from) return false;
  if (!f.arrival_date_to.empty() && a.arrival_date() > f.arrival_date_to) return false;
  return true;
}

}  // namespace

FakeArrivalStore::FakeArrivalStore(db::AuditStore* audit)
    : own_audit_(audit == nullptr ? std::make_unique<FakeAuditStore>() : nullptr),
      audit_(audit == nullptr ? own_audit_.get() : audit) {}

FakeArrivalStore::~FakeArrivalStore() = default;

absl::StatusOr<std::vector<db::RecordResult>> FakeArrivalStore::RecordBatch(
    absl::Span<const db::NewArrival> batch) {
  {
    uint64_t ticket = 0;
    absl::MutexLock lock(&control_mu_);
    BatchLog& entry = log_.emplace_back();
    entry.thread = std::this_thread::get_id();
    for (const db::NewArrival& item : batch) {
      entry.keys.emplace_back(item.submitted_by, item.arrival.external_id());
    }
    if (holding_) {
      ticket = ++entered_;
      std::pair<FakeArrivalStore*, uint64_t> arg(this, ticket);
      control_mu_.Await(absl::Condition(
          +[](std::pair<FakeArrivalStore*, uint64_t>* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return !a->first->holding_ || a->first->released_ >= a->second;
          },
          &arg));
    }
    if (!batch_error_.ok()) return batch_error_;
  }

  absl::MutexLock lock(&mu_);
  std::vector<db::RecordResult> results(batch.size());
  // Decided against what is stored plus what this batch adds before it,
  // applied only if the batch's events are written.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> added;
  std::vector<Stored> to_store;
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (size_t i = 0; i < batch.size(); ++i) {
    const db::NewArrival& item = batch[i];
    std::pair<std::string, std::string> key(item.submitted_by, item.arrival.external_id());
    std::string hash = db::ArrivalContentHash(item.arrival);
    const std::pair<std::string, std::string>* known = nullptr;  // (id, hash)
    std::pair<std::string, std::string> stored_known;
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      stored_known = {arrivals_[it->second].arrival.arrival_id(),
                      arrivals_[it->second].content_hash};
      known = &stored_known;
    } else if (auto a = added.find(key); a != added.end()) {
      known = &a->second;
    }
    if (known == nullptr) {
      absl::StatusOr<std::string> id = db::NewRecordId();
      if (!id.ok()) return id.status();
      results[i].outcome = enlace::v1::OUTCOME_CREATED;
      results[i].arrival_id = *id;
      added[key] = {*id, hash};
      Stored& stored = to_store.emplace_back();
      stored.arrival = NormalArrival(item.arrival, *id, item.submitted_by, now_us);
      absl::StatusOr<std::string> person_id = db::NewRecordId();  // random, as MySQL's
      if (!person_id.ok()) return person_id.status();
      stored.arrival.set_person_id(*person_id);
      stored.content_hash = hash;
      stored.history.push_back(stored.arrival.consent());
    } else if (known->second == hash) {
      results[i].outcome = enlace::v1::OUTCOME_ALREADY_RECORDED;
      results[i].arrival_id = known->first;
    } else {
      results[i].outcome = enlace::v1::OUTCOME_REJECTED;
      results[i].status =
          absl::AlreadyExistsError(absl::StrCat("external_id ", item.arrival.external_id(),
                                                " was already recorded with different content"));
    }
  }

  // One event per call (its shared template), naming the arrivals it is
  // answered with, in the order the calls first appear.
  std::vector<std::pair<const db::AuditRecord*, std::vector<size_t>>> groups;
  absl::flat_hash_map<const db::AuditRecord*, size_t> group_of;
  for (size_t i = 0; i < batch.size(); ++i) {
    const db::AuditRecord* source = batch[i].audit.get();
    if (source == nullptr) continue;
    auto [it, fresh] = group_of.try_emplace(source, groups.size());
    if (fresh) groups.push_back({source, {}});
    groups[it->second].second.push_back(i);
  }
  if (!groups.empty()) {
    std::vector<db::AuditRecord> events;
    for (const auto& [source, members] : groups) {
      db::AuditRecord event = *source;
      event.record_ids.clear();
      int created = 0, already = 0, rejected = 0;
      for (size_t i : members) {
        if (results[i].outcome == enlace::v1::OUTCOME_CREATED) ++created;
        if (results[i].outcome == enlace::v1::OUTCOME_ALREADY_RECORDED) ++already;
        if (results[i].outcome == enlace::v1::OUTCOME_REJECTED) ++rejected;
        if (!results[i].arrival_id.empty()) event.record_ids.push_back(results[i].arrival_id);
      }
      event.detail = absl::StrCat("batch: created=", created, " already_recorded=", already,
                                  " rejected=", rejected);
      events.push_back(std::move(event));
    }
    if (absl::Status s = audit_->Append(&events); !s.ok()) return s;
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t i : groups[g].second) results[i].audit_seq = events[g].seq;
    }
  }

  for (Stored& stored : to_store) {
    stored.seq = static_cast<int64_t>(arrivals_.size()) + 1;
    by_id_[stored.arrival.arrival_id()] = arrivals_.size();
    by_key_[{stored.arrival.submitted_by(), stored.arrival.external_id()}] = arrivals_.size();
    arrivals_.push_back(std::move(stored));
  }
  return results;
}

bool FakeArrivalStore::VisibleLocked(const Stored& stored, const db::Viewer& viewer) const {
  return stored.arrival.submitted_by() == viewer.agency ||
         db::ConsentAllows(db::Reach::kArrivalRecord, viewer.agency, StateOf(stored.arrival));
}

absl::StatusOr<Arrival> FakeArrivalStore::Get(const std::string& arrival_id,
                                              const db::Viewer& viewer) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(arrival_id);
  if (it == by_id_.end() || !VisibleLocked(arrivals_[it->second], viewer)) {
    return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  }
  return arrivals_[it->second].arrival;
}

absl::StatusOr<db::ArrivalPage> FakeArrivalStore::List(const db::ArrivalFilter& filter,
                                                       const db::Viewer& viewer, int64_t after,
                                                       int limit) {
  absl::MutexLock lock(&mu_);
  db::ArrivalPage page;
  for (size_t i = after < 0 ? 0 : static_cast<size_t>(after); i < arrivals_.size(); ++i) {
    const Stored& stored = arrivals_[i];
    if (!VisibleLocked(stored, viewer) || !MatchesFilter(stored.arrival, filter)) continue;
    if (static_cast<int>(page.arrivals.size()) == limit) {
      page.more = true;
      break;
    }
    page.arrivals.push_back(stored.arrival);
    page.last_position = stored.seq;
  }
  return page;
}

absl::StatusOr<FakeArrivalStore::Stored*> FakeArrivalStore::OwnArrivalLocked(
    const std::string& arrival_id, const db::Viewer& submitter) {
  auto it = by_id_.find(arrival_id);
  if (it == by_id_.end() || arrivals_[it->second].arrival.submitted_by() != submitter.agency) {
    return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  }
  return &arrivals_[it->second];
}

absl::Status FakeArrivalStore::AppendAuditLocked(db::AuditRecord* audit) {
  if (audit == nullptr) return absl::OkStatus();
  std::vector<db::AuditRecord> events = {*audit};
  if (absl::Status s = audit_->Append(&events); !s.ok()) return s;
  *audit = std::move(events[0]);
  return absl::OkStatus();
}

absl::StatusOr<Arrival> FakeArrivalStore::UpdateConsent(const std::string& arrival_id,
                                                        const Consent& consent,
                                                        const db::Viewer& submitter,
                                                        db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Stored*> own = OwnArrivalLocked(arrival_id, submitter);
  if (!own.ok()) return own.status();
  Stored& stored = **own;
  for (int objected : stored.arrival.consent().objected_purposes()) {
    for (int given : consent.purposes()) {
      if (given == objected) {
        return absl::FailedPreconditionError(absl::StrCat("purposes: the returnee objected to ",
                                                          enlace::v1::Purpose_Name(given),
                                                          "; a consent cannot give it back"));
      }
    }
  }
  if (absl::Status s = AppendAuditLocked(audit); !s.ok()) return s;
  Consent replaced = NormalConsent(consent);
  *replaced.mutable_objected_purposes() = stored.arrival.consent().objected_purposes();
  *stored.arrival.mutable_consent() = std::move(replaced);
  stored.arrival.set_consent_version(stored.arrival.consent_version() + 1);
  stored.history.push_back(stored.arrival.consent());
  return stored.arrival;
}

absl::StatusOr<Arrival> FakeArrivalStore::RecordObjection(const std::string& arrival_id,
                                                          enlace::v1::Purpose purpose,
                                                          const db::Viewer& submitter,
                                                          db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Stored*> own = OwnArrivalLocked(arrival_id, submitter);
  if (!own.ok()) return own.status();
  Stored& stored = **own;
  if (absl::Status s = AppendAuditLocked(audit); !s.ok()) return s;
  Consent* consent = stored.arrival.mutable_consent();
  for (int objected : consent->objected_purposes()) {
    if (objected == purpose) return stored.arrival;  // recorded already
  }
  consent->add_objected_purposes(purpose);
  std::sort(consent->mutable_objected_purposes()->begin(),
            consent->mutable_objected_purposes()->end());
  google::protobuf::RepeatedField<int> kept;
  for (int given : consent->purposes()) {
    if (given != purpose) kept.Add(given);
  }
  *consent->mutable_purposes() = std::move(kept);
  stored.arrival.set_consent_version(stored.arrival.consent_version() + 1);
  stored.history.push_back(*consent);
  return stored.arrival;
}

absl::StatusOr<Arrival> FakeArrivalStore::Correct(const db::ArrivalCorrection& correction,
                                                  const db::Viewer& submitter,
                                                  db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Stored*> own = OwnArrivalLocked(correction.arrival_id, submitter);
  if (!own.ok()) return own.status();
  Stored& stored = **own;
  const int version = stored.arrival.version();
  if (version != correction.expected_version) {
    return absl::AbortedError(absl::StrCat("arrival ", correction.arrival_id,
                                           " was corrected meanwhile (now version ", version,
                                           "): read it again and correct that"));
  }
  if (absl::Status s = AppendAuditLocked(audit); !s.ok()) return s;
  // The content as MySQL would store it: the server's fields and the
  // consent stay the stored ones.
  Arrival corrected = NormalArrival(correction.content, stored.arrival.arrival_id(),
                                    stored.arrival.submitted_by(), 0);
  corrected.set_external_id(stored.arrival.external_id());
  *corrected.mutable_recorded_at() = stored.arrival.recorded_at();
  *corrected.mutable_consent() = stored.arrival.consent();
  corrected.set_consent_version(stored.arrival.consent_version());
  corrected.set_version(version + 1);
  corrected.set_person_id(stored.arrival.person_id());
  auto version_of = [](const Arrival& content, int v, std::string reason, std::string by,
                       int64_t at_us) {
    db::ArrivalVersionRecord record;
    record.version = v;
    record.content = content;
    record.content.clear_consent();
    record.content.clear_consent_version();
    record.content.set_version(v);
    record.reason = std::move(reason);
    record.corrected_by = std::move(by);
    record.corrected_at_us = at_us;
    return record;
  };
  if (stored.versions.empty()) {
    stored.versions.push_back(
        version_of(stored.arrival, 1, "", stored.arrival.submitted_by(),
                   TimeUtil::TimestampToMicroseconds(stored.arrival.recorded_at())));
  }
  stored.versions.push_back(version_of(corrected, version + 1, correction.reason, submitter.agency,
                                       absl::ToUnixMicros(absl::Now())));
  stored.arrival = std::move(corrected);
  return stored.arrival;
}

absl::StatusOr<std::vector<db::ArrivalVersionRecord>> FakeArrivalStore::Versions(
    const std::string& arrival_id, const db::Viewer& viewer) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(arrival_id);
  if (it == by_id_.end() || !VisibleLocked(arrivals_[it->second], viewer)) {
    return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  }
  const Stored& stored = arrivals_[it->second];
  if (!stored.versions.empty()) return stored.versions;
  db::ArrivalVersionRecord first;
  first.version = 1;
  first.content = stored.arrival;
  first.content.clear_consent();
  first.content.clear_consent_version();
  first.corrected_by = stored.arrival.submitted_by();
  first.corrected_at_us = TimeUtil::TimestampToMicroseconds(stored.arrival.recorded_at());
  return std::vector<db::ArrivalVersionRecord>{first};
}

void FakeArrivalStore::FailBatches(absl::Status status) {
  absl::MutexLock lock(&control_mu_);
  batch_error_ = std::move(status);
}

void FakeArrivalStore::HoldBatches() {
  absl::MutexLock lock(&control_mu_);
  holding_ = true;
}

void FakeArrivalStore::ReleaseBatches() {
  absl::MutexLock lock(&control_mu_);
  holding_ = false;
  released_ = entered_;
}

void FakeArrivalStore::ReleaseOneBatch() {
  absl::MutexLock lock(&control_mu_);
  control_mu_.Await(absl::Condition(
      +[](FakeArrivalStore* s)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->control_mu_) { return s->entered_ > s->released_; },
      this));
  ++released_;
}

void FakeArrivalStore::AwaitBatches(size_t n) {
  absl::MutexLock lock(&control_mu_);
  std::pair<FakeArrivalStore*, size_t> arg(this, n);
  control_mu_.Await(absl::Condition(
      +[](std::pair<FakeArrivalStore*, size_t>* a)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->first->log_.size() >= a->second; },
      &arg));
}

std::vector<FakeArrivalStore::BatchLog> FakeArrivalStore::batches() const {
  absl::MutexLock lock(&control_mu_);
  return log_;
}

size_t FakeArrivalStore::size() const {
  absl::MutexLock lock(&mu_);
  return arrivals_.size();
}

std::vector<Consent> FakeArrivalStore::consent_history(const std::string& arrival_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(arrival_id);
  if (it == by_id_.end()) return {};
  return arrivals_[it->second].history;
}

}  // namespace enlace::testing
