// enlacectl certs and agencies: certificate requests (offline), issuing,
// listing, revoking and expiry of certificates, and the onboarding of
// agencies, through AdminService.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "auth/pki.h"
#include "clients/cli/cli.h"
#include "clients/connection.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/admin.pb.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;

using AdminStub = v1::AdminService::Stub;

// "ACTIVE", "REVOKED", "EXPIRED".
std::string StatusName(v1::CertificateStatus status) {
  return ShortName("CERTIFICATE_STATUS_", status);
}

// Parses --kind agency|admin.
absl::StatusOr<v1::CertificateKind> ParseKind(const std::string& kind) {
  if (absl::Status status = CheckKindFlag(kind); !status.ok()) return status;
  return kind == "agency" ? v1::CERTIFICATE_KIND_AGENCY : v1::CERTIFICATE_KIND_ADMIN;
}

// The directory part of `path` with a trailing '/', or "" for a bare name.
std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return path.substr(0, slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void PrintCertificateTable(const v1::ListCertificatesResponse& response) {
  PrintTableOf({"SERIAL", "SPIFFE ID", "STATUS", "NOT AFTER", "ISSUED BY"}, response.certificates(),
               [](const v1::Certificate& c) -> TableRow {
                 return {c.serial(), c.spiffe_id(), StatusName(c.status()),
                         FormatTimestamp(c.not_after()), OrDash(c.issued_by())};
               });
}

// One certificate as "field  value" lines ("not before", always there, is
// the longest name: the values line up at the same column every time).
void PrintCertificateDetails(const v1::Certificate& c) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"serial", c.serial()},
      {"spiffe id", c.spiffe_id()},
      {"status", StatusName(c.status())},
      {"not before", FormatTimestamp(c.not_before())},
      {"not after", FormatTimestamp(c.not_after())},
      {"issued by", OrDash(c.issued_by())},
  };
  if (c.status() == v1::CERTIFICATE_STATUS_REVOKED) {
    rows.push_back({"revoked by", OrDash(c.revoked_by())});
    rows.push_back({"revoked at", FormatTimestamp(c.revoked_at())});
    rows.push_back({"reason", c.revocation_reason()});
  }
  PrintDetails(rows);
}

// ---------------------------------------------------------------------------
// enlacectl certs request

constexpr absl::string_view kCertsRequestUsage =
    R"(Make a private key and a certificate signing request (CSR) for this
machine, offline. Run it where the key will be used: the key never leaves the
machine; only the CSR goes to the Enlace administrator, who signs it with
'enlacectl certs issue' and sends back the certificate.

Writes DIR/NAME.key (mode 0600; an existing key is never overwritten: the
command refuses) and DIR/NAME.csr (subject CN=NAME). The identity in the
certificate (spiffe://enlace/<kind>/NAME) is set by the administrator, not by
the CSR.

Usage: enlacectl certs request --kind agency|admin --name NAME [flags]

Flags:
  --kind agency|admin    what the certificate is for
  --name NAME            agency code or administrator name, [a-z][a-z0-9_-]{0,31}
  --key-type TYPE        ec-p256 (default), ec-p384, rsa-2048 or rsa-3072
  --out-dir DIR          where to write; default the current directory
                         (created with mode 0700 if missing)

Example:
  enlacectl certs request --kind agency --name wfp --out-dir ./wfp-pki

Exit status: 0 success; 1 failure, with "enlacectl: <code>: <message>" on
stderr (ALREADY_EXISTS when DIR/NAME.key exists); 2 usage error.
)";

absl::StatusOr<auth::KeyType> ParseKeyType(const std::string& text) {
  if (text == "ec-p256") return auth::KeyType::kEcP256;
  if (text == "ec-p384") return auth::KeyType::kEcP384;
  if (text == "rsa-2048") return auth::KeyType::kRsa2048;
  if (text == "rsa-3072") return auth::KeyType::kRsa3072;
  return absl::InvalidArgumentError(absl::StrCat(
      "--key-type must be ec-p256, ec-p384, rsa-2048 or rsa-3072, not \"", text, "\""));
}

int RunCertsRequest(const Args& args) {
  static const Leaf leaf = WholeUsageLeaf("enlacectl certs request", Tr(kCertsRequestUsage),
                                          {"kind", "name", "key-type", "out-dir"},
                                          /*max_positionals=*/0, /*offline=*/true);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"kind", "name"})) return *exit;
  const Flags& flags = call.flags();
  const std::string kind = *flags.Get("kind");
  const std::string name = *flags.Get("name");
  if (absl::Status status = CheckKindAndName(kind, name); !status.ok()) {
    return call.Value(status.message());
  }
  absl::StatusOr<auth::KeyType> key_type = ParseKeyType(flags.Get("key-type").value_or("ec-p256"));
  if (!key_type.ok()) return call.Value(key_type.status().message());
  std::optional<std::string> out_dir_flag = flags.Get("out-dir");
  if (out_dir_flag.has_value() && out_dir_flag->empty()) {
    return call.Value("--out-dir must not be empty");
  }
  const std::string out_dir = out_dir_flag.value_or(".");

  struct stat st;
  if (::stat(out_dir.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(out_dir.c_str(), 0700) != 0) {
      return Fail(absl::ErrnoToStatus(errno, absl::StrCat("cannot create directory ", out_dir)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(out_dir, " is not a directory")));
  }
  const std::string key_path = JoinPath(out_dir, name + ".key");
  const std::string csr_path = JoinPath(out_dir, name + ".csr");
  const std::string refusal = absl::StrCat(key_path,
                                           " already exists: refusing to overwrite a private key "
                                           "(move it away, or choose another --out-dir)");
  // Checked before the (slow) key generation; the write below makes sure.
  if (PathExists(key_path)) return Fail(absl::AlreadyExistsError(refusal));

  absl::StatusOr<std::string> key = auth::GeneratePrivateKeyPem(*key_type);
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::string> csr = auth::CreateCsrPem(*key, name);
  if (!csr.ok()) return Fail(csr.status());
  absl::Status status = auth::WriteFileAtomically(key_path, *key, 0600, auth::IfExists::kFail);
  if (absl::IsAlreadyExists(status)) {
    return Fail(absl::AlreadyExistsError(refusal));
  }
  if (!status.ok()) return Fail(status);
  status = auth::WriteFileAtomically(csr_path, *csr, 0644);
  if (!status.ok()) {
    // The key is ours (just linked into place) and useless without its CSR.
    ::unlink(key_path.c_str());
    return Fail(status);
  }
  std::cout << "wrote " << key_path << "  (private key, mode 0600: keep it here, never send it)\n"
            << "wrote " << csr_path << "  (certificate signing request)\n\n"
            << "Send " << csr_path << " (only the .csr) to the Enlace administrator, who runs:\n"
            << "  enlacectl certs issue --csr " << name << ".csr --kind " << kind << " --name "
            << name << "\n"
            << "and sends back " << name << ".crt. Put it beside the key and "
            << "connect with:\n"
            << "  --cert " << JoinPath(out_dir, name + ".crt") << " --key " << key_path << "\n";
  std::cout.flush();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs issue

std::string CertsIssueUsage() {
  return ServerUsage(
      R"(Sign a certificate signing request (made with 'enlacectl certs request')
with the platform CA, through the CA role (AdminService.IssueCertificate on
'enlace-server --role=ca', the only process that holds the CA key; serving
replicas refuse to issue). You need an administrator certificate
(--cert/--key). The identity in the certificate is spiffe://enlace/<kind>/NAME,
whatever the CSR says; an agency must be registered first ('enlacectl agencies
register').

Writes the certificate to --out (never overwriting a file) and prints its
serial, SPIFFE ID and expiry.

Usage: enlacectl certs issue --csr FILE --kind agency|admin --name NAME [flags]

Flags:
  --csr FILE             the PKCS#10 CSR (PEM)
  --kind agency|admin    spiffe://enlace/agency/NAME or spiffe://enlace/admin/NAME
  --name NAME            agency code or administrator name
  --validity-days N      default: the server's (90); at most 398
  --out FILE             where to write the certificate; default NAME.crt in
                         the CSR's directory
  --ca-addr HOST:PORT    the CA role's TLS port; $ENLACE_CA_ADDR, else --addr
                         (scripts/up.sh runs it on localhost:7446)
)",
      R"(
Example:
  enlacectl certs issue --csr wfp.csr --kind agency --name wfp --ca-addr localhost:7446 \
      --ca dev-pki/ca.crt --cert dev-pki/admin.crt --key dev-pki/admin.key
)");
}

int RunCertsIssue(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl certs issue", CertsIssueUsage(),
                     {"csr", "kind", "name", "validity-days", "out", "ca-addr"});
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"csr", "kind", "name"})) return *exit;
  const Flags& flags = call.flags();
  v1::IssueCertificateRequest request;
  const std::string kind = *flags.Get("kind");
  request.set_name(*flags.Get("name"));
  if (absl::Status status = CheckKindAndName(kind, request.name()); !status.ok()) {
    return call.Value(status.message());
  }
  request.set_kind(*ParseKind(kind));
  if (std::optional<std::string> text = flags.Get("validity-days")) {
    int days = 0;
    if (!absl::SimpleAtoi(*text, &days) || days <= 0) {
      return call.Value(
          absl::StrCat("--validity-days must be a positive number of days, not \"", *text, "\""));
    }
    request.set_validity_days(days);
  }
  std::optional<std::string> ca_addr_flag = flags.Get("ca-addr");
  if (ca_addr_flag.has_value() && ca_addr_flag->empty()) {
    return call.Value("--ca-addr must not be empty");
  }
  if (std::optional<int> exit = call.ParseSettings()) return *exit;
  // The CA role, or (when none is named) the serving address, which refuses
  // with FAILED_PRECONDITION and says where issuance runs.
  client::ConnectionOptions ca_role = call.options();
  const std::string ca_addr = client::CaAddressFromEnvironment(ca_addr_flag.value_or(""));
  if (!ca_addr.empty()) ca_role.address = ca_addr;

  const std::string csr_path = *flags.Get("csr");
  const std::string out_path =
      flags.Get("out").value_or(DirectoryOf(csr_path) + request.name() + ".crt");
  if (out_path.empty()) return call.Value("--out must not be empty");
  // Before the call: a certificate that cannot be written should not be
  // issued at all.
  if (PathExists(out_path)) {
    return Fail(
        absl::AlreadyExistsError(absl::StrCat(out_path,
                                              " already exists; not overwritten (move it away "
                                              "or choose another --out)")));
  }
  absl::StatusOr<std::string> csr = auth::ReadFileToString(csr_path);
  if (!csr.ok()) return Fail(csr.status());
  request.set_csr_pem(*std::move(csr));

  v1::Certificate certificate;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::Connect(ca_role);
  if (!channel.ok()) return Fail(channel.status());
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(ca_role);
  absl::Status status = client::FromGrpc(
      v1::AdminService::NewStub(*channel)->IssueCertificate(context.get(), request, &certificate));
  if (absl::IsFailedPrecondition(status) && ca_addr.empty() &&
      absl::StrContains(status.message(), "--role=ca")) {
    status = absl::FailedPreconditionError(
        absl::StrCat(status.message(), " (enlacectl asked ", ca_role.address,
                     ": neither --ca-addr nor ENLACE_CA_ADDR is set)"));
  }
  if (!status.ok()) return Fail(status);

  status = auth::WriteFileAtomically(out_path, certificate.certificate_pem(), 0644,
                                     auth::IfExists::kFail);
  if (!status.ok()) {
    // Issued but not saved: do not lose it (it is public; 'certs list
    // --output json' also has it).
    std::cout << certificate.certificate_pem();
    std::cout.flush();
    return Fail(absl::Status(status.code(),
                             absl::StrCat(status.message(), "; certificate ", certificate.serial(),
                                          " was issued: its PEM is printed above")));
  }
  if (call.json()) std::cerr << "wrote " << out_path << "\n";
  return PrintResponse(call, certificate, [&](const v1::Certificate& c) {
    std::cout << "issued certificate, written to " << out_path << "\n";
    PrintCertificateDetails(c);
  });
}

// ---------------------------------------------------------------------------
// enlacectl certs list

std::string CertsListUsage() {
  return ServerUsage(
      R"(List the certificates the platform knows (AdminService.ListCertificates):
those it issued, and offline ones recorded when revoked. Administrators only.

Usage: enlacectl certs list [flags]

Flags:
  --name NAME            only this agency code or admin name
  --status STATUS        only certificates that are active, revoked or expired
  --kind agency|admin    only agency or only admin certificates
)",
      R"(
Table columns: SERIAL, SPIFFE ID, STATUS, NOT AFTER (UTC), ISSUED BY. The JSON
document is a ListCertificatesResponse with every page's certificates.

Example:
  enlacectl certs list --kind agency --status active
  export ENLACE_CA=pki/ca.crt ENLACE_CERT=pki/admin.crt ENLACE_KEY=pki/admin.key
  enlacectl certs list --status revoked --output json
)");
}

// The end of 'certs list' and 'certs expiring', after their own filters in
// `request`: --name and --kind, --output and the connection, then every
// certificate that matches, as JSON or by `print`. Returns the exit status.
int ListCertificates(Invocation& call, v1::ListCertificatesRequest request,
                     const std::function<void(const v1::ListCertificatesResponse&)>& print) {
  if (std::optional<std::string> name = call.flags().Get("name")) {
    request.set_name(*name);
  }
  if (std::optional<std::string> text = call.flags().Get("kind")) {
    absl::StatusOr<v1::CertificateKind> kind = ParseKind(*text);
    if (!kind.ok()) return call.Value(kind.status().message());
    request.set_kind(*kind);
  }
  if (std::optional<int> exit = call.ParseSettings()) return *exit;
  return ListAndPrint(call, &AdminStub::ListCertificates,
                      &v1::ListCertificatesResponse::mutable_certificates, request, print);
}

absl::StatusOr<v1::CertificateStatus> ParseCertificateStatus(const std::string& text) {
  if (text == "active") return v1::CERTIFICATE_STATUS_ACTIVE;
  if (text == "revoked") return v1::CERTIFICATE_STATUS_REVOKED;
  if (text == "expired") return v1::CERTIFICATE_STATUS_EXPIRED;
  return absl::InvalidArgumentError(
      absl::StrCat("--status must be active, revoked or expired, not \"", text, "\""));
}

int RunCertsList(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl certs list", CertsListUsage(), {"name", "status", "kind"});
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  v1::ListCertificatesRequest request;
  if (std::optional<std::string> text = call.flags().Get("status")) {
    absl::StatusOr<v1::CertificateStatus> status = ParseCertificateStatus(*text);
    if (!status.ok()) return call.Value(status.status().message());
    request.set_status(*status);
  }
  return ListCertificates(call, request, PrintCertificateTable);
}

// ---------------------------------------------------------------------------
// enlacectl certs revoke

std::string CertsRevokeUsage() {
  return ServerUsage(
      R"(Revoke a certificate (AdminService.RevokeCertificate). Within 5 seconds
the server refuses it, on new and already-open connections. Administrators only.

SERIAL is as 'certs list' shows it (hexadecimal); the forms openssl prints
("0A:1B:...", "0x0A1B...") are accepted too. A certificate signed offline
('enlacectl pki'), which the platform has no record of, is revoked by giving its
PEM with --certificate; SERIAL may then be left out.

Usage: enlacectl certs revoke SERIAL --reason TEXT [flags]

Flags:
  --reason TEXT          why (required; recorded with the revocation)
  --certificate FILE     the certificate's PEM, for one issued offline
)",
      R"(
Example:
  enlacectl certs revoke 5f0c2e9a41d7b3 --reason "key lost"
  enlacectl certs revoke --certificate dev-pki/iom.crt --reason "replaced"
)");
}

// Lower-case hex without separators or leading zeros; InvalidArgument if
// `text` is not a hexadecimal serial.
absl::StatusOr<std::string> NormalizeSerial(absl::string_view text) {
  std::string serial;
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&rest, "0x")) absl::ConsumePrefix(&rest, "0X");
  for (char c : rest) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SERIAL must be hexadecimal (as 'certs list' shows it), not \"", text, "\""));
    }
    serial.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (serial.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SERIAL must be hexadecimal, not \"", text, "\""));
  }
  size_t first = serial.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : serial.substr(first);
}

int RunCertsRevoke(const Args& args) {
  static const Leaf leaf = WholeUsageLeaf("enlacectl certs revoke", CertsRevokeUsage(),
                                          {"reason", "certificate"}, /*max_positionals=*/1);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  const std::vector<std::string>& positionals = call.flags().positionals();
  std::optional<std::string> certificate_path = call.flags().Get("certificate");
  if (positionals.empty() && !certificate_path.has_value()) {
    return call.Usage("SERIAL is required (or --certificate FILE)");
  }
  if (std::optional<int> exit = call.Require({"reason"})) return *exit;
  v1::RevokeCertificateRequest request;
  request.set_reason(*call.flags().Get("reason"));
  if (!positionals.empty()) {
    absl::StatusOr<std::string> serial = NormalizeSerial(positionals[0]);
    if (!serial.ok()) return call.Value(serial.status().message());
    request.set_serial(*serial);
  }
  if (std::optional<int> exit = call.ParseSettings()) return *exit;
  if (certificate_path.has_value()) {
    absl::StatusOr<std::string> pem = auth::ReadFileToString(*certificate_path);
    if (!pem.ok()) return Fail(pem.status());
    absl::StatusOr<std::string> serial = auth::CertificateSerialHex(*pem);
    if (!serial.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(*certificate_path, ": ", serial.status().message())));
    }
    if (!request.serial().empty() && request.serial() != *serial) {
      return call.Value(absl::StrCat("SERIAL ", request.serial(), " is not the serial of ",
                                     *certificate_path, " (", *serial, ")"));
    }
    request.set_serial(*serial);
    request.set_certificate_pem(*std::move(pem));
  }
  return CallAndPrint(call, &AdminStub::RevokeCertificate, request,
                      [](const v1::Certificate& certificate) {
                        std::cout << "revoked certificate " << certificate.serial() << "\n";
                        PrintCertificateDetails(certificate);
                      });
}

// ---------------------------------------------------------------------------
// enlacectl certs expiring

std::string CertsExpiringUsage() {
  return ServerUsage(
      R"(List the active certificates that expire soon, to renew them in time
(AdminService.ListCertificates with expiring_within_days). Exits 0 whether or
not there are any. Administrators only.

Usage: enlacectl certs expiring [--within DAYS] [flags]

Flags:
  --within DAYS          "30d" or "30": days from now; default 30d
  --name NAME            only this agency code or admin name
  --kind agency|admin    only agency or only admin certificates
)",
      R"(
Example:
  enlacectl certs expiring --within 30d
)");
}

absl::StatusOr<int> ParseWithinDays(absl::string_view text) {
  absl::string_view number = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&number, "d");
  int days = 0;
  if (number.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(number[0])) ||
      !absl::SimpleAtoi(number, &days) || days <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--within must be a positive number of days (\"30d\" or \"30\"), "
                     "not \"",
                     text, "\""));
  }
  return days;
}

int RunCertsExpiring(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl certs expiring", CertsExpiringUsage(), {"within", "name", "kind"});
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  v1::ListCertificatesRequest request;
  absl::StatusOr<int> days = ParseWithinDays(call.flags().Get("within").value_or("30d"));
  if (!days.ok()) return call.Value(days.status().message());
  request.set_expiring_within_days(*days);
  return ListCertificates(call, request, [&](const v1::ListCertificatesResponse& all) {
    if (all.certificates().empty()) {
      std::cout << "No active certificate expires within " << *days << " days.\n";
      return;
    }
    PrintCertificateTable(all);
  });
}

// ---------------------------------------------------------------------------
// enlacectl agencies register

std::string AgenciesRegisterUsage() {
  return ServerUsage(
      R"(Onboard an agency (AdminService.RegisterAgency): from then on consents
may name it, and 'enlacectl certs issue --kind agency' can give it a
certificate. Administrators only.

Usage: enlacectl agencies register CODE --display-name NAME [flags]

  CODE                   the agency code, [a-z][a-z0-9_-]{0,31}; its identity
                         is spiffe://enlace/agency/CODE
Flags:
  --display-name NAME    the agency's full name
)",
      R"(
Example:
  enlacectl agencies register wfp --display-name "World Food Programme"
)");
}

void PrintAgencyTable(const v1::ListAgenciesResponse& response) {
  PrintTableOf(
      {"CODE", "DISPLAY NAME", "CREATED"}, response.agencies(),
      [](const v1::Agency& agency) -> TableRow {
        return {agency.code(), agency.display_name(), FormatTimestamp(agency.created_at())};
      });
}

int RunAgenciesRegister(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl agencies register", AgenciesRegisterUsage(), {"display-name"},
                     /*max_positionals=*/1);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (call.flags().positionals().empty()) return call.Usage("CODE is required");
  if (std::optional<int> exit = call.Require({"display-name"})) return *exit;
  v1::RegisterAgencyRequest request;
  request.set_code(call.positional(0));
  request.set_display_name(*call.flags().Get("display-name"));
  if (absl::Status status = auth::ValidatePrincipalName("agency code", request.code());
      !status.ok()) {
    return call.Value(status.message());
  }
  if (std::optional<int> exit = call.ParseSettings()) return *exit;
  return CallAndPrint(call, &AdminStub::RegisterAgency, request, [](const v1::Agency& agency) {
    std::cout << "registered agency " << agency.code() << " (" << agency.display_name()
              << "): spiffe://enlace/agency/" << agency.code() << "\n";
    std::cout.flush();
  });
}

// ---------------------------------------------------------------------------
// enlacectl agencies list

std::string AgenciesListUsage() {
  return ServerUsage(
      R"(List the registered agencies (AdminService.ListAgencies). Administrators
only.

Usage: enlacectl agencies list [flags]

Flags:
)",
      R"(
Table columns: CODE, DISPLAY NAME, CREATED (UTC). The JSON document is a
ListAgenciesResponse with every page's agencies.

Example:
  enlacectl agencies list --output json
)");
}

int RunAgenciesList(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl agencies list", AgenciesListUsage(), /*flags=*/{});
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  return ListAndPrint(call, &AdminStub::ListAgencies, &v1::ListAgenciesResponse::mutable_agencies,
                      v1::ListAgenciesRequest(), PrintAgencyTable);
}

}  // namespace

int RunCerts(const Args& args) {
  static const auto* group = new Group{
      "enlacectl certs",
      "Certificates of agencies and administrators: requests (offline), and\n"
      "issuing, listing and revoking through the server.",
      {
          {"request", "offline: make a private key and a CSR to send to an admin",
           &RunCertsRequest},
          {"issue", "sign a CSR (admin): agency or admin certificate", &RunCertsIssue},
          {"list", "list certificates (admin)", &RunCertsList},
          {"revoke", "revoke a certificate (admin)", &RunCertsRevoke},
          {"expiring", "list active certificates expiring soon (admin)", &RunCertsExpiring},
      },
      "enlacectl certs request --kind agency --name wfp --out-dir ./wfp-pki"};
  return RunGroup(*group, args);
}

int RunAgencies(const Args& args) {
  static const auto* group =
      new Group{"enlacectl agencies",
                "The agencies that take part in the platform.",
                {
                    {"register", "onboard an agency (admin)", &RunAgenciesRegister},
                    {"list", "list the registered agencies (admin)", &RunAgenciesList},
                },
                "enlacectl agencies register wfp --display-name \"World Food Programme\""};
  return RunGroup(*group, args);
}

}  // namespace enlace::cli
