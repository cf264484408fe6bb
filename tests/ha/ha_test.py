#!/usr/bin/python3
"""High availability: two server replicas on a 3-node MariaDB Galera cluster
lose a database node, then a replica, and nothing acknowledged is lost.

Run by scripts/ha-test.sh (which starts the cluster and passes --galera_dir);
ctest runs that script under the `long` label. The scenario, over mutual TLS
with grpcio stubs, as agencies' backends would call:

  - writers push arrivals (RecordArrival, idempotent by external_id) through
    both replicas, each retrying a failed call on the other replica;
  - a referral worker, as IOM, opens a case and refers it to UNHCR for some
    of those arrivals; UNHCR accepts each one. A call that failed without an
    answer is checked (the case or referral may exist) before it is repeated:
    CreateReferral and OpenCase are not idempotent;
  - UNHCR watches its referral feed (WatchReferrals) and, when the stream
    breaks, resumes on the other replica with the last resume token;
  - then: SIGKILL of the database node the servers write through (node 1),
    SIGKILL of replica A, node 1 started again (it rejoins), replica A
    started again; the load runs between each step.

Checks, each a failure when it does not hold:
  - every acknowledged arrival is stored exactly once, under the id that was
    acknowledged; every acknowledged case is stored; every acknowledged
    referral is stored, once, ACCEPTED when its acceptance was acknowledged
    (checked, with the extent of any loss, even after a worker stopped on
    an error);
  - the feed UNHCR read across replicas holds every event of its referrals
    in the database, in order, none missed and none twice;
  - the audit chain verifies (`enlacectl audit verify`) on every node;
  - after each failure, every writer had an acknowledged write again within
    RESUME_LIMIT seconds.
The figures (writes acknowledged, retries, failovers, seconds to resume) are
printed at the end and written to --report as JSON.

ENLACE_HA_SPLIT_EXPERIMENT=1 runs the load with no failure but with two
writer nodes: replica a is given node 1 only and replica b node 2 only, for
40 s, then the same checks. Before the pool sent COMMIT as a statement of its
own (db/mysql_pool.h), acknowledged arrivals and cases were missing from every
node there: Connector/C++'s commit() ignored Galera refusing a transaction at
certification, and the call was answered OK.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

log = harness.set_log_tag("ha")
api = None  # the generated stubs, set by main()
ARGS = None

RESUME_LIMIT = 10.0  # seconds from a failure to the next acknowledged write of every writer
PHASE_SECONDS = 8.0  # load between two steps
CALL_DEADLINE = 15.0
WRITERS = 3
RETRYABLE = None  # set in main(): the codes after which a call is tried again
DIAGNOSE = None


def galera(function, *args):
    """Runs a function of scripts/lib/galera.sh."""
    lib = os.path.join(ARGS.root, "scripts", "lib", "galera.sh")
    cmd = f"ENLACE_SCRIPT_NAME=ha-test; source {lib}; {function} {' '.join(args)}"
    subprocess.run(["bash", "-c", cmd], check=True, timeout=180)


class Replicas:
    """The two replicas' channels, and which ones are up (a client knows a
    replica is down by its failed calls; the test tells it, to keep the
    client simple: it only decides the order in which replicas are tried)."""

    def __init__(self, pki):
        self.pki = pki
        self.addrs = {}
        self.lock = threading.Lock()

    def set(self, name, addr):
        with self.lock:
            self.addrs[name] = addr

    def order(self, preferred):
        with self.lock:
            names = sorted(self.addrs)
        i = names.index(preferred) if preferred in names else 0
        return names[i:] + names[:i]

    def addr(self, name):
        with self.lock:
            return self.addrs[name]


class Client:
    """One party's stubs on both replicas; call() tries the preferred replica
    and, on a retryable failure, the other, until CALL_DEADLINE."""

    def __init__(self, replicas, identity, preferred):
        self.replicas = replicas
        self.identity = identity
        self.preferred = preferred
        self.channels = {}
        self.retries = 0

    def _channel(self, name):
        addr = self.replicas.addr(name)
        key = (name, addr)
        if key not in self.channels:
            self.channels[key] = harness.mtls_channel(addr, self.replicas.pki, self.identity)
        return self.channels[key]

    def stub(self, name, service):
        module, cls = service
        return getattr(getattr(api, module), cls)(self._channel(name))

    def call(self, service, method, request, on_unknown=None):
        """The response; raises the last grpc.RpcError when no replica
        answered within CALL_DEADLINE. `on_unknown(error)` runs before a
        retry after a failure that may have been applied (not for calls
        that are idempotent): it returns a response to use instead, or None
        to send the call again."""
        import grpc
        deadline = time.monotonic() + CALL_DEADLINE
        last = None
        while time.monotonic() < deadline:
            for name in self.replicas.order(self.preferred):
                try:
                    return getattr(self.stub(name, service), method)(request, timeout=5.0)
                except grpc.RpcError as e:
                    if e.code() not in RETRYABLE:
                        # After an attempt that may have been applied, the
                        # refusal may be of our own earlier write
                        # (ALREADY_EXISTS, FAILED_PRECONDITION): look.
                        found = on_unknown(e) if last is not None and on_unknown else None
                        if found is not None:
                            return found
                        raise
                    last = e
                    self.retries += 1
                    if on_unknown is not None:
                        try:
                            found = on_unknown(e)
                        except grpc.RpcError:
                            found = None
                        if found is not None:
                            return found
            time.sleep(0.2)
        raise last

    def close(self):
        for channel in self.channels.values():
            channel.close()


class Scenario:
    """The load, the ledger of what was acknowledged, and the failure steps."""

    def __init__(self, replicas):
        self.replicas = replicas
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.arrivals = {}        # external_id -> acknowledged arrival_id
        self.referrals = {}       # referral_id -> "PENDING" or "ACCEPTED" (acknowledged)
        self.cases = {}           # case_id -> arrival_id (acknowledged)
        self.acks = []            # (call started, acknowledged, writer index), monotonic seconds
        self.feed = []            # (referral_id, event type, resume_token) as UNHCR read them
        self.feed_resumes = 0
        self.watch_done = threading.Event()
        self.stream = None
        self.errors = []
        self.clients = []

    # ------------------------------------------------------------- writers

    def arrival(self, external_id, agencies):
        a = api.arrivals
        return a.Arrival(
            external_id=external_id, arrival_date="2019-06-03", mode=a.ARRIVAL_MODE_AIR,
            origin_country="US",
            person=a.Person(given_name="Marta", family_name="Ha", birth_date="1988-02-03",
                            sex=a.SEX_FEMALE),
            destination=a.Destination(department_code="SV-SS", municipality="Soyapango"),
            needs=[a.NEED_TRAINING],
            consent=a.Consent(agencies=agencies, purposes=[a.PURPOSE_REINTEGRATION],
                              given_at={"seconds": 1559520000}))

    def record(self, client, external_id, agencies):
        a = api.arrivals
        response = client.call(("arrivals_grpc", "ArrivalServiceStub"), "RecordArrival",
                               a.RecordArrivalRequest(arrival=self.arrival(external_id, agencies)))
        if response.outcome not in (a.OUTCOME_CREATED, a.OUTCOME_ALREADY_RECORDED):
            raise AssertionError(f"{external_id}: outcome {response.outcome}")
        return response.arrival_id

    def writer(self, index):
        client = Client(self.replicas, "mfa", "a" if index % 2 == 0 else "b")
        self.clients.append(client)
        n = 0
        while not self.stop.is_set():
            n += 1
            external_id = f"ha-w{index}-{n}"
            started = time.monotonic()
            try:
                arrival_id = self.record(client, external_id, ["iom", "unhcr"])
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.errors.append(f"writer {index}: {external_id}: {e!r}")
                return
            with self.lock:
                previous = self.arrivals.setdefault(external_id, arrival_id)
                if previous != arrival_id:
                    self.errors.append(f"{external_id} acknowledged as {previous} and {arrival_id}")
                self.acks.append((started, time.monotonic(), index))

    # ------------------------------------------------------------ referrals

    def referral_worker(self):
        """As IOM: a case and a referral to UNHCR per arrival of its own;
        as UNHCR: the acceptance."""
        c, r = api.cases, api.referrals
        mfa = Client(self.replicas, "mfa", "b")
        iom = Client(self.replicas, "iom", "a")
        unhcr = Client(self.replicas, "unhcr", "b")
        self.clients += [mfa, iom, unhcr]
        cases_stub = ("cases_grpc", "CaseServiceStub")
        referrals_stub = ("referrals_grpc", "ReferralServiceStub")
        n = 0
        while not self.stop.is_set():
            n += 1
            external_id = f"ha-ref-{n}"
            try:
                arrival_id = self.record(mfa, external_id, ["iom", "unhcr"])
                with self.lock:
                    self.arrivals[external_id] = arrival_id
                reason = f"ha referral {n}"

                def find_case(_error, arrival_id=arrival_id):
                    return self.find_case(iom, arrival_id)

                try:
                    case = iom.call(cases_stub, "OpenCase",
                                    c.OpenCaseRequest(arrival_id=arrival_id, summary="ha"),
                                    on_unknown=find_case)
                except Exception:
                    if DIAGNOSE:
                        DIAGNOSE(arrival_id)
                    raise

                with self.lock:
                    self.cases[case.case_id] = arrival_id

                def find_referral(_error, reason=reason):
                    return self.find_referral(iom, reason)

                try:
                    referral = iom.call(referrals_stub, "CreateReferral",
                                        r.CreateReferralRequest(case_id=case.case_id,
                                                                to_agency="unhcr",
                                                                service=api.arrivals.NEED_TRAINING,
                                                                reason=reason),
                                        on_unknown=find_referral)
                except Exception:
                    if DIAGNOSE:
                        DIAGNOSE(case.case_id, table="cases", column="case_id")
                    raise
                with self.lock:
                    self.referrals[referral.referral_id] = "PENDING"

                def accepted(_error, referral_id=referral.referral_id):
                    got = unhcr.call(referrals_stub, "GetReferral",
                                     r.GetReferralRequest(referral_id=referral_id))
                    return got if got.status == r.REFERRAL_STATUS_ACCEPTED else None

                done = unhcr.call(referrals_stub, "AcceptReferral",
                                  r.AcceptReferralRequest(referral_id=referral.referral_id),
                                  on_unknown=accepted)
                if done.status != r.REFERRAL_STATUS_ACCEPTED:
                    raise AssertionError(f"accepted referral has status {done.status}")
                with self.lock:
                    self.referrals[referral.referral_id] = "ACCEPTED"
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"referral worker: {external_id}: {e!r}")
                return

    def find_case(self, iom, arrival_id):
        c = api.cases
        token = ""
        while True:
            page = iom.call(("cases_grpc", "CaseServiceStub"), "ListCases",
                            c.ListCasesRequest(page_size=500, page_token=token))
            for case in page.cases:
                if case.arrival_id == arrival_id:
                    return case
            token = page.next_page_token
            if not token:
                return None

    def find_referral(self, iom, reason):
        r = api.referrals
        token = ""
        while True:
            page = iom.call(("referrals_grpc", "ReferralServiceStub"), "ListReferrals",
                            r.ListReferralsRequest(box=r.BOX_OUTBOX, page_size=500,
                                                   page_token=token))
            for referral in page.referrals:
                if referral.reason == reason:
                    return referral
            token = page.next_page_token
            if not token:
                return None

    # ----------------------------------------------------------------- feed

    def watcher(self):
        """UNHCR's feed, resumed by token on whichever replica answers, until
        watch_done is set (after the load, once the feed caught up)."""
        import grpc
        r = api.referrals
        client = Client(self.replicas, "unhcr", "a")
        self.clients.append(client)
        token = ""
        while not self.watch_done.is_set():
            for name in self.replicas.order(client.preferred):
                if self.watch_done.is_set():
                    return
                try:
                    stream = client.stub(name, ("referrals_grpc", "ReferralServiceStub")) \
                        .WatchReferrals(r.WatchReferralsRequest(resume_token=token))
                    with self.lock:
                        self.stream = stream
                    for event in stream:
                        with self.lock:
                            self.feed.append((event.referral.referral_id, event.type,
                                              event.resume_token))
                        token = event.resume_token
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.CANCELLED and self.watch_done.is_set():
                        return
                    if e.code() not in RETRYABLE:
                        self.errors.append(f"watcher: {e.code()}: {e.details()}")
                        return
                    self.feed_resumes += 1
                    log(f"watcher: stream on {name} ended ({e.code()}), resuming")
            time.sleep(0.2)

    def end_watch(self, timeout):
        """Waits until the feed read holds every acknowledged change (at most
        `timeout` seconds), then ends the watcher's stream."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.drained():
            time.sleep(0.1)
        self.watch_done.set()
        with self.lock:
            if self.stream is not None:
                self.stream.cancel()

    def missing_from_feed(self):
        with self.lock:
            seen = {(rid, t) for rid, t, _ in self.feed}
            want = set()
            for rid, state in self.referrals.items():
                want.add((rid, api.referrals.REFERRAL_EVENT_TYPE_CREATED))
                if state == "ACCEPTED":
                    want.add((rid, api.referrals.REFERRAL_EVENT_TYPE_ACCEPTED))
        return sorted(want - seen)

    def drained(self):
        """The feed read holds an event for every acknowledged change."""
        return not self.missing_from_feed()

    # -------------------------------------------------------------- timing

    def resume_seconds(self, failed_at):
        """Seconds from `failed_at` until every writer had a write that it
        began after `failed_at` acknowledged (None while some writer has
        none)."""
        with self.lock:
            firsts = {}
            for started, acked, writer in self.acks:
                if started >= failed_at and writer not in firsts:
                    firsts[writer] = acked
        if len(firsts) < WRITERS:
            return None
        return max(firsts.values()) - failed_at


def server_counts(server):
    """enlace_database_failovers_total from a replica's metrics (None when
    the metrics do not export it)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                    timeout=5) as f:
            text = f.read().decode()
    except OSError:
        return None
    m = re.search(r"^enlace_database_failovers_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else None


class HighAvailabilityTest(unittest.TestCase):
    def test_node_and_replica_failures_lose_nothing(self):
        env = {}
        with open(os.path.join(ARGS.galera_dir, "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v
        nodes = int(env["GALERA_NODES"])
        admin = env["GALERA_ADMIN_DSN"] + "/"
        tmp = tempfile.mkdtemp(prefix="replicas-", dir=ARGS.workdir)
        dbname = harness.unique_database_name("enlace_ha_")
        user = "srv_" + dbname[-12:]
        password = harness.create_server_user(admin, user)
        server_dsn = f"mysql://{user}:{password}@{env['GALERA_HOSTS']}/{dbname}"
        harness.migrate(ARGS.server, harness.dsn_with_database(admin, dbname), server_dsn, tmp)
        pki = harness.make_pki(ARGS.enlacectl, os.path.join(tmp, "pki"))
        # Every replica signs the audit log's checkpoints with the same key,
        # as in production (docs/audit.md): one replica's checkpoints are
        # checked against what another serves.
        audit_key = os.path.join(tmp, "audit_log.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", audit_key],
                       check=True, capture_output=True, timeout=60)

        servers = {}

        generation = {}

        def start(name):
            # A new directory per start: a ready file left by the process
            # before would name its ports.
            generation[name] = generation.get(name, 0) + 1
            workdir = os.path.join(tmp, f"{name}{generation[name]}")
            os.makedirs(workdir)
            dsn = server_dsn
            if os.environ.get("ENLACE_HA_SPLIT_EXPERIMENT"):
                # One node each (a single host leaves the server no choice of
                # writer): a writes through node 1, b through node 2.
                hosts = env["GALERA_HOSTS"].split(",")
                dsn = server_dsn.replace(env["GALERA_HOSTS"], hosts[0 if name == "a" else 1])
            server = harness.EnlaceServer(ARGS.server, pki=pki, policy=ARGS.policy,
                                          dsn=dsn, workdir=workdir,
                                          extra_args=[f"--audit_log_key={audit_key}"])
            servers[name] = server
            server.start()
            replicas.set(name, server.addr)
            return server

        def diagnose(arrival_id, table="arrivals", column="arrival_id"):
            for _ in range(3):
                for i in range(1, nodes + 1):
                    try:
                        out = harness.mariadb(on_node(i), f"SELECT COUNT(*) FROM {table} WHERE "
                                              f"{column} = '{arrival_id}'", database=dbname)
                    except AssertionError as e:
                        out = str(e)[:80]
                    log(f"DIAG {time.monotonic():.2f} node {i}: {arrival_id}: {out.strip()}")
                    if table == "cases":
                        # A node may be down (the step that killed it): the
                        # diagnosis must not replace the worker's own error.
                        try:
                            out = harness.mariadb(on_node(i), "SELECT audit_seq FROM "
                                                  "audit_event_records WHERE record_id = "
                                                  f"'{arrival_id}'", database=dbname)
                        except AssertionError as e:
                            out = str(e)[:80]
                        log(f"DIAG audit of {arrival_id} on node {i}: {out.split()}")
                time.sleep(1)

        global DIAGNOSE
        DIAGNOSE = diagnose

        def on_node(i):
            return f"{env['GALERA_ADMIN_DSN'].rsplit('@', 1)[0]}@127.0.0.1:{env[f'GALERA_PORT_{i}']}/"

        replicas = Replicas(pki)
        start("a")
        start("b")
        self.addCleanup(lambda: [s.stop() for s in servers.values()])

        scenario = Scenario(replicas)
        threads = [threading.Thread(target=scenario.writer, args=(i,)) for i in range(WRITERS)]
        threads.append(threading.Thread(target=scenario.referral_worker))
        threads.append(threading.Thread(target=scenario.watcher))
        for t in threads:
            t.start()

        figures = {"steps": []}

        def step(name, action):
            time.sleep(PHASE_SECONDS)  # load before the step
            log(f"step: {name}")
            action()
            at = time.monotonic()  # the failure is complete (the process is gone)
            deadline = at + 60
            resumed = None
            while time.monotonic() < deadline and not scenario.errors:
                resumed = scenario.resume_seconds(at)
                if resumed is not None:
                    break
                time.sleep(0.1)
            log(f"step: {name}: every writer acknowledged again after "
                f"{resumed if resumed is None else round(resumed, 2)} s")
            figures["steps"].append({"step": name, "resume_seconds": resumed})

        split = bool(os.environ.get("ENLACE_HA_SPLIT_EXPERIMENT"))

        def run_steps():
            # The node both replicas write through: the first of the DSN.
            step("SIGKILL database node 1 (in use)", lambda: galera("galera_node_kill",
                                                                     ARGS.galera_dir, "1"))
            step("SIGKILL server replica a", lambda: servers["a"].proc.kill())
            step("database node 1 started again",
                 lambda: galera("galera_node_start", ARGS.galera_dir, "1"))

            def restart_a():
                servers["a"].proc.wait()
                servers["a"]._stopped = True
                start("a")

            step("server replica a started again", restart_a)
            time.sleep(PHASE_SECONDS)

        try:
            if split:
                time.sleep(40)  # then the same checks, without the steps
            else:
                run_steps()
        finally:
            scenario.stop.set()
            for t in threads[:-1]:
                t.join(timeout=120)
            scenario.end_watch(timeout=60)
            threads[-1].join(timeout=60)

        # What was acknowledged is checked against what is stored even after a
        # worker's error (which stopped that worker, and is a failure below):
        # a loss is then reported with its extent, not only the first one met.
        import grpc
        with scenario.lock:
            acknowledged_arrivals = dict(scenario.arrivals)
            acknowledged_referrals = dict(scenario.referrals)
            acknowledged_cases = dict(scenario.cases)

        # Every acknowledged arrival, once, under its acknowledged id.
        rows = harness.mariadb(on_node(2), "SELECT external_id, arrival_id FROM arrivals",
                               database=dbname)
        stored = {}
        twice = []
        for line in rows.splitlines():
            external_id, arrival_id = line.split("\t")
            if external_id in stored:
                twice.append(external_id)
            stored[external_id] = arrival_id
        lost_arrivals = [(external_id, arrival_id, stored.get(external_id))
                         for external_id, arrival_id in sorted(acknowledged_arrivals.items())
                         if stored.get(external_id) != arrival_id]

        # Every acknowledged case, for its arrival.
        rows = harness.mariadb(on_node(2), "SELECT c.case_id, a.arrival_id FROM cases c "
                               "JOIN arrivals a ON a.seq = c.arrival_seq", database=dbname)
        stored_cases = dict(line.split("\t") for line in rows.splitlines())
        lost_cases = [(case_id, arrival_id, stored_cases.get(case_id))
                      for case_id, arrival_id in sorted(acknowledged_cases.items())
                      if stored_cases.get(case_id) != arrival_id]

        # Every acknowledged referral, once, with the acknowledged state.
        r = api.referrals
        unhcr = Client(replicas, "unhcr", "b")
        lost_referrals = []
        for referral_id, state in sorted(acknowledged_referrals.items()):
            try:
                got = unhcr.call(("referrals_grpc", "ReferralServiceStub"), "GetReferral",
                                 r.GetReferralRequest(referral_id=referral_id))
            except grpc.RpcError as e:
                lost_referrals.append((referral_id, state, e.code().name))
                continue
            if state == "ACCEPTED" and got.status != r.REFERRAL_STATUS_ACCEPTED:
                lost_referrals.append((referral_id, state, r.ReferralStatus.Name(got.status)))
        unhcr.close()
        log(f"stored: {len(acknowledged_arrivals)} arrivals acknowledged, {len(lost_arrivals)} "
            f"missing or under another id, {len(twice)} stored twice; "
            f"{len(acknowledged_cases)} cases acknowledged, {len(lost_cases)} missing; "
            f"{len(acknowledged_referrals)} referrals acknowledged, {len(lost_referrals)} missing "
            f"or not in their acknowledged state; {len(scenario.errors)} worker errors")
        for lost in lost_arrivals[:20]:
            log(f"lost arrival (external_id, acknowledged id, stored id): {lost}")
        for lost in lost_cases[:20]:
            log(f"lost case (id, acknowledged arrival, stored arrival): {lost}")
        for lost in lost_referrals[:20]:
            log(f"lost referral (id, acknowledged state, found): {lost}")

        self.assertEqual(scenario.errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a load thread did not end")
        self.assertEqual(twice, [], "stored twice")
        self.assertEqual(lost_arrivals, [], "acknowledged arrivals not stored as acknowledged")
        self.assertEqual(lost_cases, [], "acknowledged cases not stored")
        self.assertEqual(lost_referrals, [], "acknowledged referrals not stored as acknowledged")

        # The feed as read: no event twice, none of the acknowledged ones missing.
        seen = [(rid, t) for rid, t, _ in scenario.feed]
        self.assertEqual(len(seen), len(set(seen)), "an event was delivered twice")
        self.assertEqual(scenario.missing_from_feed(), [],
                         "acknowledged changes missing from the feed")

        # The audit chain, verified through a replica and on every node.
        env_ctl = harness.enlacectl_env(servers["b"].addr, pki, "admin")
        verify = subprocess.run([ARGS.enlacectl, "audit", "verify"], capture_output=True,
                                text=True, env=env_ctl, timeout=300)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        for i in range(1, nodes + 1):
            count = harness.mariadb(on_node(i), "SELECT COUNT(*) FROM arrivals",
                                    database=dbname).strip()
            self.assertEqual(int(count), len(stored), f"node {i} holds another count")

        # Replica b ran through the node's death: it moved off the dead node
        # at least (and again as the membership changed: ChooseWriterNode).
        if not split:
            self.assertGreaterEqual(server_counts(servers["b"]) or 0, 1.0,
                                    "replica b never failed over")

        for s in figures["steps"]:
            self.assertIsNotNone(s["resume_seconds"], f"{s['step']}: writers never resumed")
            self.assertLessEqual(s["resume_seconds"], RESUME_LIMIT, s["step"])

        figures.update({
            "arrivals_acknowledged": len(scenario.arrivals),
            "referrals_acknowledged": len(scenario.referrals),
            "referrals_accepted": sum(1 for s in scenario.referrals.values() if s == "ACCEPTED"),
            "feed_events_read": len(scenario.feed),
            "feed_resumes": scenario.feed_resumes,
            "client_retries": sum(c.retries for c in scenario.clients),
            "database_failovers": {n: server_counts(s) for n, s in servers.items()},
            "audit_verify": verify.stdout.strip().splitlines()[-1:],
        })
        log("figures: " + json.dumps(figures, indent=2))
        if ARGS.report:
            with open(ARGS.report, "w") as f:
                json.dump(figures, f, indent=2)
        for c in scenario.clients:
            c.close()


def main():
    global api, ARGS, RETRYABLE
    args, rest = harness.parse_args(__doc__, protos=True, extra_flags=(
        ("--galera_dir", "the cluster's directory (scripts/lib/galera.sh)"),
        ("--root", "the repository's root"),
        ("--workdir", "where the replicas' PKI and logs go (kept with ha-test.sh --keep)"),
    ))
    import argparse
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--report", default="")
    report, rest = extra.parse_known_args(rest)
    args.report = report.report
    ARGS = args
    import grpc
    RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                 grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL,
                 grpc.StatusCode.RESOURCE_EXHAUSTED}
    with harness.generated_stubs(args.protos, "enlace-ha-stubs-") as stubs:
        api = stubs
        harness.ServerTestCase.args = args
        prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
