// The --help of the benchmark harness's programs (enlace-echo,
// enlace-bareload, enlace-bareread, enlace-benchfill): Abseil lists only the
// flags of files named like the program, and ours are not, so each program
// names the file that defines its flags.
//
//   int main(int argc, char** argv) {
//     enlace::bench::SetToolUsage("what this is for", "clients/bench/bare_reader.cc");
//     absl::ParseCommandLine(argc, argv);
#ifndef ENLACE_CLIENTS_BENCH_TOOL_USAGE_H_
#define ENLACE_CLIENTS_BENCH_TOOL_USAGE_H_

#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace enlace::bench {

// `flags_file`: the path, from the repository's root, of the file whose
// ABSL_FLAGs --help lists. Call once, before ParseCommandLine.
inline void SetToolUsage(absl::string_view message, const char* flags_file) {
  absl::SetProgramUsageMessage(message);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [flags_file](absl::string_view file) {
    return absl::StrContains(file, flags_file);
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [flags_file](absl::string_view file) {
    size_t at = file.find(flags_file);
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
}

}  // namespace enlace::bench

#endif  // ENLACE_CLIENTS_BENCH_TOOL_USAGE_H_
