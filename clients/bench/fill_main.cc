// enlace-benchfill: writes the synthetic rows of `scripts/bench.sh fill`
// (clients/bench/synthetic.h) as tab-separated files for LOAD DATA: the
// filled arrivals [--from, --to), their consent rows, cases, services,
// referrals and initiatives. The rows carry their primary keys (arrival and
// case seq, from --arrival-seq-base and --case-seq-base), so child rows can
// name their parents without reading them back; bench.sh passes the
// tables' current MAX(seq) and loads the files in one transaction.
//
//   enlace-benchfill --gazetteer=data/sv_gazetteer.csv --from=0 --to=250000
//       --arrival_seq_base=0 --case_seq_base=0 --out_dir=/tmp/chunk
//
// Files written in --out-dir (columns in the order of bench.sh's LOAD DATA):
//   arrivals.tsv consent.tsv cases.tsv services.tsv referrals.tsv initiatives.tsv
// Prints one line: "RESULT arrivals=N consent=N cases=N services=N referrals=N
// initiatives=N". Exit status 0, 1 on an I/O error, 2 on a usage error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clients/bench/synthetic.h"
#include "clients/bench/tool_usage.h"

ABSL_FLAG(std::string, gazetteer, "data/sv_gazetteer.csv",
          "the gazetteer CSV (departments, municipalities)");
ABSL_FLAG(int64_t, from, 0, "first fill index (inclusive)");
ABSL_FLAG(int64_t, to, 0, "last fill index (exclusive)");
ABSL_FLAG(int64_t, arrival_seq_base, 0, "arrival i gets seq base + (i - from) + 1");
ABSL_FLAG(int64_t, case_seq_base, 0, "the chunk's cases get seq base + 1, base + 2, ...");
ABSL_FLAG(std::string, out_dir, "", "directory for the .tsv files (must exist)");

namespace enlace::bench {
namespace {

// A file written through a large buffer.
class TsvFile {
 public:
  bool Open(const std::string& path) {
    file_ = std::fopen(path.c_str(), "wb");
    path_ = path;
    return file_ != nullptr;
  }
  std::string& line() { return buffer_; }
  void MaybeFlush() {
    if (buffer_.size() >= (1 << 20)) Flush();
  }
  bool Close() {
    Flush();
    const bool ok = file_ != nullptr && !failed_ && std::fclose(file_) == 0;
    file_ = nullptr;
    return ok;
  }

 private:
  void Flush() {
    if (file_ == nullptr || buffer_.empty()) return;
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) failed_ = true;
    buffer_.clear();
  }
  std::FILE* file_ = nullptr;
  std::string path_;
  std::string buffer_;
  bool failed_ = false;
};

int64_t DayMicros(const std::string& date) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(date, &day)) return 0;
  return absl::ToUnixMicros(absl::FromCivil(day, absl::UTCTimeZone()));
}

constexpr char kReferralReasons[] = "synthetic referral (bench fill)";

int Main(int argc, char** argv) {
  SetToolUsage(
      "writes the synthetic rows of scripts/bench.sh fill as .tsv files; see the top of "
      "clients/bench/fill_main.cc",
      "clients/bench/fill_main.cc");
  absl::ParseCommandLine(argc, argv);
  const int64_t from = absl::GetFlag(FLAGS_from), to = absl::GetFlag(FLAGS_to);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (from < 0 || to <= from || to > 10'000'000'000LL || out_dir.empty()) {
    std::cerr << "enlace-benchfill: need 0 <= --from < --to <= 10^10 and --out-dir\n";
    return 2;
  }
  std::ifstream in(absl::GetFlag(FLAGS_gazetteer));
  std::stringstream csv;
  csv << in.rdbuf();
  absl::StatusOr<std::vector<Place>> places = ParseGazetteer(csv.str());
  if (!in || !places.ok()) {
    std::cerr << "enlace-benchfill: cannot read the gazetteer " << absl::GetFlag(FLAGS_gazetteer)
              << (places.ok() ? "" : absl::StrCat(": ", places.status().message())) << "\n";
    return 2;
  }
  const Population population(*std::move(places));

  TsvFile arrivals, consent, cases, services, referrals, initiatives;
  for (const auto& [file, name] :
       {std::pair(&arrivals, "arrivals"), std::pair(&consent, "consent"),
        std::pair(&cases, "cases"), std::pair(&services, "services"),
        std::pair(&referrals, "referrals"), std::pair(&initiatives, "initiatives")}) {
    if (!file->Open(absl::StrCat(out_dir, "/", name, ".tsv"))) {
      std::cerr << "enlace-benchfill: cannot write " << out_dir << "/" << name << ".tsv\n";
      return 1;
    }
  }
  int64_t arrival_seq = absl::GetFlag(FLAGS_arrival_seq_base);
  int64_t case_seq = absl::GetFlag(FLAGS_case_seq_base);
  int64_t n_consent = 0, n_cases = 0, n_services = 0, n_referrals = 0, n_initiatives = 0;
  for (int64_t i = from; i < to; ++i) {
    const FilledArrival a = population.Arrival(i);
    ++arrival_seq;
    absl::StrAppend(&arrivals.line(), arrival_seq, "\t", a.arrival_id, "\t", kSubmitter, "\t",
                    a.external_id, "\t", absl::BytesToHexString(a.content_hash), "\t",
                    a.arrival_date, "\t", a.mode, "\t", a.origin_country, "\t");
    absl::StrAppend(&arrivals.line(), a.given_name, "\t", a.family_name, "\t", a.birth_date, "\t",
                    a.sex, "\t", a.document_number, "\t", a.place->department_code, "\t",
                    a.place->municipality, "\t", a.needs_mask, "\t");
    absl::StrAppend(&arrivals.line(), a.purposes_mask, "\t", a.consent_given_at_us, "\t1\t",
                    a.recorded_at_us, "\n");
    arrivals.MaybeFlush();
    for (const std::string& agency : a.consent_agencies) {
      absl::StrAppend(&consent.line(), arrival_seq, "\t", agency, "\n");
      ++n_consent;
    }
    consent.MaybeFlush();
    if (!a.case_record.has_value()) continue;
    const FilledCase& k = *a.case_record;
    ++case_seq;
    ++n_cases;
    absl::StrAppend(&cases.line(), case_seq, "\t", k.case_id, "\t", arrival_seq, "\t", k.owner,
                    "\t", k.status, "\t", a.place->department_code, "\t", a.place->municipality,
                    "\tsynthetic case of ", a.external_id, "\t\t", k.version, "\t", k.created_at_us,
                    "\t", k.updated_at_us, "\n");
    cases.MaybeFlush();
    for (const FilledService& s : k.services) {
      absl::StrAppend(&services.line(), s.service_id, "\t", case_seq, "\t", s.service, "\t",
                      s.delivered_on, "\t\t", k.owner, "\t",
                      DayMicros(s.delivered_on) + 15 * 3600'000'000LL, "\n");
      ++n_services;
    }
    services.MaybeFlush();
    if (k.referral.has_value()) {
      const FilledReferral& r = *k.referral;
      absl::StrAppend(&referrals.line(), r.referral_id, "\t", case_seq, "\t", k.owner, "\t",
                      r.to_agency, "\t", r.service, "\t", kReferralReasons, "\t", r.status, "\t",
                      r.status == 3 ? "no capacity" : "", "\t",
                      r.status == 4 ? "service delivered" : "", "\t", r.version, "\t",
                      r.created_at_us, "\t", r.updated_at_us, "\n");
      ++n_referrals;
      referrals.MaybeFlush();
    }
    if (k.initiative.has_value()) {
      const FilledInitiative& n = *k.initiative;
      absl::StrAppend(&initiatives.line(), n.initiative_id, "\t", case_seq, "\t", k.owner, "\t",
                      n.name, "\t", n.sector, "\t", a.place->department_code, "\t",
                      a.place->municipality, "\t", n.registered_at_us, "\n");
      ++n_initiatives;
      initiatives.MaybeFlush();
    }
  }
  for (TsvFile* file : {&arrivals, &consent, &cases, &services, &referrals, &initiatives}) {
    if (!file->Close()) {
      std::cerr << "enlace-benchfill: writing to " << out_dir << " failed\n";
      return 1;
    }
  }
  std::cout << "RESULT arrivals=" << (to - from) << " consent=" << n_consent << " cases=" << n_cases
            << " services=" << n_services << " referrals=" << n_referrals
            << " initiatives=" << n_initiatives << "\n";
  return 0;
}

}  // namespace
}  // namespace enlace::bench

int main(int argc, char** argv) { return enlace::bench::Main(argc, argv); }
