#!/usr/bin/python3
"""End-to-end test of the Python example clients/python/referral_inbox.py.

Starts the real `enlace-server` over mutual TLS with a fresh PKI (`enlacectl pki
init`) and a fresh database, prepares referrals as the ministry and IOM would
(with stubs generated here from protos/), then runs the example as UNDP, as a
separate process exactly as a user would, and checks what it did through the
API (GetReferral as IOM, the sender) and through its output and exit status:

  - `--once --offers NEED_SEED_CAPITAL` accepts the seed-capital referral,
    declines the health one with a reason, exits 0; a rerun (connection from
    the ENLACE_* environment) answers nothing again;
  - `--watch --state FILE` answers a new referral within 10 s; stopped
    (SIGTERM, exit 0) and restarted with the same FILE, it answers the referral
    created while it was down, replays the watch from its saved token, and
    does not answer the earlier one twice.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/python_example_test.py \\
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \\
      --protos protos --policy server/default_policy.conf \\
      --example clients/python/referral_inbox.py [unittest args...]

Without ENLACE_TEST_DB_DSN it fails (never skips). Needs the standard library,
grpcio, protobuf, protoc, /usr/bin/grpc_python_plugin and the mariadb client.
"""

import argparse
import glob
import json
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
DEADLINE = 60.0      # seconds, each call of the test itself
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
EXAMPLE_TIMEOUT = 120.0  # a --once run
ANSWER_WITHIN = 10.0     # the brief: a watched referral is answered within 10 s
PYTHON = "/usr/bin/python3"

ARGS = None
a_pb = c_pb = c_grpc = r_pb = r_grpc = a_grpc = None  # generated modules, set by main()


def log(msg):
    print(f"[python-example] {msg}", file=sys.stderr, flush=True)


def generate_stubs(protos, out_dir):
    files = sorted(glob.glob(os.path.join(protos, "enlace", "v1", "*.proto")))
    if not files:
        raise SystemExit(f"no .proto files under {protos}/enlace/v1")
    res = subprocess.run(["protoc", "-I", protos, f"--python_out={out_dir}",
                          f"--grpc_out={out_dir}",
                          "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", *files],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"protoc failed ({res.returncode}):\n{res.stderr}")
    sys.path.insert(0, out_dir)
    global a_pb, a_grpc, c_pb, c_grpc, r_pb, r_grpc
    from enlace.v1 import (arrivals_pb2, arrivals_pb2_grpc, cases_pb2, cases_pb2_grpc,
                           referrals_pb2, referrals_pb2_grpc)
    a_pb, a_grpc, c_pb, c_grpc = arrivals_pb2, arrivals_pb2_grpc, cases_pb2, cases_pb2_grpc
    r_pb, r_grpc = referrals_pb2, referrals_pb2_grpc


def parse_dsn(dsn):
    u = urllib.parse.urlsplit(dsn)
    if u.scheme != "mysql" or not u.hostname:
        raise SystemExit(f"{DSN_ENV}={dsn!r}: expected mysql://user@host:port/")
    return u


def drop_database(dsn, dbname):
    u = parse_dsn(dsn)
    env = dict(os.environ)
    if u.password:
        env["MYSQL_PWD"] = urllib.parse.unquote(u.password)
    res = subprocess.run(
        ["mariadb", "--protocol=TCP", f"-h{u.hostname}", f"-P{u.port or 3306}",
         f"-u{urllib.parse.unquote(u.username or 'root')}",
         "-e", f"DROP DATABASE IF EXISTS `{dbname}`"],
        capture_output=True, text=True, env=env, timeout=60)
    if res.returncode != 0:
        log(f"could not drop database {dbname}: {res.stderr.strip()}")


class Example:
    """referral_inbox.py running in the background; its output collected by threads."""

    def __init__(self, cmd, env, name):
        self.name = name
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                        for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.readers:
            t.start()

    def _read(self, stream, sink):
        for line in stream:
            with self.lock:
                sink.append(line.rstrip("\n"))

    def stdout(self):
        with self.lock:
            return list(self.out)

    def stderr(self):
        with self.lock:
            return list(self.err)

    def wait_for_stderr(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in self.stderr()):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return any(needle in line for line in self.stderr())

    def stop(self):
        """SIGTERM; returns the exit status (killed after STOP_TIMEOUT: None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        for t in self.readers:
            t.join(5)
        return self.proc.returncode

    def transcript(self):
        return (f"--- {self.name} stdout:\n" + "\n".join(self.stdout()) +
                f"\n--- {self.name} stderr:\n" + "\n".join(self.stderr()))


class ReferralInboxExampleTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="enlace-pyexample-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pki = os.path.join(cls.tmp, "pki")
        res = subprocess.run([ARGS.enlacectl, "pki", "init", "--dir", cls.pki],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"enlacectl pki init failed ({res.returncode}):\n"
                               f"{res.stdout}{res.stderr}")

        base_dsn = os.environ[DSN_ENV]
        dbname = "enlace_pyexample_" + secrets.token_hex(6)
        cls.addClassCleanup(drop_database, base_dsn, dbname)
        u = parse_dsn(base_dsn)
        dsn = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, ""))

        ready = os.path.join(cls.tmp, "ready")
        cls.server_log_path = os.path.join(cls.tmp, "server.log")
        cls.server_log = open(cls.server_log_path, "wb")
        cls.addClassCleanup(cls.server_log.close)
        cmd = [ARGS.server, f"--db_dsn={dsn}", f"--ca_cert={cls.pki}/ca.crt",
               f"--server_cert={cls.pki}/server.crt", f"--server_key={cls.pki}/server.key",
               f"--policy={ARGS.policy}", "--tls_addr=127.0.0.1:0", "--health_addr=",
               "--metrics_addr=", f"--ready_file={ready}"]
        log(f"starting {' '.join(cmd)}")
        cls.server = subprocess.Popen(cmd, stdout=cls.server_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        cls.addClassCleanup(cls._stop_server)
        cls.port = cls._wait_ready(ready)
        cls.addr = f"localhost:{cls.port}"
        log(f"server ready on {cls.addr}")

        cls.channels = []
        cls.addClassCleanup(lambda: [ch.close() for ch in cls.channels])
        cls.mfa = a_grpc.ArrivalServiceStub(cls._channel("mfa"))
        iom = cls._channel("iom")
        cls.iom_cases = c_grpc.CaseServiceStub(iom)
        cls.iom_referrals = r_grpc.ReferralServiceStub(iom)
        # The example's generated stubs go to a cache that is removed with tmp.
        cls.example_env = dict(os.environ, ENLACE_PROTOS=ARGS.protos,
                               ENLACE_STUB_CACHE=os.path.join(cls.tmp, "stub-cache"))
        for k in ("ENLACE_ADDR", "ENLACE_CA", "ENLACE_CERT", "ENLACE_KEY"):
            cls.example_env.pop(k, None)
        cls.examples = []
        cls.addClassCleanup(lambda: [e.stop() for e in cls.examples])

    @classmethod
    def _wait_ready(cls, ready):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            rc = cls.server.poll()
            if rc is not None:
                raise RuntimeError(f"enlace-server exited with {rc} before it was ready; "
                                   f"its log:\n{cls._server_log_text()}")
            if os.path.exists(ready):
                with open(ready) as f:
                    kv = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
                if kv.get("tls_port", "").isdigit():
                    return int(kv["tls_port"])
            time.sleep(0.1)
        raise RuntimeError(f"enlace-server not ready after {START_TIMEOUT:.0f} s; "
                           f"its log:\n{cls._server_log_text()}")

    @classmethod
    def _server_log_text(cls):
        cls.server_log.flush()
        with open(cls.server_log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-20000:]

    @classmethod
    def _stop_server(cls):
        if cls.server.poll() is None:
            cls.server.send_signal(signal.SIGTERM)
            try:
                cls.server.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log("enlace-server ignored SIGTERM: killing it")
                cls.server.kill()
                cls.server.wait()
        if cls.server.returncode != 0:
            log(f"enlace-server ended with {cls.server.returncode}; its log:\n"
                f"{cls._server_log_text()}")

    @classmethod
    def _channel(cls, name):
        def read(n):
            with open(os.path.join(cls.pki, n), "rb") as f:
                return f.read()
        ch = grpc.secure_channel(f"localhost:{cls.port}", grpc.ssl_channel_credentials(
            read("ca.crt"), read(f"{name}.key"), read(f"{name}.crt")))
        cls.channels.append(ch)
        return ch

    # --------------------------------------------------------------- helpers

    def referral(self, tag, service):
        """As mfa: an arrival consenting to iom and undp for reintegration; as
        iom: a case for it and a referral of `service` to undp. Returns the
        referral's id."""
        arrival = a_pb.Arrival(
            external_id=f"pyexample/{tag}", arrival_date="2018-01-20",
            mode=a_pb.ARRIVAL_MODE_AIR, origin_country="US",
            person=a_pb.Person(given_name="Rosa Elena", family_name="Menjívar Peña",
                               birth_date="1992-05-14", sex=a_pb.SEX_FEMALE),
            destination=a_pb.Destination(department_code="SV-LI", municipality="Quezaltepeque"),
            needs=[a_pb.NEED_SEED_CAPITAL, a_pb.NEED_HEALTH],
            consent=a_pb.Consent(agencies=["iom", "undp"], purposes=[a_pb.PURPOSE_REINTEGRATION],
                                 given_at={"seconds": 1516450000}))
        rec = self.mfa.RecordArrival(a_pb.RecordArrivalRequest(arrival=arrival), timeout=DEADLINE)
        self.assertEqual(rec.outcome, a_pb.OUTCOME_CREATED, rec)
        case = self.iom_cases.OpenCase(c_pb.OpenCaseRequest(
            arrival_id=rec.arrival_id, summary="reintegration, Quezaltepeque"), timeout=DEADLINE)
        ref = self.iom_referrals.CreateReferral(r_pb.CreateReferralRequest(
            case_id=case.case_id, to_agency="undp", service=service,
            reason=f"test referral {tag}"), timeout=DEADLINE)
        self.assertEqual(ref.status, r_pb.REFERRAL_STATUS_PENDING)
        return ref.referral_id

    def get(self, referral_id):
        """The referral as its sender (iom) sees it."""
        return self.iom_referrals.GetReferral(r_pb.GetReferralRequest(referral_id=referral_id),
                                              timeout=DEADLINE)

    def wait_status(self, referral_id, status, within):
        deadline = time.monotonic() + within
        while True:
            got = self.get(referral_id)
            if got.status == status or time.monotonic() >= deadline:
                return got
            time.sleep(0.1)

    def example_cmd(self, *extra, flags=True):
        cmd = [PYTHON, ARGS.example]
        if flags:
            cmd += ["--addr", self.addr, "--ca", f"{self.pki}/ca.crt",
                    "--cert", f"{self.pki}/undp.crt", "--key", f"{self.pki}/undp.key"]
        return cmd + list(extra)

    def run_example(self, *extra, flags=True, env=None):
        res = subprocess.run(self.example_cmd(*extra, flags=flags),
                             env=env or self.example_env, capture_output=True, text=True,
                             timeout=EXAMPLE_TIMEOUT, stdin=subprocess.DEVNULL)
        log(f"example exit {res.returncode}\nstdout:\n{res.stdout}stderr:\n{res.stderr}")
        return res

    def start_example(self, *extra, name):
        ex = Example(self.example_cmd(*extra), self.example_env, name)
        self.examples.append(ex)
        return ex

    def decisions(self, lines):
        """{referral_id: [verb, ...]} from the example's decision lines."""
        out = {}
        for line in lines:
            words = line.split()
            self.assertGreaterEqual(len(words), 2, f"not a decision line: {line!r}")
            self.assertIn(words[0], ("ACCEPTED", "DECLINED"), f"not a decision line: {line!r}")
            out.setdefault(words[1], []).append(words[0])
        return out

    # ----------------------------------------------------------------- tests

    def test_0_help_and_usage(self):
        res = self.run_example("--help", flags=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("--offers", res.stdout)
        self.assertIn("--watch", res.stdout)
        self.assertIn("example", res.stdout)
        res = self.run_example("--offers", "NEED_TELEPORTATION", "--once")
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("NEED_TELEPORTATION", res.stderr)

    def test_1_once_accepts_what_is_offered_and_declines_the_rest(self):
        seed = self.referral("once-seed", a_pb.NEED_SEED_CAPITAL)
        health = self.referral("once-health", a_pb.NEED_HEALTH)

        res = self.run_example("--once", "--offers", "NEED_SEED_CAPITAL")
        self.assertEqual(res.returncode, 0, res.stderr)

        got = self.get(seed)
        self.assertEqual(got.status, r_pb.REFERRAL_STATUS_ACCEPTED, got)
        got = self.get(health)
        self.assertEqual(got.status, r_pb.REFERRAL_STATUS_DECLINED, got)
        self.assertIn("NEED_HEALTH", got.decline_reason)
        self.assertIn("undp", got.decline_reason)

        answered = self.decisions(res.stdout.splitlines())
        self.assertEqual(answered.get(seed), ["ACCEPTED"], res.stdout)
        self.assertEqual(answered.get(health), ["DECLINED"], res.stdout)
        self.assertNotIn("Menjívar", res.stdout + res.stderr, "personal data in the output")

        # Again, connecting through the environment: nothing is PENDING any more.
        env = dict(self.example_env, ENLACE_ADDR=self.addr, ENLACE_CA=f"{self.pki}/ca.crt",
                   ENLACE_CERT=f"{self.pki}/undp.crt", ENLACE_KEY=f"{self.pki}/undp.key")
        again = self.run_example("--once", "--offers", "SEED_CAPITAL", flags=False, env=env)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout, "")
        self.assertEqual(self.get(seed).status, r_pb.REFERRAL_STATUS_ACCEPTED)
        self.assertEqual(self.get(health).status, r_pb.REFERRAL_STATUS_DECLINED)

    def test_2_watch_answers_new_referrals_and_resumes_after_a_restart(self):
        state = os.path.join(self.tmp, "undp-inbox.state")
        args = ("--watch", "--offers", "NEED_SEED_CAPITAL,NEED_TRAINING", "--state", state)

        first = self.start_example(*args, name="first run")
        # The inbox pass runs once the watch is open: after it, new referrals
        # reach the example through the watch.
        self.assertTrue(first.wait_for_stderr("referral_inbox: inbox:", 60), first.transcript())

        third = self.referral("watch-third", a_pb.NEED_SEED_CAPITAL)
        got = self.wait_status(third, r_pb.REFERRAL_STATUS_ACCEPTED, ANSWER_WITHIN)
        self.assertEqual(got.status, r_pb.REFERRAL_STATUS_ACCEPTED, first.transcript())
        etag_after_answer = got.etag

        deadline = time.monotonic() + ANSWER_WITHIN
        token = ""
        while time.monotonic() < deadline and not token:
            try:
                with open(state) as f:
                    token = json.load(f).get("resume_token", "")
            except (OSError, ValueError):
                time.sleep(0.1)
        self.assertTrue(token, f"no resume token saved in {state}\n{first.transcript()}")

        self.assertEqual(first.stop(), 0, first.transcript())
        self.assertEqual(self.decisions(first.stdout()), {third: ["ACCEPTED"]},
                         first.transcript())
        self.assertIn("via=watch", first.stdout()[0], first.transcript())

        fourth = self.referral("watch-fourth", a_pb.NEED_TRAINING)
        time.sleep(0.5)
        self.assertEqual(self.get(fourth).status, r_pb.REFERRAL_STATUS_PENDING)

        second = self.start_example(*args, name="second run")
        self.assertTrue(second.wait_for_stderr("watch: resuming from the saved token", 60),
                        second.transcript())
        got = self.wait_status(fourth, r_pb.REFERRAL_STATUS_ACCEPTED, ANSWER_WITHIN)
        self.assertEqual(got.status, r_pb.REFERRAL_STATUS_ACCEPTED, second.transcript())
        # The watch replays from the saved token: it sees the fourth's creation,
        # which happened while the example was down.
        self.assertTrue(second.wait_for_stderr(f"watch: CREATED {fourth}", ANSWER_WITHIN),
                        second.transcript())
        self.assertEqual(second.stop(), 0, second.transcript())
        log(first.transcript())
        log(second.transcript())

        self.assertEqual(self.decisions(second.stdout()), {fourth: ["ACCEPTED"]},
                         second.transcript())
        both = self.decisions(first.stdout() + second.stdout())
        self.assertEqual(both[third], ["ACCEPTED"])
        self.assertEqual(both[fourth], ["ACCEPTED"])
        got = self.get(third)
        self.assertEqual(got.status, r_pb.REFERRAL_STATUS_ACCEPTED)
        self.assertEqual(got.etag, etag_after_answer, "the third referral was changed again")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="path to enlace-server")
    parser.add_argument("--enlacectl", required=True, help="path to enlacectl")
    parser.add_argument("--protos", required=True, help="the repository's protos/ directory")
    parser.add_argument("--policy", required=True, help="the policy file for the server")
    parser.add_argument("--example", required=True, help="clients/python/referral_inbox.py")
    ARGS, rest = parser.parse_known_args()
    ARGS.protos = os.path.abspath(ARGS.protos)

    if not os.environ.get(DSN_ENV):
        print(f"FAIL: {DSN_ENV} is not set. This test needs a running MariaDB: run it "
              f"through scripts/test.sh (it starts one and sets "
              f"{DSN_ENV}=mysql://root@127.0.0.1:PORT/).", file=sys.stderr)
        return 1
    parse_dsn(os.environ[DSN_ENV])
    for path in (ARGS.server, ARGS.enlacectl):
        if not os.access(path, os.X_OK):
            print(f"FAIL: {path} is not an executable", file=sys.stderr)
            return 1
    if not os.path.isfile(ARGS.example):
        print(f"FAIL: {ARGS.example} not found", file=sys.stderr)
        return 1

    gen = tempfile.mkdtemp(prefix="enlace-pyexample-gen-")
    try:
        generate_stubs(ARGS.protos, gen)
        prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
