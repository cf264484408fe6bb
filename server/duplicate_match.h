// Whether two arrivals may be the same person, and how likely: the pure
// rules behind ArrivalService.FindPossibleDuplicates (the database only
// narrows the arrivals to compare, db/person_store.h). Table-tested in
// tests/unit/duplicate_match_test.cc; docs/data-protection.md ("One person
// across arrivals") explains each rule and its score.
//
//   if (std::optional<DuplicateMatch> m = MatchArrivals(subject, other)) {
//     // m->score in (0, 1], m->reasons not empty
//   }
#ifndef ENLACE_SERVER_DUPLICATE_MATCH_H_
#define ENLACE_SERVER_DUPLICATE_MATCH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::server {

// A name as the rules compare it: lower case, Latin accents and the tilde
// dropped (á→a, ñ→n, ü→u, ç→c), hyphens, apostrophes, dots and commas read
// as spaces, runs of spaces as one, none at either end. Other characters
// are kept as they are. "  NÚÑEZ-O'Brien " folds to "nunez o brien".
std::string FoldName(absl::string_view name);

// A document number as the rules compare it: letters and digits only, upper
// case ("a-123 45" reads "A12345").
std::string FoldDocumentNumber(absl::string_view document_number);

// True when `a` and `b` (folded) are one slip apart: one character added,
// dropped or changed, or two neighbours swapped (optimal string alignment
// distance 1). Equal names are not one slip apart.
bool OneSlipApart(absl::string_view a, absl::string_view b);

// True when one folded name is the other followed by more words ("hernandez"
// and "hernandez lopez"), or they are equal.
bool SameOrFirstWordsOf(absl::string_view a, absl::string_view b);

struct DuplicateMatch {
  float score = 0;
  std::vector<enlace::v1::DuplicateReason> reasons;  // at least one, in enum order
};

// Scores whether `a` and `b` may be one person:
//   the same document number (folded, not empty)                -> 0.95,
//     0.99 when a name rule below holds too;
//   the same folded given and family names, the same birth date -> 0.90;
//   similar names (each the same or the other with more words,
//     not both the same; or the full names one slip apart),
//     the same birth date                                       -> 0.75;
//   the same folded names, the birth date's day and month
//     swapped                                                   -> 0.60.
// Several rules: the highest score, every reason. None: nullopt. Erased
// arrivals (names empty) match nothing by name.
std::optional<DuplicateMatch> MatchArrivals(const enlace::v1::Arrival& a,
                                            const enlace::v1::Arrival& b);

}  // namespace enlace::server

#endif  // ENLACE_SERVER_DUPLICATE_MATCH_H_
