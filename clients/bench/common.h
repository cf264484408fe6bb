// Small helpers shared by the benchmark scenarios of enlace-loadgen that
// live in clients/bench/ (reads, reports, mixed): personas' TLS credentials,
// channels, status text and percentiles.
#ifndef ENLACE_CLIENTS_BENCH_COMMON_H_
#define ENLACE_CLIENTS_BENCH_COMMON_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/bench/synthetic.h"  // Mix, for pseudo-random picks

namespace enlace::bench {

// Where the scenarios connect: the TLS port, the CA and the personas'
// certificates (`enlacectl pki init` writes <persona>.crt and .key).
struct Target {
  std::string addr;
  std::string server_name;  // empty: the host of addr
  std::string actor;  // named in every call (enlace-actor); empty: none
  std::string ca_pem;
  std::string pki_dir;
};

// The persona's credentials; false after printing why.
bool PersonaTls(const Target& target, absl::string_view persona, grpc::SslCredentialsOptions* tls);

// A channel of its own to `addr`: a local subchannel pool keeps channels with
// equal arguments from sharing one HTTP/2 connection. Not connected yet.
// Every call on it names `actor` (enlace-actor) when it is not empty.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& addr, const std::string& server_name,
                                          const grpc::SslCredentialsOptions& tls,
                                          const std::string& actor);

// OwnChannel(target...), connected before it is returned; nullptr after
// printing why.
std::shared_ptr<grpc::Channel> ConnectedChannel(const Target& target,
                                                const grpc::SslCredentialsOptions& tls);

std::string StatusText(const grpc::Status& status);

// Nearest-rank percentile of sorted microseconds, in milliseconds.
double PercentileMs(const std::vector<int64_t>& sorted_us, double p);

// The median of some values (the mean of the two middle ones for an even count).
double Median(std::vector<double> values);

void SetDeadline(grpc::ClientContext* context, absl::Duration limit);

// An int flag of loadgen.cc whose default suits another scenario: its value
// if set to something other than that default, else `fallback`.
int IntFlagOr(absl::string_view name, int value, int fallback);

// The resident memory of process `pid` in MB (VmRSS), or "na".
std::string ResidentMegabytes(int pid);

}  // namespace enlace::bench

#endif  // ENLACE_CLIENTS_BENCH_COMMON_H_
