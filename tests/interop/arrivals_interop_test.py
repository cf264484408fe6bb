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

import argparse
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import grpc

DSN_ENV = "ENLACE_TEST_DB_DSN"
DEADLINE = 60.0  # seconds, on every call
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
BULK = 2000

ARGS = None  # the parsed command line, set by main()
a_pb = a_grpc = ad_pb = ad_grpc = None  # generated modules, set by main()

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


def log(msg):
    print(f"[interop] {msg}", file=sys.stderr, flush=True)


def generate_stubs(protos, out_dir):
    """protoc -> out_dir; then `from enlace.v1 import ...` works."""
    files = sorted(glob.glob(os.path.join(protos, "enlace", "v1", "*.proto")))
    if not files:
        raise SystemExit(f"no .proto files under {protos}/enlace/v1")
    cmd = ["protoc", "-I", protos, f"--python_out={out_dir}", f"--grpc_out={out_dir}",
           "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", *files]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"protoc failed ({res.returncode}):\n{res.stderr}")
    sys.path.insert(0, out_dir)
    global a_pb, a_grpc, ad_pb, ad_grpc
    from enlace.v1 import admin_pb2, admin_pb2_grpc, arrivals_pb2, arrivals_pb2_grpc
    a_pb, a_grpc, ad_pb, ad_grpc = arrivals_pb2, arrivals_pb2_grpc, admin_pb2, admin_pb2_grpc


def parse_dsn(dsn):
    """mysql://user[:password]@host:port/[db] -> parts."""
    u = urllib.parse.urlsplit(dsn)
    if u.scheme != "mysql" or not u.hostname:
        raise SystemExit(f"{DSN_ENV}={dsn!r}: expected mysql://user@host:port/")
    return u


def dsn_with_database(dsn, dbname):
    u = parse_dsn(dsn)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, ""))


def mariadb(dsn, sql):
    u = parse_dsn(dsn)
    cmd = ["mariadb", "--protocol=TCP", f"-h{u.hostname}", f"-P{u.port or 3306}",
           f"-u{urllib.parse.unquote(u.username or 'root')}", "-e", sql]
    env = dict(os.environ)
    if u.password:
        env["MYSQL_PWD"] = urllib.parse.unquote(u.password)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def ts(seconds):
    return {"seconds": seconds}


class ArrivalsInteropTest(unittest.TestCase):
    """One server and one database for the class; each test uses its own
    external_id prefix and counts only its own records."""

    # ---------------------------------------------------------------- set-up

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="enlace-interop-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pki = os.path.join(cls.tmp, "pki")
        res = subprocess.run([ARGS.enlacectl, "pki", "init", "--dir", cls.pki],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"enlacectl pki init failed ({res.returncode}):\n"
                               f"{res.stdout}{res.stderr}")

        base_dsn = os.environ[DSN_ENV]
        cls.dbname = "enlace_interop_" + secrets.token_hex(6)
        cls.addClassCleanup(cls._drop_database, base_dsn, cls.dbname)
        dsn = dsn_with_database(base_dsn, cls.dbname)

        ready = os.path.join(cls.tmp, "ready")
        cls.server_log_path = os.path.join(cls.tmp, "server.log")
        cls.server_log = open(cls.server_log_path, "wb")
        cls.addClassCleanup(cls.server_log.close)
        cmd = [ARGS.server, f"--db_dsn={dsn}",
               f"--ca_cert={cls.pki}/ca.crt",
               f"--server_cert={cls.pki}/server.crt",
               f"--server_key={cls.pki}/server.key",
               f"--policy={ARGS.policy}",
               "--tls_addr=127.0.0.1:0", "--health_addr=127.0.0.1:0",
               "--metrics_addr=127.0.0.1:0", f"--ready_file={ready}"]
        log(f"starting {' '.join(cmd)}")
        cls.server = subprocess.Popen(cmd, stdout=cls.server_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        cls.addClassCleanup(cls._stop_server)

        ports = cls._wait_ready(ready)
        cls.tls_port = ports["tls_port"]
        cls.health_port = ports["health_port"]
        cls.metrics_port = ports["metrics_port"]
        log(f"server ready: {ports}")

        cls.channels = []
        cls.addClassCleanup(cls._close_channels)
        cls.mfa = a_grpc.ArrivalServiceStub(cls._channel("mfa"))
        cls.iom = a_grpc.ArrivalServiceStub(cls._channel("iom"))
        cls.unhcr = a_grpc.ArrivalServiceStub(cls._channel("unhcr"))
        cls.undp = a_grpc.ArrivalServiceStub(cls._channel("undp"))
        cls.admin = ad_grpc.AdminServiceStub(cls._channel("admin"))
        cls.iom_admin = ad_grpc.AdminServiceStub(cls._channel("iom"))

    @classmethod
    def _wait_ready(cls, ready):
        want = {"tls_port", "health_port", "metrics_port"}
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            rc = cls.server.poll()
            if rc is not None:
                raise RuntimeError(f"enlace-server exited with {rc} before it was ready; "
                                   f"its log:\n{cls._server_log_text()}")
            if os.path.exists(ready):
                with open(ready) as f:
                    kv = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
                if want <= kv.keys() and all(kv[k].isdigit() for k in want):
                    return {k: int(kv[k]) for k in want}
            time.sleep(0.1)
        raise RuntimeError(f"enlace-server not ready after {START_TIMEOUT:.0f} s; "
                           f"its log:\n{cls._server_log_text()}")

    @classmethod
    def _server_log_text(cls):
        try:
            cls.server_log.flush()
            with open(cls.server_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-20000:]
        except OSError as e:
            return f"(cannot read {cls.server_log_path}: {e})"

    @classmethod
    def _stop_server(cls):
        if cls.server.poll() is None:
            cls.server.send_signal(signal.SIGTERM)
            try:
                cls.server.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"enlace-server ignored SIGTERM for {STOP_TIMEOUT:.0f} s: killing it")
                cls.server.kill()
                cls.server.wait()
        rc = cls.server.returncode
        if rc != 0:
            log(f"enlace-server ended with {rc}; its log:\n{cls._server_log_text()}")
        else:
            log("enlace-server stopped cleanly")

    @classmethod
    def _drop_database(cls, base_dsn, dbname):
        res = mariadb(base_dsn, f"DROP DATABASE IF EXISTS `{dbname}`")
        if res.returncode != 0:
            log(f"could not drop database {dbname}: {res.stderr.strip()}")

    @classmethod
    def _close_channels(cls):
        for ch in cls.channels:
            ch.close()

    @classmethod
    def _read(cls, name):
        with open(os.path.join(cls.pki, name), "rb") as f:
            return f.read()

    @classmethod
    def _channel(cls, identity):
        creds = grpc.ssl_channel_credentials(
            root_certificates=cls._read("ca.crt"),
            private_key=cls._read(f"{identity}.key"),
            certificate_chain=cls._read(f"{identity}.crt"))
        ch = grpc.secure_channel(f"localhost:{cls.tls_port}", creds)
        cls.channels.append(ch)
        return ch

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
        creds = grpc.ssl_channel_credentials(root_certificates=self._read("ca.crt"))
        with grpc.secure_channel(f"localhost:{self.tls_port}", creds) as ch:
            stub = a_grpc.ArrivalServiceStub(ch)
            self.assert_code(grpc.StatusCode.UNAVAILABLE, stub.GetArrival,
                             a_pb.GetArrivalRequest(arrival_id="x"), timeout=10)

    def test_9_paging_is_stable_under_concurrent_inserts(self):
        # API.md: page tokens are keyset-based, stable under concurrent inserts.
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
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="path to enlace-server")
    parser.add_argument("--enlacectl", required=True, help="path to enlacectl")
    parser.add_argument("--protos", required=True, help="the repository's protos/ directory")
    parser.add_argument("--policy", required=True, help="the policy file for the server")
    ARGS, rest = parser.parse_known_args()

    if not os.environ.get(DSN_ENV):
        print(f"FAIL: {DSN_ENV} is not set. This test needs a running MariaDB: "
              f"run through scripts/test.sh (it starts one and sets "
              f"{DSN_ENV}=mysql://root@127.0.0.1:PORT/).", file=sys.stderr)
        return 1
    parse_dsn(os.environ[DSN_ENV])
    for path in (ARGS.server, ARGS.enlacectl):
        if not os.access(path, os.X_OK):
            print(f"FAIL: {path} is not an executable", file=sys.stderr)
            return 1

    gen = tempfile.mkdtemp(prefix="enlace-interop-gen-")
    try:
        generate_stubs(ARGS.protos, gen)
        prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
