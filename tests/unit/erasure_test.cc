// The birth date an erasure keeps (db/mysql_returnee_store.h,
// ErasedBirthDate): the whole years of age on the arrival date, and so the
// report's age band, do not move; nothing of the real day and month stays.
#include "absl/time/civil_time.h"
#include "db/mysql_returnee_store.h"
#include "db/report_cells.h"
#include "gtest/gtest.h"

namespace enlace::db {
namespace {

struct Case {
  absl::CivilDay birth;
  absl::CivilDay arrival;
  absl::CivilDay kept;
};

TEST(ErasedBirthDateTest, KeepsTheAgeOnArrivalAndNothingElse) {
  const Case cases[] = {
      // Birthday already past in the arrival year, still to come, on the day.
      {absl::CivilDay(1995, 7, 21), absl::CivilDay(2018, 2, 10), absl::CivilDay(1996, 2, 10)},
      {absl::CivilDay(1995, 1, 3), absl::CivilDay(2018, 2, 10), absl::CivilDay(1995, 2, 10)},
      {absl::CivilDay(2000, 2, 10), absl::CivilDay(2018, 2, 10), absl::CivilDay(2000, 2, 10)},
      // One day short of 18, and 18 that day: the minor stays a minor.
      {absl::CivilDay(2000, 2, 11), absl::CivilDay(2018, 2, 10), absl::CivilDay(2001, 2, 10)},
      // Born on the arrival day.
      {absl::CivilDay(2018, 2, 10), absl::CivilDay(2018, 2, 10), absl::CivilDay(2018, 2, 10)},
      // Arrived on 29 February: a common birth year has no such day.
      {absl::CivilDay(1990, 6, 1), absl::CivilDay(2020, 2, 29), absl::CivilDay(1991, 2, 28)},
      {absl::CivilDay(1991, 6, 1), absl::CivilDay(2020, 2, 29), absl::CivilDay(1992, 2, 29)},
      // Born on 29 February, arrived in a common year.
      {absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 2, 28), absl::CivilDay(2001, 2, 28)},
      {absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 3, 1), absl::CivilDay(2000, 3, 1)},
  };
  for (const Case& c : cases) {
    const absl::CivilDay kept = ErasedBirthDate(c.birth, c.arrival);
    EXPECT_EQ(kept, c.kept) << c.birth << " arriving " << c.arrival;
    EXPECT_EQ(AgeBandOn(kept, c.arrival), AgeBandOn(c.birth, c.arrival))
        << c.birth << " arriving " << c.arrival;
    EXPECT_LE(kept, c.arrival);
  }
}

}  // namespace
}  // namespace enlace::db
