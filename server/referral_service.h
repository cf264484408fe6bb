// ReferralService: referrals between agencies and the live feed of their
// changes (docs/api.md). The store enforces the status machine and who may act;
// WatchReferrals streams pull from the server's ReferralFeed without a
// thread per stream.
#ifndef ENLACE_SERVER_REFERRAL_SERVICE_H_
#define ENLACE_SERVER_REFERRAL_SERVICE_H_

#include <memory>
#include <string>

#include "db/case_store.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "server/agency_directory.h"
#include "server/call_gate.h"
#include "server/feed_messages.h"
#include "server/page_token.h"
#include "server/referral_feed.h"
#include "server/sharing_agreements.h"
#include "server/work_pool.h"

namespace enlace::server {

class ReferralServiceImpl final : public enlace::v1::ReferralService::CallbackService {
 public:
  // All pointers must outlive the service. `agreements` decides, with the
  // consent, what the watch streams deliver, and ends a stream whose agency
  // lost an agreement (server/sharing_agreements.h).
  ReferralServiceImpl(CallGate* gate, const PageTokens* tokens, db::CaseStore* store,
                      AgencyDirectory* agencies, ReferralFeed* feed, WorkPool* work,
                      const SharingAgreementBook* agreements);
  ~ReferralServiceImpl() override;

  grpc::ServerUnaryReactor* CreateReferral(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::CreateReferralRequest* request,
                                           enlace::v1::Referral* response) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* ctx,
                                        const enlace::v1::GetReferralRequest* request,
                                        enlace::v1::Referral* response) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* ctx,
                                          const enlace::v1::ListReferralsRequest* request,
                                          enlace::v1::ListReferralsResponse* response) override;
  grpc::ServerUnaryReactor* AcceptReferral(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::AcceptReferralRequest* request,
                                           enlace::v1::Referral* response) override;
  grpc::ServerUnaryReactor* DeclineReferral(grpc::CallbackServerContext* ctx,
                                            const enlace::v1::DeclineReferralRequest* request,
                                            enlace::v1::Referral* response) override;
  grpc::ServerUnaryReactor* CompleteReferral(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::CompleteReferralRequest* request,
                                             enlace::v1::Referral* response) override;
  grpc::ServerUnaryReactor* WithdrawReferral(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::WithdrawReferralRequest* request,
                                             enlace::v1::Referral* response) override;
  grpc::ServerWriteReactor<enlace::v1::ReferralEvent>* WatchReferrals(
      grpc::CallbackServerContext* ctx, const enlace::v1::WatchReferralsRequest* request) override;

 private:
  class WatchReactor;

  // The common path of the four transitions.
  grpc::ServerUnaryReactor* Transition(grpc::CallbackServerContext* ctx, absl::string_view method,
                                       const db::Transition& transition,
                                       absl::string_view text_field,
                                       enlace::v1::Referral* response);

  CallGate* const gate_;
  const PageTokens* const tokens_;
  db::CaseStore* const store_;
  AgencyDirectory* const agencies_;
  ReferralFeed* const feed_;
  WorkPool* const work_;
  const SharingAgreementBook* const agreements_;
  const std::unique_ptr<FeedMessages> events_;  // the messages watch streams write
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REFERRAL_SERVICE_H_
