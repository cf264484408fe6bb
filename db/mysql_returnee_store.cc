// MysqlReturneeStore: every record held about one returnee, in one
// transaction (see returnee_store.h).
#include "db/mysql_returnee_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_person_store.h"
#include "enlace/v1/referrals.pb.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::db {

using google::protobuf::util::TimeUtil;

absl::CivilDay ErasedBirthDate(absl::CivilDay birth, absl::CivilDay arrival) {
  int64_t age = arrival.year() - birth.year();
  if (arrival.month() < birth.month() ||
      (arrival.month() == birth.month() && arrival.day() < birth.day())) {
    --age;
  }
  const absl::CivilDay kept(arrival.year() - age, arrival.month(), arrival.day());
  // 29 February of a common year would normalize to 1 March, a day after
  // the birthday: the age on arrival would drop by one.
  if (kept.month() != arrival.month()) return absl::CivilDay(kept.year(), arrival.month(), 28);
  return kept;
}

namespace {

// ErasedBirthDate of two stored DATEs ("YYYY-MM-DD"), as a DATE again.
std::string ErasedBirthDateOf(const std::string& birth_date, const std::string& arrival_date) {
  absl::CivilDay birth;
  absl::CivilDay arrival;
  // Never false: both columns are DATEs.
  absl::ParseCivilTime(birth_date, &birth);
  absl::ParseCivilTime(arrival_date, &arrival);
  return absl::FormatCivilTime(ErasedBirthDate(birth, arrival));
}

// Overwrites the identifying fields of everything held about the arrival
// `seq` (see ReturneeStore::Erase for the list).
// An unreadable feed event is DATA_LOSS: erasing all but it would leave
// its text behind.
// Then marks the arrival erased at `erased_at_us` by `erased_by` for `reason`.
absl::Status EraseRecordsOf(MysqlConnection& c, int64_t seq, const std::string& arrival_date,
                            const std::string& birth_date, int64_t erased_at_us,
                            const std::string& erased_by, const std::string& reason) {
  sql::PreparedStatement* arrival = c.Prepare(
      "UPDATE arrivals SET given_name = '', family_name = '', document_number = '', "
      "municipality = '', birth_date = ?, content_hash = ?, "
      "consent_guardian_name = CASE WHEN consent_guardian_name IS NULL THEN NULL ELSE '' END, "
      "erased_at_us = ?, erased_by = ?, erasure_reason = ? WHERE seq = ?");
  arrival->setString(1, ErasedBirthDateOf(birth_date, arrival_date));
  arrival->setString(2, ErasedContentHash());
  arrival->setInt64(3, erased_at_us);
  arrival->setString(4, erased_by);
  arrival->setString(5, reason);
  arrival->setInt64(6, seq);
  arrival->executeUpdate();

  // Each version keeps the age on its own arrival date.
  struct Version {
    int version;
    std::string birth_date;
  };
  std::vector<Version> versions;
  sql::PreparedStatement* select = c.Prepare(
      "SELECT version, arrival_date, birth_date FROM arrival_versions WHERE arrival_seq = ? "
      "FOR UPDATE");
  select->setInt64(1, seq);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  while (rows->next()) {
    versions.push_back(
        {rows->getInt("version"),
         ErasedBirthDateOf(rows->getString("birth_date"), rows->getString("arrival_date"))});
  }
  for (const Version& v : versions) {
    sql::PreparedStatement* update = c.Prepare(
        "UPDATE arrival_versions SET given_name = '', family_name = '', document_number = '', "
        "municipality = '', reason = '', birth_date = ? WHERE arrival_seq = ? AND version = ?");
    update->setString(1, v.birth_date);
    update->setInt64(2, seq);
    update->setInt(3, v.version);
    update->executeUpdate();
  }

  // Every statement below names the arrival by its seq, once.
  for (const char* statement : {
           "UPDATE consent_versions SET guardian_name = '' "
           "WHERE arrival_seq = ? AND guardian_name IS NOT NULL",
           "UPDATE cases SET summary = '', psychosocial_notes = '', municipality = '' "
           "WHERE arrival_seq = ?",
           "UPDATE case_services s JOIN cases c ON c.seq = s.case_seq SET s.notes = '' "
           "WHERE c.arrival_seq = ?",
           "UPDATE initiatives i JOIN cases c ON c.seq = i.case_seq "
           "SET i.name = '', i.municipality = '' WHERE c.arrival_seq = ?",
           "UPDATE referrals r JOIN cases c ON c.seq = r.case_seq "
           "SET r.reason = '', r.decline_reason = '', r.outcome = '' WHERE c.arrival_seq = ?",
           // The ministry's decisions about who the returnee is keep their
           // link (the person's other arrivals stay one person) but not
           // their free text.
           "UPDATE person_decisions SET reason = '' WHERE arrival_seq_low = ?",
           "UPDATE person_decisions SET reason = '' WHERE arrival_seq_high = ?",
       }) {
    sql::PreparedStatement* update = c.Prepare(statement);
    update->setInt64(1, seq);
    update->executeUpdate();
  }

  // The feed keeps each referral change as it was then: its free text goes
  // too (consent changes, type 0, hold none).
  std::vector<std::pair<int64_t, std::string>> events;
  sql::PreparedStatement* feed = c.Prepare(
      "SELECT seq, snapshot FROM referral_events WHERE arrival_seq = ? AND type <> 0 FOR UPDATE");
  feed->setInt64(1, seq);
  std::unique_ptr<sql::ResultSet> event_rows(feed->executeQuery());
  while (event_rows->next()) {
    enlace::v1::Referral snapshot;
    const std::string bytes = event_rows->getString("snapshot");
    if (!snapshot.ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("referral event ", event_rows->getInt64("seq"), " is unreadable"));
    }
    snapshot.clear_reason();
    snapshot.clear_decline_reason();
    snapshot.clear_outcome();
    events.emplace_back(event_rows->getInt64("seq"), snapshot.SerializeAsString());
  }
  for (const auto& [event_seq, snapshot] : events) {
    sql::PreparedStatement* update =
        c.Prepare("UPDATE referral_events SET snapshot = ? WHERE seq = ?");
    update->setString(1, snapshot);
    update->setInt64(2, event_seq);
    update->executeUpdate();
  }
  return absl::OkStatus();
}

// An arrival of the person being erased or exported, as its erasure needs it.
struct PersonArrival {
  int64_t seq = 0;
  std::string arrival_id;
  std::string arrival_date;
  std::string birth_date;
  bool erased = false;
};

// The arrivals of person `person_id` (null: none) that `submitter`
// recorded, but the one of `seq`, in recording order; locked for update
// when `lock`.
std::vector<PersonArrival> OtherArrivalsOfPerson(MysqlConnection& c, const sql::ResultSet& row,
                                                 int64_t seq, const std::string& submitter,
                                                 bool lock) {
  std::vector<PersonArrival> others;
  if (row.isNull("person_id")) return others;
  sql::PreparedStatement* select = c.Prepare(
      absl::StrCat("SELECT seq, arrival_id, arrival_date, birth_date, erased_at_us FROM arrivals "
                   "WHERE person_id = ? AND submitted_by = ? AND seq <> ? ORDER BY seq",
                   lock ? " FOR UPDATE" : ""));
  select->setString(1, row.getString("person_id"));
  select->setString(2, submitter);
  select->setInt64(3, seq);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  while (rows->next()) {
    others.push_back({rows->getInt64("seq"), rows->getString("arrival_id"),
                      rows->getString("arrival_date"), rows->getString("birth_date"),
                      !rows->isNull("erased_at_us")});
  }
  return others;
}

}  // namespace

absl::StatusOr<HeldRecords> MysqlReturneeStore::HeldAbout(const std::string& arrival_id,
                                                          const Viewer& submitter) {
  HeldRecords held;
  bool found = false;
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    held = HeldRecords();
    found = false;
    // The arrival, with its consent as recorded: the consent's version 1
    // until a change moves it to consent_versions.
    sql::PreparedStatement* arrival = c.Prepare(
        "SELECT a.seq, a.submitted_by, a.recorded_at_us, a.consent_purposes_mask, "
        "a.objected_purposes_mask, a.consent_given_at_us, a.consent_guardian_name, "
        "a.consent_guardian_relationship, a.person_id, "
        "(SELECT GROUP_CONCAT(c.agency_code ORDER BY c.agency_code SEPARATOR ',') "
        " FROM arrival_consent_agencies c WHERE c.arrival_seq = a.seq) AS consent_agencies "
        "FROM arrivals a WHERE a.arrival_id = ? AND a.submitted_by = ?");
    arrival->setString(1, arrival_id);
    arrival->setString(2, submitter.agency);
    std::unique_ptr<sql::ResultSet> row(arrival->executeQuery());
    if (!row->next()) return absl::OkStatus();
    found = true;
    const int64_t seq = row->getInt64("seq");
    for (PersonArrival& other :
         OtherArrivalsOfPerson(c, *row, seq, submitter.agency, /*lock=*/false)) {
      held.linked_arrival_ids.push_back(std::move(other.arrival_id));
    }

    sql::PreparedStatement* versions = c.Prepare(
        "SELECT version, agencies AS consent_agencies, purposes_mask AS consent_purposes_mask, "
        "given_at_us AS consent_given_at_us, guardian_name AS consent_guardian_name, "
        "guardian_relationship AS consent_guardian_relationship, objected_purposes_mask, "
        "changed_by, changed_at_us "
        "FROM consent_versions WHERE arrival_seq = ? ORDER BY version");
    versions->setInt64(1, seq);
    std::unique_ptr<sql::ResultSet> version_rows(versions->executeQuery());
    while (version_rows->next()) {
      enlace::v1::ConsentVersion& v = held.consent_history.emplace_back();
      v.set_version(version_rows->getInt("version"));
      ReadConsentColumns(*version_rows, v.mutable_consent());
      v.set_changed_by(version_rows->getString("changed_by"));
      *v.mutable_changed_at() =
          TimeUtil::MicrosecondsToTimestamp(version_rows->getInt64("changed_at_us"));
    }
    if (held.consent_history.empty()) {
      enlace::v1::ConsentVersion& v = held.consent_history.emplace_back();
      v.set_version(1);
      ReadConsentColumns(*row, v.mutable_consent());
      v.set_changed_by(row->getString("submitted_by"));
      *v.mutable_changed_at() = TimeUtil::MicrosecondsToTimestamp(row->getInt64("recorded_at_us"));
    }
    ReadRecordsOfArrival(c, seq, &held);

    sql::PreparedStatement* decisions = c.Prepare(
        "SELECT d.same_person, d.reason, d.decided_by, d.decided_at_us, "
        "low.arrival_id AS low_id, high.arrival_id AS high_id FROM person_decisions d "
        "JOIN arrivals low ON low.seq = d.arrival_seq_low "
        "JOIN arrivals high ON high.seq = d.arrival_seq_high "
        "WHERE d.arrival_seq_low = ? OR d.arrival_seq_high = ? "
        "ORDER BY d.decided_at_us, d.arrival_seq_low, d.arrival_seq_high");
    decisions->setInt64(1, seq);
    decisions->setInt64(2, seq);
    std::unique_ptr<sql::ResultSet> decision_rows(decisions->executeQuery());
    while (decision_rows->next()) {
      enlace::v1::PersonDecision& d = held.person_decisions.emplace_back();
      d.add_arrival_ids(decision_rows->getString("low_id"));
      d.add_arrival_ids(decision_rows->getString("high_id"));
      d.set_same_person(decision_rows->getInt("same_person") != 0);
      d.set_reason(decision_rows->getString("reason"));
      d.set_decided_by(decision_rows->getString("decided_by"));
      *d.mutable_decided_at() =
          TimeUtil::MicrosecondsToTimestamp(decision_rows->getInt64("decided_at_us"));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  return held;
}

absl::StatusOr<Erasure> MysqlReturneeStore::Erase(const std::string& arrival_id,
                                                  const std::string& reason,
                                                  const Viewer& submitter, AuditRecord* audit) {
  Erasure erasure;
  bool found = false;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    erasure = Erasure();
    found = false;
    // The person (who is linked with the arrival) holds still until commit.
    LockPersonLinks(c);
    sql::PreparedStatement* lock = c.Prepare(
        "SELECT seq, arrival_date, birth_date, erased_at_us, person_id FROM arrivals "
        "WHERE arrival_id = ? AND submitted_by = ? FOR UPDATE");
    lock->setString(1, arrival_id);
    lock->setString(2, submitter.agency);
    std::unique_ptr<sql::ResultSet> row(lock->executeQuery());
    if (!row->next()) return absl::OkStatus();
    found = true;
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    PersonArrival named{row->getInt64("seq"), arrival_id, row->getString("arrival_date"),
                        row->getString("birth_date"), !row->isNull("erased_at_us")};
    erasure.erased_at_us = named.erased ? row->getInt64("erased_at_us") : now_us;
    std::vector<PersonArrival> person =
        OtherArrivalsOfPerson(c, *row, named.seq, submitter.agency, /*lock=*/true);
    person.insert(person.begin(), std::move(named));
    erasure.already_erased = true;
    for (const PersonArrival& a : person) {
      if (a.seq != person.front().seq) erasure.linked_arrival_ids.push_back(a.arrival_id);
      if (a.erased) continue;
      erasure.already_erased = false;
      if (absl::Status s = EraseRecordsOf(c, a.seq, a.arrival_date, a.birth_date, now_us,
                                          submitter.agency, reason);
          !s.ok()) {
        return s;
      }
    }
    change.Append(c, erasure.linked_arrival_ids);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  change.Settle();
  return erasure;
}

namespace {

// `now` minus `years` whole years (UTC), in microseconds: records recorded
// before it are past that many years.
int64_t YearsBefore(absl::Time now, int years) {
  const absl::CivilSecond t = absl::ToCivilSecond(now, absl::UTCTimeZone());
  absl::CivilSecond back(t.year() - years, t.month(), t.day(), t.hour(), t.minute(), t.second());
  // 29 February of a common year: the day before 1 March.
  if (back.month() != t.month()) {
    back = absl::CivilSecond(t.year() - years, t.month(), 28, t.hour(), t.minute(), t.second());
  }
  return absl::ToUnixMicros(absl::FromCivil(back, absl::UTCTimeZone()));
}

}  // namespace

absl::StatusOr<int> MysqlReturneeStore::EraseExpired(const RetentionYears& years, absl::Time now,
                                                     int limit, AuditRecord* audit) {
  // Purpose bits of arrivals.consent_purposes_mask: 1 << enlace.v1.Purpose.
  constexpr int kReintegration = 1 << enlace::v1::PURPOSE_REINTEGRATION;
  constexpr int kProtection = 1 << enlace::v1::PURPOSE_PROTECTION;
  constexpr int kStatistics = 1 << enlace::v1::PURPOSE_STATISTICS;
  constexpr int kAnyPurpose = kReintegration | kProtection | kStatistics;
  const int64_t reintegration_cutoff = YearsBefore(now, years.reintegration);
  const int64_t protection_cutoff = YearsBefore(now, years.protection);
  const int64_t statistics_cutoff = YearsBefore(now, years.statistics);
  const int64_t none_cutoff = YearsBefore(now, years.none);
  // The latest cutoff bounds the index range; each purpose the consent
  // names must be past its own (the longest wins).
  const int64_t latest =
      std::max({reintegration_cutoff, protection_cutoff, statistics_cutoff, none_cutoff});
  int erased = 0;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    erased = 0;
    sql::PreparedStatement* due =
        c.Prepare(absl::StrCat("SELECT seq, arrival_id, arrival_date, birth_date FROM arrivals "
                               "WHERE erased_at_us IS NULL AND recorded_at_us < ? "
                               "AND ((consent_purposes_mask & ",
                               kReintegration,
                               ") = 0 OR recorded_at_us < ?) "
                               "AND ((consent_purposes_mask & ",
                               kProtection,
                               ") = 0 OR recorded_at_us < ?) "
                               "AND ((consent_purposes_mask & ",
                               kStatistics,
                               ") = 0 OR recorded_at_us < ?) "
                               "AND ((consent_purposes_mask & ",
                               kAnyPurpose,
                               ") <> 0 OR recorded_at_us < ?) "
                               "ORDER BY seq LIMIT ? FOR UPDATE"));
    due->setInt64(1, latest);
    due->setInt64(2, reintegration_cutoff);
    due->setInt64(3, protection_cutoff);
    due->setInt64(4, statistics_cutoff);
    due->setInt64(5, none_cutoff);
    due->setInt(6, limit);
    struct Due {
      int64_t seq;
      std::string arrival_id, arrival_date, birth_date;
    };
    std::vector<Due> rows;
    std::unique_ptr<sql::ResultSet> result(due->executeQuery());
    while (result->next()) {
      rows.push_back({result->getInt64("seq"), result->getString("arrival_id"),
                      result->getString("arrival_date"), result->getString("birth_date")});
    }
    if (rows.empty()) return absl::OkStatus();
    const int64_t now_us = absl::ToUnixMicros(now);
    std::vector<std::string> ids;
    for (const Due& row : rows) {
      if (absl::Status s = EraseRecordsOf(c, row.seq, row.arrival_date, row.birth_date, now_us,
                                          "retention", "retention: past its retention date");
          !s.ok()) {
        return s;
      }
      ids.push_back(row.arrival_id);
    }
    change.Append(c, ids);
    erased = static_cast<int>(rows.size());
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (erased > 0) change.Settle();
  return erased;
}

}  // namespace enlace::db
