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

import json
import os
import subprocess
import sys
import threading
import time

# The shared harness (server, PKI, database, stubs), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 60.0      # seconds, each call of the test itself
EXAMPLE_TIMEOUT = 120.0  # a --once run
ANSWER_WITHIN = 10.0     # the brief: a watched referral is answered within 10 s
PYTHON = "/usr/bin/python3"

a_pb = c_pb = c_grpc = r_pb = r_grpc = a_grpc = None  # generated modules, set by main()
log = harness.set_log_tag("python-example")


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
        """SIGTERM; returns the exit status (killed after harness.STOP_TIMEOUT: None)."""
        if not harness.stop_process(self.proc, self.name):
            return None
        for t in self.readers:
            t.join(5)
        return self.proc.returncode

    def transcript(self):
        return (f"--- {self.name} stdout:\n" + "\n".join(self.stdout()) +
                f"\n--- {self.name} stderr:\n" + "\n".join(self.stderr()))


class ReferralInboxExampleTest(harness.ServerTestCase):

    TMP_PREFIX = "enlace-pyexample-"
    DB_PREFIX = "enlace_pyexample_"
    SERVER_HEALTH = SERVER_METRICS = False  # TLS only

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mfa = a_grpc.ArrivalServiceStub(cls.channel("mfa"))
        iom = cls.channel("iom")
        cls.iom_cases = c_grpc.CaseServiceStub(iom)
        cls.iom_referrals = r_grpc.ReferralServiceStub(iom)
        # The example's generated stubs go to a cache that is removed with tmp.
        cls.example_env = dict(os.environ, ENLACE_PROTOS=cls.args.protos,
                               ENLACE_STUB_CACHE=os.path.join(cls.tmp, "stub-cache"))
        for k in ("ENLACE_ADDR", "ENLACE_CA", "ENLACE_CERT", "ENLACE_KEY", "ENLACE_ACTOR"):
            cls.example_env.pop(k, None)
        cls.examples = []
        cls.addClassCleanup(lambda: [e.stop() for e in cls.examples])

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
        cmd = [PYTHON, self.args.example]
        if flags:
            cmd += ["--addr", self.addr, "--ca", f"{self.pki}/ca.crt",
                    "--cert", f"{self.pki}/undp.crt", "--key", f"{self.pki}/undp.key",
                    "--actor", "undp-inbox-01"]
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
                   ENLACE_CERT=f"{self.pki}/undp.crt", ENLACE_KEY=f"{self.pki}/undp.key",
                   ENLACE_ACTOR="undp-inbox-02")
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
    global a_pb, a_grpc, c_pb, c_grpc, r_pb, r_grpc
    args, rest = harness.parse_args(
        __doc__, protos=True, extra_flags=[("--example", "clients/python/referral_inbox.py")])
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc"), files=(args.example,)):
        return 1
    with harness.generated_stubs(args.protos, "enlace-pyexample-gen-") as api:
        a_pb, a_grpc, c_pb, c_grpc = api.arrivals, api.arrivals_grpc, api.cases, api.cases_grpc
        r_pb, r_grpc = api.referrals, api.referrals_grpc
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
