// What a caller is told when a call fails (server/call_gate.h ToGrpcStatus):
// the code always, the message only when it was written for the caller. The
// database's own words (a deadlock, a duplicate key naming its value) are
// logged and replaced, whatever their code, as are internal errors.
#include <cppconn/exception.h>

#include <string>

#include "absl/status/status.h"
#include "db/database_error.h"
#include "db/mysql_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/call_gate.h"

namespace enlace::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

grpc::Status FromDatabase(const std::string& what, const std::string& state, int code) {
  return ToGrpcStatus(db::StatusFromSqlException(sql::SQLException(what, state, code)));
}

TEST(GrpcStatusTest, TheDatabasesOwnWordsAreNeverSent) {
  grpc::Status deadlock = FromDatabase(
      "Deadlock found when trying to get lock; try restarting transaction", "40001", 1213);
  EXPECT_EQ(deadlock.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(deadlock.error_message(), HasSubstr("retry"));
  EXPECT_THAT(deadlock.error_message(), Not(HasSubstr("MySQL")));
  EXPECT_THAT(deadlock.error_message(), Not(HasSubstr("Deadlock")));

  grpc::Status duplicate =
      FromDatabase("Duplicate entry 'mfa-Ana Lopez-1990' for key 'uq_external'", "23000", 1062);
  EXPECT_EQ(duplicate.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(duplicate.error_message(), Not(HasSubstr("Ana")));
  EXPECT_THAT(duplicate.error_message(), Not(HasSubstr("uq_external")));

  grpc::Status other = FromDatabase("Table 'enlace.cases' doesn't exist", "42S02", 1146);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(other.error_message(), Not(HasSubstr("cases")));

  grpc::Status lost = FromDatabase("MySQL server has gone away", "HY000", 2006);
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(lost.error_message(), Not(HasSubstr("gone away")));
}

TEST(GrpcStatusTest, MessagesWrittenForTheCallerAreSentAsTheyAre) {
  grpc::Status invalid = ToGrpcStatus(absl::InvalidArgumentError("page_size: must be 0..500"));
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(invalid.error_message(), "page_size: must be 0..500");
  grpc::Status exists = ToGrpcStatus(absl::AlreadyExistsError("agency iom is already registered"));
  EXPECT_EQ(exists.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(exists.error_message(), "agency iom is already registered");
  grpc::Status stale = ToGrpcStatus(absl::AbortedError("etag: the case changed since it was read"));
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(stale.error_message(), "etag: the case changed since it was read");
  // Internal errors never say more, marked or not.
  grpc::Status internal = ToGrpcStatus(absl::InternalError("SELECT secret FROM x"));
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(internal.error_message(), Not(HasSubstr("SELECT")));
}

TEST(GrpcStatusTest, TheMarkSurvivesOnlyOnTheDatabasesStatus) {
  absl::Status marked = db::MarkDatabaseError(absl::AbortedError("x"));
  EXPECT_TRUE(db::IsDatabaseError(marked));
  EXPECT_FALSE(db::IsDatabaseError(absl::AbortedError(marked.message())));
  EXPECT_FALSE(db::IsDatabaseError(db::MarkDatabaseError(absl::OkStatus())));
}

}  // namespace
}  // namespace enlace::server
