// Helpers shared by the benchmark scenarios in clients/bench/ (see common.h).
#include "clients/bench/common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "clients/connection.h"

namespace enlace::bench {
namespace {

absl::string_view CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "?";
  return kNames[code];
}

bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *contents = buffer.str();
  return !contents->empty();
}

}  // namespace

bool PersonaTls(const Target& target, absl::string_view persona, grpc::SslCredentialsOptions* tls) {
  tls->pem_root_certs = target.ca_pem;
  for (const auto& [ext, pem] :
       {std::pair(".crt", &tls->pem_cert_chain), std::pair(".key", &tls->pem_private_key)}) {
    const std::string path = absl::StrCat(target.pki_dir, "/", persona, ext);
    if (!ReadFile(path, pem)) {
      std::cerr << "enlace-loadgen: cannot read " << path
                << " (is --pki-dir a directory of `enlacectl pki init`?)\n";
      return false;
    }
  }
  return true;
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& addr, const std::string& server_name,
                                          const grpc::SslCredentialsOptions& tls,
                                          const std::string& actor) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return client::CreateChannelNamingActor(addr, grpc::SslCredentials(tls), args, actor);
}

std::shared_ptr<grpc::Channel> ConnectedChannel(const Target& target,
                                                const grpc::SslCredentialsOptions& tls) {
  std::shared_ptr<grpc::Channel> channel =
      OwnChannel(target.addr, target.server_name, tls, target.actor);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    std::cerr << "enlace-loadgen: could not connect to " << target.addr
              << " (is the server up, and do --ca and the certificates match?)\n";
    return nullptr;
  }
  return channel;
}

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
}

double PercentileMs(const std::vector<int64_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted_us.size())));
  rank = std::clamp<size_t>(rank, 1, sorted_us.size());
  return static_cast<double>(sorted_us[rank - 1]) / 1000.0;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void SetDeadline(grpc::ClientContext* context, absl::Duration limit) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(limit)));
}

int IntFlagOr(absl::string_view name, int value, int fallback) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && flag->CurrentValue() != flag->DefaultValue() ? value : fallback;
}

std::string ResidentMegabytes(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; pid > 0 && std::getline(in, line);) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kb = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kb)) {
      return absl::StrFormat("%.1f", static_cast<double>(kb) / 1024);
    }
  }
  return "na";
}

}  // namespace enlace::bench
