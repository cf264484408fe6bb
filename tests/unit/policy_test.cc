// Tests of the authorization policy (auth/policy.h) and of its file watcher
// (auth/policy_watcher.h). The shipped server/default_policy.conf is read from
// the source tree (ENLACE_SOURCE_DIR, a compile definition) and checked
// against the decisions the product requires. The watcher runs without its
// background thread (poll_interval zero): every reload is an explicit call,
// so nothing here depends on wall time.
#include "auth/policy.h"
#include "absl/strings/match.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/identity.h"
#include "auth/policy_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/status_matchers.h"

#ifndef ENLACE_SOURCE_DIR
#error "policy_test needs ENLACE_SOURCE_DIR (the repository root) as a compile definition"
#endif

namespace enlace::auth {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr char kArrival[] = "/enlace.v1.ArrivalService/";
constexpr char kAdmin[] = "/enlace.v1.AdminService/";

const std::vector<std::string>& Known() {
  static const std::vector<std::string>* methods =
      new std::vector<std::string>(server::ServedMethods());
  return *methods;
}

std::string ArrivalMethod(absl::string_view name) { return absl::StrCat(kArrival, name); }
std::string AdminMethod(absl::string_view name) { return absl::StrCat(kAdmin, name); }

Principal Agency(std::string name) { return Principal{PrincipalKind::kAgency, std::move(name)}; }
Principal Admin(std::string name) { return Principal{PrincipalKind::kAdmin, std::move(name)}; }

const std::vector<std::string> kArrivalMethods = {"RecordArrivals", "RecordArrival", "GetArrival",
                                                  "ListArrivals", "UpdateConsent"};
const std::vector<std::string> kAdminMethods = {"ListAuditEvents", "VerifyAuditLog"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Policy MustParse(absl::string_view text) {
  absl::StatusOr<Policy> policy = Policy::Parse(text, Known());
  EXPECT_TRUE(policy.ok()) << policy.status() << "\n" << text;
  return policy.ok() ? *std::move(policy) : Policy();
}

// ---------------------------------------------------------------------------
// The methods the policy may name.

TEST(ServedMethodsTest, ListsEveryMethodOfBothServices) {
  std::vector<std::string> expected;
  for (const std::string& m : kArrivalMethods) expected.push_back(ArrivalMethod(m));
  for (const std::string& m : kAdminMethods) expected.push_back(AdminMethod(m));
  EXPECT_THAT(Known(), IsSupersetOf(expected));
}

// ---------------------------------------------------------------------------
// The shipped default policy: the decisions the product requires.

class DefaultPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(ENLACE_SOURCE_DIR) + "/server/default_policy.conf";
    text_ = ReadFile(path);
    ASSERT_FALSE(text_.empty()) << "cannot read " << path;
    absl::StatusOr<Policy> policy = Policy::Parse(text_, Known());
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *std::move(policy);
  }

  std::string text_;
  Policy policy_;
};

TEST_F(DefaultPolicyTest, MinistryMayCallEveryArrivalMethod) {
  for (const std::string& m : kArrivalMethods) {
    EXPECT_TRUE(policy_.Allows(Agency("mfa"), ArrivalMethod(m))) << m;
  }
}

TEST_F(DefaultPolicyTest, UnAgenciesMayOnlyRead) {
  for (const char* agency : {"iom", "unhcr", "undp"}) {
    SCOPED_TRACE(agency);
    EXPECT_TRUE(policy_.Allows(Agency(agency), ArrivalMethod("GetArrival")));
    EXPECT_TRUE(policy_.Allows(Agency(agency), ArrivalMethod("ListArrivals")));
    EXPECT_FALSE(policy_.Allows(Agency(agency), ArrivalMethod("RecordArrivals")));
    EXPECT_FALSE(policy_.Allows(Agency(agency), ArrivalMethod("RecordArrival")));
    EXPECT_FALSE(policy_.Allows(Agency(agency), ArrivalMethod("UpdateConsent")));
  }
}

TEST_F(DefaultPolicyTest, AdminsMayCallAdminService) {
  for (const char* admin : {"ana", "root"}) {
    for (const std::string& m : kAdminMethods) {
      EXPECT_TRUE(policy_.Allows(Admin(admin), AdminMethod(m))) << admin << " " << m;
    }
  }
}

TEST_F(DefaultPolicyTest, AgenciesMayNotCallAdminService) {
  for (const char* agency : {"mfa", "iom", "unhcr", "undp"}) {
    for (const std::string& m : kAdminMethods) {
      EXPECT_FALSE(policy_.Allows(Agency(agency), AdminMethod(m))) << agency << " " << m;
    }
  }
}

TEST_F(DefaultPolicyTest, AdminsMayNotCallArrivalService) {
  // Default deny; an admin named like the ministry gains nothing either.
  for (const char* admin : {"ana", "mfa"}) {
    for (const std::string& m : kArrivalMethods) {
      EXPECT_FALSE(policy_.Allows(Admin(admin), ArrivalMethod(m))) << admin << " " << m;
    }
  }
}

TEST_F(DefaultPolicyTest, AgenciesRunCasesAndReferralsButNotTheMinistry) {
  for (const std::string& method : Known()) {
    bool workflow = absl::StartsWith(method, "/enlace.v1.CaseService/") ||
                    absl::StartsWith(method, "/enlace.v1.ReferralService/");
    if (!workflow) continue;
    for (const char* agency : {"iom", "unhcr", "undp", "wfp"}) {
      EXPECT_TRUE(policy_.Allows(Agency(agency), method)) << agency << " " << method;
    }
    EXPECT_FALSE(policy_.Allows(Agency("mfa"), method)) << method;
    EXPECT_FALSE(policy_.Allows(Admin("ana"), method)) << method;
  }
}

TEST_F(DefaultPolicyTest, EveryoneMayReadTheProgrammeReport) {
  const std::string report = "/enlace.v1.ReportService/GetProgrammeReport";
  EXPECT_TRUE(policy_.Allows(Agency("mfa"), report));
  EXPECT_TRUE(policy_.Allows(Agency("unhcr"), report));
  EXPECT_TRUE(policy_.Allows(Admin("ana"), report));
}

// Health and reflection on the TLS port go through the gate like any call;
// the shipped policy lets every authenticated principal use them.
TEST_F(DefaultPolicyTest, HealthAndReflectionAreAllowedToEveryAuthenticatedPrincipal) {
  for (const char* method : {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                             "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    EXPECT_TRUE(policy_.Allows(Agency("mfa"), method)) << method;
    EXPECT_TRUE(policy_.Allows(Agency("wfp"), method)) << method;
    EXPECT_TRUE(policy_.Allows(Admin("ana"), method)) << method;
  }
}

TEST_F(DefaultPolicyTest, NothingOutsideTheServedServicesIsAllowed) {
  EXPECT_FALSE(policy_.Allows(Agency("mfa"), "/enlace.v1.ArrivalServiceX/GetArrival"));
  EXPECT_FALSE(policy_.Allows(Admin("ana"), "/enlace.v1.AdminServiceX/ListAuditEvents"));
  EXPECT_FALSE(policy_.Allows(Agency("mfa"), "/grpc.health.v1.HealthX/Check"));
}

// ---------------------------------------------------------------------------
// Parsing and evaluation.

TEST(PolicyTest, DefaultConstructedDeniesEverything) {
  Policy policy;
  EXPECT_EQ(policy.rule_count(), 0u);
  for (const std::string& m : Known()) {
    EXPECT_FALSE(policy.Allows(Agency("mfa"), m)) << m;
    EXPECT_FALSE(policy.Allows(Admin("ana"), m)) << m;
  }
}

TEST(PolicyTest, EmptyAndCommentOnlyTextsDenyEverything) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "   \t \n# x\n\r\n"}) {
    SCOPED_TRACE(text);
    Policy policy = MustParse(text);
    EXPECT_EQ(policy.rule_count(), 0u);
    for (const std::string& m : Known()) {
      EXPECT_FALSE(policy.Allows(Agency("mfa"), m)) << m;
      EXPECT_FALSE(policy.Allows(Admin("ana"), m)) << m;
    }
  }
}

TEST(PolicyTest, CommentsAndBlankLinesAreIgnored) {
  Policy policy = MustParse(
      "# header\n"
      "\n"
      "   \n"
      "\t\n"
      "allow agency:iom /enlace.v1.ArrivalService/GetArrival   # trailing comment\n"
      "  # indented comment: allow agency:iom /enlace.v1.ArrivalService/*\n"
      "#allow agency:iom /enlace.v1.ArrivalService/ListArrivals\n");
  EXPECT_EQ(policy.rule_count(), 1u);
  EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("iom"), ArrivalMethod("ListArrivals")));
}

TEST(PolicyTest, ToleratesCrlfTabsAndNoFinalNewline) {
  Policy policy = MustParse(
      "allow\tagency:iom\t/enlace.v1.ArrivalService/GetArrival\r\n"
      "allow admin:*  /enlace.v1.AdminService/*");
  EXPECT_EQ(policy.rule_count(), 2u);
  EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_TRUE(policy.Allows(Admin("ana"), AdminMethod("VerifyAuditLog")));
}

TEST(PolicyTest, NamedPrincipalMatchesOnlyThatNameAndKind) {
  Policy policy = MustParse("allow agency:iom /enlace.v1.ArrivalService/GetArrival\n");
  EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("unhcr"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("io"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("iomx"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Admin("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("iom"), ArrivalMethod("ListArrivals")));
}

TEST(PolicyTest, ServiceWildcardCoversOnlyThatService) {
  Policy policy = MustParse("allow admin:* /enlace.v1.AdminService/*\n");
  for (const std::string& m : kAdminMethods) EXPECT_TRUE(policy.Allows(Admin("x"), AdminMethod(m)));
  for (const std::string& m : kArrivalMethods) {
    EXPECT_FALSE(policy.Allows(Admin("x"), ArrivalMethod(m)));
  }
  EXPECT_FALSE(policy.Allows(Agency("x"), AdminMethod("ListAuditEvents")));
}

TEST(PolicyTest, DenyOverridesAllowWhateverTheOrder) {
  const std::string allow_all = "allow agency:* /enlace.v1.ArrivalService/*\n";
  const std::string deny_acme = "deny agency:acme /enlace.v1.ArrivalService/*\n";
  const std::string deny_get = "deny agency:* /enlace.v1.ArrivalService/GetArrival\n";
  for (const std::string& text : {allow_all + deny_acme, deny_acme + allow_all}) {
    SCOPED_TRACE(text);
    Policy policy = MustParse(text);
    for (const std::string& m : kArrivalMethods) {
      EXPECT_FALSE(policy.Allows(Agency("acme"), ArrivalMethod(m))) << m;
      EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod(m))) << m;
    }
  }
  for (const std::string& text : {allow_all + deny_get, deny_get + allow_all}) {
    SCOPED_TRACE(text);
    Policy policy = MustParse(text);
    EXPECT_FALSE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
    EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod("ListArrivals")));
  }
}

TEST_F(DefaultPolicyTest, AgenciesNameTheirActorOnEveryArrivalCaseAndReferralCall) {
  for (const char* agency : {"mfa", "iom", "unhcr", "undp"}) {
    SCOPED_TRACE(agency);
    for (const std::string& m : kArrivalMethods) {
      EXPECT_TRUE(policy_.RequiresActor(Agency(agency), ArrivalMethod(m))) << m;
    }
    EXPECT_TRUE(policy_.RequiresActor(Agency(agency), "/enlace.v1.CaseService/GetCaseAccessLog"));
    EXPECT_TRUE(policy_.RequiresActor(Agency(agency), "/enlace.v1.ReferralService/WatchReferrals"));
    EXPECT_FALSE(
        policy_.RequiresActor(Agency(agency), "/enlace.v1.ReportService/GetProgrammeReport"));
    EXPECT_FALSE(policy_.RequiresActor(Agency(agency), "/grpc.health.v1.Health/Check"));
  }
  // Administrators' calls may name one; none is required.
  EXPECT_FALSE(policy_.RequiresActor(Admin("ana"), "/enlace.v1.AdminService/ListAuditEvents"));
  EXPECT_FALSE(policy_.RequiresActor(Admin("ana"), ArrivalMethod("GetArrival")));
}

TEST(PolicyTest, RequireActorGrantsNothingAndAppliesOnlyWhereItMatches) {
  Policy policy = MustParse(
      "require-actor agency:* /enlace.v1.ArrivalService/*\n"
      "allow agency:iom /enlace.v1.ArrivalService/GetArrival\n");
  EXPECT_TRUE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("iom"), ArrivalMethod("ListArrivals")));  // not granted
  EXPECT_TRUE(policy.RequiresActor(Agency("iom"), ArrivalMethod("ListArrivals")));
  EXPECT_TRUE(policy.RequiresActor(Agency("undp"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.RequiresActor(Admin("ana"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(MustParse("allow agency:iom /enlace.v1.ArrivalService/*\n")
                   .RequiresActor(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_THAT(Policy::Parse("require-actor agency:iom /enlace.v1.NoService/*\n", Known()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: unknown service")));
}

TEST(PolicyTest, DenyAloneAllowsNothing) {
  Policy policy = MustParse("deny agency:acme /enlace.v1.ArrivalService/*\n");
  EXPECT_FALSE(policy.Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(policy.Allows(Agency("acme"), ArrivalMethod("GetArrival")));
}

// An invalid line makes the whole text invalid, and the error names the line.
struct BadLine {
  std::string line;
  std::string what;  // expected in the message besides "line 3"
};

void PrintTo(const BadLine& bad, std::ostream* os) { *os << '`' << bad.line << '`'; }

class PolicyErrorTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(PolicyErrorTest, NamesTheLine) {
  // Two valid lines (one a comment) first, so the bad one is line 3.
  const std::string text = absl::StrCat(
      "# a comment\n"
      "allow agency:mfa /enlace.v1.ArrivalService/*\n",
      GetParam().line, "\nallow admin:* /enlace.v1.AdminService/*\n");
  EXPECT_THAT(Policy::Parse(text, Known()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 3"), HasSubstr(GetParam().what))))
      << text;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, PolicyErrorTest,
    ::testing::Values(
        BadLine{"allow agency:iom /enlace.v1.ArrivalService/Get", "unknown method"},
        BadLine{"allow agency:iom /enlace.v1.ArrivalService/getarrival", "unknown method"},
        BadLine{"allow agency:iom enlace.v1.ArrivalService/GetArrival", "unknown method"},
        BadLine{"allow agency:iom /enlace.v1.ArrivalService/Get*", "unknown method"},
        BadLine{"allow agency:iom /enlace.v1.ArrivalServices/*", "unknown service"},
        BadLine{"allow agency:iom /enlace.v1.Arrival/*", "unknown service"},
        BadLine{"allow agency:iom /enlace.v2.ArrivalService/*", "unknown service"},
        BadLine{"permit agency:iom /enlace.v1.ArrivalService/*", "unknown action"},
        BadLine{"Allow agency:iom /enlace.v1.ArrivalService/*", "unknown action"},
        BadLine{"require_actor agency:iom /enlace.v1.ArrivalService/*", "unknown action"},
        BadLine{"require-actor agency:iom", "expected"},
        BadLine{"allow user:iom /enlace.v1.ArrivalService/*", "unknown principal"},
        BadLine{"allow iom /enlace.v1.ArrivalService/*", "unknown principal"},
        BadLine{"allow *:* /enlace.v1.ArrivalService/*", "unknown principal"},
        BadLine{"allow agency:IOM /enlace.v1.ArrivalService/*", "invalid name"},
        BadLine{"allow agency: /enlace.v1.ArrivalService/*", "invalid name"},
        BadLine{"allow agency:io* /enlace.v1.ArrivalService/*", "invalid name"},
        BadLine{"allow agency:iom", "expected"}, BadLine{"allow", "expected"},
        BadLine{"allow agency:iom /enlace.v1.ArrivalService/* extra", "expected"},
        BadLine{"allow agency:iom /enlace.v1.ArrivalService/GetArrival deny", "expected"}));

TEST(PolicyTest, WildcardMustNameAService) {
  // policy.h: a method pattern is `/pkg.Service/Method` or `/pkg.Service/*`,
  // and "every pattern must name a method or service the server really has".
  // `/*` names no service, yet it would match every method of every service
  // (AdminService included).
  absl::StatusOr<Policy> everything = Policy::Parse("allow agency:* /*\n", Known());
  EXPECT_THAT(everything, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  if (everything.ok()) {
    // What the accepted line does: every agency may call AdminService.
    EXPECT_FALSE(everything->Allows(Agency("iom"), AdminMethod("VerifyAuditLog")));
  }
  EXPECT_THAT(Policy::Parse("allow agency:* /enlace.v1.*\n", Known()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

// ---------------------------------------------------------------------------
// PolicyWatcher.

constexpr char kPolicyV1[] =
    "allow agency:mfa /enlace.v1.ArrivalService/*\n"
    "allow admin:* /enlace.v1.AdminService/*\n";
constexpr char kPolicyV2[] =
    "# v2: iom may read too\n"
    "allow agency:mfa /enlace.v1.ArrivalService/*\n"
    "allow agency:iom /enlace.v1.ArrivalService/GetArrival\n";
constexpr char kPolicyBroken[] =
    "allow agency:mfa /enlace.v1.ArrivalService/*\n"
    "allow agency:iom /enlace.v1.ArrivalService/GetArrivl\n";

class PolicyWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("enlace_policy_test_", getpid(), "_", info->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(std::filesystem::create_directories(dir_));
    path_ = (dir_ / "policy.conf").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Replaces the file the way operators and Kubernetes do: write a new file
  // beside it, then rename it over the old one.
  void WriteAtomically(absl::string_view text) {
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      out.close();
      ASSERT_TRUE(out.good()) << tmp;
    }
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0) << path_;
  }

  absl::StatusOr<std::unique_ptr<PolicyWatcher>> Start() {
    return PolicyWatcher::Start(path_, Known(), absl::ZeroDuration(),
                                [this](absl::string_view message) {
                                  absl::MutexLock lock(&log_mu_);
                                  log_.emplace_back(message);
                                });
  }

  std::vector<std::string> Logged() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  std::filesystem::path dir_;
  std::string path_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(PolicyWatcherTest, StartLoadsTheFile) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> policy = (*watcher)->Current();
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->rule_count(), 2u);
  EXPECT_TRUE(policy->Allows(Agency("mfa"), ArrivalMethod("RecordArrival")));
  EXPECT_FALSE(policy->Allows(Agency("iom"), ArrivalMethod("GetArrival")));
}

TEST_F(PolicyWatcherTest, UnchangedFileIsOkAndKeepsTheSnapshot) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> before = (*watcher)->Current();
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  WriteAtomically(kPolicyV1);  // same content, new inode
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  EXPECT_EQ((*watcher)->Current(), before);
}

TEST_F(PolicyWatcherTest, ReloadsAValidNewVersion) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> v1 = (*watcher)->Current();

  WriteAtomically(kPolicyV2);
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  std::shared_ptr<const Policy> v2 = (*watcher)->Current();
  ASSERT_NE(v2, nullptr);
  EXPECT_NE(v2, v1);
  EXPECT_EQ(v2->rule_count(), 2u);
  EXPECT_TRUE(v2->Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_FALSE(v2->Allows(Admin("ana"), AdminMethod("VerifyAuditLog")));
  // A snapshot taken before stays as it was.
  EXPECT_FALSE(v1->Allows(Agency("iom"), ArrivalMethod("GetArrival")));
  EXPECT_TRUE(v1->Allows(Admin("ana"), AdminMethod("VerifyAuditLog")));
}

TEST_F(PolicyWatcherTest, InvalidVersionIsRefusedLoggedAndThePreviousKept) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> v1 = (*watcher)->Current();
  const size_t logged_before = Logged().size();

  WriteAtomically(kPolicyBroken);
  EXPECT_THAT((*watcher)->ReloadIfChanged(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  std::vector<std::string> logged = Logged();
  ASSERT_GT(logged.size(), logged_before);
  EXPECT_THAT(logged.back(), AllOf(HasSubstr("line 2"), HasSubstr("GetArrivl")));
  EXPECT_EQ((*watcher)->Current(), v1);
  EXPECT_TRUE((*watcher)->Current()->Allows(Admin("ana"), AdminMethod("VerifyAuditLog")));

  // Polling the same broken file again still fails, and logs it only once.
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Logged().size(), logged.size());
  EXPECT_EQ((*watcher)->Current(), v1);

  // A fixed version is then taken.
  WriteAtomically(kPolicyV2);
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  EXPECT_TRUE((*watcher)->Current()->Allows(Agency("iom"), ArrivalMethod("GetArrival")));
}

TEST_F(PolicyWatcherTest, RevertingToTheCurrentTextAfterABrokenOneIsOk) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> v1 = (*watcher)->Current();
  WriteAtomically(kPolicyBroken);
  EXPECT_FALSE((*watcher)->ReloadIfChanged().ok());
  WriteAtomically(kPolicyV1);
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  EXPECT_EQ((*watcher)->Current(), v1);
}

TEST_F(PolicyWatcherTest, DeletedFileIsAnErrorAndThePreviousKept) {
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> v1 = (*watcher)->Current();
  const size_t logged_before = Logged().size();

  ASSERT_TRUE(std::filesystem::remove(path_));
  absl::Status status = (*watcher)->ReloadIfChanged();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr(path_)));
  EXPECT_GT(Logged().size(), logged_before);
  EXPECT_EQ((*watcher)->Current(), v1);
  EXPECT_TRUE((*watcher)->Current()->Allows(Agency("mfa"), ArrivalMethod("RecordArrivals")));

  // When the file comes back the watcher follows it again.
  WriteAtomically(kPolicyV2);
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
  EXPECT_TRUE((*watcher)->Current()->Allows(Agency("iom"), ArrivalMethod("GetArrival")));
}

TEST_F(PolicyWatcherTest, UnreadablePathIsAnErrorAndThePreviousKept) {
  // A path that opens but cannot be read (here: a directory) is not an empty
  // policy; taking it as one would deny every call.
  WriteAtomically(kPolicyV1);
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::shared_ptr<const Policy> v1 = (*watcher)->Current();
  ASSERT_TRUE(std::filesystem::remove(path_));
  ASSERT_TRUE(std::filesystem::create_directory(path_));
  EXPECT_FALSE((*watcher)->ReloadIfChanged().ok());
  EXPECT_EQ((*watcher)->Current(), v1);
  EXPECT_TRUE((*watcher)->Current()->Allows(Agency("mfa"), ArrivalMethod("RecordArrivals")));
}

TEST_F(PolicyWatcherTest, StartOnAnUnreadablePathFails) {
  ASSERT_TRUE(std::filesystem::create_directory(path_));
  EXPECT_FALSE(Start().ok());
}

TEST_F(PolicyWatcherTest, StartOnAnInvalidFileFails) {
  WriteAtomically(kPolicyBroken);
  EXPECT_THAT(Start(), StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(HasSubstr("line 2"), HasSubstr(path_))));
}

TEST_F(PolicyWatcherTest, StartOnAMissingFileFails) {
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher = Start();
  EXPECT_FALSE(watcher.ok());
  EXPECT_THAT(watcher, StatusIs(absl::StatusCode::kNotFound, HasSubstr(path_)));
}

TEST_F(PolicyWatcherTest, StartsOnTheShippedDefaultPolicy) {
  absl::StatusOr<std::unique_ptr<PolicyWatcher>> watcher =
      PolicyWatcher::Start(std::string(ENLACE_SOURCE_DIR) + "/server/default_policy.conf", Known(),
                           absl::ZeroDuration(), [](absl::string_view) {});
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  EXPECT_TRUE((*watcher)->Current()->Allows(Agency("mfa"), ArrivalMethod("UpdateConsent")));
  EXPECT_THAT((*watcher)->ReloadIfChanged(), StatusIs(absl::StatusCode::kOk));
}

}  // namespace
}  // namespace enlace::auth
