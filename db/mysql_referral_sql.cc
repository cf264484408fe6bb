// Shared referral SQL (see mysql_referral_sql.h).
#include "db/mysql_referral_sql.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
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

void AppendReferralEvent(MysqlConnection& c, int64_t referral_seq,
                         enlace::v1::ReferralEventType type,
                         const enlace::v1::Referral& snapshot, int64_t now_us) {
  std::unique_ptr<sql::ResultSet> head(
      c.Prepare("SELECT last_seq FROM referral_feed_head WHERE id = 1 FOR UPDATE")->executeQuery());
  head->next();
  int64_t seq = head->getInt64(1) + 1;
  enlace::v1::Referral without_returnee = snapshot;
  without_returnee.clear_returnee();
  std::string bytes = without_returnee.SerializeAsString();
  sql::PreparedStatement* insert = c.Prepare(
      "INSERT INTO referral_events (seq, referral_seq, type, from_agency, to_agency, "
      "committed_at_us, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)");
  insert->setInt64(1, seq);
  insert->setInt64(2, referral_seq);
  insert->setInt(3, type);
  insert->setString(4, snapshot.from_agency());
  insert->setString(5, snapshot.to_agency());
  insert->setInt64(6, now_us);
  insert->setString(7, bytes);
  insert->executeUpdate();
  sql::PreparedStatement* update =
      c.Prepare("UPDATE referral_feed_head SET last_seq = ? WHERE id = 1");
  update->setInt64(1, seq);
  update->executeUpdate();
}

int WithdrawReferralsWithoutConsent(MysqlConnection& c, int64_t arrival_seq,
                                    const absl::flat_hash_set<std::string>& still_consented,
                                    int64_t now_us) {
  sql::PreparedStatement* select = c.Prepare(absl::StrCat(
      "SELECT ", kReferralColumns,
      " FROM referrals r JOIN cases c ON c.seq = r.case_seq "
      "WHERE c.arrival_seq = ? AND r.status = ? ORDER BY r.seq FOR UPDATE"));
  select->setInt64(1, arrival_seq);
  select->setInt(2, enlace::v1::REFERRAL_STATUS_PENDING);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  std::vector<std::pair<int64_t, enlace::v1::Referral>> lost;
  while (rows->next()) {
    enlace::v1::Referral referral = RowToReferral(*rows);
    if (!still_consented.contains(referral.from_agency()) ||
        !still_consented.contains(referral.to_agency())) {
      lost.emplace_back(rows->getInt64("referral_seq"), std::move(referral));
    }
  }
  for (auto& [seq, referral] : lost) {
    int version = std::stoi(referral.etag().substr(1)) + 1;
    sql::PreparedStatement* update = c.Prepare(
        "UPDATE referrals SET status = ?, version = ?, updated_at_us = ? WHERE seq = ?");
    update->setInt(1, enlace::v1::REFERRAL_STATUS_WITHDRAWN);
    update->setInt(2, version);
    update->setInt64(3, now_us);
    update->setInt64(4, seq);
    update->executeUpdate();
    referral.set_status(enlace::v1::REFERRAL_STATUS_WITHDRAWN);
    referral.set_etag(EtagOf(version));
    *referral.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now_us);
    AppendReferralEvent(c, seq, enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN, referral, now_us);
  }
  return static_cast<int>(lost.size());
}

}  // namespace enlace::db
