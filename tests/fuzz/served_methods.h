// The full method names the server serves, from the generated descriptors, as
// server/server.cc's ServedMethods() lists them (the harnesses do not link
// the server library): the five Enlace services, health and reflection.
#ifndef ENLACE_TESTS_FUZZ_SERVED_METHODS_H_
#define ENLACE_TESTS_FUZZ_SERVED_METHODS_H_

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enlace/v1/admin.pb.h"
#include "enlace/v1/arrivals.pb.h"
#include "enlace/v1/cases.pb.h"
#include "enlace/v1/referrals.pb.h"
#include "enlace/v1/reports.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "grpc/reflection/v1alpha/reflection.pb.h"

namespace enlace::fuzz {

inline const std::vector<std::string>& ServedMethods() {
  static const std::vector<std::string>* methods = [] {
    const google::protobuf::ServiceDescriptor* services[] = {
        enlace::v1::Arrival::descriptor()->file()->FindServiceByName("ArrivalService"),
        enlace::v1::Case::descriptor()->file()->FindServiceByName("CaseService"),
        enlace::v1::Referral::descriptor()->file()->FindServiceByName("ReferralService"),
        enlace::v1::ProgrammeReport::descriptor()->file()->FindServiceByName("ReportService"),
        enlace::v1::AuditEvent::descriptor()->file()->FindServiceByName("AdminService"),
        grpc::health::v1::HealthCheckRequest::descriptor()->file()->FindServiceByName("Health"),
        grpc::reflection::v1alpha::ServerReflectionRequest::descriptor()->file()->FindServiceByName(
            "ServerReflection"),
    };
    auto* list = new std::vector<std::string>;
    for (const google::protobuf::ServiceDescriptor* service : services) {
      if (service == nullptr) std::abort();
      for (int i = 0; i < service->method_count(); ++i) {
        list->push_back(absl::StrCat("/", service->full_name(), "/", service->method(i)->name()));
      }
    }
    return list;
  }();
  return *methods;
}

// The policy the server ships (server/default_policy.conf).
inline std::string ShippedPolicyText() {
  std::ifstream in(ENLACE_DEFAULT_POLICY);
  if (!in) std::abort();
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace enlace::fuzz

#endif  // ENLACE_TESTS_FUZZ_SERVED_METHODS_H_
