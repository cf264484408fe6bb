// enlacectl: the command-line tool of every Enlace persona. Commands nest
// ("enlacectl cases open"); each leaf command parses its own flags, so a
// command added later brings its own flag set without touching the others.
// The shared machinery (command tree, flags, connection, output, exit codes)
// is in clients/cli/cli.h; each group of commands in clients/cli/cmd_*.cc.
//
//   enlacectl pki init --dir ./dev-pki            # CA, server and client certs
//   enlacectl context add ministry --addr enlace.example.org:7443 --ca pki/ca.crt
//       --cert pki/mfa.crt --key pki/mfa.key --actor mre-0042      # once
//   enlacectl arrivals push arrivals.csv --rejects rejects.csv     # the ministry
//   enlacectl cases open ARRIVAL_ID --summary "..."                # an agency
//   enlacectl referrals create CASE_ID --to undp --service training --reason "..."
//   enlacectl -o yaml referrals watch --follow
//   enlacectl report --from 2026-01-01
//   enlacectl audit verify                                         # an admin
//   enlacectl health
//
// Commands that call the server connect with clients/connection.h: flags
// --addr --ca --cert --key (or $ENLACE_ADDR, $ENLACE_CA, ..., or the selected
// context of ~/.config/enlace/config: clients/cli/config.h).
//
// Exit status: see kExitCodes in clients/cli/cli.h (0 success, 1 failure,
// 2 usage, 3 rejected rows, 4 unauthenticated, 5 permission denied, 6 not
// found, 7 unavailable) and docs/cli.md. Messages and help are in Spanish
// when the environment asks for es_* (clients/cli/i18n.h).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/i18n.h"

namespace enlace::cli {

int RunEnlacectl(const Args& args) {
  static const auto* group = new Group{
      "enlacectl",
      "enlacectl: the command-line tool of Enlace, the exchange of returnee "
      "records\nbetween the Ministry of Foreign Affairs and UN agencies.",
      {
          {"arrivals", "the ministry's arrivals: push a file (CSV, JSON lines), get, list",
           &RunArrivals},
          {"consent", "update the consent a returnee gave (ministry)", &RunConsent},
          {"cases", "reintegration cases: open, get, list, update, access-log (agencies)",
           &RunCases},
          {"services", "record a service delivered for a case (agencies)", &RunServices},
          {"initiatives", "economic initiatives of returnees: register, list", &RunInitiatives},
          {"referrals", "referrals: create, get, list, accept, decline, complete, withdraw, watch",
           &RunReferrals},
          {"report", "the programme report: counts by department, month, status", &RunReport},
          {"pki", "the platform PKI: CA, certificates for agencies, admins, server", &RunPki},
          {"certs", "certificates: request (offline), issue, list, revoke, expiring", &RunCerts},
          {"agencies", "register and list agencies (admin)", &RunAgencies},
          {"agreements", "data-sharing agreements: register, list, end (admin)", &RunAgreements},
          {"audit", "the audit log: list events, verify the hash chain (admin)", &RunAudit},
          {"health", "is the server SERVING? (grpc.health.v1)", &RunHealth},
          {"context", "named connection settings: add, use, list, show, remove", &RunContext},
          {"version", "the versions of enlacectl and of the server", &RunVersion},
          {"completion", "shell completion for bash or zsh", &RunCompletion},
          {"man", "write the manual pages (enlacectl.1, enlacectl-GROUP.1)", &RunMan},
      },
      "enlacectl context add ministry --addr enlace.example.org:7443 --ca pki/ca.crt \\\n"
      "    --cert pki/mfa.crt --key pki/mfa.key\n"
      "enlacectl arrivals push arrivals.csv --rejects rejects.csv\n"
      "enlacectl cases list -o csv > cases.csv",
      absl::StrCat(ConnectionHelp(), "\n", Tr("Output (every server command):"), "\n", OutputHelp(),
                   "\n",
                   Tr("Global flags may come anywhere: 'enlacectl -o json cases list' and\n"
                      "'enlacectl cases list -o json' are the same. -h is --help."),
                   "\n", ExitHelp())};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli

int main(int argc, char** argv) {
  enlace::cli::InitLanguage();
  return enlace::cli::RunEnlacectl(std::vector<std::string>(argv + 1, argv + argc));
}
