// enlacectl cases, services, initiatives and referrals: the agencies' work
// on CaseService and ReferralService, including `referrals watch` on the
// WatchReferrals stream.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/cli.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/cases.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/referrals.pb.h"
#include "grpcpp/grpcpp.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;

// The first line of `text`, cut to `width` characters ("…" when cut).
std::string Short(absl::string_view text, size_t width = 40) {
  text = text.substr(0, text.find('\n'));
  if (DisplayWidth(text) <= width) return std::string(text);
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (++chars > width - 1) break;
    }
    out.push_back(text[i]);
  }
  return out + "\xE2\x80\xA6";
}

std::string NeedName(int need) { return ShortName("NEED_", static_cast<v1::Need>(need)); }

using CaseStub = v1::CaseService::Stub;
using ReferralStub = v1::ReferralService::Stub;

// ---------------------------------------------------------------------------
// Display.

// What a service achieved: "US$ 1,250.00 to INITIATIVE" (seed capital),
// "40 h, completed" (training), "-" otherwise.
std::string OutcomeText(const v1::ServiceRecord& s) {
  if (s.service() == v1::NEED_SEED_CAPITAL) {
    std::string amount =
        s.amount_usd_cents() > 0 ? FormatUsd(s.amount_usd_cents()) : "US$ (hidden)";
    return absl::StrCat(amount, " to ", OrDash(s.initiative_id()));
  }
  if (s.service() == v1::NEED_TRAINING) {
    return absl::StrCat(s.training_hours(), " h, ",
                        s.training_completed() ? "completed" : "not completed");
  }
  return "-";
}

void PrintServiceTable(const google::protobuf::RepeatedPtrField<v1::ServiceRecord>& services) {
  PrintTableOf({"SERVICE ID", "SERVICE", "DELIVERED", "BY", "OUTCOME", "NOTES"}, services,
               [](const v1::ServiceRecord& s) -> TableRow {
                 return {s.service_id(),          NeedName(s.service()), s.delivered_on(),
                         OrDash(s.recorded_by()), OutcomeText(s),        OrDash(Short(s.notes()))};
               });
}

void PrintCaseDetails(const v1::Case& c) {
  PrintDetails({
      {"case id", c.case_id()},
      {"arrival id", c.arrival_id()},
      {"owner", c.owner_agency()},
      {"status", ShortName("CASE_STATUS_", c.status())},
      {"department", OrDash(c.department_code())},
      {"municipality", OrDash(c.municipality())},
      {"summary", OrDash(c.summary())},
      {"notes", OrDash(c.psychosocial_notes())},
      {"created at", FormatTimestamp(c.created_at())},
      {"updated at", FormatTimestamp(c.updated_at())},
      {"etag", OrDash(c.etag())},
      {"services", absl::StrCat(c.services_size())},
  });
  if (c.services_size() > 0) {
    std::cout << "\n";
    PrintServiceTable(c.services());
  }
}

void PrintCaseTable(const v1::ListCasesResponse& all) {
  PrintTableOf({"CASE ID", "ARRIVAL ID", "OWNER", "STATUS", "MUNICIPALITY", "UPDATED", "SUMMARY"},
               all.cases(), [](const v1::Case& c) -> TableRow {
                 return {c.case_id(),
                         c.arrival_id(),
                         c.owner_agency(),
                         ShortName("CASE_STATUS_", c.status()),
                         OrDash(c.municipality()),
                         FormatTimestamp(c.updated_at()),
                         OrDash(Short(c.summary()))};
               });
}

std::string ReturneeText(const v1::Referral& r) {
  if (!r.has_returnee()) return "-";
  const v1::ReturneeSummary& s = r.returnee();
  std::vector<std::string> needs;
  for (int need : s.needs()) needs.push_back(NeedName(need));
  return absl::StrCat(s.given_name(), " ", s.family_name(), " (", ShortName("SEX_", s.sex()), "), ",
                      OrDash(s.municipality()), needs.empty() ? "" : "; needs ",
                      absl::StrJoin(needs, ","));
}

void PrintReferralDetails(const v1::Referral& r) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"referral id", r.referral_id()},   {"case id", r.case_id()},
      {"from", r.from_agency()},          {"to", r.to_agency()},
      {"service", NeedName(r.service())}, {"status", ShortName("REFERRAL_STATUS_", r.status())},
      {"reason", OrDash(r.reason())},     {"returnee", ReturneeText(r)},
  };
  if (!r.decline_reason().empty()) rows.push_back({"decline reason", r.decline_reason()});
  if (!r.outcome().empty()) rows.push_back({"outcome", r.outcome()});
  rows.push_back({"created at", FormatTimestamp(r.created_at())});
  rows.push_back({"updated at", FormatTimestamp(r.updated_at())});
  rows.push_back({"etag", OrDash(r.etag())});
  PrintDetails(rows);
}

// Prints "<done> referral <ID>" and the referral's details (`done`: "created",
// "accepted", ...).
std::function<void(const v1::Referral&)> PrintReferral(std::string done) {
  return [done = std::move(done)](const v1::Referral& r) {
    std::cout << done << " referral " << r.referral_id() << "\n";
    PrintReferralDetails(r);
  };
}

void PrintReferralTable(const v1::ListReferralsResponse& all) {
  PrintTableOf({"REFERRAL ID", "CASE ID", "FROM", "TO", "SERVICE", "STATUS", "RETURNEE", "UPDATED"},
               all.referrals(), [](const v1::Referral& r) -> TableRow {
                 return {r.referral_id(),
                         r.case_id(),
                         r.from_agency(),
                         r.to_agency(),
                         NeedName(r.service()),
                         ShortName("REFERRAL_STATUS_", r.status()),
                         r.has_returnee() ? absl::StrCat(r.returnee().given_name(), " ",
                                                         r.returnee().family_name())
                                          : "-",
                         FormatTimestamp(r.updated_at())};
               });
}

void PrintInitiativeDetails(const v1::Initiative& i) {
  PrintDetails({
      {"initiative id", i.initiative_id()},
      {"case id", OrDash(i.case_id())},
      {"name", i.name()},
      {"sector", i.sector()},
      {"department", OrDash(i.department_code())},
      {"municipality", OrDash(i.municipality())},
      {"owner", OrDash(i.owner_agency())},
      {"status", ShortName("INITIATIVE_STATUS_", i.status())},
      {"jobs created", absl::StrCat(i.jobs_created())},
      {"woman-led", i.woman_led() ? "yes" : "no"},
      {"disbursed", i.case_id().empty() ? "-" : FormatUsd(i.disbursed_usd_cents())},
      {"registered at", FormatTimestamp(i.registered_at())},
      {"updated at", FormatTimestamp(i.updated_at())},
      {"etag", OrDash(i.etag())},
  });
}

// "1250", "1250.5", "1,250.50" as US cents; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseUsdCents(absl::string_view flag, absl::string_view text) {
  std::string digits;
  for (char ch : text) {
    if (ch != ',') digits.push_back(ch);
  }
  size_t dot = digits.find('.');
  std::string whole = digits.substr(0, dot);
  std::string cents = dot == std::string::npos ? "" : digits.substr(dot + 1);
  int64_t dollars = 0;
  int64_t fraction = 0;
  bool ok = !whole.empty() && whole.size() <= 9 && absl::SimpleAtoi(whole, &dollars) &&
            whole.find_first_not_of("0123456789") == std::string::npos && cents.size() <= 2 &&
            cents.find_first_not_of("0123456789") == std::string::npos &&
            (cents.empty() || absl::SimpleAtoi(cents, &fraction));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": an amount in US dollars such as 1250 or 1250.50, not \"", text, "\""));
  }
  if (cents.size() == 1) fraction *= 10;
  return dollars * 100 + fraction;
}

// A whole number of `flag` from `min` to `max`.
absl::StatusOr<int32_t> ParseCountFlag(absl::string_view flag, absl::string_view text, int32_t min,
                                       int32_t max) {
  int32_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": a whole number from ", min, " to ", max, ", not \"", text, "\""));
  }
  return value;
}

// ---------------------------------------------------------------------------
// enlacectl cases open

std::string CasesOpenUsage() {
  return ServerUsage(
      R"(Open a reintegration case for an arrival (CaseService.OpenCase). Only an
agency named in the returnee's consent for REINTEGRATION may; it becomes the
case's owner. One case per agency and arrival.

Usage: enlacectl cases open ARRIVAL_ID [--summary TEXT] [flags]

Flags:
  --summary TEXT         what the case is about (shared with referral partners)
)",
      R"(
Example:
  enlacectl cases open 01HV6Q3J0R8X2M4W9K7T5B1C3D --summary "Returned with family; seeks work"
)");
}

int RunCasesOpen(const Args& args) {
  static const Leaf leaf = {"enlacectl cases open", CasesOpenUsage(), {"summary"}, {"ARRIVAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::OpenCaseRequest request;
  request.set_arrival_id(call.positional(0));
  request.set_summary(call.flags().Get("summary").value_or(""));
  return CallAndPrint(call, &CaseStub::OpenCase, request, [](const v1::Case& opened) {
    std::cout << "opened case " << opened.case_id() << "\n";
    PrintCaseDetails(opened);
  });
}

// ---------------------------------------------------------------------------
// enlacectl cases get

std::string CasesGetUsage() {
  return ServerUsage(
      R"(Show a case with its services (CaseService.GetCase). The owner sees all of
it; an agency with a referral sees it without the owner-only notes.

Usage: enlacectl cases get CASE_ID [flags]

Flags:
)",
      R"(
Example:
  enlacectl cases get 01HV6R0A8M2N4P6Q8S0T2V4X6Z
)");
}

int RunCasesGet(const Args& args) {
  static const Leaf leaf = {"enlacectl cases get", CasesGetUsage(), {}, {"CASE_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::GetCaseRequest request;
  request.set_case_id(call.positional(0));
  return CallAndPrint(call, &CaseStub::GetCase, request, PrintCaseDetails);
}

// ---------------------------------------------------------------------------
// enlacectl cases list

std::string CasesListUsage() {
  return ServerUsage(
      R"(List the cases you own or see through a referral (CaseService.ListCases).

Usage: enlacectl cases list [flags]

Flags:
  --status STATUS        only open, in-progress or closed cases
  --municipality NAME    only cases in this municipality
)",
      R"(
Table columns: CASE ID, ARRIVAL ID, OWNER, STATUS, MUNICIPALITY, UPDATED,
SUMMARY. The JSON document is a ListCasesResponse with every page's cases.

Example:
  enlacectl cases list --status open --limit 50
)",
      /*list=*/true);
}

int RunCasesList(const Args& args) {
  static const Leaf leaf = {
      "enlacectl cases list", CasesListUsage(), {"status", "municipality"}, {}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::ListCasesRequest request;
  if (std::optional<std::string> text = call.flags().Get("status")) {
    absl::StatusOr<v1::CaseStatus> status =
        ParseEnum<v1::CaseStatus>("CASE_STATUS_", "--status", *text);
    if (!status.ok()) return call.Value(status.status().message());
    request.set_status(*status);
  }
  request.set_municipality(call.flags().Get("municipality").value_or(""));
  return ListAndPrint(call, &CaseStub::ListCases, &v1::ListCasesResponse::mutable_cases, request,
                      PrintCaseTable);
}

// ---------------------------------------------------------------------------
// enlacectl cases update

std::string CasesUpdateUsage() {
  return absl::StrCat(
      Tr(R"(Change a case's status, summary or psychosocial notes (CaseService.UpdateCase;
the owner only). The case is read first and the fields you do not give are
kept; the update is refused (ABORTED) if someone changed the case in between.
With --etag, the update applies only if the case is still at that etag.

Usage: enlacectl cases update CASE_ID [--status STATUS] [--summary TEXT] [--notes TEXT] [flags]

Flags:
  --status STATUS        open, in-progress or closed
  --summary TEXT         the new summary
  --notes TEXT           the new psychosocial notes (owner only; replaces them)
  --etag ETAG            the etag of the case as you last read it
)"),
      OutputHelp(), ConnectionHelp(), Tr(R"(
Example:
  enlacectl cases update 01HV6R0A8M2N4P6Q8S0T2V4X6Z --status in-progress
)"),
      Tr(R"(
Exit status: 0 success; 1 failure, with "enlacectl: <gRPC code>: <message>" on
stderr (ABORTED: the case changed since it was read; read it and retry);
2 usage error; 4 not authenticated; 5 permission denied; 6 not found;
7 unavailable (retry later).
)"));
}

int RunCasesUpdate(const Args& args) {
  static const Leaf leaf = {"enlacectl cases update",
                            CasesUpdateUsage(),
                            {"status", "summary", "notes", "etag"},
                            {"CASE_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  const Flags& flags = call.flags();
  if (!flags.Has("status") && !flags.Has("summary") && !flags.Has("notes")) {
    return call.Usage("nothing to change: give --status, --summary or --notes");
  }
  std::optional<v1::CaseStatus> new_status;
  if (std::optional<std::string> text = flags.Get("status")) {
    absl::StatusOr<v1::CaseStatus> status =
        ParseEnum<v1::CaseStatus>("CASE_STATUS_", "--status", *text);
    if (!status.ok()) return call.Value(status.status().message());
    new_status = *status;
  }
  v1::GetCaseRequest get;
  get.set_case_id(call.positional(0));
  v1::Case current;
  if (absl::Status status = CallUnary(call, &CaseStub::GetCase, get, &current); !status.ok()) {
    return Fail(status);
  }
  v1::UpdateCaseRequest request;
  v1::Case* update = request.mutable_case_();
  update->set_case_id(current.case_id());
  update->set_status(new_status.value_or(current.status()));
  update->set_summary(flags.Get("summary").value_or(current.summary()));
  update->set_psychosocial_notes(flags.Get("notes").value_or(current.psychosocial_notes()));
  request.set_etag(flags.Get("etag").value_or(current.etag()));
  return CallAndPrint(call, &CaseStub::UpdateCase, request, [](const v1::Case& updated) {
    std::cout << "updated case " << updated.case_id() << "\n";
    PrintCaseDetails(updated);
  });
}

// ---------------------------------------------------------------------------
// enlacectl cases access-log

std::string CasesAccessLogUsage() {
  return ServerUsage(
      R"(Who read or changed a case, when, allowed or denied
(CaseService.GetCaseAccessLog; the owner only), from the audit log: the
agency, and the staff member its call named (ACTOR).

Usage: enlacectl cases access-log CASE_ID [flags]

Flags:
)",
      R"(
Example:
  enlacectl cases access-log 01HV6R0A8M2N4P6Q8S0T2V4X6Z
)",
      /*list=*/true);
}

int RunCasesAccessLog(const Args& args) {
  static const Leaf leaf = {
      "enlacectl cases access-log", CasesAccessLogUsage(), {}, {"CASE_ID"}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::GetCaseAccessLogRequest request;
  request.set_case_id(call.positional(0));
  return ListAndPrint(
      call, &CaseStub::GetCaseAccessLog, &v1::GetCaseAccessLogResponse::mutable_entries, request,
      [](const v1::GetCaseAccessLogResponse& all) {
        PrintTableOf({"TIME", "PRINCIPAL", "ACTOR", "METHOD", "DECISION", "STATUS", "AUDIT SEQ"},
                     all.entries(), [](const v1::CaseAccessEntry& e) -> TableRow {
                       return {
                           FormatTimestamp(e.time()),
                           e.principal(),
                           OrDash(e.actor()),
                           e.method(),
                           ShortName("DECISION_", e.decision()),
                           absl::StatusCodeToString(static_cast<absl::StatusCode>(e.status_code())),
                           absl::StrCat(e.audit_sequence())};
                     });
      });
}

// ---------------------------------------------------------------------------
// enlacectl services record

std::string ServicesRecordUsage() {
  return ServerUsage(
      R"(Record a service delivered to the returnee of a case
(CaseService.RecordService): the case's owner, or an agency holding an
accepted referral for that service.

Usage: enlacectl services record CASE_ID --service SERVICE [flags]

Flags:
  --service SERVICE      psychosocial-support, training, seed-capital,
                         protection, health, legal-assistance, employment
  --delivered-on DATE    YYYY-MM-DD, not in the future; default today (UTC)
  --notes TEXT           seen by the case owner and your agency only
Outcomes (required for their service, refused for any other):
  --amount USD           seed-capital: the amount disbursed in US dollars,
                         e.g. 1250 or 1250.50 (seen by the case owner and
                         your agency only)
  --initiative ID        seed-capital: the case's initiative it went to
  --hours H              training: hours attended, in quarter hours (12.5)
  --completed            training: the returnee completed it
)",
      R"(
Example:
  enlacectl services record 01HV6R0A8M2N4P6Q8S0T2V4X6Z --service training \
      --delivered-on 2026-05-01 --hours 40 --completed --notes "Welding course"
  enlacectl services record 01HV6R0A8M2N4P6Q8S0T2V4X6Z --service seed-capital \
      --amount 1250 --initiative 01HV6S2B9N3P5Q7R9T1V3W5Y7A
)");
}

int RunServicesRecord(const Args& args) {
  static const Leaf leaf = {"enlacectl services record",
                            ServicesRecordUsage(),
                            {"service", "delivered-on", "notes", "amount", "initiative", "hours"},
                            {"CASE_ID"},
                            {"completed"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"service"})) return *exit;
  v1::RecordServiceRequest request;
  request.set_case_id(call.positional(0));
  absl::StatusOr<v1::Need> service =
      ParseEnum<v1::Need>("NEED_", "--service", *call.flags().Get("service"));
  if (!service.ok()) return call.Value(service.status().message());
  request.set_service(*service);
  std::string delivered_on =
      call.flags()
          .Get("delivered-on")
          .value_or(absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone())));
  if (absl::Status s = CheckDateFlag("--delivered-on", delivered_on); !s.ok()) {
    return call.Value(s.message());
  }
  request.set_delivered_on(delivered_on);
  request.set_notes(call.flags().Get("notes").value_or(""));
  if (std::optional<std::string> amount = call.flags().Get("amount")) {
    absl::StatusOr<int64_t> cents = ParseUsdCents("--amount", *amount);
    if (!cents.ok()) return call.Value(cents.status().message());
    request.set_amount_usd_cents(*cents);
  }
  request.set_initiative_id(call.flags().Get("initiative").value_or(""));
  if (std::optional<std::string> hours = call.flags().Get("hours")) {
    double value = 0;
    if (!absl::SimpleAtod(*hours, &value)) {
      return call.Value(
          absl::StrCat("--hours: a number of hours such as 40 or 12.5, not \"", *hours, "\""));
    }
    request.set_training_hours(value);
  }
  request.set_training_completed(call.flags().GetBool("completed"));
  return CallAndPrint(call, &CaseStub::RecordService, request, [](const v1::ServiceRecord& record) {
    std::cout << "recorded service " << record.service_id() << "\n";
    PrintDetails({
        {"service id", record.service_id()},
        {"case id", record.case_id()},
        {"service", NeedName(record.service())},
        {"delivered on", record.delivered_on()},
        {"outcome", OutcomeText(record)},
        {"notes", OrDash(record.notes())},
        {"recorded by", OrDash(record.recorded_by())},
        {"recorded at", FormatTimestamp(record.recorded_at())},
    });
  });
}

// ---------------------------------------------------------------------------
// enlacectl initiatives register

std::string InitiativesRegisterUsage() {
  return ServerUsage(
      R"(Register an economic initiative of a case's returnee
(CaseService.RegisterInitiative; the case's owner). The programme's target
is 70 initiatives.

Usage: enlacectl initiatives register CASE_ID --name NAME --sector SECTOR [flags]

Flags:
  --name NAME            the initiative's name, e.g. "Pupusería La Esperanza"
  --sector SECTOR        e.g. food, agriculture, retail
  --municipality NAME    where; default the case's municipality
  --status STATUS        planned (default), active or closed
  --jobs N               jobs created besides the returnee's own (0 to 10000)
  --woman-led            a woman leads it
Seed capital is recorded as a service: enlacectl services record CASE_ID
--service seed-capital --amount USD --initiative INITIATIVE_ID.
)",
      R"(
Example:
  enlacectl initiatives register 01HV6R0A8M2N4P6Q8S0T2V4X6Z --name "Taller Díaz" --sector repair \
      --woman-led
)");
}

int RunInitiativesRegister(const Args& args) {
  static const Leaf leaf = {"enlacectl initiatives register",
                            InitiativesRegisterUsage(),
                            {"name", "sector", "municipality", "status", "jobs"},
                            {"CASE_ID"},
                            {"woman-led"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"name", "sector"})) return *exit;
  v1::RegisterInitiativeRequest request;
  request.set_case_id(call.positional(0));
  request.set_name(*call.flags().Get("name"));
  request.set_sector(*call.flags().Get("sector"));
  request.set_municipality(call.flags().Get("municipality").value_or(""));
  if (std::optional<std::string> status = call.flags().Get("status")) {
    absl::StatusOr<v1::InitiativeStatus> parsed =
        ParseEnum<v1::InitiativeStatus>("INITIATIVE_STATUS_", "--status", *status);
    if (!parsed.ok()) return call.Value(parsed.status().message());
    request.set_status(*parsed);
  }
  if (std::optional<std::string> jobs = call.flags().Get("jobs")) {
    absl::StatusOr<int32_t> parsed = ParseCountFlag("--jobs", *jobs, 0, 10000);
    if (!parsed.ok()) return call.Value(parsed.status().message());
    request.set_jobs_created(*parsed);
  }
  request.set_woman_led(call.flags().GetBool("woman-led"));
  return CallAndPrint(call, &CaseStub::RegisterInitiative, request,
                      [](const v1::Initiative& initiative) {
                        std::cout << "registered initiative " << initiative.initiative_id() << "\n";
                        PrintInitiativeDetails(initiative);
                      });
}

// ---------------------------------------------------------------------------
// enlacectl initiatives update

std::string InitiativesUpdateUsage() {
  return ServerUsage(
      R"(Update an economic initiative's outcomes (CaseService.UpdateInitiative; its
owner): status, jobs created, woman-led. Flags left out keep their value; the
initiative is read first for its current values and etag.

Usage: enlacectl initiatives update INITIATIVE_ID [flags]

Flags:
  --status STATUS        planned, active or closed
  --jobs N               jobs created besides the returnee's own (0 to 10000)
  --woman-led true|false whether a woman leads it
  --etag ETAG            fail with ABORTED if it changed since read (default:
                         the etag just read)
)",
      R"(
Example:
  enlacectl initiatives update 01HV6S2B9N3P5Q7R9T1V3W5Y7A --status active --jobs 3
)");
}

// The initiative `initiative_id` as the caller sees it, by paging through
// ListInitiatives (there is no GetInitiative); NOT_FOUND when not listed.
absl::StatusOr<v1::Initiative> FindInitiative(Invocation& call, const std::string& initiative_id) {
  v1::ListInitiativesRequest request;
  request.set_page_size(500);
  absl::StatusOr<std::unique_ptr<CaseStub>> stub = NewStub<CaseStub>(call);
  if (!stub.ok()) return stub.status();
  while (true) {
    v1::ListInitiativesResponse page;
    std::unique_ptr<grpc::ClientContext> context = call.Context();
    grpc::Status status = (*stub)->ListInitiatives(context.get(), request, &page);
    if (!status.ok()) return FromGrpc(status);
    for (const v1::Initiative& i : page.initiatives()) {
      if (i.initiative_id() == initiative_id) return i;
    }
    if (page.next_page_token().empty()) {
      return absl::NotFoundError(absl::StrCat("initiative ", initiative_id, " not found"));
    }
    request.set_page_token(page.next_page_token());
  }
}

int RunInitiativesUpdate(const Args& args) {
  static const Leaf leaf = {"enlacectl initiatives update",
                            InitiativesUpdateUsage(),
                            {"status", "jobs", "woman-led", "etag"},
                            {"INITIATIVE_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::UpdateInitiativeRequest request;
  v1::Initiative* update = request.mutable_initiative();
  if (std::optional<std::string> status = call.flags().Get("status")) {
    absl::StatusOr<v1::InitiativeStatus> parsed =
        ParseEnum<v1::InitiativeStatus>("INITIATIVE_STATUS_", "--status", *status);
    if (!parsed.ok()) return call.Value(parsed.status().message());
    update->set_status(*parsed);
  }
  std::optional<int32_t> jobs;
  if (std::optional<std::string> text = call.flags().Get("jobs")) {
    absl::StatusOr<int32_t> parsed = ParseCountFlag("--jobs", *text, 0, 10000);
    if (!parsed.ok()) return call.Value(parsed.status().message());
    jobs = *parsed;
  }
  std::optional<bool> woman_led;
  if (std::optional<std::string> text = call.flags().Get("woman-led")) {
    if (*text != "true" && *text != "false") {
      return call.Value(absl::StrCat("--woman-led: true or false, not \"", *text, "\""));
    }
    woman_led = *text == "true";
  }
  absl::StatusOr<v1::Initiative> current = FindInitiative(call, call.positional(0));
  if (!current.ok()) return Fail(current.status());
  update->set_initiative_id(current->initiative_id());
  if (update->status() == v1::INITIATIVE_STATUS_UNSPECIFIED) update->set_status(current->status());
  update->set_jobs_created(jobs.value_or(current->jobs_created()));
  update->set_woman_led(woman_led.value_or(current->woman_led()));
  request.set_etag(call.flags().Get("etag").value_or(current->etag()));
  return CallAndPrint(call, &CaseStub::UpdateInitiative, request,
                      [](const v1::Initiative& initiative) {
                        std::cout << "updated initiative " << initiative.initiative_id() << "\n";
                        PrintInitiativeDetails(initiative);
                      });
}

// ---------------------------------------------------------------------------
// enlacectl initiatives list

std::string InitiativesListUsage() {
  return ServerUsage(
      R"(List economic initiatives (CaseService.ListInitiatives; any agency): names
and places, no personal data; with the total against the programme's target.

Usage: enlacectl initiatives list [flags]

Flags:
  --municipality NAME    only this municipality
)",
      R"(
The JSON document is a ListInitiativesResponse with every page's initiatives,
totalCount and target.

Example:
  enlacectl initiatives list --municipality Guazapa
)",
      /*list=*/true);
}

int RunInitiativesList(const Args& args) {
  static const Leaf leaf = {
      "enlacectl initiatives list", InitiativesListUsage(), {"municipality"}, {}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::ListInitiativesRequest request;
  request.set_municipality(call.flags().Get("municipality").value_or(""));
  v1::ListInitiativesResponse all;
  v1::ListInitiativesResponse last;
  absl::Status status = PageThrough(call, &CaseStub::ListInitiatives,
                                    &v1::ListInitiativesResponse::mutable_initiatives, request,
                                    call.limit(), call.page_token(), all.mutable_initiatives(),
                                    all.mutable_next_page_token(), &last);
  if (!status.ok()) return Fail(status);
  all.set_total_count(last.total_count());
  all.set_target(last.target());
  if (call.json()) return PrintJson(all);
  PrintTableOf({"INITIATIVE ID", "NAME", "SECTOR", "MUNICIPALITY", "DEPT", "OWNER", "STATUS",
                "JOBS", "WOMAN-LED", "REGISTERED"},
               all.initiatives(), [](const v1::Initiative& i) -> TableRow {
                 return {i.initiative_id(),
                         i.name(),
                         i.sector(),
                         OrDash(i.municipality()),
                         OrDash(i.department_code()),
                         OrDash(i.owner_agency()),
                         ShortName("INITIATIVE_STATUS_", i.status()),
                         absl::StrCat(i.jobs_created()),
                         i.woman_led() ? "yes" : "no",
                         FormatTimestamp(i.registered_at())};
               });
  std::cout << "\n" << all.total_count() << " initiatives of a target of " << all.target() << "\n";
  PrintMoreHint(leaf.path, all.next_page_token());
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl referrals create

std::string ReferralsCreateUsage() {
  return ServerUsage(
      R"(Refer a case to another agency for a service (ReferralService.CreateReferral;
the case's owner). The returnee's consent must name that agency. The referral
starts PENDING; the receiver accepts or declines it.

Usage: enlacectl referrals create CASE_ID --to AGENCY --service SERVICE --reason TEXT [flags]

Flags:
  --to AGENCY            the receiving agency's code, e.g. undp
  --service SERVICE      psychosocial-support, training, seed-capital,
                         protection, health, legal-assistance, employment
  --reason TEXT          why (the receiver reads it)
)",
      R"(
Example:
  enlacectl referrals create 01HV6R0A8M2N4P6Q8S0T2V4X6Z --to undp --service seed-capital --reason "Business plan ready for a bakery"
)");
}

int RunReferralsCreate(const Args& args) {
  static const Leaf leaf = {"enlacectl referrals create",
                            ReferralsCreateUsage(),
                            {"to", "service", "reason"},
                            {"CASE_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"to", "service", "reason"})) return *exit;
  v1::CreateReferralRequest request;
  request.set_case_id(call.positional(0));
  request.set_to_agency(*call.flags().Get("to"));
  absl::StatusOr<v1::Need> service =
      ParseEnum<v1::Need>("NEED_", "--service", *call.flags().Get("service"));
  if (!service.ok()) return call.Value(service.status().message());
  request.set_service(*service);
  request.set_reason(*call.flags().Get("reason"));
  return CallAndPrint(call, &ReferralStub::CreateReferral, request, PrintReferral("created"));
}

// ---------------------------------------------------------------------------
// enlacectl referrals get

std::string ReferralsGetUsage() {
  return ServerUsage(
      R"(Show a referral (ReferralService.GetReferral; its sender and receiver), with
the minimal summary of the returnee while their consent names you.

Usage: enlacectl referrals get REFERRAL_ID [flags]

Flags:
)",
      R"(
Example:
  enlacectl referrals get 01HV6S5C2D4F6G8H0J2K4M6N8P
)");
}

int RunReferralsGet(const Args& args) {
  static const Leaf leaf = {"enlacectl referrals get", ReferralsGetUsage(), {}, {"REFERRAL_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::GetReferralRequest request;
  request.set_referral_id(call.positional(0));
  return CallAndPrint(call, &ReferralStub::GetReferral, request, PrintReferralDetails);
}

// ---------------------------------------------------------------------------
// enlacectl referrals list

std::string ReferralsListUsage() {
  return absl::StrCat(Tr(R"(List referrals you received (inbox) or sent (outbox)
(ReferralService.ListReferrals).

Usage: enlacectl referrals list [--box inbox|outbox|all] [--status LIST] [flags]

Flags:
  --box inbox|outbox|all all (default): the inbox, then the outbox
  --status LIST          comma-separated: pending, accepted, declined,
                         completed, withdrawn; default any
)"),
                      ListHelp(),
                      Tr(R"(                         (--page-token needs --box inbox or outbox)
)"),
                      OutputHelp(), ConnectionHelp(), Tr(R"(
Table columns: REFERRAL ID, CASE ID, FROM, TO, SERVICE, STATUS, RETURNEE,
UPDATED. The JSON document is a ListReferralsResponse with every page's
referrals.

Example:
  enlacectl referrals list --box inbox --status pending
)"),
                      ExitHelp());
}

int RunReferralsList(const Args& args) {
  static const Leaf leaf = {
      "enlacectl referrals list", ReferralsListUsage(), {"box", "status"}, {}, {}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  std::vector<v1::Box> boxes;
  const std::string box = call.flags().Get("box").value_or("all");
  if (box == "inbox") {
    boxes = {v1::BOX_INBOX};
  } else if (box == "outbox") {
    boxes = {v1::BOX_OUTBOX};
  } else if (box == "all") {
    boxes = {v1::BOX_INBOX, v1::BOX_OUTBOX};
    if (!call.page_token().empty()) {
      return call.Usage("--page-token needs --box inbox or --box outbox");
    }
  } else {
    return call.Value(absl::StrCat("--box must be inbox, outbox or all, not \"", box, "\""));
  }
  v1::ListReferralsRequest request;
  if (std::optional<std::vector<std::string>> statuses = call.flags().GetList("status")) {
    for (const std::string& text : *statuses) {
      absl::StatusOr<v1::ReferralStatus> status =
          ParseEnum<v1::ReferralStatus>("REFERRAL_STATUS_", "--status", text);
      if (!status.ok()) return call.Value(status.status().message());
      request.add_statuses(*status);
    }
  }
  v1::ListReferralsResponse all;
  for (v1::Box b : boxes) {
    int limit = call.limit();
    if (limit > 0) {
      limit -= all.referrals_size();
      if (limit <= 0) break;
    }
    request.set_box(b);
    std::string next;
    absl::Status status = PageThrough(call, &ReferralStub::ListReferrals,
                                      &v1::ListReferralsResponse::mutable_referrals, request, limit,
                                      call.page_token(), all.mutable_referrals(), &next);
    if (!status.ok()) return Fail(status);
    if (boxes.size() == 1) all.set_next_page_token(next);
  }
  return PrintResponse(call, all, [&](const v1::ListReferralsResponse& listed) {
    PrintReferralTable(listed);
    PrintMoreHint(leaf.path, listed.next_page_token());
  });
}

// ---------------------------------------------------------------------------
// enlacectl referrals accept|decline|complete|withdraw

struct Transition {
  const char* verb;  // "accept"
  const char* past;  // "accepted"
  const char* text_flag;  // "reason", "outcome" or nullptr
  const char* summary;
  const char* example;
};

std::string TransitionUsage(const Transition& t) {
  return absl::StrCat(
      Tr(t.summary), "\n\n", Tr("Usage:"), " enlacectl referrals ", t.verb, " REFERRAL_ID",
      t.text_flag != nullptr ? absl::StrCat(" --", t.text_flag, " TEXT") : "", Tr(" [flags]"),
      "\n\n", Tr("Flags:"), "\n",
      t.text_flag != nullptr ? absl::StrCat("  --", t.text_flag, " TEXT",
                                            std::string(15 - std::string(t.text_flag).size(), ' '),
                                            Tr("required; the sender reads it"), "\n")
                             : "",
      Tr("  --etag ETAG            apply only if the referral is still at this etag\n"
         "                         (ABORTED otherwise)\n"),
      OutputHelp(), ConnectionHelp(), "\n", Tr("Example:"), "\n  ", t.example, "\n", Tr(R"(
Exit status: 0 success; 1 failure, with "enlacectl: <gRPC code>: <message>" on
stderr (FAILED_PRECONDITION: the referral's status does not allow this move);
2 usage error; 4 not authenticated; 5 permission denied; 6 not found;
7 unavailable (retry later).
)"));
}

int RunTransition(const Transition& t, const Leaf& leaf, const Args& args) {
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  std::string text;
  if (t.text_flag != nullptr) {
    if (std::optional<int> exit = call.Require({t.text_flag})) return *exit;
    text = *call.flags().Get(t.text_flag);
  }
  const std::string id = call.positional(0);
  const std::string etag = call.flags().Get("etag").value_or("");
  const auto print = PrintReferral(t.past);
  const std::string verb = t.verb;
  if (verb == "accept") {
    v1::AcceptReferralRequest request;
    request.set_referral_id(id);
    request.set_etag(etag);
    return CallAndPrint(call, &ReferralStub::AcceptReferral, request, print);
  }
  if (verb == "decline") {
    v1::DeclineReferralRequest request;
    request.set_referral_id(id);
    request.set_reason(text);
    request.set_etag(etag);
    return CallAndPrint(call, &ReferralStub::DeclineReferral, request, print);
  }
  if (verb == "complete") {
    v1::CompleteReferralRequest request;
    request.set_referral_id(id);
    request.set_outcome(text);
    request.set_etag(etag);
    return CallAndPrint(call, &ReferralStub::CompleteReferral, request, print);
  }
  v1::WithdrawReferralRequest request;
  request.set_referral_id(id);
  request.set_etag(etag);
  return CallAndPrint(call, &ReferralStub::WithdrawReferral, request, print);
}

const Transition kAccept = {
    "accept", "accepted", nullptr,
    "Accept a referral addressed to you (ReferralService.AcceptReferral; the\n"
    "receiver): PENDING -> ACCEPTED. You may then record the service.",
    "enlacectl referrals accept 01HV6S5C2D4F6G8H0J2K4M6N8P"};
const Transition kDecline = {
    "decline", "declined", "reason",
    "Decline a referral addressed to you (ReferralService.DeclineReferral; the\n"
    "receiver): PENDING -> DECLINED.",
    "enlacectl referrals decline 01HV6S5C2D4F6G8H0J2K4M6N8P --reason \"No capacity this quarter\""};
const Transition kComplete = {
    "complete", "completed", "outcome",
    "Report the outcome of an accepted referral (ReferralService.CompleteReferral;\n"
    "the receiver): ACCEPTED -> COMPLETED.",
    "enlacectl referrals complete 01HV6S5C2D4F6G8H0J2K4M6N8P --outcome \"Seed capital disbursed\""};
const Transition kWithdraw = {
    "withdraw", "withdrew", nullptr,
    "Withdraw a referral you sent (ReferralService.WithdrawReferral; the sender):\n"
    "PENDING or ACCEPTED -> WITHDRAWN.",
    "enlacectl referrals withdraw 01HV6S5C2D4F6G8H0J2K4M6N8P"};

Leaf TransitionLeaf(const Transition& t) {
  std::vector<std::string> flags = {"etag"};
  if (t.text_flag != nullptr) flags.emplace_back(t.text_flag);
  return Leaf{
      absl::StrCat("enlacectl referrals ", t.verb), TransitionUsage(t), flags, {"REFERRAL_ID"}};
}

int RunReferralsAccept(const Args& args) {
  static const Leaf leaf = TransitionLeaf(kAccept);
  return RunTransition(kAccept, leaf, args);
}
int RunReferralsDecline(const Args& args) {
  static const Leaf leaf = TransitionLeaf(kDecline);
  return RunTransition(kDecline, leaf, args);
}
int RunReferralsComplete(const Args& args) {
  static const Leaf leaf = TransitionLeaf(kComplete);
  return RunTransition(kComplete, leaf, args);
}
int RunReferralsWithdraw(const Args& args) {
  static const Leaf leaf = TransitionLeaf(kWithdraw);
  return RunTransition(kWithdraw, leaf, args);
}

// ---------------------------------------------------------------------------
// enlacectl referrals watch

std::string ReferralsWatchUsage() {
  return absl::StrCat(
      Tr(R"(Print every change to the referrals you send or receive, in commit order
(ReferralService.WatchReferrals), one line per event. Each event carries a
resume token: give the last one to --resume-token to continue after it, with
nothing lost or repeated (across reconnections and server restarts).

Without --follow, prints the events after --resume-token (or, without a
token, those that happen in the next moment) and exits once none has come for
--idle; then "resume with: --resume-token T" on stderr names where to go on
(the start of the watch when no event came). With --follow, says "watching
from --resume-token T" on stderr and runs until interrupted, reconnecting from
the last token when the connection drops or the server restarts.

Usage: enlacectl referrals watch [--resume-token TOKEN] [--follow] [flags]

Flags:
  --resume-token TOKEN   continue after the event that carried TOKEN; default:
                         from now on
  --follow               keep watching (until Ctrl-C)
  --idle DURATION        without --follow: stop when no event came for this
                         long; default 2s
)"),
      OutputHelp(),
      Tr(R"(                         (json: one ReferralEvent object per line, with its
                         resumeToken; yaml: one document per event; csv: one
                         row per event, after a header)
)"),
      ConnectionHelp(), Tr(R"TXT(  (--timeout does not apply: a watch has no deadline)

Table lines: COMMITTED-AT  EVENT  REFERRAL-ID  FROM -> TO  SERVICE  STATUS  TOKEN

Example:
  enlacectl referrals watch --follow --output json >> events.jsonl
  enlacectl referrals watch --resume-token "$(tail -1 events.jsonl | jq -r .resumeToken)"
)TXT"),
      ExitHelp());
}

// The initial metadata in which the server names where a watch starts.
constexpr char kStartTokenKey[] = "enlace-resume-token";

std::string EventLine(const v1::ReferralEvent& e) {
  const v1::Referral& r = e.referral();
  return absl::StrCat(FormatTimestamp(e.committed_at()), "  ",
                      ShortName("REFERRAL_EVENT_TYPE_", e.type()), "  ", r.referral_id(), "  ",
                      r.from_agency(), " -> ", r.to_agency(), "  ", NeedName(r.service()), "  ",
                      ShortName("REFERRAL_STATUS_", r.status()), "  ", e.resume_token());
}

// Cancels a call when no event came for `idle`.
class IdleWatchdog {
 public:
  IdleWatchdog(grpc::ClientContext* context, absl::Duration idle)
      : context_(context), idle_(absl::ToChronoMilliseconds(idle)) {
    last_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        const auto deadline = last_ + idle_;
        if (cv_.wait_until(lock, deadline, [this] { return stop_; })) return;
        if (std::chrono::steady_clock::now() >= last_ + idle_) {
          fired_ = true;
          context_->TryCancel();
          return;
        }
      }
    });
  }
  ~IdleWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Touch() {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = std::chrono::steady_clock::now();
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  grpc::ClientContext* const context_;
  const std::chrono::milliseconds idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point last_;
  bool stop_ = false;
  bool fired_ = false;
  std::thread thread_;
};

int RunReferralsWatch(const Args& args) {
  static const Leaf leaf = {
      "enlacectl referrals watch", ReferralsWatchUsage(), {"resume-token", "idle"}, {}, {"follow"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  const bool follow = call.flags().GetBool("follow");
  absl::Duration idle = absl::Seconds(2);
  if (std::optional<std::string> text = call.flags().Get("idle")) {
    if (follow) return call.Usage("--idle has no meaning with --follow");
    if (!absl::ParseDuration(*text, &idle) || idle <= absl::ZeroDuration() ||
        idle == absl::InfiniteDuration()) {
      return call.Value(
          absl::StrCat("--idle must be a positive duration like 2s, not \"", *text, "\""));
    }
  }
  std::string token = call.flags().Get("resume-token").value_or("");
  absl::StatusOr<std::unique_ptr<ReferralStub>> stub = NewStub<ReferralStub>(call);
  if (!stub.ok()) return Fail(stub.status());
  absl::Duration backoff = absl::Seconds(1);
  for (;;) {
    grpc::ClientContext context;  // no deadline: a watch lasts
    v1::WatchReferralsRequest request;
    request.set_resume_token(token);
    std::unique_ptr<grpc::ClientReader<v1::ReferralEvent>> reader =
        (*stub)->WatchReferrals(&context, request);
    std::optional<IdleWatchdog> watchdog;
    if (!follow) watchdog.emplace(&context, idle);
    // The server names the position the watch starts from at once (initial
    // metadata "enlace-resume-token"): saved, nothing after it can be missed,
    // even when no event comes before the watch ends.
    reader->WaitForInitialMetadata();
    const auto& metadata = context.GetServerInitialMetadata();
    if (auto it = metadata.find(kStartTokenKey); it != metadata.end()) {
      token = std::string(it->second.data(), it->second.size());
      if (follow) std::cerr << "watching from --resume-token " << token << "\n" << std::flush;
    }
    v1::ReferralEvent event;
    bool got_any = false;
    while (reader->Read(&event)) {
      if (watchdog) watchdog->Touch();
      got_any = true;
      token = event.resume_token();
      std::cout << (call.json() ? StreamRecord(event) : absl::StrCat(EventLine(event), "\n"))
                << std::flush;
    }
    const bool idled = watchdog.has_value() && watchdog->fired();
    watchdog.reset();
    absl::Status status = FromGrpc(reader->Finish());
    if (idled) {
      if (!token.empty()) std::cerr << "resume with: --resume-token " << token << "\n";
      return kExitOk;
    }
    // With --follow, a dropped connection or a stream the server ended (it
    // does on shutdown) is resumed from the last token; anything else (a
    // revoked certificate, a bad token) ends the watch.
    if (!follow || !(absl::IsUnavailable(status) || absl::IsCancelled(status))) {
      if (status.ok()) return kExitOk;
      return Fail(status);
    }
    if (got_any) backoff = absl::Seconds(1);
    std::cerr << "enlacectl: " << absl::StatusCodeToString(status.code()) << ": "
              << status.message() << "; reconnecting in " << absl::FormatDuration(backoff)
              << (token.empty() ? "" : " from the last resume token") << "\n";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
}

}  // namespace

int RunCases(const Args& args) {
  static const auto* group = new Group{
      "enlacectl cases",
      "Reintegration cases: an agency named in a returnee's consent opens one and\n"
      "owns it; others see it only through a referral.",
      {
          {"open", "open a case for an arrival (agency named in the consent)", &RunCasesOpen},
          {"get", "show a case and its services", &RunCasesGet},
          {"list", "list your cases", &RunCasesList},
          {"update", "change a case's status, summary or notes (owner)", &RunCasesUpdate},
          {"access-log", "who read or changed a case (owner)", &RunCasesAccessLog},
      },
      "enlacectl cases open ARRIVAL_ID --summary \"Seeks work\""};
  return RunGroup(*group, args);
}

int RunServices(const Args& args) {
  static const auto* group =
      new Group{"enlacectl services",
                "Services delivered to returnees, recorded on their case.",
                {
                    {"record", "record a service delivered for a case", &RunServicesRecord},
                },
                "enlacectl services record CASE_ID --service training"};
  return RunGroup(*group, args);
}

int RunInitiatives(const Args& args) {
  static const auto* group = new Group{
      "enlacectl initiatives",
      "Economic initiatives of returnees (the programme's target is 70).",
      {
          {"register", "register a returnee's economic initiative (case owner)",
           &RunInitiativesRegister},
          {"update", "update an initiative's status, jobs created, woman-led (its owner)",
           &RunInitiativesUpdate},
          {"list", "list initiatives, with the total against the target", &RunInitiativesList},
      },
      "enlacectl initiatives register CASE_ID --name \"Taller Díaz\" --sector repair\n"
      "enlacectl initiatives update INITIATIVE_ID --status active --jobs 3"};
  return RunGroup(*group, args);
}

int RunReferrals(const Args& args) {
  static const auto* group = new Group{
      "enlacectl referrals",
      "Referrals of cases between agencies: PENDING -> ACCEPTED | DECLINED |\n"
      "WITHDRAWN; ACCEPTED -> COMPLETED | WITHDRAWN.",
      {
          {"create", "refer a case to another agency (case owner)", &RunReferralsCreate},
          {"get", "show a referral", &RunReferralsGet},
          {"list", "list your inbox and outbox", &RunReferralsList},
          {"accept", "accept a referral (receiver)", &RunReferralsAccept},
          {"decline", "decline a referral, with a reason (receiver)", &RunReferralsDecline},
          {"complete", "report the outcome of an accepted referral (receiver)",
           &RunReferralsComplete},
          {"withdraw", "withdraw a referral (sender)", &RunReferralsWithdraw},
          {"watch", "stream changes to your referrals, resumable", &RunReferralsWatch},
      },
      "enlacectl referrals create CASE_ID --to undp --service seed-capital --reason \"...\"\n"
      "enlacectl referrals list --box inbox --status pending"};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
