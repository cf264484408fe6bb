#!/usr/bin/python3
"""Interop test: health and server reflection on the mTLS port, from Python.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI (made by
`enlacectl pki init`) and a fresh database, and talks to it as a generic tool
would (grpcurl, buf curl, Postman): Debian's grpcio has neither grpc_reflection
nor grpc_health, so the two protocols' stubs are generated from the Enlace
copies in protos/grpc/ and everything else is learnt from the server through
reflection alone. With no Enlace stub at all, it builds the messages of
enlace.v1.ArrivalService and AdminService from the descriptors reflection
sends, records an arrival, reads it back, and finds the reflection stream in
the audit log. Also: health Check and Watch on the TLS port, NOT_FOUND for an
unknown symbol, and the plaintext health-only port. With --buf, `buf curl
--list-methods` (a generic tool's first step: list, then fetch each service's
file) must list every method of every service the server names.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/interop/gated_services_interop_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --protos protos --policy server/default_policy.conf \
      --buf build/npm/node_modules/.bin/buf [unittest args...]

Uses only the standard library, grpcio and protobuf (Debian's python3-grpcio,
hence /usr/bin/python3).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

# The shared harness (server, PKI, database), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 30.0  # seconds, on every call
ENLACE_SERVICES = {"enlace.v1.ArrivalService", "enlace.v1.CaseService",
                   "enlace.v1.ReferralService", "enlace.v1.ReportService",
                   "enlace.v1.AdminService"}
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"
HEALTH = "grpc.health.v1.Health"
REFLECTION_METHOD = f"/{REFLECTION}/ServerReflectionInfo"

health_pb = health_grpc = refl_pb = refl_grpc = None  # generated modules, set by main()
log = harness.set_log_tag("gated-interop")


def generate(protos, out_dir):
    """Python stubs of protos/grpc/{health/v1,reflection/v1alpha} into out_dir.

    Each is compiled from its own directory, so that the modules are top-level
    (health_pb2, reflection_pb2): a generated `grpc/` package would be hidden
    by grpcio's own `grpc` package."""
    global health_pb, health_grpc, refl_pb, refl_grpc
    for sub, name in (("grpc/health/v1", "health.proto"),
                      ("grpc/reflection/v1alpha", "reflection.proto")):
        cmd = ["protoc", "-I", os.path.join(protos, sub), f"--python_out={out_dir}",
               f"--grpc_out={out_dir}", f"--plugin=protoc-gen-grpc={harness.GRPC_PLUGIN}", name]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"protoc failed ({res.returncode}):\n{res.stderr}")
    sys.path.insert(0, out_dir)
    import health_pb2
    import health_pb2_grpc
    import reflection_pb2
    import reflection_pb2_grpc
    health_pb, health_grpc, refl_pb, refl_grpc = (health_pb2, health_pb2_grpc, reflection_pb2,
                                                  reflection_pb2_grpc)


class Reflected:
    """What a client learns through reflection: a descriptor pool filled with
    the files the server sent, and message classes made from it."""

    def __init__(self):
        self.pool = descriptor_pool.DescriptorPool()
        self.factory = message_factory.MessageFactory(self.pool)
        self.files = {}  # name -> FileDescriptorProto, not yet added

    def add(self, serialized_files):
        for data in serialized_files:
            fd = descriptor_pb2.FileDescriptorProto.FromString(data)
            self.files.setdefault(fd.name, fd)
        # Imports first: each file once all it depends on is in the pool.
        added = True
        while added:
            added = False
            for name, fd in list(self.files.items()):
                if all(self._has(dep) for dep in fd.dependency):
                    self.pool.Add(fd)
                    del self.files[name]
                    added = True
        if self.files:
            raise AssertionError(f"files whose imports never came: {sorted(self.files)}")

    def _has(self, name):
        try:
            self.pool.FindFileByName(name)
            return True
        except KeyError:
            return False

    def message(self, full_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))

    def unary(self, channel, service, method):
        """A callable for `service`.`method`, with classes from the pool."""
        m = self.pool.FindServiceByName(service).FindMethodByName(method)
        request, response = self.message(m.input_type.full_name), self.message(
            m.output_type.full_name)
        call = channel.unary_unary(f"/{service}/{method}",
                                   request_serializer=lambda r: r.SerializeToString(),
                                   response_deserializer=response.FromString)
        return request, call


class GatedServicesInteropTest(harness.ServerTestCase):
    """One server and one database for the class; each test has data of its own."""

    TMP_PREFIX = "enlace-gated-interop-"
    DB_PREFIX = "enlace_gated_interop_"

    def reflect(self, identity, requests):
        """One ServerReflectionInfo stream as `identity`: all of `requests`,
        then the half-close; returns the responses."""
        stub = refl_grpc.ServerReflectionStub(self.channel(identity))
        return list(stub.ServerReflectionInfo(iter(requests), timeout=DEADLINE))

    def test_1_reflection_alone_is_enough_to_call_the_api(self):
        R = refl_pb.ServerReflectionRequest
        responses = self.reflect("iom", [R(list_services=""),
                                         R(file_containing_symbol="enlace.v1.ArrivalService"),
                                         R(file_containing_symbol="enlace.v1.AdminService")])
        self.assertEqual(len(responses), 3)
        listed = {s.name for s in responses[0].list_services_response.service}
        self.assertEqual(listed, ENLACE_SERVICES | {HEALTH, REFLECTION})
        arrivals_files = responses[1].file_descriptor_response.file_descriptor_proto
        first = descriptor_pb2.FileDescriptorProto.FromString(arrivals_files[0])
        self.assertEqual(first.name, "enlace/v1/arrivals.proto")

        api = Reflected()
        for r in responses[1:]:
            api.add(r.file_descriptor_response.file_descriptor_proto)

        # The ministry records an arrival with messages built from the descriptors only.
        RecordRequest, record = api.unary(self.channel("mfa"), "enlace.v1.ArrivalService",
                                          "RecordArrival")
        request = json_format.ParseDict({"arrival": {
            "external_id": "gated-interop-1", "arrival_date": "2018-01-15",
            "mode": "ARRIVAL_MODE_AIR", "origin_country": "US",
            "person": {"given_name": "Ana", "family_name": "López",
                       "birth_date": "1990-03-02", "sex": "SEX_FEMALE"},
            "destination": {"department_code": "SV-SS", "municipality": "Guazapa"},
            "needs": ["NEED_PSYCHOSOCIAL_SUPPORT"],
            "consent": {"agencies": ["iom"], "purposes": ["PURPOSE_REINTEGRATION"],
                        "given_at": "2018-01-15T07:06:40Z"}}}, RecordRequest())
        recorded = record(request, timeout=DEADLINE)
        self.assertTrue(recorded.arrival_id, recorded)

        # IOM, named in the consent, reads it back the same way.
        GetRequest, get = api.unary(self.channel("iom"), "enlace.v1.ArrivalService",
                                    "GetArrival")
        got = get(GetRequest(arrival_id=recorded.arrival_id), timeout=DEADLINE)
        self.assertEqual(got.external_id, "gated-interop-1")
        self.assertEqual(got.person.family_name, "López")

        # The reflection stream is in the audit log, read through AdminService
        # (its descriptors also learnt through reflection).
        AuditRequest, list_audit = api.unary(self.channel("admin"), "enlace.v1.AdminService",
                                             "ListAuditEvents")
        deadline = time.monotonic() + 10
        while True:
            events = list_audit(AuditRequest(principal="spiffe://enlace/agency/iom",
                                             method=REFLECTION_METHOD, page_size=50),
                                timeout=DEADLINE).events
            if events or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(events), 1, events)
        self.assertEqual(events[0].status_code, grpc.StatusCode.OK.value[0])
        self.assertEqual(events[0].detail, "requests=3 errors=0")

    def test_2_unknown_names_get_not_found_and_the_stream_goes_on(self):
        R = refl_pb.ServerReflectionRequest
        responses = self.reflect("unhcr", [R(file_containing_symbol="enlace.v1.NoSuchThing"),
                                           R(file_by_filename="enlace/v1/nosuch.proto"),
                                           R(file_by_filename="enlace/v1/referrals.proto")])
        self.assertEqual(len(responses), 3)
        for r in responses[:2]:
            self.assertEqual(r.WhichOneof("message_response"), "error_response")
            self.assertEqual(r.error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(responses[0].original_request.file_containing_symbol,
                         "enlace.v1.NoSuchThing")
        names = [descriptor_pb2.FileDescriptorProto.FromString(f).name
                 for f in responses[2].file_descriptor_response.file_descriptor_proto]
        self.assertEqual(names[0], "enlace/v1/referrals.proto")
        self.assertIn("google/protobuf/timestamp.proto", names)

    def test_3_health_on_the_tls_port(self):
        stub = health_grpc.HealthStub(self.channel("undp"))
        serving = health_pb.HealthCheckResponse.SERVING
        self.assertEqual(stub.Check(health_pb.HealthCheckRequest(), timeout=DEADLINE).status,
                         serving)
        self.assertEqual(stub.Check(health_pb.HealthCheckRequest(
            service="enlace.v1.CaseService"), timeout=DEADLINE).status, serving)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.Check(health_pb.HealthCheckRequest(service="nope.Nope"), timeout=DEADLINE)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        watch = stub.Watch(health_pb.HealthCheckRequest(), timeout=DEADLINE)
        self.assertEqual(next(watch).status, serving)
        watch.cancel()

    def test_5_buf_curl_lists_every_method_of_every_service(self):
        # As a user types it: buf asks grpc.reflection.v1 first and, told
        # UNIMPLEMENTED, falls back to the v1alpha the server serves.
        pki = self.pki
        result = subprocess.run(
            [self.args.buf, "curl", "--list-methods", "--protocol", "grpc",
             "--cacert", os.path.join(pki, "ca.crt"),
             "--cert", os.path.join(pki, "iom.crt"), "--key", os.path.join(pki, "iom.key"),
             f"https://{self.addr}"],
            capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        methods = set(result.stdout.split())
        # Every method of every service reflection lists, each as service/method.
        listed = {s.name for s in self.reflect("iom", [refl_pb.ServerReflectionRequest(
            list_services="")])[0].list_services_response.service}
        self.assertEqual({m.split("/")[0] for m in methods}, listed)
        for method in ("grpc.health.v1.Health/Check", "grpc.health.v1.Health/Watch",
                       f"{REFLECTION}/ServerReflectionInfo",
                       "enlace.v1.ArrivalService/RecordArrival",
                       "enlace.v1.ReferralService/WatchReferrals",
                       "enlace.v1.AdminService/ListAuditEvents"):
            self.assertIn(method, methods)

    def test_4_plaintext_health_port_needs_no_certificate_and_has_no_reflection(self):
        with grpc.insecure_channel(f"127.0.0.1:{self.health_port}") as ch:
            check = health_grpc.HealthStub(ch).Check(health_pb.HealthCheckRequest(), timeout=10)
            self.assertEqual(check.status, health_pb.HealthCheckResponse.SERVING)
            responses = refl_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                iter([refl_pb.ServerReflectionRequest(list_services="")]), timeout=10)
            with self.assertRaises(grpc.RpcError) as cm:
                list(responses)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


def main():
    args, rest = harness.parse_args(__doc__, protos=True,
                                    extra_flags=(("--buf", "the buf executable (buf curl)"),))
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc"), files=(args.buf,)):
        return 1  # it printed "FAIL: ..."
    out_dir = tempfile.mkdtemp(prefix="enlace-gated-interop-gen-")
    try:
        generate(args.protos, out_dir)
        return harness.run_tests(args, rest)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
