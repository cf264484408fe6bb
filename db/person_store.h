// One person across arrivals: which arrivals a viewer may see that could be
// the same person as another (FindPossibleDuplicates; the scoring itself is
// pure, in server/duplicate_match.h), and the ministry's reviewed decisions
// that arrivals are, or are not, one person (LinkArrivals, UnlinkArrivals).
// MysqlPersonStore (mysql_person_store.h) implements it; there is no fake:
// tests/e2e test it against the real database.
//
// A person is a group of arrivals joined by "same person" decisions; they
// share one person_id (Arrival.person_id), the one their earliest-recorded
// arrival had. Every arrival starts as a person of its own with a random
// person_id, so the id tells nothing about arrivals a viewer cannot see.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_PERSON_STORE_H_
#define ENLACE_DB_PERSON_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "db/arrival_store.h"
#include "db/audit_chain.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::db {

// An arrival that may be the same person as another, with its keyset
// position (its seq) for paging.
struct CandidateArrival {
  int64_t position = 0;
  enlace::v1::Arrival arrival;
};

// The arrival asked about, and the arrivals that may be the same person.
struct DuplicateCandidates {
  enlace::v1::Arrival subject;
  std::vector<CandidateArrival> candidates;  // in no particular order
};

// A person: its id and its arrivals' ids, in recording order.
struct PersonGroup {
  std::string person_id;
  std::vector<std::string> arrival_ids;
};

// `birth_date` (YYYY-MM-DD) with day and month swapped, when that is another
// valid date ("2001-04-03" gives "2001-03-04"); nullopt otherwise (day above
// 12, day equal to month, or not a date). Defined in mysql_person_store.cc.
std::optional<std::string> SwappedBirthDate(const std::string& birth_date);

class PersonStore {
 public:
  virtual ~PersonStore() = default;

  // Bounds how many arrivals CandidatesFor reads per rule.
  static constexpr int kMaxCandidatesPerRule = 500;

  // The arrival `arrival_id`, if `viewer` may see it (ArrivalStore's
  // visibility; NOT_FOUND otherwise), and the arrivals `viewer` may see that
  // are not erased, not it nor of its person, not decided to be another
  // person than it, and that share its document number (when it has one) or
  // whose birth date is its birth date or that date with day and month
  // swapped: at most kMaxCandidatesPerRule per rule (the most recently
  // recorded first). An erased subject has no candidates (nothing is left
  // to compare).
  virtual absl::StatusOr<DuplicateCandidates> CandidatesFor(const std::string& arrival_id,
                                                            const Viewer& viewer) = 0;

  // Records that the arrivals of `arrival_ids` (at least two, distinct,
  // each recorded by `submitter`: NOT_FOUND naming the first that is not;
  // FAILED_PRECONDITION for an erased one) are one person, with `reason`,
  // and appends `audit` in the same transaction (null: no event, store tests
  // only). Their persons merge into one, which keeps the person_id of its
  // earliest-recorded arrival. An objection that any arrival of the person
  // holds is the person's: every arrival of it not erased gets it, as
  // ArrivalStore::RecordObjection gives it (the event then also names the
  // arrivals changed and the referrals withdrawn). Returns that person.
  // Repeating it changes nothing but the decisions' reason and time.
  virtual absl::StatusOr<PersonGroup> Link(const std::vector<std::string>& arrival_ids,
                                           const std::string& reason, const Viewer& submitter,
                                           AuditRecord* audit) = 0;

  // Records that no two arrivals of `arrival_ids` (as for Link) are one
  // person: the links between them go, and the groups they leave are
  // persons of their own (the one holding the earliest arrival keeps the
  // person_id; the others get new random ones). FAILED_PRECONDITION, and
  // nothing changes, when two of them would still be one person through
  // links to arrivals not named. Returns the persons of the named arrivals
  // afterwards, in the order of their earliest arrival.
  virtual absl::StatusOr<std::vector<PersonGroup>> Unlink(
      const std::vector<std::string>& arrival_ids, const std::string& reason,
      const Viewer& submitter, AuditRecord* audit) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_PERSON_STORE_H_
