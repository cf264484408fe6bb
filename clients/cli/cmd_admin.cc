// enlacectl audit (list, verify), report and health: the audit log for
// administrators, the programme report for everyone, and the health check.
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki.h"
#include "clients/cli/cli.h"
#include "clients/cli/config.h"
#include "clients/cli/report_csv.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/admin.pb.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "enlace/v1/reports.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;
using AdminStub = v1::AdminService::Stub;

// ---------------------------------------------------------------------------
// enlacectl audit list

std::string AuditListUsage() {
  return ServerUsage(
      R"(List audit events, oldest first (AdminService.ListAuditEvents;
administrators only): every call to the server, allowed or denied.

Usage: enlacectl audit list [flags]

Flags:
  --principal WHO        only this caller: a SPIFFE ID, or agency:CODE / admin:NAME
                         (e.g. agency:iom = spiffe://enlace/agency/iom)
  --method METHOD        only this method: "/enlace.v1.ArrivalService/GetArrival",
                         or short "ArrivalService/GetArrival"
  --decision allow|deny  only allowed or only denied calls
  --since TIME           at or after TIME: RFC 3339, a day (YYYY-MM-DD, UTC), or
                         an age like 90m, 24h, 7d
  --until TIME           before TIME (same forms)
  --acted-by ACTOR       only calls made for this staff member (their enlace-actor)
)",
      R"(
Table columns: SEQ, TIME (UTC), PRINCIPAL, ACTOR, METHOD, DECISION, STATUS, DETAIL.
The JSON document is a ListAuditEventsResponse with every page's events.

Example:
  enlacectl audit list --decision deny --since 24h
  enlacectl audit list --principal agency:iom --method ArrivalService/GetArrival --output json
  enlacectl audit list --principal agency:iom --acted-by iom-0042 --since 7d
)",
      /*list=*/true);
}

int RunAuditList(const Args& args) {
  static const Leaf leaf = {"enlacectl audit list",
                            AuditListUsage(),
                            {"principal", "method", "decision", "since", "until", "acted-by"},
                            {},
                            {},
                            true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::ListAuditEventsRequest request;
  if (std::optional<std::string> who = call.flags().Get("principal")) {
    absl::string_view rest = *who;
    if (absl::ConsumePrefix(&rest, "agency:")) {
      request.set_principal(absl::StrCat("spiffe://enlace/agency/", rest));
    } else if (absl::ConsumePrefix(&rest, "admin:")) {
      request.set_principal(absl::StrCat("spiffe://enlace/admin/", rest));
    } else {
      request.set_principal(*who);
    }
  }
  if (std::optional<std::string> actor = call.flags().Get("acted-by")) {
    if (absl::Status s = ValidateActor("--acted-by", *actor); !s.ok()) {
      return call.Value(s.message());
    }
    request.set_actor(*actor);
  }
  if (std::optional<std::string> method = call.flags().Get("method")) {
    if (absl::StartsWith(*method, "/")) {
      request.set_method(*method);
    } else if (absl::StartsWith(*method, "enlace.") || absl::StartsWith(*method, "grpc.")) {
      request.set_method(absl::StrCat("/", *method));
    } else {
      request.set_method(absl::StrCat("/enlace.v1.", *method));
    }
  }
  if (std::optional<std::string> decision = call.flags().Get("decision")) {
    absl::StatusOr<v1::Decision> parsed =
        ParseEnum<v1::Decision>("DECISION_", "--decision", *decision);
    if (!parsed.ok()) return call.Value(parsed.status().message());
    request.set_decision(*parsed);
  }
  const absl::Time now = absl::Now();
  if (std::optional<std::string> since = call.flags().Get("since")) {
    absl::StatusOr<google::protobuf::Timestamp> t = ParseInstant("--since", *since, now);
    if (!t.ok()) return call.Value(t.status().message());
    *request.mutable_time_from() = *t;
  }
  if (std::optional<std::string> until = call.flags().Get("until")) {
    absl::StatusOr<google::protobuf::Timestamp> t = ParseInstant("--until", *until, now);
    if (!t.ok()) return call.Value(t.status().message());
    *request.mutable_time_to() = *t;
  }
  return ListAndPrint(
      call, &AdminStub::ListAuditEvents, &v1::ListAuditEventsResponse::mutable_events, request,
      [](const v1::ListAuditEventsResponse& all) {
        PrintTableOf(
            {"SEQ", "TIME", "PRINCIPAL", "ACTOR", "METHOD", "DECISION", "STATUS", "DETAIL"},
            all.events(), [](const v1::AuditEvent& e) -> TableRow {
              return {absl::StrCat(e.sequence()),
                      FormatTimestamp(e.time()),
                      e.principal(),
                      OrDash(e.actor()),
                      e.method(),
                      ShortName("DECISION_", e.decision()),
                      absl::StatusCodeToString(static_cast<absl::StatusCode>(e.status_code())),
                      OrDash(e.detail())};
            });
      });
}

// ---------------------------------------------------------------------------
// enlacectl audit verify

std::string AuditVerifyUsage() {
  return absl::StrCat(Tr(R"(Recompute the audit log's SHA-256 hash chain on the server
(AdminService.VerifyAuditLog; administrators only) and say whether it is
intact, or which event is the first whose link is broken (an event changed,
removed or inserted at or before it).

Usage: enlacectl audit verify [--checkpoint FILE] [flags]

Flags:
  --checkpoint FILE      also prove that the log still extends this checkpoint
                         (a signed note from `enlacectl audit checkpoint`, or a
                         witness's --state file): the tail of the log cut, or an
                         event rewritten since, is caught even when the chain
                         was repaired (docs/audit.md)
)"),
                      OutputHelp(), ConnectionHelp(), Tr(R"(
Example:
  enlacectl audit verify && echo "chain intact"
  enlacectl audit verify --checkpoint iom-witness.state

Exit status: 0 the chain is intact; 1 it is broken ("enlacectl: DATA_LOSS:
audit log broken at sequence S ..." on stderr; with --output json the
VerifyAuditLogResponse is printed too), or the call failed; 2 usage error;
4 not authenticated; 5 permission denied; 7 unavailable (retry later).
)"));
}

int RunAuditVerify(const Args& args) {
  static const Leaf leaf = {"enlacectl audit verify", AuditVerifyUsage(), {"checkpoint"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::VerifyAuditLogRequest request;
  if (std::optional<std::string> path = call.flags().Get("checkpoint")) {
    absl::StatusOr<std::string> note = auth::ReadFileToString(*path);
    if (!note.ok()) return Fail(note.status());
    request.mutable_checkpoint()->set_note(*note);
  }
  v1::VerifyAuditLogResponse response;
  absl::Status status = CallUnary(call, &AdminStub::VerifyAuditLog, request, &response);
  if (!status.ok()) return Fail(status);
  if (call.json()) PrintJson(response);
  if (!response.intact()) {
    return Fail(absl::DataLossError(absl::StrCat(
        "audit log broken at sequence ", response.first_broken_sequence(), " (", response.checked(),
        " events checked): ",
        response.detail().empty()
            ? "the event at that sequence, or a link before it, was changed, removed or "
              "inserted"
            : response.detail())));
  }
  if (!call.json()) {
    std::cout << "audit log intact: " << response.checked() << " events checked"
              << (request.has_checkpoint() ? absl::StrCat("; ", response.detail()) : "") << "\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl report

std::string ReportUsage() {
  return absl::StrCat(
      Tr(R"(Print the programme report (ReportService.GetProgrammeReport): counts only
— returnees by department and by month, cases by status, referrals by agency
pair and status, services by type, economic initiatives against the target,
and the share of women among returnees served. Every count is a sum of cells
of one department and one calendar month; a count is suppressed (shown "*",
{"suppressed": true} in JSON) when any of its cells holds 1 to 4 records that
are not yours, whatever the rest of the sum.

It also answers donors' questions: returnees and returnees served by sex and
age band on arrival (youth: 15 to 29), outcomes (trainings completed, seed
capital disbursed in US$, initiatives by status, woman-led, jobs created),
progress against the programme's targets, and every figure by site
(department) and month or quarter; --output csv exports those rows for a
spreadsheet, with HXL hashtags and humanitarian P-codes (a suppressed figure
is an empty field).

Reports cover whole calendar months: --from is the first day of a month and
--to the last day of a month (whole quarters with --interval quarter).

Usage: enlacectl report [--from YYYY-MM-01] [--to YYYY-MM-DD] [--department CODE] [flags]

Flags:
  --from YYYY-MM-01      period start: the first day of a month; default open
  --to YYYY-MM-DD        period end: the last day of a month (e.g. 2026-06-30);
                         default open
  --department CODE      only this department (e.g. SV-SS); default all
  --interval month|quarter   the periods of the rows by site; default month
)"),
      OutputHelp(), Tr(R"(                         (json: the ProgrammeReport; a suppressed cell is
                         {"count": "0", "suppressed": true}; csv: the rows by
                         site with HXL hashtags, a suppressed figure empty)
)"),
      ConnectionHelp(), Tr(R"(
Example:
  enlacectl report --from 2026-01-01 --to 2026-06-30 --department SV-SS
)"),
      ExitHelp());
}

// Reports cover whole calendar months (the server refuses anything else):
// --from a first of the month, --to a last of the month. Both are real
// YYYY-MM-DD days already (CheckDateFlags).
absl::Status CheckWholeMonths(const std::string& from, const std::string& to) {
  absl::CivilDay day;
  if (!from.empty() && absl::ParseCivilTime(from, &day) && day.day() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from: reports cover whole months; use ",
                     absl::FormatCivilTime(absl::CivilDay(absl::CivilMonth(day)))));
  }
  if (!to.empty() && absl::ParseCivilTime(to, &day) && (day + 1).day() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--to: reports cover whole months; use ",
                     absl::FormatCivilTime(absl::CivilDay(absl::CivilMonth(day) + 1) - 1)));
  }
  return absl::OkStatus();
}

std::string Cell(const v1::CountCell& cell) {
  return cell.suppressed() ? "*" : absl::StrCat(cell.count());
}

std::string Cell(const v1::AmountCell& cell) {
  return cell.suppressed() ? "*" : absl::StrCat(cell.amount());
}

// US$ from cents, "*" when suppressed.
std::string Usd(const v1::AmountCell& cell) {
  if (cell.suppressed()) return "*";
  return FormatUsd(cell.amount());
}

// "15-17", "60+", "?" for AGE_BAND_UNSPECIFIED.
std::string AgeBandName(v1::AgeBand band) {
  std::string name = ShortName("AGE_BAND_", band);
  if (band == v1::AGE_BAND_UNSPECIFIED) return "?";
  if (band == v1::AGE_BAND_60_PLUS) return "60+";
  for (char& ch : name) {
    if (ch == '_') ch = '-';
  }
  return name;
}

void Section(absl::string_view title) { std::cout << "\n" << title << "\n"; }

// The report as sections of tables.
void PrintReport(const v1::ProgrammeReport& report) {
  std::cout << "Programme report: "
            << (report.period_from().empty() ? "open" : report.period_from()) << " .. "
            << (report.period_to().empty() ? "open" : report.period_to()) << ", department "
            << (report.department_code().empty() ? "all" : report.department_code())
            << "  (\"*\": suppressed: it adds up a cell of 1 to 4 records not yours)\n";

  Section("Returnees by department");
  PrintTableOf({"DEPARTMENT", "NAME", "RETURNEES"}, report.returnees_by_department(),
               [](const auto& d) -> TableRow {
                 return {d.department_code(), OrDash(d.department_name()), Cell(d.returnees())};
               });

  Section("Returnees by month");
  PrintTableOf({"MONTH", "DEPARTMENT", "RETURNEES"}, report.returnees_by_month(),
               [](const auto& m) -> TableRow {
                 return {m.month(), OrDash(m.department_code()), Cell(m.returnees())};
               });

  Section("Cases by status");
  PrintTableOf({"STATUS", "CASES"}, report.cases_by_status(), [](const auto& c) -> TableRow {
    return {ShortName("CASE_STATUS_", c.status()), Cell(c.cases())};
  });

  Section("Referrals");
  PrintTableOf({"FROM", "TO", "STATUS", "REFERRALS"}, report.referrals(),
               [](const auto& r) -> TableRow {
                 return {r.from_agency(), r.to_agency(), ShortName("REFERRAL_STATUS_", r.status()),
                         Cell(r.referrals())};
               });

  Section("Services delivered");
  PrintTableOf({"SERVICE", "SERVICES"}, report.services_by_type(), [](const auto& s) -> TableRow {
    return {ShortName("NEED_", s.service()), Cell(s.services())};
  });

  Section("People by sex and age band (on arrival)");
  PrintTableOf({"SEX", "AGE", "RETURNEES", "SERVED"}, report.people(),
               [](const auto& p) -> TableRow {
                 return {ShortName("SEX_", p.sex()), AgeBandName(p.age_band()), Cell(p.returnees()),
                         Cell(p.served())};
               });

  Section("Initiatives by status");
  PrintTableOf({"STATUS", "INITIATIVES", "WOMAN-LED", "JOBS CREATED"},
               report.initiatives_by_status(), [](const auto& i) -> TableRow {
                 return {ShortName("INITIATIVE_STATUS_", i.status()), Cell(i.initiatives()),
                         Cell(i.woman_led()), Cell(i.jobs_created())};
               });

  Section(absl::StrCat("By site and ",
                       report.interval() == v1::REPORT_INTERVAL_QUARTER ? "quarter" : "month",
                       " (--output csv: every column, with HXL hashtags)"));
  PrintTableOf({"PERIOD", "DEPARTMENT", "RETURNEES", "SERVED", "YOUTH SERVED", "TRAINED",
                "SEED CAPITAL", "INITIATIVES"},
               report.sites(), [](const auto& s) -> TableRow {
                 return {s.period(),
                         s.department_code(),
                         Cell(s.returnees()),
                         Cell(s.served()),
                         Cell(s.served_youth()),
                         Cell(s.training_completed()),
                         Usd(s.seed_capital_usd_cents()),
                         Cell(s.initiatives())};
               });

  Section("Indicators");
  std::string share = "-";
  if (!report.returnees_served().suppressed() && !report.women_served().suppressed() &&
      report.returnees_served().count() > 0) {
    share = absl::StrFormat("%.1f%%", report.women_share() * 100);
  }
  PrintTable({"INDICATOR", "VALUE"},
             {{"economic initiatives", absl::StrCat(Cell(report.initiatives()), " of target ",
                                                    report.initiatives_target())},
              {"woman-led initiatives", Cell(report.initiatives_woman_led())},
              {"jobs created", Cell(report.jobs_created())},
              {"returnees served", Cell(report.returnees_served())},
              {"women served", Cell(report.women_served())},
              {"share of women", share},
              {"youth served (15 to 29)", Cell(report.youth_served())},
              {"trainings completed", Cell(report.training_completed())},
              {"seed capital disbursements", Cell(report.seed_capital_disbursements())},
              {"seed capital disbursed", Usd(report.seed_capital_usd_cents())}});

  Section("Targets");
  PrintTableOf({"INDICATOR", "TARGET", "ACHIEVED", "SHARE"}, report.targets(),
               [](const auto& t) -> TableRow {
                 return {
                     t.indicator(), absl::StrCat(t.target()), Cell(t.achieved()),
                     t.achieved().suppressed() ? "-" : absl::StrFormat("%.1f%%", t.share() * 100)};
               });
}

int RunReportCommand(const Args& args) {
  static const Leaf leaf = {
      "enlacectl report", ReportUsage(), {"from", "to", "department", "interval"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = CheckDateFlags(call.flags(), {"from", "to"}); !s.ok()) {
    return call.Value(s.message());
  }
  if (absl::Status s = CheckWholeMonths(call.flags().Get("from").value_or(""),
                                        call.flags().Get("to").value_or(""));
      !s.ok()) {
    return call.Value(s.message());
  }
  v1::GetProgrammeReportRequest request;
  request.set_period_from(call.flags().Get("from").value_or(""));
  request.set_period_to(call.flags().Get("to").value_or(""));
  request.set_department_code(call.flags().Get("department").value_or(""));
  std::string interval = call.flags().Get("interval").value_or("month");
  if (interval != "month" && interval != "quarter") {
    return call.Value(absl::StrCat("--interval: month or quarter, not \"", interval, "\""));
  }
  request.set_interval(interval == "quarter" ? v1::REPORT_INTERVAL_QUARTER
                                             : v1::REPORT_INTERVAL_MONTH);
  if (call.output() == Output::kCsv) {  // HXL-ready CSV: clients/cli/report_csv.h
    v1::ProgrammeReport report;
    absl::Status status =
        CallUnary(call, &v1::ReportService::Stub::GetProgrammeReport, request, &report);
    if (!status.ok()) return Fail(status);
    return PrintReportCsv(report);
  }
  return CallAndPrint(call, &v1::ReportService::Stub::GetProgrammeReport, request, PrintReport);
}

// ---------------------------------------------------------------------------
// enlacectl health

std::string HealthUsage() {
  return absl::StrCat(
      Tr(R"(Ask the server whether it is serving (grpc.health.v1.Health/Check): on the
TLS port with your certificate, or with --plaintext on the health-only port
that Kubernetes probes use (no certificate needed). The server reports
NOT_SERVING while its database is unreachable.

Usage: enlacectl health [--plaintext HOST:PORT] [--service NAME] [flags]

Flags:
  --plaintext HOST:PORT  query this plaintext health port instead of the TLS
                         port (e.g. 127.0.0.1:7444); no --ca/--cert/--key
  --service NAME         a service's health (e.g. enlace.v1.ArrivalService);
                         default the server as a whole
  --output table|json    table (default): the status; json: {"status": "SERVING"}
)"),
      ConnectionHelp(), Tr(R"(
Example:
  enlacectl health
  enlacectl health --plaintext 127.0.0.1:7444 --timeout 2s

Exit status: 0 SERVING; 1 any other status (NOT_SERVING, SERVICE_UNKNOWN, ...)
or the call failed ("enlacectl: <gRPC code>: <message>" on stderr); 2 usage
error; 4 not authenticated; 5 permission denied; 6 unknown --service
(NOT_FOUND); 7 unavailable: the server cannot be reached (retry later).
)"));
}

// A protobuf varint at `*pos` of `bytes`.
bool ReadVarint(const std::string& bytes, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *pos < bytes.size(); shift += 7) {
    const unsigned char byte = static_cast<unsigned char>(bytes[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// HealthCheckResponse{ServingStatus status = 1;} -> status (0 when absent).
absl::StatusOr<int> ParseHealthResponse(const std::string& bytes) {
  const absl::Status bad = absl::InternalError("cannot parse the HealthCheckResponse");
  size_t pos = 0;
  uint64_t status = 0;
  while (pos < bytes.size()) {
    uint64_t tag = 0;
    uint64_t value = 0;
    if (!ReadVarint(bytes, &pos, &tag)) return bad;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(bytes, &pos, &value)) return bad;
        if ((tag >> 3) == 1) status = value;
        break;
      case 1: pos += 8; break;
      case 2:
        if (!ReadVarint(bytes, &pos, &value) || value > bytes.size() - pos) return bad;
        pos += value;
        break;
      case 5: pos += 4; break;
      default: return bad;
    }
    if (pos > bytes.size()) return bad;
  }
  return static_cast<int>(status);
}

std::string HealthStatusName(int status) {
  switch (status) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    default: return absl::StrCat(status);
  }
}

// Calls grpc.health.v1.Health/Check for `service` ("" the whole server) on
// `channel`, leaving the response's bytes in `*bytes`.
absl::Status CallHealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                             grpc::ClientContext* context, const std::string& service,
                             std::string* bytes) {
  // HealthCheckRequest{string service = 1;}
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back('\x0A');
    uint64_t length = service.size();
    while (length >= 0x80) {
      request_bytes.push_back(static_cast<char>((length & 0x7F) | 0x80));
      length >>= 7;
    }
    request_bytes.push_back(static_cast<char>(length));
    request_bytes += service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  stub.UnaryCall(context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  absl::Status status = FromGrpc(done.get_future().get());
  if (!status.ok()) return status;
  std::vector<grpc::Slice> slices;
  bytes->clear();
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return absl::OkStatus();
}

int RunHealthCommand(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl health", HealthUsage(), {"plaintext", "service"});
  Invocation call;
  // Not ParseSettings(): --plaintext needs no certificate, and a bad
  // --timeout is a value error here.
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  const Flags& flags = call.flags();
  absl::StatusOr<Output> output = ParseOutput(flags);
  if (!output.ok()) return call.Value(output.status().message());
  absl::StatusOr<std::optional<absl::Duration>> timeout = ParseTimeoutFlag(flags);
  if (!timeout.ok()) return call.Value(timeout.status().message());
  std::shared_ptr<grpc::Channel> channel;
  std::optional<std::string> plaintext = flags.Get("plaintext");
  if (plaintext.has_value()) {
    if (plaintext->empty()) return call.Value("--plaintext needs HOST:PORT");
    for (const char* tls_flag : {"addr", "ca", "cert", "key"}) {
      if (flags.Has(tls_flag)) {
        return call.Usage(absl::StrCat("--plaintext takes no --", tls_flag));
      }
    }
    channel = grpc::CreateChannel(*plaintext, grpc::InsecureChannelCredentials());
  } else {
    absl::StatusOr<client::ConnectionOptions> options = ConnectionFromFlags(flags);
    if (!options.ok()) return call.Usage(options.status().message());
    absl::StatusOr<std::shared_ptr<grpc::Channel>> connected = client::Connect(*options);
    if (!connected.ok()) return Fail(connected.status());
    channel = *std::move(connected);
  }

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout->value_or(absl::Seconds(10))));
  std::string bytes;
  absl::Status status =
      CallHealthCheck(channel, &context, flags.Get("service").value_or(""), &bytes);
  if (!status.ok()) return Fail(status);
  absl::StatusOr<int> serving = ParseHealthResponse(bytes);
  if (!serving.ok()) return Fail(serving.status());
  const std::string name = HealthStatusName(*serving);
  if (*output != Output::kTable) {
    if (int exit = PrintJsonText(absl::StrCat("{\"status\": ", JsonQuote(name), "}"));
        exit != kExitOk) {
      return exit;
    }
  } else {
    std::cout << name << "\n";
  }
  std::cout.flush();
  return *serving == 1 ? kExitOk : kExitFailure;
}

// ---------------------------------------------------------------------------
// enlacectl version

// The initial metadata key of the server's version (server/health_service.cc).
constexpr char kServerVersionKey[] = "enlace-server-version";

std::string VersionUsage() {
  return absl::StrCat(
      Tr(R"(Print the version of enlacectl and of the server it connects to (the server
sends it with every health check). When the server cannot be reached,
prints enlacectl's version and says so (exit status 7).

Usage: enlacectl version [flags]

Flags:
)"),
      OutputHelp(), ConnectionHelp(), Tr(R"(
Example:
  enlacectl version
  enlacectl --context ministry version -o json
)"),
      ExitHelp());
}

int RunVersionCommand(const Args& args) {
  static const Leaf leaf = {"enlacectl version", VersionUsage(), {}};
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  absl::StatusOr<Output> output = ParseOutput(call.flags());
  if (!output.ok()) return call.Value(output.status().message());
  const std::string client_version = ENLACE_VERSION;
  auto print = [&](const std::string& server, const std::string& address) {
    if (*output != Output::kTable) {
      return PrintJsonText(
          absl::StrCat("{\"client\": ", JsonQuote(client_version),
                       ", \"server\": ", server.empty() ? "null" : JsonQuote(server),
                       ", \"address\": ", address.empty() ? "null" : JsonQuote(address), "}"));
    }
    std::cout << TrFormat("enlacectl $0", client_version) << "\n";
    if (!server.empty()) std::cout << TrFormat("server    $0 ($1)", server, address) << "\n";
    std::cout.flush();
    return kExitOk;
  };
  if (std::optional<int> exit = call.ParseSettings()) {
    print("", "");
    return *exit;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = call.Channel();
  if (!channel.ok()) {
    print("", "");
    return Fail(channel.status());
  }
  std::unique_ptr<grpc::ClientContext> context = call.Context();
  std::string ignored;
  absl::Status status = CallHealthCheck(*channel, context.get(), "", &ignored);
  std::string server;
  for (const auto* metadata :
       {&context->GetServerInitialMetadata(), &context->GetServerTrailingMetadata()}) {
    auto it = metadata->find(kServerVersionKey);
    if (it != metadata->end() && server.empty()) {
      server = std::string(it->second.data(), it->second.size());
    }
  }
  const std::string& address = call.options().address;
  if (!server.empty()) {
    if (int exit = print(server, address); exit != kExitOk) return exit;
    return kExitOk;
  }
  print("", "");
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
    std::cerr << TrFormat("enlacectl: the server at $0 is unreachable: $1", address,
                          status.message())
              << "\n";
    return kExitUnavailable;
  }
  if (!status.ok()) return Fail(status);
  return Fail(absl::UnknownError(Tr("the server did not say its version (an older server?)")));
}

}  // namespace

int RunAudit(const Args& args) {
  static const auto* group = new Group{
      "enlacectl audit",
      "The audit log of every call, allowed or denied: listed and verified by\n"
      "administrators, witnessed by every agency (docs/audit.md).",
      {
          {"list", "list audit events, with filters", &RunAuditList},
          {"verify", "recompute the hash chain; exit 1 if broken", &RunAuditVerify},
          {"checkpoint", "print the latest signed checkpoint and its cosignatures",
           &RunAuditCheckpoint},
          {"witness-key", "make an agency's witness key pair (offline)", &RunAuditWitnessKey},
          {"register-witness", "register an agency's witness key (administrators)",
           &RunAuditRegisterWitness},
          {"witness", "verify the latest checkpoint against the last one and cosign it",
           &RunAuditWitness},
      },
      "enlacectl audit list --decision deny --since 24h\nenlacectl audit verify\n"
      "enlacectl audit witness --log-key var/audit_log.pub --witness-key iom-witness.key "
      "--state iom-witness.state"};
  return RunGroup(*group, args);
}

int RunReport(const Args& args) { return RunReportCommand(args); }

int RunHealth(const Args& args) { return RunHealthCommand(args); }

int RunVersion(const Args& args) { return RunVersionCommand(args); }

}  // namespace enlace::cli
