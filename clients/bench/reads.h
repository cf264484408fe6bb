// The read scenarios of enlace-loadgen behind `scripts/bench.sh get`, `list`,
// `report` and `scale`, over the arrivals `bench.sh fill` loaded
// (clients/bench/synthetic.h tells which ids an agency may see):
//
//   get       --in-flight calls (default 64) kept in flight for --duration
//             seconds (callback API, closed loop: each answer is followed at
//             once by the next call) of GetArrival of random ids the --as
//             agency may see; calls/s, p50, p99
//   list      the same with ListArrivals, page_size --page-size (50): the first
//             page (--page first), or a page --deep-pages deep (--page deep:
//             page tokens are followed that deep first, then that page is
//             asked for again and again)
//   capture   writes one real GetArrival answer, first page and deep page to
//             --out-dir (get.bin, list.bin, list_deep.bin: serialized
//             messages), which enlace-echo sends back, so that the echo
//             baseline moves the same bytes
//   report    --calls sequential GetProgrammeReport calls (default 20) for one
//             --year as --as; p50, p99, and the returnees it counts
//
// With --echo, the answers come from enlace-echo (clients/bench/echo_server.cc)
// and are checked only for being there (they are canned). Each prints one
// line for people and a "RESULT kind=... key=value ..." line for scripts;
// exit status 1 if any call failed or answered wrongly.
#ifndef ENLACE_CLIENTS_BENCH_READS_H_
#define ENLACE_CLIENTS_BENCH_READS_H_

#include "absl/strings/string_view.h"
#include "clients/bench/common.h"

namespace enlace::bench {

bool IsReadCommand(absl::string_view command);
int RunReadCommand(absl::string_view command, const Target& target);

// The usage text of these commands, for enlace-loadgen --help.
extern const char kReadCommandsUsage[];

}  // namespace enlace::bench

#endif  // ENLACE_CLIENTS_BENCH_READS_H_
