// grpc.reflection.v1alpha.ServerReflection on the mTLS port, behind the call
// gate like every other service (policy, revocation and expiry checks, audit,
// re-checks while the stream is open), in place of gRPC's built-in plugin,
// which bypasses the gate.
//
// It describes what the TLS port serves: list_services names the services
// given at construction, and the file lookups (file_by_filename,
// file_containing_symbol, file_containing_extension,
// all_extension_numbers_of_type) answer from the compiled-in descriptors
// (DescriptorPool::generated_pool()), limited to the files those services
// are declared in and their transitive imports. A file answer carries the
// file and every file it imports, directly or not, as serialized
// FileDescriptorProtos, the file asked for first. A name it does not know
// gets an error_response with NOT_FOUND (5); the stream goes on. One
// request, one response, in order.
#ifndef ENLACE_SERVER_REFLECTION_SERVICE_H_
#define ENLACE_SERVER_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/call_gate.h"

namespace google::protobuf {
class FileDescriptor;
}  // namespace google::protobuf

namespace enlace::server {

class ReflectionServiceImpl final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: the fully-qualified names of the services served next to
  // this one (this one included); each must be in the generated pool.
  // `gate` must outlive the service.
  ReflectionServiceImpl(CallGate* gate, std::vector<std::string> services);

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* ctx) override;

  // The answer to one request (no I/O; thread-safe). Public for tests.
  grpc::reflection::v1alpha::ServerReflectionResponse Answer(
      const grpc::reflection::v1alpha::ServerReflectionRequest& request) const;

 private:
  class InfoReactor;

  // Whether `file` is one this service may describe.
  bool Describes(const google::protobuf::FileDescriptor* file) const;
  // Fills `response` with `file` and its transitive imports.
  void AddFileAndImports(const google::protobuf::FileDescriptor* file,
                         grpc::reflection::v1alpha::FileDescriptorResponse* response) const;

  CallGate* const gate_;
  const std::vector<std::string> services_;
  // File name -> serialized FileDescriptorProto, for every file described:
  // those declaring the services and, transitively, what they import.
  // Fixed after construction.
  absl::flat_hash_map<std::string, std::string> serialized_files_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REFLECTION_SERVICE_H_
