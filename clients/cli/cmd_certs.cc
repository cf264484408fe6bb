// enlacectl certs and agencies: certificate requests (offline), issuing,
// listing, revoking and expiry of certificates, and the onboarding of
// agencies, through AdminService.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>
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
#include "grpcpp/grpcpp.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;

// An AdminService stub on a channel made from `options`.
absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> AdminStub(
    const client::ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::Connect(options);
  if (!channel.ok()) return channel.status();
  return v1::AdminService::NewStub(*channel);
}

// "ACTIVE", "REVOKED", "EXPIRED".
std::string StatusName(v1::CertificateStatus status) {
  std::string name = v1::CertificateStatus_Name(status);
  absl::string_view view = name;
  if (absl::ConsumePrefix(&view, "CERTIFICATE_STATUS_")) return std::string(view);
  return absl::StrCat(static_cast<int>(status));
}

// Parses --kind agency|admin.
absl::StatusOr<v1::CertificateKind> ParseKind(const std::string& kind) {
  if (kind == "agency") return v1::CERTIFICATE_KIND_AGENCY;
  if (kind == "admin") return v1::CERTIFICATE_KIND_ADMIN;
  return absl::InvalidArgumentError(
      absl::StrCat("--kind must be agency or admin, not \"", kind, "\""));
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

// Pages through ListCertificates with `request`'s filters; returns every
// certificate in one response.
absl::StatusOr<v1::ListCertificatesResponse> ListAllCertificates(
    v1::AdminService::Stub& stub, const client::ConnectionOptions& options,
    v1::ListCertificatesRequest request) {
  v1::ListCertificatesResponse all;
  request.set_page_size(500);
  request.clear_page_token();
  for (int pages = 0;; ++pages) {
    if (pages >= 100000) {
      return absl::InternalError("ListCertificates never ends: stopped paging");
    }
    v1::ListCertificatesResponse page;
    std::unique_ptr<grpc::ClientContext> context = client::NewContext(options);
    absl::Status status = client::FromGrpc(
        stub.ListCertificates(context.get(), request, &page));
    if (!status.ok()) return status;
    for (v1::Certificate& certificate : *page.mutable_certificates()) {
      *all.add_certificates() = std::move(certificate);
    }
    if (page.next_page_token().empty()) return all;
    if (page.next_page_token() == request.page_token()) {
      return absl::InternalError(
          "ListCertificates returned the same page token twice");
    }
    request.set_page_token(page.next_page_token());
  }
}

void PrintCertificateTable(const v1::ListCertificatesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Certificate& c : response.certificates()) {
    rows.push_back({c.serial(), c.spiffe_id(), StatusName(c.status()),
                    FormatTimestamp(c.not_after()),
                    c.issued_by().empty() ? "-" : c.issued_by()});
  }
  PrintTable({"SERIAL", "SPIFFE ID", "STATUS", "NOT AFTER", "ISSUED BY"}, rows);
}

// One certificate as "field  value" lines.
void PrintCertificateDetails(const v1::Certificate& c) {
  std::vector<std::vector<std::string>> rows = {
      {"serial", c.serial()},
      {"spiffe id", c.spiffe_id()},
      {"status", StatusName(c.status())},
      {"not before", FormatTimestamp(c.not_before())},
      {"not after", FormatTimestamp(c.not_after())},
      {"issued by", c.issued_by().empty() ? "-" : c.issued_by()},
  };
  if (c.status() == v1::CERTIFICATE_STATUS_REVOKED) {
    rows.push_back({"revoked by", c.revoked_by().empty() ? "-" : c.revoked_by()});
    rows.push_back({"revoked at", FormatTimestamp(c.revoked_at())});
    rows.push_back({"reason", c.revocation_reason()});
  }
  for (const auto& row : rows) {
    std::cout << "  " << row[0] << std::string(12 - row[0].size(), ' ')
              << row[1] << "\n";
  }
  std::cout.flush();
}

// ---------------------------------------------------------------------------
// enlacectl certs request

constexpr absl::string_view kCertsRequestPath = "enlacectl certs request";
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
      "--key-type must be ec-p256, ec-p384, rsa-2048 or rsa-3072, not \"",
      text, "\""));
}

int RunCertsRequest(const Args& args) {
  if (WantsHelp(args)) {
    std::cout << kCertsRequestUsage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse({"kind", "name", "key-type", "out-dir"}, args);
  if (!flags.ok()) {
    return UsageError(kCertsRequestPath, flags.status().message(),
                      kCertsRequestUsage);
  }
  if (absl::Status status = RequireFlags(*flags, {"kind", "name"});
      !status.ok()) {
    return UsageError(kCertsRequestPath, status.message(), kCertsRequestUsage);
  }
  const std::string kind = *flags->Get("kind");
  if (absl::StatusOr<v1::CertificateKind> parsed = ParseKind(kind);
      !parsed.ok()) {
    return ValueError(kCertsRequestPath, parsed.status().message());
  }
  const std::string name = *flags->Get("name");
  if (absl::Status status = auth::ValidatePrincipalName(
          kind == "agency" ? "agency code" : "admin name", name);
      !status.ok()) {
    return ValueError(kCertsRequestPath, status.message());
  }
  absl::StatusOr<auth::KeyType> key_type =
      ParseKeyType(flags->Get("key-type").value_or("ec-p256"));
  if (!key_type.ok()) {
    return ValueError(kCertsRequestPath, key_type.status().message());
  }
  std::optional<std::string> out_dir_flag = flags->Get("out-dir");
  if (out_dir_flag.has_value() && out_dir_flag->empty()) {
    return ValueError(kCertsRequestPath, "--out-dir must not be empty");
  }
  const std::string out_dir = out_dir_flag.value_or(".");

  struct stat st;
  if (::stat(out_dir.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(out_dir.c_str(), 0700) != 0) {
      return Fail(absl::ErrnoToStatus(
          errno, absl::StrCat("cannot create directory ", out_dir)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat(out_dir, " is not a directory")));
  }
  const std::string key_path = JoinPath(out_dir, name + ".key");
  const std::string csr_path = JoinPath(out_dir, name + ".csr");
  const std::string refusal =
      absl::StrCat(key_path,
                   " already exists: refusing to overwrite a private key "
                   "(move it away, or choose another --out-dir)");
  // Checked before the (slow) key generation; the write below makes sure.
  if (PathExists(key_path)) return Fail(absl::AlreadyExistsError(refusal));

  absl::StatusOr<std::string> key = auth::GeneratePrivateKeyPem(*key_type);
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::string> csr = auth::CreateCsrPem(*key, name);
  if (!csr.ok()) return Fail(csr.status());
  absl::Status status = auth::WriteFileAtomically(key_path, *key, 0600,
                                                  auth::IfExists::kFail);
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
  std::cout << "wrote " << key_path
            << "  (private key, mode 0600: keep it here, never send it)\n"
            << "wrote " << csr_path << "  (certificate signing request)\n\n"
            << "Send " << csr_path
            << " (only the .csr) to the Enlace administrator, who runs:\n"
            << "  enlacectl certs issue --csr " << name << ".csr --kind " << kind
            << " --name " << name << "\n"
            << "and sends back " << name << ".crt. Put it beside the key and "
            << "connect with:\n"
            << "  --cert " << JoinPath(out_dir, name + ".crt") << " --key "
            << key_path << "\n";
  std::cout.flush();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs issue

constexpr absl::string_view kCertsIssuePath = "enlacectl certs issue";

const std::string& CertsIssueUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(Sign a certificate signing request (made with 'enlacectl certs request')
with the platform CA, through the server (AdminService.IssueCertificate). You
need an administrator certificate (--cert/--key). The identity in the
certificate is spiffe://enlace/<kind>/NAME, whatever the CSR says; an agency
must be registered first ('enlacectl agencies register').

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
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs issue --csr wfp.csr --kind agency --name wfp \
      --ca dev-pki/ca.crt --cert dev-pki/admin.crt --key dev-pki/admin.key
)",
      kExitHelp));
  return *usage;
}

int RunCertsIssue(const Args& args) {
  const std::string& usage = CertsIssueUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"csr", "kind", "name", "validity-days", "out"},
                          /*output=*/true),
      args);
  if (!flags.ok()) {
    return UsageError(kCertsIssuePath, flags.status().message(), usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"csr", "kind", "name"});
      !status.ok()) {
    return UsageError(kCertsIssuePath, status.message(), usage);
  }
  v1::IssueCertificateRequest request;
  const std::string kind = *flags->Get("kind");
  absl::StatusOr<v1::CertificateKind> parsed_kind = ParseKind(kind);
  if (!parsed_kind.ok()) {
    return ValueError(kCertsIssuePath, parsed_kind.status().message());
  }
  request.set_kind(*parsed_kind);
  request.set_name(*flags->Get("name"));
  if (absl::Status status = auth::ValidatePrincipalName(
          kind == "agency" ? "agency code" : "admin name", request.name());
      !status.ok()) {
    return ValueError(kCertsIssuePath, status.message());
  }
  if (std::optional<std::string> text = flags->Get("validity-days")) {
    int days = 0;
    if (!absl::SimpleAtoi(*text, &days) || days <= 0) {
      return ValueError(kCertsIssuePath,
                        absl::StrCat("--validity-days must be a positive "
                                     "number of days, not \"",
                                     *text, "\""));
    }
    request.set_validity_days(days);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsIssuePath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsIssuePath, options.status().message(), usage);

  const std::string csr_path = *flags->Get("csr");
  const std::string out_path = flags->Get("out").value_or(
      DirectoryOf(csr_path) + request.name() + ".crt");
  if (out_path.empty()) return ValueError(kCertsIssuePath, "--out must not be empty");
  // Before the call: a certificate that cannot be written should not be
  // issued at all.
  if (PathExists(out_path)) {
    return Fail(absl::AlreadyExistsError(
        absl::StrCat(out_path, " already exists; not overwritten (move it away "
                               "or choose another --out)")));
  }
  absl::StatusOr<std::string> csr = auth::ReadFileToString(csr_path);
  if (!csr.ok()) return Fail(csr.status());
  request.set_csr_pem(*std::move(csr));

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Certificate certificate;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->IssueCertificate(context.get(), request, &certificate));
  if (!status.ok()) return Fail(status);

  status = auth::WriteFileAtomically(out_path, certificate.certificate_pem(),
                                     0644, auth::IfExists::kFail);
  if (!status.ok()) {
    // Issued but not saved: do not lose it (it is public; 'certs list
    // --output json' also has it).
    std::cout << certificate.certificate_pem();
    std::cout.flush();
    return Fail(absl::Status(
        status.code(),
        absl::StrCat(status.message(), "; certificate ", certificate.serial(),
                     " was issued: its PEM is printed above")));
  }
  if (*output == Output::kJson) {
    std::cerr << "wrote " << out_path << "\n";
    return PrintJson(certificate);
  }
  std::cout << "issued certificate, written to " << out_path << "\n";
  PrintCertificateDetails(certificate);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs list

constexpr absl::string_view kCertsListPath = "enlacectl certs list";

const std::string& CertsListUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the certificates the platform knows (AdminService.ListCertificates):
those it issued, and offline ones recorded when revoked. Administrators only.

Usage: enlacectl certs list [flags]

Flags:
  --name NAME            only this agency code or admin name
  --status STATUS        only certificates that are active, revoked or expired
  --kind agency|admin    only agency or only admin certificates
)",
      kOutputHelp, kConnectionHelp, R"(
Table columns: SERIAL, SPIFFE ID, STATUS, NOT AFTER (UTC), ISSUED BY. The JSON
document is a ListCertificatesResponse with every page's certificates.

Example:
  enlacectl certs list --kind agency --status active
  export ENLACE_CA=pki/ca.crt ENLACE_CERT=pki/admin.crt ENLACE_KEY=pki/admin.key
  enlacectl certs list --status revoked --output json
)",
      kExitHelp));
  return *usage;
}

absl::StatusOr<v1::CertificateStatus> ParseCertificateStatus(
    const std::string& text) {
  if (text == "active") return v1::CERTIFICATE_STATUS_ACTIVE;
  if (text == "revoked") return v1::CERTIFICATE_STATUS_REVOKED;
  if (text == "expired") return v1::CERTIFICATE_STATUS_EXPIRED;
  return absl::InvalidArgumentError(absl::StrCat(
      "--status must be active, revoked or expired, not \"", text, "\""));
}

int RunCertsList(const Args& args) {
  const std::string& usage = CertsListUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"name", "status", "kind"}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kCertsListPath, flags.status().message(), usage);
  }
  v1::ListCertificatesRequest request;
  if (std::optional<std::string> name = flags->Get("name")) {
    request.set_name(*name);
  }
  if (std::optional<std::string> text = flags->Get("status")) {
    absl::StatusOr<v1::CertificateStatus> status = ParseCertificateStatus(*text);
    if (!status.ok()) return ValueError(kCertsListPath, status.status().message());
    request.set_status(*status);
  }
  if (std::optional<std::string> text = flags->Get("kind")) {
    absl::StatusOr<v1::CertificateKind> kind = ParseKind(*text);
    if (!kind.ok()) return ValueError(kCertsListPath, kind.status().message());
    request.set_kind(*kind);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsListPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsListPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  absl::StatusOr<v1::ListCertificatesResponse> all =
      ListAllCertificates(**stub, *options, request);
  if (!all.ok()) return Fail(all.status());
  if (*output == Output::kJson) return PrintJson(*all);
  PrintCertificateTable(*all);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs revoke

constexpr absl::string_view kCertsRevokePath = "enlacectl certs revoke";

const std::string& CertsRevokeUsage() {
  static const auto* usage = new std::string(absl::StrCat(
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
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs revoke 5f0c2e9a41d7b3 --reason "key lost"
  enlacectl certs revoke --certificate dev-pki/iom.crt --reason "replaced"
)",
      kExitHelp));
  return *usage;
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
          "SERIAL must be hexadecimal (as 'certs list' shows it), not \"", text,
          "\""));
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
  const std::string& usage = CertsRevokeUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"reason", "certificate"}, /*output=*/true), args,
      /*max_positionals=*/1);
  if (!flags.ok()) {
    return UsageError(kCertsRevokePath, flags.status().message(), usage);
  }
  std::optional<std::string> certificate_path = flags->Get("certificate");
  if (flags->positionals().empty() && !certificate_path.has_value()) {
    return UsageError(kCertsRevokePath,
                      "SERIAL is required (or --certificate FILE)", usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"reason"}); !status.ok()) {
    return UsageError(kCertsRevokePath, status.message(), usage);
  }
  v1::RevokeCertificateRequest request;
  request.set_reason(*flags->Get("reason"));
  if (!flags->positionals().empty()) {
    absl::StatusOr<std::string> serial =
        NormalizeSerial(flags->positionals()[0]);
    if (!serial.ok()) return ValueError(kCertsRevokePath, serial.status().message());
    request.set_serial(*serial);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsRevokePath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsRevokePath, options.status().message(), usage);
  if (certificate_path.has_value()) {
    absl::StatusOr<std::string> pem = auth::ReadFileToString(*certificate_path);
    if (!pem.ok()) return Fail(pem.status());
    absl::StatusOr<std::string> serial = auth::CertificateSerialHex(*pem);
    if (!serial.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          *certificate_path, ": ", serial.status().message())));
    }
    if (!request.serial().empty() && request.serial() != *serial) {
      return ValueError(
          kCertsRevokePath,
          absl::StrCat("SERIAL ", request.serial(), " is not the serial of ",
                       *certificate_path, " (", *serial, ")"));
    }
    request.set_serial(*serial);
    request.set_certificate_pem(*std::move(pem));
  }

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Certificate certificate;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->RevokeCertificate(context.get(), request, &certificate));
  if (!status.ok()) return Fail(status);
  if (*output == Output::kJson) return PrintJson(certificate);
  std::cout << "revoked certificate " << certificate.serial() << "\n";
  PrintCertificateDetails(certificate);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl certs expiring

constexpr absl::string_view kCertsExpiringPath = "enlacectl certs expiring";

const std::string& CertsExpiringUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the active certificates that expire soon, to renew them in time
(AdminService.ListCertificates with expiring_within_days). Exits 0 whether or
not there are any. Administrators only.

Usage: enlacectl certs expiring [--within DAYS] [flags]

Flags:
  --within DAYS          "30d" or "30": days from now; default 30d
  --name NAME            only this agency code or admin name
  --kind agency|admin    only agency or only admin certificates
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl certs expiring --within 30d
)",
      kExitHelp));
  return *usage;
}

absl::StatusOr<int> ParseWithinDays(absl::string_view text) {
  absl::string_view number = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&number, "d");
  int days = 0;
  if (number.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(number[0])) ||
      !absl::SimpleAtoi(number, &days) || days <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--within must be a positive number of days (\"30d\" or \"30\"), "
        "not \"",
        text, "\""));
  }
  return days;
}

int RunCertsExpiring(const Args& args) {
  const std::string& usage = CertsExpiringUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"within", "name", "kind"}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kCertsExpiringPath, flags.status().message(), usage);
  }
  v1::ListCertificatesRequest request;
  absl::StatusOr<int> days = ParseWithinDays(flags->Get("within").value_or("30d"));
  if (!days.ok()) return ValueError(kCertsExpiringPath, days.status().message());
  request.set_expiring_within_days(*days);
  if (std::optional<std::string> name = flags->Get("name")) {
    request.set_name(*name);
  }
  if (std::optional<std::string> text = flags->Get("kind")) {
    absl::StatusOr<v1::CertificateKind> kind = ParseKind(*text);
    if (!kind.ok()) return ValueError(kCertsExpiringPath, kind.status().message());
    request.set_kind(*kind);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kCertsExpiringPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kCertsExpiringPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  absl::StatusOr<v1::ListCertificatesResponse> all =
      ListAllCertificates(**stub, *options, request);
  if (!all.ok()) return Fail(all.status());
  if (*output == Output::kJson) return PrintJson(*all);
  if (all->certificates().empty()) {
    std::cout << "No active certificate expires within " << *days
              << " days.\n";
    return kExitOk;
  }
  PrintCertificateTable(*all);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl agencies register

constexpr absl::string_view kAgenciesRegisterPath = "enlacectl agencies register";

const std::string& AgenciesRegisterUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(Onboard an agency (AdminService.RegisterAgency): from then on consents
may name it, and 'enlacectl certs issue --kind agency' can give it a
certificate. Administrators only.

Usage: enlacectl agencies register CODE --display-name NAME [flags]

  CODE                   the agency code, [a-z][a-z0-9_-]{0,31}; its identity
                         is spiffe://enlace/agency/CODE
Flags:
  --display-name NAME    the agency's full name
)",
      kOutputHelp, kConnectionHelp, R"(
Example:
  enlacectl agencies register wfp --display-name "World Food Programme"
)",
      kExitHelp));
  return *usage;
}

void PrintAgencyTable(const v1::ListAgenciesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Agency& agency : response.agencies()) {
    rows.push_back({agency.code(), agency.display_name(),
                    FormatTimestamp(agency.created_at())});
  }
  PrintTable({"CODE", "DISPLAY NAME", "CREATED"}, rows);
}

int RunAgenciesRegister(const Args& args) {
  const std::string& usage = AgenciesRegisterUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(
      WithConnectionFlags({"display-name"}, /*output=*/true), args,
      /*max_positionals=*/1);
  if (!flags.ok()) {
    return UsageError(kAgenciesRegisterPath, flags.status().message(), usage);
  }
  if (flags->positionals().empty()) {
    return UsageError(kAgenciesRegisterPath, "CODE is required", usage);
  }
  if (absl::Status status = RequireFlags(*flags, {"display-name"});
      !status.ok()) {
    return UsageError(kAgenciesRegisterPath, status.message(), usage);
  }
  v1::RegisterAgencyRequest request;
  request.set_code(flags->positionals()[0]);
  request.set_display_name(*flags->Get("display-name"));
  if (absl::Status status =
          auth::ValidatePrincipalName("agency code", request.code());
      !status.ok()) {
    return ValueError(kAgenciesRegisterPath, status.message());
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kAgenciesRegisterPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kAgenciesRegisterPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::Agency agency;
  std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
  absl::Status status = client::FromGrpc(
      (*stub)->RegisterAgency(context.get(), request, &agency));
  if (!status.ok()) return Fail(status);
  if (*output == Output::kJson) return PrintJson(agency);
  std::cout << "registered agency " << agency.code() << " ("
            << agency.display_name() << "): spiffe://enlace/agency/"
            << agency.code() << "\n";
  std::cout.flush();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl agencies list

constexpr absl::string_view kAgenciesListPath = "enlacectl agencies list";

const std::string& AgenciesListUsage() {
  static const auto* usage = new std::string(absl::StrCat(
      R"(List the registered agencies (AdminService.ListAgencies). Administrators
only.

Usage: enlacectl agencies list [flags]

Flags:
)",
      kOutputHelp, kConnectionHelp, R"(
Table columns: CODE, DISPLAY NAME, CREATED (UTC). The JSON document is a
ListAgenciesResponse with every page's agencies.

Example:
  enlacectl agencies list --output json
)",
      kExitHelp));
  return *usage;
}

int RunAgenciesList(const Args& args) {
  const std::string& usage = AgenciesListUsage();
  if (WantsHelp(args)) {
    std::cout << usage;
    return kExitOk;
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse(WithConnectionFlags({}, /*output=*/true), args);
  if (!flags.ok()) {
    return UsageError(kAgenciesListPath, flags.status().message(), usage);
  }
  absl::StatusOr<Output> output = ParseOutput(*flags);
  if (!output.ok()) return ValueError(kAgenciesListPath, output.status().message());
  absl::StatusOr<client::ConnectionOptions> options =
      ConnectionFromFlags(*flags);
  if (!options.ok()) return UsageError(kAgenciesListPath, options.status().message(), usage);

  absl::StatusOr<std::unique_ptr<v1::AdminService::Stub>> stub =
      AdminStub(*options);
  if (!stub.ok()) return Fail(stub.status());
  v1::ListAgenciesRequest request;
  request.set_page_size(500);
  v1::ListAgenciesResponse all;
  for (int pages = 0;; ++pages) {
    if (pages >= 100000) {
      return Fail(absl::InternalError("ListAgencies never ends: stopped paging"));
    }
    v1::ListAgenciesResponse page;
    std::unique_ptr<grpc::ClientContext> context = client::NewContext(*options);
    absl::Status status = client::FromGrpc(
        (*stub)->ListAgencies(context.get(), request, &page));
    if (!status.ok()) return Fail(status);
    for (v1::Agency& agency : *page.mutable_agencies()) {
      *all.add_agencies() = std::move(agency);
    }
    if (page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      return Fail(absl::InternalError(
          "ListAgencies returned the same page token twice"));
    }
    request.set_page_token(page.next_page_token());
  }
  if (*output == Output::kJson) return PrintJson(all);
  PrintAgencyTable(all);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// The command tree.

const std::vector<Command>& CertsCommands() {
  static const auto* commands = new std::vector<Command>{
      {"request", "offline: make a private key and a CSR to send to an admin",
       &RunCertsRequest},
      {"issue", "sign a CSR (admin): agency or admin certificate",
       &RunCertsIssue},
      {"list", "list certificates (admin)", &RunCertsList},
      {"revoke", "revoke a certificate (admin)", &RunCertsRevoke},
      {"expiring", "list active certificates expiring soon (admin)",
       &RunCertsExpiring},
  };
  return *commands;
}

const std::vector<Command>& AgenciesCommands() {
  static const auto* commands = new std::vector<Command>{
      {"register", "onboard an agency (admin)", &RunAgenciesRegister},
      {"list", "list the registered agencies (admin)", &RunAgenciesList},
  };
  return *commands;
}

}  // namespace

int RunCerts(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl certs",
      "Certificates of agencies and administrators: requests (offline), and\n"
      "issuing, listing and revoking through the server.",
      CertsCommands(),
      "enlacectl certs request --kind agency --name wfp --out-dir ./wfp-pki"));
  return Dispatch("enlacectl certs", CertsCommands(), *usage, args);
}

int RunAgencies(const Args& args) {
  static const auto* usage = new std::string(GroupUsage(
      "enlacectl agencies", "The agencies that take part in the platform.",
      AgenciesCommands(),
      "enlacectl agencies register wfp --display-name \"World Food "
      "Programme\""));
  return Dispatch("enlacectl agencies", AgenciesCommands(), *usage, args);
}

}  // namespace enlace::cli
