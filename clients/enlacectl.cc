// enlacectl: the command-line tool of every Enlace persona. Commands nest
// ("enlacectl cases open"); each leaf command parses its own flags, so a
// command added later brings its own flag set without touching the others.
// The shared machinery (command tree, flags, connection, output, exit codes)
// is in clients/cli/cli.h; each group of commands in clients/cli/cmd_*.cc.
//
//   enlacectl pki init --dir ./dev-pki            # CA, server and client certs
//   enlacectl arrivals push arrivals.csv --rejects rejects.csv     # the ministry
//   enlacectl cases open ARRIVAL_ID --summary "..."                # an agency
//   enlacectl referrals create CASE_ID --to undp --service training --reason "..."
//   enlacectl referrals watch --follow --output json
//   enlacectl report --from 2026-01-01
//   enlacectl audit verify                                         # an admin
//   enlacectl health
//
// Commands that call the server connect with clients/connection.h: flags
// --addr --ca --cert --key (or $ENLACE_ADDR, $ENLACE_CA, ...).
//
// Exit status: 0 success; 1 failure ("enlacectl: <gRPC code name>: <message>"
// on stderr); 2 usage error (unknown command or flag, bad flag value);
// 3 `arrivals push` stored or found every other row but rejected some.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"

namespace enlace::cli {
namespace {

int Main(const Args& args) {
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
          {"audit", "the audit log: list events, verify the hash chain (admin)", &RunAudit},
          {"health", "is the server SERVING? (grpc.health.v1)", &RunHealth},
      },
      "export ENLACE_CA=pki/ca.crt ENLACE_CERT=pki/mfa.crt ENLACE_KEY=pki/mfa.key\n"
      "enlacectl arrivals push arrivals.csv --rejects rejects.csv",
      absl::StrCat(kConnectionHelp,
                   R"(  --output table|json    every server command: a table (default) or JSON

Exit status: 0 success; 1 the server refused or failed ("enlacectl: <gRPC code>:
<message>" on stderr); 2 usage error; 3 'arrivals push' rejected some rows
(every other row was stored or already recorded).
)")};
  return RunGroup(*group, args);
}

}  // namespace
}  // namespace enlace::cli

int main(int argc, char** argv) {
  return enlace::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}
