// Requests of CaseStore calls as tests write them: a service or an
// initiative from its plain fields, outcomes left unset (or added to the
// returned request).
//
//   store->RecordService(ServiceRequest(case_id, enlace::v1::NEED_TRAINING, "2018-03-01", ""),
//                        viewer, nullptr);
#ifndef ENLACE_TESTS_TESTING_CASE_REQUESTS_H_
#define ENLACE_TESTS_TESTING_CASE_REQUESTS_H_

#include <string>

#include "enlace/v1/cases.pb.h"

namespace enlace::testing {

inline enlace::v1::RecordServiceRequest ServiceRequest(const std::string& case_id,
                                                       enlace::v1::Need service,
                                                       const std::string& delivered_on,
                                                       const std::string& notes) {
  enlace::v1::RecordServiceRequest request;
  request.set_case_id(case_id);
  request.set_service(service);
  request.set_delivered_on(delivered_on);
  request.set_notes(notes);
  return request;
}

inline enlace::v1::RegisterInitiativeRequest InitiativeRequest(const std::string& case_id,
                                                               const std::string& name,
                                                               const std::string& sector,
                                                               const std::string& municipality) {
  enlace::v1::RegisterInitiativeRequest request;
  request.set_case_id(case_id);
  request.set_name(name);
  request.set_sector(sector);
  request.set_municipality(municipality);
  return request;
}

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_CASE_REQUESTS_H_
