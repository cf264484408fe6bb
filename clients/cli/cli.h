// The shared infrastructure of enlacectl's commands: the command tree, flag
// parsing, the connection flags, output (tables, detail views, JSON), exit
// codes, enum names, and the calls: a unary call and its printed answer, and
// paging through a List RPC.
//
// A command group is a list of Command{name, summary, run}; a leaf command's
// run() receives the arguments after its name, handles --help itself and
// returns the process's exit status:
//
//   int RunCasesGet(const Args& args) {
//     static const Leaf leaf = {"enlacectl cases get", CasesGetUsage(),
//                               /*flags=*/{}, /*positionals=*/{"CASE_ID"}};
//     Invocation call;
//     if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
//     v1::GetCaseRequest request;
//     request.set_case_id(call.positional(0));
//     return CallAndPrint(call, &v1::CaseService::Stub::GetCase, request,
//                         PrintCaseDetails);  // or JSON with --output json
//   }
//
// A list command ends with ListAndPrint() (every page up to --limit, then a
// table or one JSON document); a group is a Group run by RunGroup().
//
// Global flags: the connection flags (--addr --ca --cert --key --timeout
// --context --actor) and --output/-o may stand anywhere on the line, before
// or after the group and command names: Dispatch() moves those it finds
// before a command's name to the front of that command's arguments, where
// the leaf's Flags::Parse() reads them. -h is --help everywhere.
//
// Exit status: the table kExitCodes below (also printed by every --help and
// in docs/cli.md). Fail() picks the code of the gRPC status it prints as
// "enlacectl: <GRPC_CODE_NAME>: <message>".
//
// Languages: every text shown goes through Tr() (i18n.h) when printed, so
// help and messages are Spanish when the environment asks for es_*.
#ifndef ENLACE_CLIENTS_CLI_CLI_H_
#define ENLACE_CLIENTS_CLI_CLI_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/cli/i18n.h"
#include "clients/cli/structured.h"
#include "clients/connection.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace enlace::cli {

// Exit codes. Keep in step with kExitCodes and docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // any other failure, local or remote
inline constexpr int kExitUsage = 2;  // unknown command or flag, bad flag value
inline constexpr int kExitRejected = 3;  // arrivals push: some rows rejected
inline constexpr int kExitUnauthenticated = 4;  // UNAUTHENTICATED
inline constexpr int kExitPermissionDenied = 5;  // PERMISSION_DENIED
inline constexpr int kExitNotFound = 6;  // NOT_FOUND
inline constexpr int kExitUnavailable = 7;  // UNAVAILABLE, DEADLINE_EXCEEDED: retry later

// The exit codes and what each means (English msgids, printed through Tr()).
struct ExitCodeInfo {
  int code;
  const char* meaning;
};
inline constexpr ExitCodeInfo kExitCodes[] = {
    {kExitOk, "success"},
    {kExitFailure, "failure: the server refused or failed, or a local error"},
    {kExitUsage, "usage error: unknown command or flag, bad flag value"},
    {kExitRejected, "'arrivals push' rejected some rows (every other row was stored)"},
    {kExitUnauthenticated, "not authenticated (UNAUTHENTICATED): certificate revoked or expired"},
    {kExitPermissionDenied, "permission denied (PERMISSION_DENIED): the policy does not allow it"},
    {kExitNotFound, "not found (NOT_FOUND), or not yours to see"},
    {kExitUnavailable,
     "unavailable (UNAVAILABLE, DEADLINE_EXCEEDED): server unreachable or busy; retry later"},
};

// The exit code of a failure with `code` (kExitFailure for codes without
// one of their own).
int ExitCodeFor(absl::StatusCode code);

// The "Exit status:" block of the help texts, from kExitCodes (translated).
std::string ExitStatusHelp();

using Args = std::vector<std::string>;

// ---------------------------------------------------------------------------
// The command tree.

// A command: either a group of subcommands or a leaf that runs.
struct Command {
  const char* name;
  const char* summary;
  // Receives the arguments after the command's name; returns the exit status.
  int (*run)(const Args& args);
};

bool IsHelp(absl::string_view arg);

// True when any argument is --help or -h.
bool WantsHelp(const Args& args);

// Runs the subcommand of `path` (e.g. "enlacectl pki") named by args[0];
// prints `usage` for --help (exit 0) or no/unknown command (exit 2).
int Dispatch(absl::string_view path, const std::vector<Command>& commands, absl::string_view usage,
             const Args& args);

// The usage of a command group: a summary line, the subcommands, examples
// (one per line, each printed indented).
std::string GroupUsage(absl::string_view path, absl::string_view summary,
                       const std::vector<Command>& commands, absl::string_view example);

// A group of commands ("enlacectl cases") and what its --help says.
struct Group {
  std::string path;  // "enlacectl cases"
  std::string summary;  // the first lines of the usage
  std::vector<Command> commands;
  std::string example;  // one command per line
  std::string epilogue = "";  // after the examples (the top level's flags)
};

// Dispatch() with the group's usage: GroupUsage() followed by the epilogue.
int RunGroup(const Group& group, const Args& args);

// The groups, one per file (cmd_*.cc).
int RunPki(const Args& args);  // cmd_pki.cc
int RunCerts(const Args& args);  // cmd_certs.cc
int RunAgencies(const Args& args);  // cmd_certs.cc
int RunAgreements(const Args& args);  // cmd_agreements.cc
int RunArrivals(const Args& args);  // cmd_arrivals.cc
int RunConsent(const Args& args);  // cmd_arrivals.cc
int RunCases(const Args& args);  // cmd_workflow.cc
int RunServices(const Args& args);  // cmd_workflow.cc
int RunInitiatives(const Args& args);  // cmd_workflow.cc
int RunReferrals(const Args& args);  // cmd_workflow.cc
int RunReport(const Args& args);  // cmd_admin.cc (a leaf)
int RunAudit(const Args& args);  // cmd_admin.cc
// The audit group's transparency commands (cmd_audit_witness.cc).
int RunAuditCheckpoint(const Args& args);
int RunAuditWitnessKey(const Args& args);
int RunAuditRegisterWitness(const Args& args);
int RunAuditWitness(const Args& args);
int RunHealth(const Args& args);  // cmd_admin.cc (a leaf)
int RunVersion(const Args& args);  // cmd_admin.cc (a leaf)
int RunContext(const Args& args);  // cmd_context.cc
int RunCompletion(const Args& args);  // cmd_docs.cc (a leaf)
int RunMan(const Args& args);  // cmd_docs.cc (a leaf)
// The whole tree (enlacectl.cc): main() runs it; completion and man walk it.
int RunEnlacectl(const Args& args);

// What the tree holds, for `completion` and `man`: every command with its
// --help text, found by running each with --help in a describing mode
// (nothing is called; each leaf's Invocation records its flags).
struct CommandInfo {
  std::string path;  // "enlacectl cases list"
  std::string summary;  // the line in its group's list of commands
  std::string usage;  // its --help
  bool group = false;
  std::vector<std::string> children;  // a group's command names
  std::vector<std::string> flags;  // a leaf's flags, without "--": value flags...
  std::vector<std::string> booleans;  // ...and boolean ones
};
std::vector<CommandInfo> DescribeCommands();

// The global flags that take a value (without "--"), in --help order.
const std::vector<std::string>& GlobalValueFlags();

// ---------------------------------------------------------------------------
// Flags.

// Flags of a leaf command: "--name value" or "--name=value" (short forms:
// "-o VALUE", "-oVALUE", "-o=VALUE" for --output), each at most once; boolean flags ("--follow",
// "--follow=true|false") take no separate value; and up to `max_positionals` arguments that are not
// flags (anywhere among the flags; after "--" every argument is one; "-" is one).
class Flags {
 public:
  // Parses `args` accepting only the flag names in `known` and `booleans`
  // (without "--").
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& known, const Args& args,
                                     size_t max_positionals = 0,
                                     const std::vector<std::string>& booleans = {});

  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // A boolean flag: false when absent.
  bool GetBool(const std::string& name) const;

  // A comma-separated list; surrounding spaces and empty items are dropped.
  std::optional<std::vector<std::string>> GetList(const std::string& name) const;

  // The arguments that are not flags, in order.
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

// Prints "<path>: <message>" and the usage on stderr; returns kExitUsage.
int UsageError(absl::string_view path, absl::string_view message, absl::string_view usage);

// Prints a bad flag value error with a pointer to --help; returns kExitUsage.
int ValueError(absl::string_view path, absl::string_view message);

// Checks that every flag of `names` is present and not empty.
absl::Status RequireFlags(const Flags& flags, const std::vector<const char*>& names);

// ---------------------------------------------------------------------------
// Connection, output, errors.

// Help text blocks shared by the usages of server commands (translated).
std::string ConnectionHelp();
std::string OutputHelp();
std::string ExitHelp();  // "\nExit status: ..." (ExitStatusHelp())
std::string ListHelp();  // --limit, --page-token

// The --help of a leaf command that calls the server: `head` (what it does,
// the "Usage:" line, its own flags), ListHelp() when `list`, OutputHelp(),
// ConnectionHelp(), `tail` (notes, the example), then ExitHelp(); `head` and
// `tail` are msgids (translated here).
std::string ServerUsage(absl::string_view head, absl::string_view tail, bool list = false);

// `flags` plus the connection flags (addr, ca, cert, key, timeout, context,
// actor) and, when `output`, "output".
std::vector<std::string> WithConnectionFlags(std::vector<std::string> flags, bool output);

// The connection options from the flags, the environment and the selected
// context (config.h). Errors are usage errors (InvalidArgument). The actor
// (--actor, $ENLACE_ACTOR or the context's) is options.actor: every channel
// client::Connect() makes names it in each call, streams included.
absl::StatusOr<client::ConnectionOptions> ConnectionFromFlags(const Flags& flags);

// --timeout, when given: a positive finite duration ("30s", "2m", "90").
absl::StatusOr<std::optional<absl::Duration>> ParseTimeoutFlag(const Flags& flags);

// --output (structured.h's Output). Also remembers it for PrintJson().
absl::StatusOr<Output> ParseOutput(const Flags& flags);

// Prints "enlacectl: <CODE>: <message>" on stderr and returns
// ExitCodeFor(status.code()).
int Fail(const absl::Status& status);

// The gRPC status as an absl::Status (client::FromGrpc).
absl::Status FromGrpc(const grpc::Status& status);

// Prints `message` as one document on stdout in the --output format: JSON
// (proto3 JSON mapping, lowerCamelCase names, default values included), or
// that JSON as YAML or CSV (structured.h; a list response's CSV columns are
// its items' fields). Returns kExitOk, or kExitFailure when it cannot be
// printed.
int PrintJson(const google::protobuf::Message& message);

// PrintJson() of a JSON document made by hand (its text).
int PrintJsonText(const std::string& json);

// A record of a stream in the --output format: JSON on one line; YAML as a
// document ("---" first); CSV as a row (a header before the first).
std::string StreamRecord(const google::protobuf::Message& message);

// `message` as JSON on one line (for streams: one object per line).
std::string JsonLine(const google::protobuf::Message& message);

// `message` as indented JSON without a trailing newline (to embed).
std::string JsonDocument(const google::protobuf::Message& message);

// A JSON string literal of `text` (quotes and escapes included).
std::string JsonQuote(absl::string_view text);

// The number of characters (UTF-8 code points) of `text`, for alignment.
size_t DisplayWidth(absl::string_view text);

using TableRow = std::vector<std::string>;

// Prints `rows` under `header`, columns separated by two spaces.
void PrintTable(const TableRow& header, const std::vector<TableRow>& rows);

// PrintTable() of `items` (any range, e.g. a repeated field), one row per
// item made by `row(item)`.
template <typename Items, typename RowOf>
void PrintTableOf(const TableRow& header, const Items& items, RowOf row) {
  std::vector<TableRow> rows;
  for (const auto& item : items) rows.push_back(row(item));
  PrintTable(header, rows);
}

// Prints "  field   value" lines, the values aligned.
void PrintDetails(const std::vector<std::pair<std::string, std::string>>& rows);

// "2026-05-01T12:00:00Z", or "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);
// US dollars from cents, for people: "US$ 1,250.05".
std::string FormatUsd(int64_t cents);

// `text`, or "-" when empty.
std::string OrDash(absl::string_view text);

// Parses an instant: RFC 3339 ("2026-05-01T12:00:00Z", offsets allowed), a
// day "2026-05-01" (its UTC midnight), "now", or a duration ago ("90m",
// "24h", "7d"). `flag` names it in errors.
absl::StatusOr<google::protobuf::Timestamp> ParseInstant(absl::string_view flag,
                                                         absl::string_view text, absl::Time now);

// A YYYY-MM-DD date (checked locally so that typos are usage errors).
absl::Status CheckDateFlag(absl::string_view flag, absl::string_view text);

// CheckDateFlag() on each of the flags `names` that is given.
absl::Status CheckDateFlags(const Flags& flags, const std::vector<const char*>& names);

// --kind of a certificate's subject: "agency" or "admin".
absl::Status CheckKindFlag(absl::string_view kind);

// CheckKindFlag(), then --name: a valid agency code or administrator name
// (auth::ValidatePrincipalName).
absl::Status CheckKindAndName(absl::string_view kind, absl::string_view name);

// ---------------------------------------------------------------------------
// Enums: names on the command line and in tables.

// Parses `text` as a value of the enum `descriptor` whose names carry
// `prefix` ("CASE_STATUS_"): case-insensitive, '-' for '_', with or without
// the prefix; the zero (UNSPECIFIED) value is refused. `what` names the flag
// or column in the error ("--status").
absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view prefix, absl::string_view what,
                                  absl::string_view text);

template <typename E>
absl::StatusOr<E> ParseEnum(absl::string_view prefix, absl::string_view what,
                            absl::string_view text) {
  absl::StatusOr<int> value =
      ParseEnumName(google::protobuf::GetEnumDescriptor<E>(), prefix, what, text);
  if (!value.ok()) return value.status();
  return static_cast<E>(*value);
}

// The accepted names ("open, in-progress, closed") for help texts and errors.
std::string EnumChoices(const google::protobuf::EnumDescriptor* descriptor,
                        absl::string_view prefix);

// The value's name without `prefix` ("IN_PROGRESS"), or its number.
std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor,
                          absl::string_view prefix, int value);

template <typename E>
std::string ShortName(absl::string_view prefix, E value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<E>(), prefix, static_cast<int>(value));
}

// ---------------------------------------------------------------------------
// A leaf command.

struct Leaf {
  std::string path;  // "enlacectl cases get"
  std::string usage;  // its --help
  std::vector<std::string> flags;  // value flags besides the connection flags
  // Names of the positional arguments, all required, e.g. {"CASE_ID"}.
  std::vector<std::string> positionals = {};
  std::vector<std::string> booleans = {};  // boolean flags
  bool list = false;  // takes --limit N and --page-token T
  // Up to this many more positional arguments, which the command checks.
  size_t optional_positionals = 0;
  // A usage error prints the whole usage, not only its synopsis, as the pki,
  // certs, agencies and health commands always have.
  bool whole_usage_on_error = false;
  // Calls no server: takes neither the connection flags nor --output.
  bool offline = false;
};

// A leaf whose usage errors print the whole usage and which checks its own
// positionals (up to `max_positionals`): the pki, certs, agencies and health
// commands.
Leaf WholeUsageLeaf(std::string path, std::string usage, std::vector<std::string> flags,
                    size_t max_positionals = 0, bool offline = false);

class Invocation {
 public:
  // ParseArgs(), then ParseSettings(). Returns the exit status when the
  // command must stop now, nullopt when it may go on.
  std::optional<int> Start(const Leaf& leaf, const Args& args);

  // The first half of Start(): handles --help (prints the usage, exit 0),
  // parses the flags (unknown flag, missing positional: usage error).
  // Commands whose own flag errors must come before those of --output and
  // the connection call the halves separately, checking in between.
  std::optional<int> ParseArgs(const Leaf& leaf, const Args& args);
  // The second half, once ParseArgs() let the command go on: --output,
  // --limit/--page-token and the connection.
  std::optional<int> ParseSettings();

  const std::string& path() const { return leaf_->path; }
  const Flags& flags() const { return *flags_; }
  Output output() const { return output_; }
  // Machine-readable output (json, yaml or csv): PrintJson() prints it.
  bool json() const { return output_ != Output::kTable; }
  const client::ConnectionOptions& options() const { return options_; }
  const std::string& positional(size_t i) const { return flags_->positionals()[i]; }
  int limit() const { return limit_; }  // 0: no limit
  const std::string& page_token() const { return page_token_; }

  // Usage errors of this command (exit 2).
  int Usage(absl::string_view message) const;
  int Value(absl::string_view message) const;
  // A usage error unless every flag of `names` is given and not empty.
  std::optional<int> Require(const std::vector<const char*>& names) const;

  // The channel, made on first use.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel();
  // A context with the call deadline and the call metadata (actor).
  std::unique_ptr<grpc::ClientContext> Context() const;

 private:
  const Leaf* leaf_ = nullptr;
  std::optional<Flags> flags_;
  Output output_ = Output::kTable;
  client::ConnectionOptions options_;
  int limit_ = 0;
  std::string page_token_;
  std::shared_ptr<grpc::Channel> channel_;
};

// ---------------------------------------------------------------------------
// Calls. `method` is a generated stub's method, e.g.
// &v1::CaseService::Stub::GetCase; `items` a response's repeated field,
// e.g. &v1::ListCasesResponse::mutable_cases.

template <typename Stub, typename Request, typename Response>
using UnaryMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

template <typename Response, typename Item>
using ItemsOf = google::protobuf::RepeatedPtrField<Item>* (Response::*)();

// A stub of `Stub` (e.g. v1::CaseService::Stub) on the invocation's channel.
template <typename Stub>
absl::StatusOr<std::unique_ptr<Stub>> NewStub(Invocation& call) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = call.Channel();
  if (!channel.ok()) return channel.status();
  return std::make_unique<Stub>(*channel);
}

// One unary call with the call deadline.
template <typename Stub, typename Request, typename Response>
absl::Status CallUnary(Invocation& call, UnaryMethod<Stub, Request, Response> method,
                       const Request& request, Response* response) {
  absl::StatusOr<std::unique_ptr<Stub>> stub = NewStub<Stub>(call);
  if (!stub.ok()) return stub.status();
  std::unique_ptr<grpc::ClientContext> context = call.Context();
  return FromGrpc(((**stub).*method)(context.get(), request, response));
}

// `response` as one document with --output json|yaml|csv, else `print(response)`
// for people. Returns the exit status.
template <typename Response, typename Print>
int PrintResponse(const Invocation& call, const Response& response, Print print) {
  if (call.json()) return PrintJson(response);
  print(response);
  return kExitOk;
}

// A unary call whose answer is printed (PrintResponse). Returns the exit
// status: kExitFailure, the error printed, when the call failed.
template <typename Stub, typename Request, typename Response, typename Print>
int CallAndPrint(Invocation& call, UnaryMethod<Stub, Request, Response> method,
                 const Request& request, Print print) {
  Response response;
  absl::Status status = CallUnary(call, method, request, &response);
  if (!status.ok()) return Fail(status);
  return PrintResponse(call, response, print);
}

// Pages through the List RPC `method` from `page_token` (empty: the start).
// Sets page_size to at most 500 and, with `limit` > 0, stops after `limit`
// items (asking for no more than that), leaving the token of the next page
// in `*next_page_token` (empty when the list is complete). Items are
// appended to `*all_items`; `*last_page` (optional) gets the last page as
// received.
template <typename Stub, typename Request, typename Response, typename Item>
absl::Status PageThrough(Invocation& call, UnaryMethod<Stub, Request, Response> method,
                         ItemsOf<Response, Item> items, Request request, int limit,
                         const std::string& page_token,
                         google::protobuf::RepeatedPtrField<Item>* all_items,
                         std::string* next_page_token, Response* last_page = nullptr) {
  absl::StatusOr<std::unique_ptr<Stub>> stub = NewStub<Stub>(call);
  if (!stub.ok()) return stub.status();
  request.set_page_token(page_token);
  next_page_token->clear();
  int remaining = limit;
  for (int pages = 0;; ++pages) {
    if (pages >= 1000000) return absl::InternalError("the list never ends: stopped paging");
    request.set_page_size(remaining > 0 && remaining < 500 ? remaining : 500);
    Response page;
    std::unique_ptr<grpc::ClientContext> context = call.Context();
    absl::Status status = FromGrpc(((**stub).*method)(context.get(), request, &page));
    if (!status.ok()) return status;
    google::protobuf::RepeatedPtrField<Item>* got = (page.*items)();
    const int n = got->size();
    for (Item& item : *got) *all_items->Add() = std::move(item);
    const std::string next = page.next_page_token();
    if (last_page != nullptr) *last_page = std::move(page);
    if (next.empty()) return absl::OkStatus();
    if (remaining > 0) {
      remaining -= n;
      if (remaining <= 0) {
        *next_page_token = next;
        return absl::OkStatus();
      }
    }
    if (next == request.page_token()) {
      return absl::InternalError("the server returned the same page token twice");
    }
    request.set_page_token(next);
  }
}

// After a table: tells on stderr how to get the rest when --limit stopped
// the listing early.
void PrintMoreHint(absl::string_view path, const std::string& next_page_token);

// A list command's call and output: pages through `method` from
// --page-token up to --limit, then prints every item as one JSON document
// (the response with every page's items and nextPageToken), or
// `print_table(all)` and PrintMoreHint(). Returns the exit status. (YAML and
// CSV: the same document.)
template <typename Stub, typename Request, typename Response, typename Item, typename PrintItems>
int ListAndPrint(Invocation& call, UnaryMethod<Stub, Request, Response> method,
                 ItemsOf<Response, Item> items, const Request& request, PrintItems print_table) {
  Response all;
  absl::Status status = PageThrough(call, method, items, request, call.limit(), call.page_token(),
                                    (all.*items)(), all.mutable_next_page_token());
  if (!status.ok()) return Fail(status);
  if (call.json()) return PrintJson(all);
  print_table(all);
  PrintMoreHint(call.path(), all.next_page_token());
  return kExitOk;
}

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_CLI_H_
