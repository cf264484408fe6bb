// The mixed scenario of enlace-loadgen (`scripts/bench.sh mixed`): a minute of
// everything at once, at fixed rates, to find errors and leaks rather than
// limits. After a set-up (mfa records --cases arrivals whose consent names
// iom and undp, iom opens a case for each, undp opens --watchers
// WatchReferrals streams and a warm-up referral reaches every one), for
// --duration seconds (default 60):
//   - mfa streams arrivals through one RecordArrivals stream, --ingest-rate a second
//   - iom reads at --read-rate calls a second, open loop: 4 GetArrival of the
//     set-up arrivals : 1 ListArrivals first page
//   - referrals move at --transition-rate moves a second, one at a time: iom
//     creates (to undp) and withdraws, undp accepts, declines and completes,
//     along four plans (create-accept-complete, create-decline,
//     create-withdraw, create-accept-withdraw)
//   - every watcher must see every move.
// Then it counts errors: failed calls, rejected records, moves a watcher
// missed, streams that ended before they were cancelled. With --server-pid,
// the server's resident memory before and after. Prints a line for people
// and "RESULT kind=mixed ... errors=N rss_start_mb= rss_end_mb="; exit
// status 1 if errors > 0.
#ifndef ENLACE_CLIENTS_BENCH_MIXED_H_
#define ENLACE_CLIENTS_BENCH_MIXED_H_

#include "clients/bench/common.h"

namespace enlace::bench {

int RunMixed(const Target& target);

extern const char kMixedUsage[];

}  // namespace enlace::bench

#endif  // ENLACE_CLIENTS_BENCH_MIXED_H_
