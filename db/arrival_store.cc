// The content hash that tells a resend from a conflicting record (see
// arrival_store.h).
#include "db/arrival_store.h"

#include <openssl/evp.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

namespace enlace::db {

std::string ArrivalContentHash(const enlace::v1::Arrival& arrival) {
  enlace::v1::Arrival canonical = arrival;
  canonical.clear_arrival_id();
  canonical.clear_recorded_at();
  canonical.clear_submitted_by();
  canonical.clear_consent_version();
  std::sort(canonical.mutable_needs()->begin(), canonical.mutable_needs()->end());
  if (canonical.has_consent()) {
    auto* agencies = canonical.mutable_consent()->mutable_agencies();
    std::sort(agencies->begin(), agencies->end());
    auto* purposes = canonical.mutable_consent()->mutable_purposes();
    std::sort(purposes->begin(), purposes->end());
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    canonical.SerializeToCodedStream(&coded);
  }
  std::string digest(32, '\0');
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
             EVP_sha256(), nullptr);
  return digest;
}

const std::string& ErasedContentHash() {
  static const std::string* const hash = new std::string(32, '\0');
  return *hash;
}

}  // namespace enlace::db
