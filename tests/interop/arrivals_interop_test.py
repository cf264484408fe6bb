#!/usr/bin/python3
"""Interop test: a foreign client (Python grpcio) against the real Enlace server.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI (made by
`enlacectl pki init`) and a fresh database, then talks to it with stubs that
protoc generates from protos/ at test time. Nothing here links the C++ code:
it proves that the wire contract (protos, status codes, mTLS identity, health
port) works for another language.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/interop/arrivals_interop_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --protos protos --policy server/default_policy.conf [unittest args...]

Uses only the standard library, grpcio and protobuf (Debian's python3-grpcio,
hence /usr/bin/python3).
"""

import os
import sys
import threading
import time

import grpc

# The shared harness (server, PKI, database, stubs), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 60.0  # seconds, on every call
BULK = 2000

a_pb = a_grpc = ad_pb = ad_grpc = None  # generated modules, set by main()
log = harness.set_log_tag("interop")

GIVEN_NAMES = ["José", "María", "Jesús", "Inés", "Óscar", "Ana", "Nicolás",
               "Fátima", "Raúl", "Mónica", "Ramón", "Sofía", "Martín", "Dolores"]
FAMILY_NAMES = ["Peña", "Núñez", "López", "Hernández", "Martínez", "Muñoz",
                "Gómez", "Ibáñez", "Pérez", "Rodríguez", "Díaz", "Chávez"]
# (department_code, municipality) pairs from data/sv_gazetteer.csv.
PLACES = [("SV-SS", "Guazapa"), ("SV-SS", "Mejicanos"), ("SV-LI", "Quezaltepeque"),
          ("SV-SS", "San Martín"), ("SV-SS", "Santo Tomás"),
          ("SV-LI", "Antiguo Cuscatlán"), ("SV-LI", "San José Villanueva"),
          ("SV-SS", "Soyapango"), ("SV-LI", "Santa Tecla")]
COUNTRIES = ["US", "MX", "GT", "CA", "ES"]


def ts(seconds):
    return {"seconds": seconds}


class ArrivalsInteropTest(harness.ServerTestCase):
    """One server and one database for the class; each test uses its own
    external_id prefix and counts only its own records."""

    TMP_PREFIX = "enlace-interop-"
    DB_PREFIX = "enlace_interop_"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mfa = a_grpc.ArrivalServiceStub(cls.channel("mfa"))
        cls.iom = a_grpc.ArrivalServiceStub(cls.channel("iom"))
        cls.unhcr = a_grpc.ArrivalServiceStub(cls.channel("unhcr"))
        cls.undp = a_grpc.ArrivalServiceStub(cls.channel("undp"))
        cls.admin = ad_grpc.AdminServiceStub(cls.channel("admin"))
        cls.iom_admin = ad_grpc.AdminServiceStub(cls.channel("iom"))

    # --------------------------------------------------------------- helpers

    @staticmethod
    def arrival(external_id, i=0, **over):
        dept, muni = PLACES[i % len(PLACES)]
        fields = dict(
            external_id=external_id,
            arrival_date=f"2018-{1 + i % 12:02d}-{1 + i % 28:02d}",
            mode=(a_pb.ARRIVAL_MODE_AIR, a_pb.ARRIVAL_MODE_LAND, a_pb.ARRIVAL_MODE_SEA)[i % 3],
            origin_country=COUNTRIES[i % len(COUNTRIES)],
            person=a_pb.Person(given_name=GIVEN_NAMES[i % len(GIVEN_NAMES)],
                               family_name=FAMILY_NAMES[(i // 3) % len(FAMILY_NAMES)],
                               birth_date=f"{1960 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                               sex=(a_pb.SEX_FEMALE, a_pb.SEX_MALE)[i % 2],
                               document_number=f"DOC{i:07d}"),
            destination=a_pb.Destination(department_code=dept, municipality=muni),
            needs=[a_pb.NEED_PSYCHOSOCIAL_SUPPORT, a_pb.NEED_TRAINING][: 1 + i % 2],
            consent=a_pb.Consent(agencies=["iom"], purposes=[a_pb.PURPOSE_REINTEGRATION],
                                 given_at=ts(1516000000 + i)),
        )
        fields.update(over)
        return a_pb.Arrival(**fields)

    def stream(self, arrivals):
        """One RecordArrivals call; returns the responses as a list."""
        reqs = (a_pb.RecordArrivalsRequest(arrival=x) for x in arrivals)
        return list(self.mfa.RecordArrivals(reqs, timeout=DEADLINE))

    def list_all(self, stub, page_size=500, **filters):
        """Pages through ListArrivals; returns (arrivals, pages)."""
        out, token, pages = [], "", 0
        while True:
            resp = stub.ListArrivals(
                a_pb.ListArrivalsRequest(page_size=page_size, page_token=token, **filters),
                timeout=DEADLINE)
            pages += 1
            self.assertLessEqual(len(resp.arrivals), page_size)
            out.extend(resp.arrivals)
            token = resp.next_page_token
            if not token:
                return out, pages
            self.assertLess(pages, 10000, "ListArrivals never ends")

    def assert_code(self, code, fn, *args, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, timeout=kw.pop("timeout", DEADLINE), **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception

    def record_one(self, arrival):
        resp = self.mfa.RecordArrival(a_pb.RecordArrivalRequest(arrival=arrival),
                                      timeout=DEADLINE)
        self.assertEqual(resp.outcome, a_pb.OUTCOME_CREATED)
        self.assertTrue(resp.arrival_id)
        return resp.arrival_id

    # ----------------------------------------------------------------- tests

    def test_1_bulk_stream_is_idempotent_and_pages(self):
        prefix = "t1-bulk/"
        arrivals = [self.arrival(f"{prefix}{i:05d}", i) for i in range(BULK)]
        expect = {x.external_id: x for x in arrivals}

        t = time.monotonic()
        first = self.stream(arrivals)
        log(f"{BULK} arrivals in one stream: {time.monotonic() - t:.2f} s")
        self.assertEqual(len(first), BULK)
        self.assertEqual(sorted(r.external_id for r in first), sorted(expect))
        bad = [r for r in first if r.outcome != a_pb.OUTCOME_CREATED]
        self.assertEqual(bad, [], "not all CREATED")
        ids = {r.external_id: r.arrival_id for r in first}
        self.assertEqual(len(set(ids.values())), BULK, "arrival_ids not distinct")
        self.assertNotIn("", ids.values())

        t = time.monotonic()
        again = self.stream(arrivals)
        log(f"the same {BULK} again: {time.monotonic() - t:.2f} s")
        self.assertEqual(len(again), BULK)
        self.assertEqual(sorted(r.external_id for r in again), sorted(expect))
        bad = [r for r in again if r.outcome != a_pb.OUTCOME_ALREADY_RECORDED]
        self.assertEqual(bad, [], "not all ALREADY_RECORDED")
        self.assertEqual({r.external_id: r.arrival_id for r in again}, ids)

        listed, pages = self.list_all(self.mfa, page_size=500)
        all_ids = [x.arrival_id for x in listed]
        self.assertEqual(len(all_ids), len(set(all_ids)), "an id on two pages")
        mine = [x for x in listed if x.external_id.startswith(prefix)]
        self.assertEqual(len(mine), BULK)
        self.assertGreaterEqual(pages, BULK // 500)
        for x in mine:
            want = expect[x.external_id]
            self.assertEqual(x.arrival_id, ids[x.external_id])
            self.assertEqual(x.person.given_name, want.person.given_name)
            self.assertEqual(x.person.family_name, want.person.family_name)
            self.assertEqual(x.destination, want.destination)
            self.assertEqual(x.arrival_date, want.arrival_date)
            self.assertEqual(x.submitted_by, "mfa")

    def test_2_bad_record_in_stream_is_rejected_alone(self):
        prefix = "t2-mixed/"
        good = [self.arrival(f"{prefix}good-{i}", i) for i in range(20)]
        bad_date = self.arrival(f"{prefix}bad-date", 3, arrival_date="2018-02-30")
        bad_dept = self.arrival(f"{prefix}bad-dept", 4, destination=a_pb.Destination(
            department_code="SV-ZZ", municipality="Guazapa"))
        sent = good[:7] + [bad_date] + good[7:14] + [bad_dept] + good[14:]

        resp = self.stream(sent)  # raises unless the stream ends OK
        self.assertEqual(len(resp), len(sent))
        by_ext = {r.external_id: r for r in resp}
        self.assertEqual(set(by_ext), {x.external_id for x in sent})

        for ext, field in ((bad_date.external_id, "arrival.arrival_date"),
                           (bad_dept.external_id, "arrival.destination.department_code")):
            r = by_ext[ext]
            self.assertEqual(r.outcome, a_pb.OUTCOME_REJECTED, ext)
            self.assertEqual(r.error.code, grpc.StatusCode.INVALID_ARGUMENT.value[0], ext)
            self.assertEqual(r.error.field, field, ext)
            self.assertTrue(r.error.message, ext)
            self.assertEqual(r.arrival_id, "", ext)
        created = [r for r in resp if r.outcome == a_pb.OUTCOME_CREATED]
        self.assertEqual(len(created), len(good))
        self.assertEqual({r.external_id for r in created}, {x.external_id for x in good})
        self.assertEqual(len({r.arrival_id for r in created}), len(good))

    def test_3_same_external_id_different_content(self):
        original = self.arrival("t3-conflict/1", 5)
        arrival_id = self.record_one(original)

        changed = self.arrival("t3-conflict/1", 5, destination=a_pb.Destination(
            department_code="SV-SS", municipality="Mejicanos"))
        self.assertNotEqual(changed.destination, original.destination)
        self.assert_code(grpc.StatusCode.ALREADY_EXISTS, self.mfa.RecordArrival,
                         a_pb.RecordArrivalRequest(arrival=changed))

        got = self.mfa.GetArrival(a_pb.GetArrivalRequest(arrival_id=arrival_id),
                                  timeout=DEADLINE)
        self.assertEqual(got.arrival_id, arrival_id)
        self.assertEqual(got.external_id, original.external_id)
        self.assertEqual(got.destination, original.destination)
        self.assertEqual(got.person, original.person)
        self.assertEqual(got.arrival_date, original.arrival_date)

    def test_4_visibility_follows_consent(self):
        arrival = self.arrival("t4-iom-only/1", 0, person=a_pb.Person(
            given_name="José Ñandú", family_name="Peña Güell", birth_date="1991-07-04",
            sex=a_pb.SEX_MALE))
        arrival_id = self.record_one(arrival)

        got = self.iom.GetArrival(a_pb.GetArrivalRequest(arrival_id=arrival_id),
                                  timeout=DEADLINE)
        self.assertEqual(got.person.given_name, "José Ñandú")
        self.assertEqual(got.person.family_name, "Peña Güell")
        self.assertEqual(list(got.consent.agencies), ["iom"])

        self.assert_code(grpc.StatusCode.NOT_FOUND, self.unhcr.GetArrival,
                         a_pb.GetArrivalRequest(arrival_id=arrival_id))
        unhcr_sees, _ = self.list_all(self.unhcr)
        self.assertNotIn(arrival_id, {x.arrival_id for x in unhcr_sees})
        iom_sees, _ = self.list_all(self.iom)
        self.assertIn(arrival_id, {x.arrival_id for x in iom_sees})

        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.undp.RecordArrival,
                         a_pb.RecordArrivalRequest(arrival=self.arrival("t4-undp/1", 1)))

    def test_5_withdrawn_consent_hides_the_arrival(self):
        arrival_id = self.record_one(self.arrival("t5-consent/1", 2))
        self.iom.GetArrival(a_pb.GetArrivalRequest(arrival_id=arrival_id), timeout=DEADLINE)
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.undp.GetArrival,
                         a_pb.GetArrivalRequest(arrival_id=arrival_id))

        updated = self.mfa.UpdateConsent(a_pb.UpdateConsentRequest(
            arrival_id=arrival_id,
            consent=a_pb.Consent(agencies=["undp"], purposes=[a_pb.PURPOSE_REINTEGRATION],
                                 given_at=ts(1520000000))), timeout=DEADLINE)
        self.assertEqual(updated.arrival_id, arrival_id)
        self.assertEqual(list(updated.consent.agencies), ["undp"])
        self.assertEqual(updated.consent_version, 2)

        self.assert_code(grpc.StatusCode.NOT_FOUND, self.iom.GetArrival,
                         a_pb.GetArrivalRequest(arrival_id=arrival_id))
        iom_sees, _ = self.list_all(self.iom)
        self.assertNotIn(arrival_id, {x.arrival_id for x in iom_sees})
        got = self.undp.GetArrival(a_pb.GetArrivalRequest(arrival_id=arrival_id),
                                   timeout=DEADLINE)
        self.assertEqual(got.consent_version, 2)
        self.assertEqual(list(got.consent.agencies), ["undp"])

    def test_6_audit_log(self):
        # A denied call of its own, so that this test does not depend on others.
        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.unhcr.RecordArrival,
                         a_pb.RecordArrivalRequest(arrival=self.arrival("t6-unhcr/1", 1)))

        verify = self.admin.VerifyAuditLog(ad_pb.VerifyAuditLogRequest(), timeout=DEADLINE)
        self.assertTrue(verify.intact, verify)
        self.assertGreater(verify.checked, 0)
        self.assertEqual(verify.first_broken_sequence, 0)

        events, token, pages = [], "", 0
        while True:
            resp = self.admin.ListAuditEvents(ad_pb.ListAuditEventsRequest(
                principal="spiffe://enlace/agency/unhcr", page_size=500, page_token=token),
                timeout=DEADLINE)
            events.extend(resp.events)
            token, pages = resp.next_page_token, pages + 1
            if not token or pages > 1000:
                break
        self.assertTrue(events)
        self.assertEqual({e.principal for e in events}, {"spiffe://enlace/agency/unhcr"})
        denied = [e for e in events
                  if e.method == "/enlace.v1.ArrivalService/RecordArrival"
                  and e.decision == ad_pb.DECISION_DENY
                  and e.status_code == grpc.StatusCode.PERMISSION_DENIED.value[0]]
        self.assertTrue(denied, [(e.method, e.decision, e.status_code) for e in events])

        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.iom_admin.VerifyAuditLog,
                         ad_pb.VerifyAuditLogRequest())

    def test_6b_the_actor_is_required_and_recorded(self):
        # The client package's channel names its actor (enlace-actor) in every
        # call; without one the shipped policy refuses an agency's arrival call.
        package = harness.client_package()
        creds = [os.path.join(self.pki, f) for f in ("ca.crt", "iom.crt", "iom.key")]
        with package.secure_channel(self.addr, *creds, actor=None) as bare:
            err = self.assert_code(grpc.StatusCode.INVALID_ARGUMENT,
                                   a_grpc.ArrivalServiceStub(bare).ListArrivals,
                                   a_pb.ListArrivalsRequest(page_size=1))
            self.assertIn("enlace-actor", err.details())
        with package.secure_channel(self.addr, *creds, actor="iom-interop-7") as acting:
            a_grpc.ArrivalServiceStub(acting).ListArrivals(a_pb.ListArrivalsRequest(page_size=1),
                                                           timeout=DEADLINE)
        resp = self.admin.ListAuditEvents(ad_pb.ListAuditEventsRequest(
            principal="spiffe://enlace/agency/iom",
            method="/enlace.v1.ArrivalService/ListArrivals", page_size=500), timeout=DEADLINE)
        mine = [(e.decision, e.actor) for e in resp.events
                if e.actor == "iom-interop-7" or e.status_code == 3]
        self.assertEqual(mine[-2:], [(ad_pb.DECISION_DENY, ""),
                                     (ad_pb.DECISION_ALLOW, "iom-interop-7")], mine)

    def test_7_plaintext_health_port_serves_health_only(self):
        with grpc.insecure_channel(f"127.0.0.1:{self.health_port}") as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check",
                                   request_serializer=None, response_deserializer=None)
            self.assertEqual(check(b"", timeout=5), b"\x08\x01")  # status: SERVING
            get = ch.unary_unary("/enlace.v1.ArrivalService/GetArrival",
                                 request_serializer=None, response_deserializer=None)
            with self.assertRaises(grpc.RpcError) as cm:
                get(a_pb.GetArrivalRequest(arrival_id="x").SerializeToString(), timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED,
                             cm.exception.details())

    def test_8_client_without_certificate_is_refused(self):
        creds = grpc.ssl_channel_credentials(root_certificates=self.read_pki("ca.crt"))
        with grpc.secure_channel(f"localhost:{self.tls_port}", creds) as ch:
            stub = a_grpc.ArrivalServiceStub(ch)
            self.assert_code(grpc.StatusCode.UNAVAILABLE, stub.GetArrival,
                             a_pb.GetArrivalRequest(arrival_id="x"), timeout=10)

    def test_9_paging_is_stable_under_concurrent_inserts(self):
        # docs/api.md ("Paging"): page tokens are keyset-based, stable under
        # concurrent inserts.
        prefix = "t9-page/"
        first = self.stream([self.arrival(f"{prefix}pre-{i}", i) for i in range(600)])
        self.assertEqual([r.outcome for r in first], [a_pb.OUTCOME_CREATED] * 600)
        before = {r.arrival_id for r in first}

        stop, errors, batches = threading.Event(), [], [0]

        def insert():
            try:
                while not stop.is_set() and batches[0] < 50:
                    k = batches[0]
                    out = self.stream([self.arrival(f"{prefix}conc-{k}-{i}", i)
                                       for i in range(100)])
                    if any(r.outcome != a_pb.OUTCOME_CREATED for r in out):
                        errors.append(f"batch {k}: not all CREATED")
                    batches[0] += 1
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))

        writer = threading.Thread(target=insert)
        writer.start()
        try:
            listed, pages = self.list_all(self.mfa, page_size=37)
        finally:
            stop.set()
            writer.join(2 * DEADLINE)
        self.assertEqual(errors, [])
        log(f"paged {len(listed)} arrivals in {pages} pages while "
            f"{batches[0]} batches of 100 were inserted")
        ids = [x.arrival_id for x in listed]
        self.assertEqual(len(ids), len(set(ids)), "an id on two pages")
        self.assertEqual(before - set(ids), set(), "existing arrivals missed")


def main():
    global a_pb, a_grpc, ad_pb, ad_grpc
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-interop-gen-") as api:
        a_pb, a_grpc, ad_pb, ad_grpc = api.arrivals, api.arrivals_grpc, api.admin, api.admin_grpc
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
