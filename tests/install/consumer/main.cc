// A tiny consumer of the installed libenlace_client: builds options and a
// request, asks the retry policy, makes a Client (no call: no network), and
// prints OK. Built twice by install_consumer_test.sh: with CMake
// (find_package(Enlace)) and with `pkg-config --cflags --libs enlace`.
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "enlace/client/connection.h"
#include "enlace/client/enlace_client.h"
#include "enlace/v1/arrivals.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace {

int Fail(const std::string& what) {
  std::cerr << "FAIL: " << what << "\n";
  return 1;
}

}  // namespace

int main() {
  using enlace::client::Client;
  using enlace::client::Method;

  enlace::client::ConnectionOptions flags;
  flags.ca_path = "/nonexistent/ca.crt";
  const enlace::client::ConnectionOptions options =
      enlace::client::ConnectionOptionsFromEnvironment(flags);
  if (options.ca_path != "/nonexistent/ca.crt") return Fail("flag lost");

  // A message of the generated library, through libprotobuf and back.
  enlace::v1::RecordArrivalRequest request;
  request.mutable_arrival()->set_external_id("MRE-2024-000001");
  request.mutable_arrival()->set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  enlace::v1::RecordArrivalRequest parsed;
  if (!parsed.ParseFromString(request.SerializeAsString()) ||
      parsed.arrival().external_id() != "MRE-2024-000001") {
    return Fail("proto round trip");
  }

  // The retry policy, a pure function.
  if (!enlace::client::IsRetryable(Method::kRecordArrival, absl::StatusCode::kUnavailable) ||
      enlace::client::IsRetryable(Method::kOpenCase, absl::StatusCode::kUnavailable) ||
      enlace::client::MethodName(Method::kGetArrival) != "/enlace.v1.ArrivalService/GetArrival") {
    return Fail("retry policy");
  }

  // Connect reads the PEM files first: a missing one is an error, not a
  // connection attempt.
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (client.ok() || client.status().code() != absl::StatusCode::kNotFound) {
    return Fail("Connect with a missing CA file: " + client.status().ToString());
  }

  // A Client over a channel of our own: stubs are made, no call is.
  std::unique_ptr<Client> local = Client::FromChannel(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), absl::Seconds(1));
  if (local == nullptr || local->NewContext() == nullptr) {
    return Fail("FromChannel");
  }

  std::cout << "OK\n";
  return 0;
}
