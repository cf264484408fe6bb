// Table tests of db/dsn.h: single and multi-host DSNs, the password from the
// environment, and the errors that name what is wrong.
#include "db/dsn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<std::string> Nodes(const Dsn& dsn) {
  std::vector<std::string> out;
  for (const DsnHost& h : dsn.hosts) out.push_back(h.host + ":" + std::to_string(h.port));
  return out;
}

TEST(DsnTest, OneHostWithAndWithoutPort) {
  absl::StatusOr<Dsn> dsn = ParseDsn("mysql://srv:pw@db.example:3307/enlace", nullptr);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->user, "srv");
  EXPECT_EQ(dsn->password, "pw");
  EXPECT_EQ(dsn->database, "enlace");
  EXPECT_THAT(Nodes(*dsn), ::testing::ElementsAre("db.example:3307"));
  dsn = ParseDsn("mysql://srv@db.example/enlace", nullptr);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_THAT(Nodes(*dsn), ::testing::ElementsAre("db.example:3306"));
}

TEST(DsnTest, SeveralHostsKeepTheirOrderAndPorts) {
  absl::StatusOr<Dsn> dsn = ParseDsn("mysql://srv:pw@g0.db:3306,g1.db:3307,g2.db/enlace", nullptr);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_THAT(Nodes(*dsn), ::testing::ElementsAre("g0.db:3306", "g1.db:3307", "g2.db:3306"));
  EXPECT_EQ(dsn->ToSafeString(), "mysql://srv:***@g0.db:3306,g1.db:3307,g2.db:3306/enlace");
  EXPECT_EQ(dsn->ToStringWithPassword(), "mysql://srv:pw@g0.db:3306,g1.db:3307,g2.db:3306/enlace");
  absl::StatusOr<Dsn> again = ParseDsn(dsn->ToStringWithPassword(), nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Nodes(*again), Nodes(*dsn));
}

TEST(DsnTest, SocketNamesOneServer) {
  absl::StatusOr<Dsn> dsn = ParseDsn("mysql://srv@localhost/enlace?socket=/run/m.sock", nullptr);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->socket, "/run/m.sock");
  EXPECT_EQ(dsn->ToSafeString(), "mysql://srv@localhost/enlace?socket=/run/m.sock");
}

TEST(DsnTest, MistakesAreNamed) {
  struct Case {
    const char* dsn;
    const char* error;
  };
  const Case cases[] = {
      {"postgres://srv@h/enlace", "must start with mysql://"},
      {"mysql://h:3306/enlace", "missing user@"},
      {"mysql://srv@h1,,h2/enlace", "empty host"},
      {"mysql://srv@h1:3306,h2:99999/enlace", "bad port"},
      {"mysql://srv@h1:x/enlace", "bad port"},
      {"mysql://srv@h1,h2/enlace?socket=/s", "names one server"},
      {"mysql://srv@h1/en-lace", "[A-Za-z0-9_]"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseDsn(c.dsn, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.error)))
        << c.dsn;
  }
}

TEST(DsnTest, PasswordComesFromTheEnvironmentOnlyWhenTheDsnHasNone) {
  setenv("ENLACE_DSN_TEST_PASSWORD", "from-env", 1);
  absl::StatusOr<Dsn> dsn = ParseDsn("mysql://srv@h1,h2/enlace", "ENLACE_DSN_TEST_PASSWORD");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->password, "from-env");
  dsn = ParseDsn("mysql://srv:own@h1/enlace", "ENLACE_DSN_TEST_PASSWORD");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->password, "own");
  unsetenv("ENLACE_DSN_TEST_PASSWORD");
}

}  // namespace
}  // namespace enlace::db
