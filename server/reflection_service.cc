// grpc.reflection.v1alpha.ServerReflection behind the call gate (see
// reflection_service.h).
#include "server/reflection_service.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"

namespace enlace::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using grpc::reflection::v1alpha::FileDescriptorResponse;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

constexpr char kInfo[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// The caller's own text, echoed back in an error message, bounded.
std::string Quoted(const std::string& name) {
  constexpr size_t kMax = 200;
  return absl::StrCat("`", name.size() > kMax ? name.substr(0, kMax) + "..." : name, "`");
}

void SetError(ServerReflectionResponse* response, grpc::StatusCode code, std::string message) {
  response->mutable_error_response()->set_error_code(static_cast<int32_t>(code));
  response->mutable_error_response()->set_error_message(std::move(message));
}

}  // namespace

// One ServerReflectionInfo stream: read one request, write its answer, read
// the next, until the client half-closes (OK), cancels, or the gate ends it.
// Like ReferralService's WatchReactor, it owns itself (self_) until OnDone so
// that the gate, which holds it weakly, never calls into a deleted reactor;
// state is guarded by mu_, and gRPC operations are started without it.
class ReflectionServiceImpl::InfoReactor final
    : public grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>,
      public GatedStream,
      public std::enable_shared_from_this<InfoReactor> {
 public:
  InfoReactor(const ReflectionServiceImpl* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), started_(absl::Now()) {}

  // Runs once, right after construction, with the reactor's own shared_ptr.
  void Start(std::shared_ptr<InfoReactor> self) {
    self_ = std::move(self);
    caller_ = service_->gate_->AdmitStream(ctx_, kInfo, weak_from_this(), &stream_handle_);
    if (!caller_.ok()) {
      Refuse(caller_.status());
      return;
    }
    bool going;
    {
      absl::MutexLock lock(&mu_);
      ready_ = true;
      going = Going();
    }
    // Still in the handler, before gRPC has the reactor: the read (and a
    // Finish a Terminate may start meanwhile) wait for it, in that order.
    if (going) {
      StartRead(&request_);
    } else {
      Pump();  // terminated while being admitted
    }
  }

  void Terminate(const absl::Status& status) override {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      if (terminated_.ok()) {
        terminated_ = status;
      } else {
        cancel = writing_;  // asked again and a write is still stuck: give up on it
      }
    }
    if (cancel) ctx_->TryCancel();
    Pump();
  }

  void OnReadDone(bool ok) override {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        half_closed_ = true;  // the client has no more requests (or is gone)
      } else if (Going()) {
        response_ = service_->Answer(request_);
        ++answered_;
        if (response_.has_error_response()) ++errors_;
        writing_ = write = true;
      }
    }
    if (write) {
      StartWrite(&response_);
      return;
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    bool read = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        failed_ = true;  // the client is gone
      } else if (Going()) {
        read = true;
      }
    }
    if (read) {
      StartRead(&request_);
      return;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    Pump();
  }

  void OnDone() override {
    if (stream_handle_ != 0) service_->gate_->ReleaseStream(stream_handle_);
    std::shared_ptr<InfoReactor> last = std::move(self_);  // may delete this on return
  }

 private:
  bool Going() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !finishing_ && !cancelled_ && !failed_ && terminated_.ok();
  }

  // Ends a call refused at admission.
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
    }
    service_->gate_->FinishAudited(ctx_, kInfo, caller_, status, AuditNote{}, started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  // Ends the stream once there is a reason to and no write is in flight. A
  // read may still be pending: it completes (not ok) once the call is
  // finished, and comes back here to find the stream finishing.
  void Pump() {
    absl::Status outcome;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || !ready_ || writing_) return;
      if (!terminated_.ok()) {
        outcome = terminated_;
      } else if (cancelled_ || failed_) {
        outcome = absl::CancelledError("the reflection stream was cancelled");
      } else if (!half_closed_) {
        return;  // a read is pending: its answer comes back through OnReadDone
      }
      finishing_ = true;
    }
    End(outcome);
  }

  void End(const absl::Status& status) {
    AuditNote note;
    absl::StatusOr<Caller> audited_as = caller_;
    {
      absl::MutexLock lock(&mu_);
      note.detail = absl::StrCat("requests=", answered_, " errors=", errors_);
      // Ended by the gate: audited as the denial it is.
      if (!terminated_.ok()) audited_as = terminated_;
    }
    service_->gate_->FinishAudited(ctx_, kInfo, audited_as, status, std::move(note), started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  const ReflectionServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const absl::Time started_;
  std::shared_ptr<InfoReactor> self_;  // until OnDone
  absl::StatusOr<Caller> caller_;
  uint64_t stream_handle_ = 0;

  absl::Mutex mu_;
  // The request being read and the response being written: one at a time,
  // the read buffer filled by gRPC before OnReadDone, both used under mu_.
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
  int64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;  // admitted
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status terminated_ ABSL_GUARDED_BY(mu_);  // set by the gate
};

ReflectionServiceImpl::ReflectionServiceImpl(CallGate* gate, std::vector<std::string> services)
    : gate_(gate), services_(std::move(services)) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  std::vector<const FileDescriptor*> to_visit;
  for (const std::string& name : services_) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      Log("WARNING reflection: service ", name, " is not compiled in; it cannot be described");
      continue;
    }
    to_visit.push_back(service->file());
  }
  while (!to_visit.empty()) {
    const FileDescriptor* file = to_visit.back();
    to_visit.pop_back();
    if (serialized_files_.contains(file->name())) continue;
    google::protobuf::FileDescriptorProto proto;
    file->CopyTo(&proto);
    serialized_files_.emplace(file->name(), proto.SerializeAsString());
    for (int i = 0; i < file->dependency_count(); ++i) to_visit.push_back(file->dependency(i));
  }
}

bool ReflectionServiceImpl::Describes(const FileDescriptor* file) const {
  return file != nullptr && serialized_files_.contains(file->name());
}

void ReflectionServiceImpl::AddFileAndImports(const FileDescriptor* file,
                                              FileDescriptorResponse* response) const {
  // Depth first, the file asked for first; each file once.
  absl::flat_hash_set<std::string> seen;
  std::vector<const FileDescriptor*> to_send = {file};
  while (!to_send.empty()) {
    const FileDescriptor* next = to_send.back();
    to_send.pop_back();
    if (!seen.insert(next->name()).second) continue;
    response->add_file_descriptor_proto(serialized_files_.at(next->name()));
    for (int i = next->dependency_count() - 1; i >= 0; --i) to_send.push_back(next->dependency(i));
  }
}

ServerReflectionResponse ReflectionServiceImpl::Answer(
    const ServerReflectionRequest& request) const {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case ServerReflectionRequest::kFileByFilename: {
      const FileDescriptor* file = pool->FindFileByName(request.file_by_filename());
      if (!Describes(file)) {
        SetError(&response, grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("file not found: ", Quoted(request.file_by_filename())));
        break;
      }
      AddFileAndImports(file, response.mutable_file_descriptor_response());
      break;
    }
    case ServerReflectionRequest::kFileContainingSymbol: {
      const FileDescriptor* file = pool->FindFileContainingSymbol(request.file_containing_symbol());
      if (!Describes(file)) {
        SetError(&response, grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("symbol not found: ", Quoted(request.file_containing_symbol())));
        break;
      }
      AddFileAndImports(file, response.mutable_file_descriptor_response());
      break;
    }
    case ServerReflectionRequest::kFileContainingExtension: {
      const std::string& type_name = request.file_containing_extension().containing_type();
      const Descriptor* type = pool->FindMessageTypeByName(type_name);
      if (type == nullptr || !Describes(type->file())) {
        SetError(&response, grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("message type not found: ", Quoted(type_name)));
        break;
      }
      const FieldDescriptor* extension =
          pool->FindExtensionByNumber(type, request.file_containing_extension().extension_number());
      if (extension == nullptr || !Describes(extension->file())) {
        SetError(&response, grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("extension not found: ", Quoted(type_name), " number ",
                              request.file_containing_extension().extension_number()));
        break;
      }
      AddFileAndImports(extension->file(), response.mutable_file_descriptor_response());
      break;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const std::string& type_name = request.all_extension_numbers_of_type();
      const Descriptor* type = pool->FindMessageTypeByName(type_name);
      if (type == nullptr || !Describes(type->file())) {
        SetError(&response, grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("message type not found: ", Quoted(type_name)));
        break;
      }
      std::vector<const FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const FieldDescriptor* extension : extensions) {
        if (Describes(extension->file())) numbers->add_extension_number(extension->number());
      }
      break;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      // As gRPC's own service answers a request it does not understand.
      SetError(&response, grpc::StatusCode::UNIMPLEMENTED, "the request names no lookup");
      break;
  }
  return response;
}

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionServiceImpl::ServerReflectionInfo(grpc::CallbackServerContext* ctx) {
  auto reactor = std::make_shared<InfoReactor>(this, ctx);
  reactor->Start(reactor);
  return reactor.get();
}

}  // namespace enlace::server
