// SQL shared by the stores that change referrals (MysqlCaseStore, and
// MysqlArrivalStore when a consent withdrawal withdraws referrals): reading
// a referral row, appending to the ordered feed, withdrawing referrals that
// lost consent. Internal to db/; callers run inside a MysqlPool transaction.
#ifndef ENLACE_DB_MYSQL_REFERRAL_SQL_H_
#define ENLACE_DB_MYSQL_REFERRAL_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "db/mysql_pool.h"
#include "db/visibility.h"
#include "enlace/v1/referrals.pb.h"

namespace sql {
class ResultSet;
}  // namespace sql

namespace enlace::db {

// Columns of `referrals r JOIN cases c ON c.seq = r.case_seq`, in the form
// RowToReferral reads (r.seq as referral_seq, c.arrival_seq included).
extern const char kReferralColumns[];

// A Referral from a row selected with kReferralColumns (no returnee summary).
enlace::v1::Referral RowToReferral(sql::ResultSet& row);

// "v<version>": the etag of a referral or case at `version`.
std::string EtagOf(int version);

// Appends one event to the referral feed. Locks the feed head row until the
// caller's transaction ends, so event seqs follow commit order without gaps.
// Throws sql::SQLException like any statement (the pool converts).
void AppendReferralEvent(MysqlConnection& c, int64_t referral_seq, int64_t arrival_seq,
                         enlace::v1::ReferralEventType type, const enlace::v1::Referral& snapshot,
                         int64_t now_us);

// Appends the consent-change event of an arrival (see migration 0004): the
// feed's readers apply `consent` to every event after it. Call it before
// anything else the change appends to the feed.
void AppendConsentChange(MysqlConnection& c, int64_t arrival_seq, const ConsentState& consent,
                         int64_t now_us);

// The stored form of a consent-change event, and back (false if unreadable).
std::string EncodeConsentChange(const ConsentState& consent);
bool DecodeConsentChange(absl::string_view text, ConsentState* consent);

// Withdraws the PENDING referrals of the arrival's cases that the new
// `consent` no longer lets both their sender and receiver see
// (Reach::kReferral), with a WITHDRAWN event each. Returns their ids.
std::vector<std::string> WithdrawReferralsWithoutConsent(MysqlConnection& c, int64_t arrival_seq,
                                                         const ConsentState& consent,
                                                         int64_t now_us);

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_REFERRAL_SQL_H_
