// enlacectl agreements: the data-sharing agreements under which records flow
// between two organisations (AdminService.RegisterSharingAgreement,
// ListSharingAgreements, EndSharingAgreement). Administrators only.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "enlace/v1/admin.grpc.pb.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;

using AdminStub = v1::AdminService::Stub;

std::string AgreementPurposes(const v1::SharingAgreement& agreement) {
  std::vector<std::string> names;
  for (int purpose : agreement.purposes()) {
    names.push_back(ShortName("PURPOSE_", static_cast<v1::Purpose>(purpose)));
  }
  return absl::StrJoin(names, ",");
}

void PrintAgreement(const v1::SharingAgreement& a) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"agreement id", a.agreement_id()},
      {"parties", absl::StrJoin(a.parties(), " and ")},
      {"purposes", AgreementPurposes(a)},
      {"valid", absl::StrCat(a.valid_from(), " to ", a.valid_until())},
      {"status", ShortName("SHARING_AGREEMENT_STATUS_", a.status())},
      {"reference", a.reference()},
      {"registered",
       absl::StrCat(FormatTimestamp(a.registered_at()), " by ", OrDash(a.registered_by()))},
  };
  if (a.has_ended_at()) {
    rows.push_back({"ended", absl::StrCat(FormatTimestamp(a.ended_at()), " by ", a.ended_by(), ": ",
                                          a.end_reason())});
  }
  PrintDetails(rows);
}

// ---------------------------------------------------------------------------
// enlacectl agreements register

std::string AgreementsRegisterUsage() {
  return ServerUsage(
      R"(Register a data-sharing agreement between two organisations
(AdminService.RegisterSharingAgreement). Records flow between them (a consent
naming one, a referral between them) only while an agreement in force covers
the purpose. Registering one for a pair whose agreement ended or expired
starts the flow again. Administrators only.

Usage: enlacectl agreements register PARTY PARTY --purposes LIST --from DAY --until DAY --reference TEXT [flags]

  PARTY                  an agency code (the ministry is mfa)
Flags:
  --purposes LIST        comma-separated: reintegration, protection, statistics
  --from DAY             first day in force, YYYY-MM-DD (UTC)
  --until DAY            last day in force, YYYY-MM-DD (UTC)
  --reference TEXT       the signed document it records (at most 200 characters)
)",
      R"(
Example:
  enlacectl agreements register mfa undp --purposes reintegration,protection \
      --from 2027-01-01 --until 2028-12-31 --reference "MRREE-PNUD protocol 2027/3"
)");
}

int RunAgreementsRegister(const Args& args) {
  static const Leaf leaf = {"enlacectl agreements register",
                            AgreementsRegisterUsage(),
                            {"purposes", "from", "until", "reference"},
                            {"PARTY", "PARTY"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"purposes", "from", "until", "reference"});
      !s.ok()) {
    return call.Usage(s.message());
  }
  v1::RegisterSharingAgreementRequest request;
  request.add_parties(call.positional(0));
  request.add_parties(call.positional(1));
  const std::vector<std::string> purposes = *call.flags().GetList("purposes");
  for (const std::string& text : purposes) {
    absl::StatusOr<v1::Purpose> purpose = ParseEnum<v1::Purpose>("PURPOSE_", "--purposes", text);
    if (!purpose.ok()) return call.Value(purpose.status().message());
    request.add_purposes(*purpose);
  }
  request.set_valid_from(*call.flags().Get("from"));
  request.set_valid_until(*call.flags().Get("until"));
  request.set_reference(*call.flags().Get("reference"));
  return CallAndPrint(call, &AdminStub::RegisterSharingAgreement, request,
                      [](const v1::SharingAgreement& agreement) {
                        std::cout << "registered the agreement " << agreement.agreement_id()
                                  << "\n";
                        PrintAgreement(agreement);
                      });
}

// ---------------------------------------------------------------------------
// enlacectl agreements list

std::string AgreementsListUsage() {
  return ServerUsage(
      R"(List the data-sharing agreements (AdminService.ListSharingAgreements),
oldest registered first. Administrators only.

Usage: enlacectl agreements list [flags]

Flags:
  --party CODE           only those this organisation is a party to
  --in-force             only those in force today (UTC)
)",
      R"(
Table columns: AGREEMENT ID, PARTIES, PURPOSES, FROM, UNTIL, STATUS, REFERENCE.

Example:
  enlacectl agreements list --party undp --in-force
)",
      /*list=*/true);
}

int RunAgreementsList(const Args& args) {
  static const Leaf leaf = {
      "enlacectl agreements list", AgreementsListUsage(), {"party"}, {}, {"in-force"}, true};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  v1::ListSharingAgreementsRequest request;
  request.set_party(call.flags().Get("party").value_or(""));
  request.set_in_force_only(call.flags().GetBool("in-force"));
  return ListAndPrint(
      call, &AdminStub::ListSharingAgreements,
      &v1::ListSharingAgreementsResponse::mutable_agreements, request,
      [](const v1::ListSharingAgreementsResponse& all) {
        PrintTableOf(
            {"AGREEMENT ID", "PARTIES", "PURPOSES", "FROM", "UNTIL", "STATUS", "REFERENCE"},
            all.agreements(), [](const v1::SharingAgreement& a) -> TableRow {
              return {a.agreement_id(),     absl::StrJoin(a.parties(), "+"),
                      AgreementPurposes(a), a.valid_from(),
                      a.valid_until(),      ShortName("SHARING_AGREEMENT_STATUS_", a.status()),
                      a.reference()};
            });
      });
}

// ---------------------------------------------------------------------------
// enlacectl agreements end

std::string AgreementsEndUsage() {
  return ServerUsage(
      R"(End a data-sharing agreement from now on (AdminService.EndSharingAgreement).
The flows it allowed stop at once (reads, referrals, open feeds of both
parties); nothing is deleted. Administrators only.

Usage: enlacectl agreements end AGREEMENT_ID --reason TEXT [flags]

Flags:
  --reason TEXT          why it ends (at most 500 characters)
)",
      R"(
Example:
  enlacectl agreements end 3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7 --reason "Superseded by 2027/3"
)");
}

int RunAgreementsEnd(const Args& args) {
  static const Leaf leaf = {
      "enlacectl agreements end", AgreementsEndUsage(), {"reason"}, {"AGREEMENT_ID"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (absl::Status s = RequireFlags(call.flags(), {"reason"}); !s.ok()) {
    return call.Usage(s.message());
  }
  v1::EndSharingAgreementRequest request;
  request.set_agreement_id(call.positional(0));
  request.set_reason(*call.flags().Get("reason"));
  return CallAndPrint(call, &AdminStub::EndSharingAgreement, request,
                      [](const v1::SharingAgreement& agreement) {
                        std::cout << "ended the agreement " << agreement.agreement_id() << "\n";
                        PrintAgreement(agreement);
                      });
}

}  // namespace

int RunAgreements(const Args& args) {
  static const auto* group =
      new Group{"enlacectl agreements",
                "Data-sharing agreements: records flow between two organisations only\n"
                "under one in force that covers the purpose.",
                {
                    {"register", "register an agreement between two organisations (admin)",
                     &RunAgreementsRegister},
                    {"list", "list the agreements (admin)", &RunAgreementsList},
                    {"end", "end an agreement from now on (admin)", &RunAgreementsEnd},
                },
                "enlacectl agreements list --in-force"};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
