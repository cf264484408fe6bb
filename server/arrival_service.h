// ArrivalService: how the ministry records returnee arrivals and how the
// agencies named in a returnee's consent read them (docs/api.md). Translates
// between protos and the ArrivalStore; authorization, audit and status
// conversion happen in the CallGate, record-level visibility in the store.
#ifndef ENLACE_SERVER_ARRIVAL_SERVICE_H_
#define ENLACE_SERVER_ARRIVAL_SERVICE_H_

#include "db/arrival_store.h"
#include "db/audit_store.h"
#include "db/person_store.h"
#include "db/returnee_store.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "server/agency_directory.h"
#include "server/call_gate.h"
#include "server/ingest_batcher.h"
#include "server/page_token.h"

namespace enlace::server {

class ArrivalServiceImpl final : public enlace::v1::ArrivalService::CallbackService {
 public:
  // All pointers must outlive the service. `returnees` and `audit_store`
  // serve ExportReturneeData and EraseReturnee only, `persons`
  // FindPossibleDuplicates, LinkArrivals and UnlinkArrivals: a service
  // without them (unit tests of the other calls) answers those
  // FAILED_PRECONDITION.
  ArrivalServiceImpl(CallGate* gate, const PageTokens* tokens, db::ArrivalStore* store,
                     IngestBatcher* batcher, AgencyDirectory* agencies, Metrics* metrics,
                     db::ReturneeStore* returnees = nullptr, db::AuditStore* audit_store = nullptr,
                     db::PersonStore* persons = nullptr);

  grpc::ServerBidiReactor<enlace::v1::RecordArrivalsRequest, enlace::v1::RecordArrivalsResponse>*
  RecordArrivals(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* RecordArrival(grpc::CallbackServerContext* ctx,
                                          const enlace::v1::RecordArrivalRequest* request,
                                          enlace::v1::RecordArrivalResponse* response) override;
  grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* ctx,
                                       const enlace::v1::GetArrivalRequest* request,
                                       enlace::v1::Arrival* response) override;
  grpc::ServerUnaryReactor* ListArrivals(grpc::CallbackServerContext* ctx,
                                         const enlace::v1::ListArrivalsRequest* request,
                                         enlace::v1::ListArrivalsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateConsent(grpc::CallbackServerContext* ctx,
                                          const enlace::v1::UpdateConsentRequest* request,
                                          enlace::v1::Arrival* response) override;
  grpc::ServerUnaryReactor* RecordObjection(grpc::CallbackServerContext* ctx,
                                            const enlace::v1::RecordObjectionRequest* request,
                                            enlace::v1::Arrival* response) override;
  grpc::ServerUnaryReactor* CorrectArrival(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::CorrectArrivalRequest* request,
                                           enlace::v1::Arrival* response) override;
  grpc::ServerUnaryReactor* ListArrivalVersions(
      grpc::CallbackServerContext* ctx, const enlace::v1::ListArrivalVersionsRequest* request,
      enlace::v1::ListArrivalVersionsResponse* response) override;
  grpc::ServerUnaryReactor* ExportReturneeData(grpc::CallbackServerContext* ctx,
                                               const enlace::v1::ExportReturneeDataRequest* request,
                                               enlace::v1::ReturneeDataExport* response) override;
  grpc::ServerUnaryReactor* EraseReturnee(grpc::CallbackServerContext* ctx,
                                          const enlace::v1::EraseReturneeRequest* request,
                                          enlace::v1::EraseReturneeResponse* response) override;
  grpc::ServerUnaryReactor* FindPossibleDuplicates(
      grpc::CallbackServerContext* ctx, const enlace::v1::FindPossibleDuplicatesRequest* request,
      enlace::v1::FindPossibleDuplicatesResponse* response) override;
  grpc::ServerUnaryReactor* LinkArrivals(grpc::CallbackServerContext* ctx,
                                         const enlace::v1::LinkArrivalsRequest* request,
                                         enlace::v1::LinkArrivalsResponse* response) override;
  grpc::ServerUnaryReactor* UnlinkArrivals(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::UnlinkArrivalsRequest* request,
                                           enlace::v1::UnlinkArrivalsResponse* response) override;

 private:
  class RecordArrivalsReactor;

  // Everything held about the arrival `arrival_id` that `submitter`
  // recorded, as ExportReturneeData shows it, but exported_at and
  // linked_arrivals: appends the id of every case, service, referral and
  // initiative it read to *record_ids, and sets *linked (if not null) to the
  // person's other arrivals. NOT_FOUND when `submitter` did not record it.
  absl::StatusOr<enlace::v1::ReturneeData> HeldAboutArrival(const std::string& arrival_id,
                                                            const db::Viewer& submitter,
                                                            std::vector<std::string>* record_ids,
                                                            std::vector<std::string>* linked);

  CallGate* const gate_;
  const PageTokens* const tokens_;
  db::ArrivalStore* const store_;
  IngestBatcher* const batcher_;
  AgencyDirectory* const agencies_;
  Metrics* const metrics_;
  db::ReturneeStore* const returnees_;
  db::AuditStore* const audit_store_;
  db::PersonStore* const persons_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ARRIVAL_SERVICE_H_
