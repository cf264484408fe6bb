// MysqlPersonStore: possible duplicates and the ministry's decisions about
// who is one person (see mysql_person_store.h and person_store.h).
#include "db/mysql_person_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/ids.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"

namespace enlace::db {

std::string PersonCandidatesSql(bool by_document) {
  // After the rule: not the subject (its seq), not erased, not of its
  // person (its person_id), not decided to be another person (its seq,
  // twice), visible to the viewer (the agency, twice).
  return absl::StrCat(
      "SELECT ", ArrivalColumnsSql(), " FROM arrivals a WHERE ",
      by_document ? "a.document_number = ?" : "a.birth_date IN (?, ?)",
      " AND a.seq <> ? AND a.erased_at_us IS NULL AND NOT (a.person_id <=> ?)"
      " AND NOT EXISTS (SELECT 1 FROM person_decisions d WHERE d.same_person = 0"
      " AND d.arrival_seq_low = LEAST(a.seq, ?) AND d.arrival_seq_high = GREATEST(a.seq, ?)) AND ",
      ArrivalVisibleToViewerSql(), " ORDER BY a.seq DESC LIMIT ",
      PersonStore::kMaxCandidatesPerRule);
}

void BindPersonCandidates(sql::PreparedStatement* statement, bool by_document,
                          const std::string& document_number, const std::string& birth_date,
                          const std::string& swapped_birth_date, int64_t subject_seq,
                          const std::string& subject_person, const Viewer& viewer) {
  unsigned p = 1;
  if (by_document) {
    statement->setString(p++, document_number);
  } else {
    statement->setString(p++, birth_date);
    statement->setString(p++, swapped_birth_date);
  }
  statement->setInt64(p++, subject_seq);
  statement->setString(p++, subject_person);
  statement->setInt64(p++, subject_seq);
  statement->setInt64(p++, subject_seq);
  statement->setString(p++, viewer.agency);
  statement->setString(p++, viewer.agency);
}

std::optional<std::string> SwappedBirthDate(const std::string& birth_date) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(birth_date, &day)) return std::nullopt;
  if (day.day() > 12 || day.day() == day.month()) return std::nullopt;
  const absl::CivilDay swapped(day.year(), day.day(), day.month());
  // CivilDay normalizes: 31 April would become 1 May.
  if (swapped.month() != day.day() || swapped.day() != day.month()) return std::nullopt;
  return absl::FormatCivilTime(swapped);
}

namespace {

// One named arrival, locked.
struct NamedArrival {
  int64_t seq = 0;
  std::string arrival_id;
};

// Locks the arrivals of `arrival_ids` that `submitter` recorded. NOT_FOUND
// naming the first that is not one; FAILED_PRECONDITION for an erased one.
absl::StatusOr<std::vector<NamedArrival>> LockNamed(MysqlConnection& c,
                                                    const std::vector<std::string>& arrival_ids,
                                                    const Viewer& submitter) {
  absl::flat_hash_map<std::string, NamedArrival> found;
  std::vector<std::string> erased;
  ForEachStatementChunk(arrival_ids.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* lock = c.Prepare(
        absl::StrCat("SELECT seq, arrival_id, erased_at_us FROM arrivals WHERE submitted_by = ? "
                     "AND arrival_id IN ",
                     InList(size), " ORDER BY seq FOR UPDATE"));
    lock->setString(1, submitter.agency);
    for (size_t k = 0; k < size; ++k) {
      lock->setString(static_cast<unsigned>(k + 2), arrival_ids[offset + k]);
    }
    std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
    while (rows->next()) {
      NamedArrival named{rows->getInt64("seq"), rows->getString("arrival_id")};
      if (!rows->isNull("erased_at_us")) erased.push_back(named.arrival_id);
      found.emplace(named.arrival_id, std::move(named));
    }
  });
  std::vector<NamedArrival> named;
  for (const std::string& id : arrival_ids) {
    auto it = found.find(id);
    if (it == found.end()) return absl::NotFoundError(absl::StrCat("arrival ", id, " not found"));
    named.push_back(it->second);
  }
  if (!erased.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("arrival ", erased.front(),
                     " was erased (EraseReturnee): nothing is left to tell who it was"));
  }
  return named;
}

// Records the decision that arrivals `a` and `b` are (or are not) one
// person, replacing any earlier decision about the pair.
void Decide(MysqlConnection& c, int64_t a, int64_t b, bool same_person, const std::string& reason,
            const Viewer& submitter, int64_t now_us) {
  const int64_t low = std::min(a, b);
  const int64_t high = std::max(a, b);
  sql::PreparedStatement* forget =
      c.Prepare("DELETE FROM person_decisions WHERE arrival_seq_low = ? AND arrival_seq_high = ?");
  forget->setInt64(1, low);
  forget->setInt64(2, high);
  forget->executeUpdate();
  sql::PreparedStatement* insert = c.Prepare(
      "INSERT INTO person_decisions (arrival_seq_low, arrival_seq_high, same_person, reason, "
      "decided_by, decided_at_us) VALUES (?, ?, ?, ?, ?, ?)");
  insert->setInt64(1, low);
  insert->setInt64(2, high);
  insert->setInt(3, same_person ? 1 : 0);
  insert->setString(4, reason);
  insert->setString(5, submitter.agency);
  insert->setInt64(6, now_us);
  insert->executeUpdate();
}

// The persons that the arrivals of `seeds` now are: every arrival linked to
// them, directly or not, read and locked, grouped by the links, each group
// given one person_id (see GroupPersons). Keyed by seq: the index of each
// arrival's group in `groups`, ordered by each group's earliest arrival.
struct Regrouped {
  std::vector<PersonGroup> groups;
  absl::flat_hash_map<int64_t, size_t> group_of;
};

absl::StatusOr<Regrouped> Regroup(MysqlConnection& c, const std::vector<int64_t>& seeds) {
  // 1. Walk the links from the seeds, locking them.
  std::set<int64_t> members(seeds.begin(), seeds.end());
  std::vector<std::pair<int64_t, int64_t>> links;
  std::vector<int64_t> frontier(members.begin(), members.end());
  while (!frontier.empty()) {
    std::vector<int64_t> next;
    for (const char* column : {"arrival_seq_low", "arrival_seq_high"}) {
      ForEachStatementChunk(frontier.size(), [&](size_t offset, size_t size) {
        sql::PreparedStatement* select =
            c.Prepare(absl::StrCat("SELECT arrival_seq_low, arrival_seq_high FROM person_decisions "
                                   "WHERE same_person = 1 AND ",
                                   column, " IN ", InList(size), " FOR UPDATE"));
        for (size_t k = 0; k < size; ++k) {
          select->setInt64(static_cast<unsigned>(k + 1), frontier[offset + k]);
        }
        std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
        while (rows->next()) {
          const int64_t low = rows->getInt64(1);
          const int64_t high = rows->getInt64(2);
          links.emplace_back(low, high);  // found from both ends: made unique below
          for (int64_t end : {low, high}) {
            if (members.insert(end).second) next.push_back(end);
          }
        }
      });
    }
    frontier = std::move(next);
  }
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());

  // 2. The members, locked, in recording order.
  const std::vector<int64_t> seqs(members.begin(), members.end());
  std::map<int64_t, std::pair<std::string, std::string>> rows_of;  // seq -> (id, person)
  ForEachStatementChunk(seqs.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* lock =
        c.Prepare(absl::StrCat("SELECT seq, arrival_id, person_id FROM arrivals WHERE seq IN ",
                               InList(size), " FOR UPDATE"));
    for (size_t k = 0; k < size; ++k)
      lock->setInt64(static_cast<unsigned>(k + 1), seqs[offset + k]);
    std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
    while (rows->next()) {
      rows_of[rows->getInt64("seq")] = {
          rows->getString("arrival_id"),
          rows->isNull("person_id") ? "" : rows->getString("person_id")};
    }
  });

  // 3. Groups by the links (union-find over seqs' indexes).
  std::vector<size_t> parent(seqs.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  auto index_of = [&](int64_t seq) {
    return static_cast<size_t>(std::lower_bound(seqs.begin(), seqs.end(), seq) - seqs.begin());
  };
  for (const auto& [low, high] : links) {
    const size_t a = root(index_of(low));
    const size_t b = root(index_of(high));
    // The earlier arrival's group absorbs the later's.
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }

  // 4. One person_id per group: the one its earliest arrival holds, unless
  //    an earlier group holds it already (a group split off): then a new one.
  Regrouped result;
  absl::flat_hash_map<size_t, size_t> group_of_root;
  absl::flat_hash_set<std::string> taken;
  std::vector<std::pair<std::string, int64_t>> updates;  // (person_id, seq)
  for (size_t i = 0; i < seqs.size(); ++i) {  // seqs ascend: earliest first
    const size_t r = root(i);
    auto [it, is_new] = group_of_root.emplace(r, result.groups.size());
    const auto& [arrival_id, person_id] = rows_of[seqs[i]];
    if (is_new) {
      PersonGroup& group = result.groups.emplace_back();
      if (!person_id.empty() && taken.insert(person_id).second) {
        group.person_id = person_id;
      } else {
        absl::StatusOr<std::string> fresh = NewRecordId();
        if (!fresh.ok()) return fresh.status();
        group.person_id = *fresh;
        taken.insert(group.person_id);
      }
    }
    PersonGroup& group = result.groups[it->second];
    group.arrival_ids.push_back(arrival_id);
    result.group_of[seqs[i]] = it->second;
    if (person_id != group.person_id) updates.emplace_back(group.person_id, seqs[i]);
  }
  for (const auto& [person_id, seq] : updates) {
    sql::PreparedStatement* update = c.Prepare("UPDATE arrivals SET person_id = ? WHERE seq = ?");
    update->setString(1, person_id);
    update->setInt64(2, seq);
    update->executeUpdate();
  }
  return result;
}

std::vector<int64_t> SeqsOf(const std::vector<NamedArrival>& named) {
  std::vector<int64_t> seqs;
  seqs.reserve(named.size());
  for (const NamedArrival& n : named) seqs.push_back(n.seq);
  return seqs;
}

}  // namespace

void LockPersonLinks(MysqlConnection& c) {
  sql::PreparedStatement* lock =
      c.Prepare("SELECT id FROM person_links_lock WHERE id = 1 FOR UPDATE");
  std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
  while (rows->next()) {
  }
}

absl::StatusOr<DuplicateCandidates> MysqlPersonStore::CandidatesFor(const std::string& arrival_id,
                                                                    const Viewer& viewer) {
  DuplicateCandidates found;
  bool visible = false;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    found = DuplicateCandidates();
    sql::PreparedStatement* subject = c.Prepare(
        absl::StrCat("SELECT ", ArrivalColumnsSql(), " FROM arrivals a WHERE a.arrival_id = ? AND ",
                     ArrivalVisibleToViewerSql()));
    subject->setString(1, arrival_id);
    subject->setString(2, viewer.agency);
    subject->setString(3, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(subject->executeQuery());
    if (!row->next()) return absl::OkStatus();
    visible = true;
    found.subject = ReadArrivalRow(*row);
    if (found.subject.has_erased_at()) return absl::OkStatus();
    const int64_t subject_seq = row->getInt64("seq");

    absl::flat_hash_set<int64_t> seen;
    const enlace::v1::Person& person = found.subject.person();
    const std::string swapped = SwappedBirthDate(person.birth_date()).value_or(person.birth_date());
    for (bool by_document : {true, false}) {
      if (by_document && person.document_number().empty()) continue;
      sql::PreparedStatement* select = c.Prepare(PersonCandidatesSql(by_document));
      BindPersonCandidates(select, by_document, person.document_number(), person.birth_date(),
                           swapped, subject_seq, found.subject.person_id(), viewer);
      std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
      while (rows->next()) {
        const int64_t seq = rows->getInt64("seq");
        if (seen.insert(seq).second) found.candidates.push_back({seq, ReadArrivalRow(*rows)});
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!visible) return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  return found;
}

absl::StatusOr<PersonGroup> MysqlPersonStore::Link(const std::vector<std::string>& arrival_ids,
                                                   const std::string& reason,
                                                   const Viewer& submitter, AuditRecord* audit) {
  PersonGroup person;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    LockPersonLinks(c);
    absl::StatusOr<std::vector<NamedArrival>> named = LockNamed(c, arrival_ids, submitter);
    if (!named.ok()) return named.status();
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    // The first named with each other: enough to make them one group.
    for (size_t i = 1; i < named->size(); ++i) {
      Decide(c, (*named)[0].seq, (*named)[i].seq, /*same_person=*/true, reason, submitter, now_us);
    }
    absl::StatusOr<Regrouped> regrouped = Regroup(c, SeqsOf(*named));
    if (!regrouped.ok()) return regrouped.status();
    person = regrouped->groups[regrouped->group_of.at((*named)[0].seq)];
    // An objection any of them holds is the person's: each arrival gets it
    // (the event names the arrivals changed, and the referrals withdrawn).
    std::vector<std::string> changed;
    if (absl::Status s = SpreadObjections(c, person.person_id, submitter.agency,
                                          /*objections=*/0, now_us, &changed);
        !s.ok()) {
      return s;
    }
    change.Append(c, changed);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return person;
}

absl::StatusOr<std::vector<PersonGroup>> MysqlPersonStore::Unlink(
    const std::vector<std::string>& arrival_ids, const std::string& reason, const Viewer& submitter,
    AuditRecord* audit) {
  std::vector<PersonGroup> persons;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    persons.clear();
    LockPersonLinks(c);
    absl::StatusOr<std::vector<NamedArrival>> named = LockNamed(c, arrival_ids, submitter);
    if (!named.ok()) return named.status();
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    for (size_t i = 0; i < named->size(); ++i) {
      for (size_t j = i + 1; j < named->size(); ++j) {
        Decide(c, (*named)[i].seq, (*named)[j].seq, /*same_person=*/false, reason, submitter,
               now_us);
      }
    }
    absl::StatusOr<Regrouped> regrouped = Regroup(c, SeqsOf(*named));
    if (!regrouped.ok()) return regrouped.status();
    // Each named arrival must now be a person apart from the others.
    absl::flat_hash_map<size_t, const NamedArrival*> named_in_group;
    std::vector<size_t> order;
    for (const NamedArrival& n : *named) {
      const size_t group = regrouped->group_of.at(n.seq);
      auto [it, is_new] = named_in_group.emplace(group, &n);
      if (!is_new) {
        // Rolled back: the decisions written above go too.
        return absl::FailedPreconditionError(absl::StrCat(
            "arrivals ", it->second->arrival_id, " and ", n.arrival_id,
            " are still one person through links to other arrivals (",
            absl::StrJoin(regrouped->groups[group].arrival_ids, ", "), "): unlink those too"));
      }
      order.push_back(group);
    }
    std::sort(order.begin(), order.end());
    for (size_t group : order) persons.push_back(regrouped->groups[group]);
    change.Append(c);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return persons;
}

}  // namespace enlace::db
