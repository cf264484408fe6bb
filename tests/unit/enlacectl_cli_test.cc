// enlacectl's shared machinery without a server: global flags in every
// position of the line (Dispatch moving them to the leaf, Flags::Parse and
// its short forms), context resolution and its precedence, the config file
// (parse, write atomically with mode 0600), the actor sent as enlace-actor
// metadata (to an in-process server), the exit code of each failure, and the
// YAML and CSV renderings. The command tree here is a small one of
// the test's own (it defines RunEnlacectl()).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/config.h"
#include "clients/cli/structured.h"
#include "clients/connection.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace enlace::cli {

// The test's command tree: enlacectl {cases {list}, version}; each leaf
// keeps the arguments it received.
Args g_leaf_args;
std::string g_leaf;

int RunTestList(const Args& args) {
  g_leaf = "cases list";
  g_leaf_args = args;
  return kExitOk;
}

int RunTestVersion(const Args& args) {
  g_leaf = "version";
  g_leaf_args = args;
  return kExitOk;
}

int RunTestCases(const Args& args) {
  static const Group group{"enlacectl cases", "cases", {{"list", "list", &RunTestList}}, "x"};
  return RunGroup(group, args);
}

int RunEnlacectl(const Args& args) {
  static const Group group{"enlacectl",
                           "the tool",
                           {{"cases", "cases", &RunTestCases}, {"version", "v", &RunTestVersion}},
                           "x"};
  return RunGroup(group, args);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The flags a leaf of the test tree accepts, parsed from what it received.
absl::StatusOr<Flags> LeafFlags() {
  return Flags::Parse(WithConnectionFlags({"status"}, /*output=*/true), g_leaf_args,
                      /*max_positionals=*/1);
}

struct Line {
  Args args;
  std::string output;  // the --output the leaf must see
};

TEST(GlobalFlagsTest, OutputAndConnectionFlagsWorkInEveryPosition) {
  const std::vector<Line> lines = {
      {{"-o", "json", "cases", "list"}, "json"},
      {{"cases", "-o", "json", "list"}, "json"},
      {{"cases", "list", "-o", "json"}, "json"},
      {{"--output", "yaml", "cases", "list"}, "yaml"},
      {{"--output=csv", "cases", "list"}, "csv"},
      {{"cases", "--output=yaml", "list"}, "yaml"},
      {{"cases", "list", "-ocsv"}, "csv"},
      {{"cases", "list", "-o=yaml"}, "yaml"},
      {{"--addr", "h:1", "-o", "json", "cases", "--context", "c", "list", "--status", "open"},
       "json"},
  };
  for (const Line& line : lines) {
    SCOPED_TRACE(testing::PrintToString(line.args));
    g_leaf.clear();
    g_leaf_args.clear();
    ASSERT_EQ(RunEnlacectl(line.args), kExitOk);
    EXPECT_EQ(g_leaf, "cases list");
    absl::StatusOr<Flags> flags = LeafFlags();
    ASSERT_TRUE(flags.ok()) << flags.status();
    EXPECT_EQ(flags->Get("output"), line.output);
    EXPECT_TRUE(flags->positionals().empty());
  }
  // The last line's connection flags, before the group and between the names.
  absl::StatusOr<Flags> flags = LeafFlags();
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->Get("addr"), "h:1");
  EXPECT_EQ(flags->Get("context"), "c");
  EXPECT_EQ(flags->Get("status"), "open");
}

TEST(GlobalFlagsTest, OnlyFlagsBeforeTheNameMoveAndArgumentsAfterDashDashStay) {
  ASSERT_EQ(RunEnlacectl({"--actor", "ana", "cases", "list", "--", "-o"}), kExitOk);
  EXPECT_THAT(g_leaf_args, ElementsAre("--actor", "ana", "--", "-o"));
  absl::StatusOr<Flags> flags = LeafFlags();
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get("actor"), "ana");
  EXPECT_FALSE(flags->Has("output"));
  EXPECT_THAT(flags->positionals(), ElementsAre("-o"));  // after --: an argument
  ASSERT_EQ(RunEnlacectl({"-o", "json", "version"}), kExitOk);
  EXPECT_EQ(g_leaf, "version");
  EXPECT_THAT(g_leaf_args, ElementsAre("-o", "json"));
}

TEST(GlobalFlagsTest, UnknownCommandsAndDanglingFlagsAreUsageErrors) {
  EXPECT_EQ(RunEnlacectl({"-o", "json"}), kExitUsage);  // no command
  EXPECT_EQ(RunEnlacectl({"cases", "-o"}), kExitUsage);  // -o without a value
  EXPECT_EQ(RunEnlacectl({"--status", "open", "cases", "list"}), kExitUsage);  // not global
  EXPECT_EQ(RunEnlacectl({"-o", "json", "nonsense"}), kExitUsage);
  EXPECT_EQ(RunEnlacectl({"cases", "-h"}), kExitOk);
}

TEST(FlagsTest, ShortOutputFormsAndErrors) {
  const std::vector<std::string> known = {"output", "addr"};
  for (const Args& args : {Args{"-o", "json"}, Args{"-ojson"}, Args{"-o=json"},
                           Args{"--output", "json"}, Args{"--output=json"}}) {
    absl::StatusOr<Flags> flags = Flags::Parse(known, args);
    ASSERT_TRUE(flags.ok()) << flags.status();
    EXPECT_EQ(flags->Get("output"), "json");
  }
  EXPECT_THAT(Flags::Parse(known, {"-x"}).status().message(), HasSubstr("unexpected argument"));
  EXPECT_THAT(Flags::Parse(known, {"-o", "json", "--output", "yaml"}).status().message(),
              HasSubstr("--output given twice"));
  EXPECT_THAT(Flags::Parse(known, {"--output"}).status().message(), HasSubstr("needs a value"));
  EXPECT_THAT(Flags::Parse({"addr"}, {"-o", "json"}).status().message(),
              HasSubstr("unknown flag --output"));
}

TEST(FormatUsdTest, DollarsAndCentsWithThousands) {
  EXPECT_EQ(FormatUsd(0), "US$ 0.00");
  EXPECT_EQ(FormatUsd(5), "US$ 0.05");
  EXPECT_EQ(FormatUsd(125050), "US$ 1,250.50");
  EXPECT_EQ(FormatUsd(99999), "US$ 999.99");
  EXPECT_EQ(FormatUsd(100000000), "US$ 1,000,000.00");
}

TEST(ExitCodesTest, EachKindOfFailureHasItsCode) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnauthenticated), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kPermissionDenied), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 6);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 7);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 7);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDataLoss), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAlreadyExists), 1);
  // The table has every code once, and the help lists each.
  std::map<int, int> seen;
  for (const ExitCodeInfo& exit : kExitCodes) ++seen[exit.code];
  EXPECT_EQ(seen.size(), 8u);
  for (const auto& [code, times] : seen) EXPECT_EQ(times, 1) << code;
  const std::string help = ExitStatusHelp();
  for (int code = 0; code <= 7; ++code)
    EXPECT_THAT(help, HasSubstr(absl::StrCat("  ", code, "  ")));
}

// ---------------------------------------------------------------------------
// Contexts.

Getenv FakeEnv(std::map<std::string, std::string> env) {
  return [env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Config TwoContexts() {
  absl::StatusOr<Config> config = ParseConfig(R"(# comment
current-context = ministry

[context "ministry"]
addr = ministry:7443
ca = /c/ca.crt
cert = /c/mfa.crt
key = /c/mfa.key
actor = staff-0042

[context "iom"]
addr = iom:7443
ca = /c/ca.crt
cert = /c/iom.crt
key = /c/iom.key
)",
                                              "cfg");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(ContextTest, ConfigPathFollowsTheEnvironment) {
  EXPECT_EQ(*ConfigPath(FakeEnv({{"ENLACE_CONFIG", "/x/c"}, {"XDG_CONFIG_HOME", "/xdg"}})), "/x/c");
  EXPECT_EQ(*ConfigPath(FakeEnv({{"XDG_CONFIG_HOME", "/xdg"}, {"HOME", "/h"}})),
            "/xdg/enlace/config");
  EXPECT_EQ(*ConfigPath(FakeEnv({{"XDG_CONFIG_HOME", ""}, {"HOME", "/h"}})),
            "/h/.config/enlace/config");
  EXPECT_FALSE(ConfigPath(FakeEnv({})).ok());
}

TEST(ContextTest, TheCurrentContextFillsWhatFlagsAndEnvironmentLeave) {
  absl::StatusOr<ResolvedConnection> r =
      ResolveConnection(ConnectionFlags(), FakeEnv({}), TwoContexts(), "cfg");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->context, "ministry");
  EXPECT_EQ(r->addr.value, "ministry:7443");
  EXPECT_EQ(r->addr.source, Source::kContext);
  EXPECT_EQ(r->cert.value, "/c/mfa.crt");
  EXPECT_EQ(r->actor.value, "staff-0042");
}

TEST(ContextTest, FlagBeatsEnvironmentBeatsContext) {
  ConnectionFlags flags;
  flags.cert = "flag.crt";
  absl::StatusOr<ResolvedConnection> r =
      ResolveConnection(flags, FakeEnv({{"ENLACE_CERT", "env.crt"}, {"ENLACE_KEY", "env.key"}}),
                        TwoContexts(), "cfg");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cert.value, "flag.crt");
  EXPECT_EQ(r->cert.source, Source::kFlag);
  EXPECT_EQ(r->key.value, "env.key");
  EXPECT_EQ(r->key.source, Source::kEnvironment);
  EXPECT_EQ(r->ca.value, "/c/ca.crt");
  EXPECT_EQ(r->ca.source, Source::kContext);
  // An empty variable counts as unset.
  r = ResolveConnection(ConnectionFlags(), FakeEnv({{"ENLACE_ADDR", ""}}), TwoContexts(), "cfg");
  EXPECT_EQ(r->addr.value, "ministry:7443");
}

TEST(ContextTest, ContextFlagBeatsEnvironmentBeatsCurrent) {
  ConnectionFlags flags;
  absl::StatusOr<ResolvedConnection> r =
      ResolveConnection(flags, FakeEnv({{"ENLACE_CONTEXT", "iom"}}), TwoContexts(), "cfg");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->context, "iom");
  EXPECT_EQ(r->addr.value, "iom:7443");
  EXPECT_EQ(r->actor.source, Source::kDefault);  // iom's context has no actor
  EXPECT_EQ(r->actor.value, "");
  flags.context = "ministry";
  r = ResolveConnection(flags, FakeEnv({{"ENLACE_CONTEXT", "iom"}}), TwoContexts(), "cfg");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->context, "ministry");
}

TEST(ContextTest, NoContextMeansDefaults) {
  absl::StatusOr<ResolvedConnection> r =
      ResolveConnection(ConnectionFlags(), FakeEnv({}), Config(), "cfg");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->context, "");
  EXPECT_EQ(r->addr.value, "localhost:7443");
  EXPECT_EQ(r->addr.source, Source::kDefault);
  EXPECT_EQ(r->cert.value, "");
}

TEST(ContextTest, UnknownContextIsAUsageErrorNamingIt) {
  ConnectionFlags flags;
  flags.context = "nope";
  absl::Status s = ResolveConnection(flags, FakeEnv({}), TwoContexts(), "/h/cfg").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown context \"nope\""));
  EXPECT_THAT(s.message(), HasSubstr("/h/cfg"));
  s = ResolveConnection(ConnectionFlags(), FakeEnv({{"ENLACE_CONTEXT", "gone"}}), TwoContexts(),
                        "cfg")
          .status();
  EXPECT_THAT(s.message(), HasSubstr("\"gone\" ($ENLACE_CONTEXT"));
}

TEST(ContextTest, ActorsAreValidated) {
  EXPECT_TRUE(ValidateActor("--actor", "mre-sv_1.staff-0042").ok());
  EXPECT_FALSE(ValidateActor("--actor", "").ok());
  EXPECT_FALSE(ValidateActor("--actor", "ana lopez").ok());
  EXPECT_FALSE(ValidateActor("--actor", "ana/lopez").ok());
  // An e-mail address is not an opaque staff identifier.
  EXPECT_FALSE(ValidateActor("--actor", "ana.lopez@iom.int").ok());
  EXPECT_FALSE(ValidateActor("--actor", std::string(65, 'a')).ok());
  EXPECT_TRUE(ValidateActor("--actor", std::string(64, 'a')).ok());
  ConnectionFlags flags;
  flags.actor = "bad actor";
  absl::Status s = ResolveConnection(flags, FakeEnv({}), TwoContexts(), "cfg").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--actor: invalid actor \"bad actor\""));
  s = ResolveConnection(ConnectionFlags(), FakeEnv({{"ENLACE_ACTOR", "x;y"}}), TwoContexts(), "cfg")
          .status();
  EXPECT_THAT(s.message(), HasSubstr("$ENLACE_ACTOR"));
}

// A plaintext in-process server that records the enlace-actor metadata of
// every call and answers UNIMPLEMENTED.
class ActorRecorder final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Every value sent, comma-separated: an actor sent twice shows.
      auto [begin, end] = ctx->client_metadata().equal_range(kActorMetadataKey);
      std::string values;
      for (auto it = begin; it != end; ++it) {
        if (!values.empty()) values += ",";
        values.append(it->second.data(), it->second.size());
      }
      actors_.push_back(begin == end ? "<none>" : values);
    }
    class Refuse final : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "recorded")); }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }
  std::vector<std::string> actors() {
    std::lock_guard<std::mutex> lock(mu_);
    return actors_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> actors_;
};

// One call on a channel to 127.0.0.1:`port` made as enlacectl's are: naming
// options.actor in every call (client::Connect does the same over TLS).
grpc::StatusCode CallAs(const client::ConnectionOptions& options, int port) {
  std::shared_ptr<grpc::Channel> channel = client::CreateChannelNamingActor(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), options.actor);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::GenericStub stub(channel);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/test.Service/Call", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get().error_code();
}

TEST(ActorTest, SentAsEnlaceActorMetadataOnEveryCall) {
  // No config file of the user's may choose a context here.
  setenv("ENLACE_CONFIG", (testing::TempDir() + "/enlacectl_cli_test_no_config").c_str(), 1);
  unsetenv("ENLACE_ACTOR");
  unsetenv("ENLACE_CONTEXT");
  ActorRecorder recorder;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&recorder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto connect = [](const Args& args) {
    absl::StatusOr<Flags> flags = Flags::Parse(WithConnectionFlags({}, true), args);
    EXPECT_TRUE(flags.ok()) << flags.status();
    absl::StatusOr<client::ConnectionOptions> options = ConnectionFromFlags(*flags);
    EXPECT_TRUE(options.ok()) << options.status();
    return options.ok() ? *options : client::ConnectionOptions();
  };
  const Args files = {"--ca", "ca.crt", "--cert", "me.crt", "--key", "me.key"};
  Args with_actor = files;
  with_actor.insert(with_actor.end(), {"--actor", "iom-staff-0042"});
  const client::ConnectionOptions flagged = connect(with_actor);
  EXPECT_EQ(flagged.actor, "iom-staff-0042");
  EXPECT_EQ(CallAs(flagged, port), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(CallAs(flagged, port), grpc::StatusCode::UNIMPLEMENTED);
  setenv("ENLACE_ACTOR", "from.env", 1);
  EXPECT_EQ(CallAs(connect(files), port), grpc::StatusCode::UNIMPLEMENTED);
  unsetenv("ENLACE_ACTOR");
  EXPECT_EQ(CallAs(connect(files), port), grpc::StatusCode::UNIMPLEMENTED);
  // Once per call, never twice.
  EXPECT_THAT(recorder.actors(),
              ElementsAre("iom-staff-0042", "iom-staff-0042", "from.env", "<none>"));
  server->Shutdown();
  unsetenv("ENLACE_CONFIG");
}

TEST(ConfigFileTest, ParseErrorsNameTheLine) {
  absl::Status s =
      ParseConfig("current-context = a\n[context \"a\"]\ncolour = red\n", "f").status();
  EXPECT_THAT(s.message(), HasSubstr("f:3: unknown setting \"colour\""));
  s = ParseConfig("[ctx a]\n", "f").status();
  EXPECT_THAT(s.message(), HasSubstr("f:1: expected [context \"NAME\"]"));
  s = ParseConfig("[context \"a\"]\n[context \"a\"]\n", "f").status();
  EXPECT_THAT(s.message(), HasSubstr("f:2: context \"a\" defined twice"));
  s = ParseConfig("[context \"a b\"]\n", "f").status();
  EXPECT_THAT(s.message(), HasSubstr("f:1: invalid context name"));
}

TEST(ConfigFileTest, SavedAtomicallyWithMode0600AndReadBack) {
  const std::string dir = testing::TempDir() + "/enlacectl_cli_test_" + std::to_string(getpid());
  const std::string path = dir + "/nested/enlace/config";
  absl::StatusOr<Config> missing = LoadConfig(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->contexts.empty());
  umask(022);
  const Config config = TwoContexts();
  ASSERT_TRUE(SaveConfig(path, config).ok());
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir + "/nested/enlace").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/nested/enlace")) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(files, ElementsAre("config"));  // no temporary file left
  absl::StatusOr<Config> back = LoadConfig(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(SerializeConfig(*back), SerializeConfig(config));
  EXPECT_EQ(back->current, "ministry");
  ASSERT_EQ(back->contexts.size(), 2u);
  EXPECT_EQ(back->contexts[1].key, "/c/iom.key");
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------
// YAML and CSV.

TEST(StructuredTest, YamlOfAListResponse) {
  absl::StatusOr<JsonValue> doc = ParseJson(R"({
  "cases": [{"caseId": "c1", "needs": ["A", "B"], "returnee": {"givenName": "Ana \"A\""}},
            {"caseId": "c2", "needs": [], "returnee": {}}],
  "nextPageToken": "",
  "on": true,
  "count": "12",
  "share": 1e+21
})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(ToYaml(*doc), R"(cases:
  - caseId: "c1"
    needs:
      - "A"
      - "B"
    returnee:
      givenName: "Ana \"A\""
  - caseId: "c2"
    needs: []
    returnee: {}
nextPageToken: ""
"on": true
count: "12"
share: 1.0e+21
)");
}

TEST(StructuredTest, CsvQuotesLikeRfc4180) {
  EXPECT_EQ(CsvLine({"a", "b,c", "say \"hi\"", "two\nlines", ""}),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
}

TEST(StructuredTest, CsvOfAListHasOneRowPerItemAndAHeader) {
  absl::StatusOr<JsonValue> doc = ParseJson(
      R"({"cases": [{"caseId": "c1", "needs": ["A", "B"], "returnee": {"givenName": "Ana"}},)"
      R"( {"caseId": "c2", "extra": 1}], "nextPageToken": "t"})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(ToCsv(*doc, {"caseId", "status"}),
            "caseId,status,needs,returnee.givenName,extra\r\n"
            "c1,,A;B,Ana,\r\n"
            "c2,,,,1\r\n");
  // An empty list still has its header; a single record is one row.
  doc = ParseJson(R"({"cases": [], "nextPageToken": ""})");
  EXPECT_EQ(ToCsv(*doc, {"caseId"}), "caseId\r\n");
  doc = ParseJson(R"({"caseId": "c1", "services": [{"serviceId": "s"}], "etag": "e"})");
  EXPECT_EQ(ToCsv(*doc), "caseId,services,etag\r\nc1,\"[{\"\"serviceId\"\":\"\"s\"\"}]\",e\r\n");
}

TEST(StructuredTest, CsvStreamKeepsTheFirstHeader) {
  CsvStream stream;
  EXPECT_EQ(*stream.Next(R"({"a": "1", "b": {"c": true}})"), "a,b.c\r\n1,true\r\n");
  EXPECT_EQ(*stream.Next(R"({"b": {"c": false}, "a": "2", "z": 0})"), "2,false\r\n");
}

TEST(StructuredTest, JsonStringsDecode) {
  absl::StatusOr<JsonValue> doc = ParseJson(R"(["L\u00f3pez \ud83d\ude00", "a\/b"])");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->items[0].text, "L\xC3\xB3pez \xF0\x9F\x98\x80");
  EXPECT_EQ(doc->items[1].text, "a/b");
  EXPECT_FALSE(ParseJson("{\"a\": }").ok());
  EXPECT_FALSE(ParseJson("[1, 2").ok());
}

}  // namespace
}  // namespace enlace::cli
