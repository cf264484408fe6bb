// Shared referral SQL (see mysql_referral_sql.h).
#include "db/mysql_referral_sql.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/mysql_report_grid.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::db {

using google::protobuf::util::TimeUtil;

const char kReferralColumns[] =
    "r.seq AS referral_seq, r.referral_id, c.case_id, c.arrival_seq, r.from_agency, r.to_agency, "
    "r.service, r.reason, r.status, r.decline_reason, r.outcome, r.version, r.created_at_us, "
    "r.updated_at_us";

enlace::v1::Referral RowToReferral(sql::ResultSet& row) {
  enlace::v1::Referral r;
  r.set_referral_id(row.getString("referral_id"));
  r.set_case_id(row.getString("case_id"));
  r.set_from_agency(row.getString("from_agency"));
  r.set_to_agency(row.getString("to_agency"));
  r.set_service(static_cast<enlace::v1::Need>(row.getInt("service")));
  r.set_reason(row.getString("reason"));
  r.set_status(static_cast<enlace::v1::ReferralStatus>(row.getInt("status")));
  r.set_decline_reason(row.getString("decline_reason"));
  r.set_outcome(row.getString("outcome"));
  r.set_etag(EtagOf(row.getInt("version")));
  *r.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("created_at_us"));
  *r.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("updated_at_us"));
  return r;
}

std::string EtagOf(int version) { return absl::StrCat("v", version); }

namespace {

// Appends one row to the feed under the head row's lock; returns its seq.
int64_t AppendFeedRow(MysqlConnection& c, int64_t referral_seq, int64_t arrival_seq, int type,
                      const std::string& from_agency, const std::string& to_agency,
                      const std::string& snapshot, int64_t now_us) {
  std::unique_ptr<sql::ResultSet> head(
      c.Prepare("SELECT last_seq FROM referral_feed_head WHERE id = 1 FOR UPDATE")->executeQuery());
  head->next();
  int64_t seq = head->getInt64(1) + 1;
  sql::PreparedStatement* insert = c.Prepare(
      "INSERT INTO referral_events (seq, referral_seq, arrival_seq, type, from_agency, "
      "to_agency, committed_at_us, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert->setInt64(1, seq);
  insert->setInt64(2, referral_seq);
  insert->setInt64(3, arrival_seq);
  insert->setInt(4, type);
  insert->setString(5, from_agency);
  insert->setString(6, to_agency);
  insert->setInt64(7, now_us);
  insert->setString(8, snapshot);
  insert->executeUpdate();
  sql::PreparedStatement* update =
      c.Prepare("UPDATE referral_feed_head SET last_seq = ? WHERE id = 1");
  update->setInt64(1, seq);
  update->executeUpdate();
  return seq;
}

}  // namespace

void AppendReferralEvent(MysqlConnection& c, int64_t referral_seq, int64_t arrival_seq,
                         enlace::v1::ReferralEventType type, const enlace::v1::Referral& snapshot,
                         int64_t now_us) {
  enlace::v1::Referral without_returnee = snapshot;
  without_returnee.clear_returnee();
  AppendFeedRow(c, referral_seq, arrival_seq, type, snapshot.from_agency(), snapshot.to_agency(),
                without_returnee.SerializeAsString(), now_us);
}

std::string EncodeConsentChange(const ConsentState& consent) {
  return absl::StrCat(consent.version, ";", consent.purposes_mask, ";",
                      absl::StrJoin(consent.agencies, ","));
}

bool DecodeConsentChange(absl::string_view text, ConsentState* consent) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ';');
  if (parts.size() != 3) return false;
  ConsentState decoded;
  if (!absl::SimpleAtoi(parts[0], &decoded.version) ||
      !absl::SimpleAtoi(parts[1], &decoded.purposes_mask)) {
    return false;
  }
  for (absl::string_view agency : absl::StrSplit(parts[2], ',', absl::SkipEmpty())) {
    decoded.agencies.emplace_back(agency);
  }
  *consent = std::move(decoded);
  return true;
}

void AppendConsentChange(MysqlConnection& c, int64_t arrival_seq, const ConsentState& consent,
                         int64_t now_us) {
  AppendFeedRow(c, /*referral_seq=*/0, arrival_seq, /*type=*/0, "", "",
                EncodeConsentChange(consent), now_us);
}

std::vector<std::string> WithdrawReferralsWithoutConsent(MysqlConnection& c, int64_t arrival_seq,
                                                         const ConsentState& consent,
                                                         int64_t now_us) {
  sql::PreparedStatement* select =
      c.Prepare(absl::StrCat("SELECT ", kReferralColumns,
                             " FROM referrals r JOIN cases c ON c.seq = r.case_seq "
                             "WHERE c.arrival_seq = ? AND r.status = ? ORDER BY r.seq FOR UPDATE"));
  select->setInt64(1, arrival_seq);
  select->setInt(2, enlace::v1::REFERRAL_STATUS_PENDING);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  std::vector<std::pair<int64_t, enlace::v1::Referral>> lost;
  while (rows->next()) {
    enlace::v1::Referral referral = RowToReferral(*rows);
    if (!ConsentAllows(Reach::kReferral, referral.from_agency(), consent) ||
        !ConsentAllows(Reach::kReferral, referral.to_agency(), consent)) {
      lost.emplace_back(rows->getInt64("referral_seq"), std::move(referral));
    }
  }
  rows.reset();
  // Withdrawn, they move to other cells of the report's grid.
  std::vector<int64_t> lost_seqs;
  lost_seqs.reserve(lost.size());
  for (const auto& [seq, referral] : lost) lost_seqs.push_back(seq);
  CountInGrid(c, ReportGridTable::kReferrals, lost_seqs, -1);
  std::vector<std::string> ids;
  for (auto& [seq, referral] : lost) {
    ids.push_back(referral.referral_id());
    int version = std::stoi(referral.etag().substr(1)) + 1;
    sql::PreparedStatement* update =
        c.Prepare("UPDATE referrals SET status = ?, version = ?, updated_at_us = ? WHERE seq = ?");
    update->setInt(1, enlace::v1::REFERRAL_STATUS_WITHDRAWN);
    update->setInt(2, version);
    update->setInt64(3, now_us);
    update->setInt64(4, seq);
    update->executeUpdate();
    referral.set_status(enlace::v1::REFERRAL_STATUS_WITHDRAWN);
    referral.set_etag(EtagOf(version));
    *referral.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now_us);
    AppendReferralEvent(c, seq, arrival_seq, enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN, referral,
                        now_us);
  }
  CountInGrid(c, ReportGridTable::kReferrals, lost_seqs, +1);
  return ids;
}

}  // namespace enlace::db
