#!/usr/bin/python3
"""End-to-end test of scripts/backup.sh: a dump of a live database restores to
exactly what it held at dump time, and the restored audit log verifies.

A real server over mutual TLS serves database A; mfa records arrivals, iom
opens a case and refers it to unhcr; an administrator takes a checkpoint of
the audit log (what a witness holds). `scripts/backup.sh dump` backs A up
while the server runs. More is written after the dump (an arrival, a case,
the referral accepted) and a second checkpoint taken. `scripts/backup.sh
restore` loads the dump into a new database B, which then holds every table
as A held it at dump time (CHECKSUM TABLE), but no grants: a server on B
refuses to start until `enlace-server --migrate` has granted its database
user. A server on B (same PKI, same audit log key) then shows exactly the
records of dump time (lists, reads by id, the referral still pending), none
of the later ones; `enlacectl audit verify` finds the log intact and
extending the checkpoint taken before the dump, and refuses the one taken
after (the restore cut those events: what a witness sees). New writes on B
extend the chain, which still verifies. Restore refuses a database that
holds tables (exit 3, one exact line), and `--force` replaces them.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/backup/backup_restore_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf --protos protos \
      --backup-script scripts/backup.sh [unittest args...]

Needs the `mariadb` client, mariadb-dump, gzip, openssl and protoc.
"""

import os
import re
import subprocess
import sys
import time

import grpc

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 30.0
api = None  # the generated modules, set by main()
log = harness.set_log_tag("backup-restore")

# Written by the servers in the background at any moment (the Merkle tree's
# builder and the checkpoint signer), so left out of the table-by-table
# comparison; the events they derive from are compared, and `audit verify`
# with a checkpoint recomputes the tree from them.
BACKGROUND_TABLES = ("audit_tree_nodes", "audit_checkpoints")


def arrival(n, consent=("iom", "unhcr")):
    a = api.arrivals
    return a.Arrival(
        external_id=f"backup-{n}", arrival_date="2018-03-14", mode=a.ARRIVAL_MODE_AIR,
        origin_country="US",
        person=a.Person(given_name="Ana", family_name=f"Peña {n}", birth_date="1990-01-02",
                        sex=a.SEX_FEMALE),
        destination=a.Destination(department_code="SV-SS", municipality="Soyapango"),
        needs=[a.NEED_TRAINING],
        consent=a.Consent(agencies=list(consent), purposes=[a.PURPOSE_REINTEGRATION],
                          given_at={"seconds": 1521000000}))


class Stubs:
    """The stubs of one server, per identity."""

    def __init__(self, channel_of):
        self.mfa = api.arrivals_grpc.ArrivalServiceStub(channel_of("mfa"))
        self.iom_cases = api.cases_grpc.CaseServiceStub(channel_of("iom"))
        self.iom_referrals = api.referrals_grpc.ReferralServiceStub(channel_of("iom"))
        self.unhcr_referrals = api.referrals_grpc.ReferralServiceStub(channel_of("unhcr"))
        self.admin = api.admin_grpc.AdminServiceStub(channel_of("admin"))

    def arrival_ids(self):
        got = self.mfa.ListArrivals(api.arrivals.ListArrivalsRequest(page_size=500),
                                    timeout=DEADLINE)
        return sorted(x.arrival_id for x in got.arrivals)

    def case_ids(self):
        got = self.iom_cases.ListCases(api.cases.ListCasesRequest(page_size=500),
                                       timeout=DEADLINE)
        return sorted(x.case_id for x in got.cases)

    def referral_ids(self):
        got = self.iom_referrals.ListReferrals(
            api.referrals.ListReferralsRequest(box=api.referrals.BOX_OUTBOX, page_size=500),
            timeout=DEADLINE)
        return sorted(x.referral_id for x in got.referrals)

    def reads(self, arrival_id, case_id, referral_id):
        """The three records as their readers get them."""
        return (
            self.mfa.GetArrival(api.arrivals.GetArrivalRequest(arrival_id=arrival_id),
                                timeout=DEADLINE),
            self.iom_cases.GetCase(api.cases.GetCaseRequest(case_id=case_id), timeout=DEADLINE),
            self.iom_referrals.GetReferral(
                api.referrals.GetReferralRequest(referral_id=referral_id), timeout=DEADLINE))

    def checkpoint(self, covering=0):
        """The latest checkpoint, once it covers at least `covering` events:
        the tree lags the log by about a second (its builder's period), and a
        replica signs at most one checkpoint a second."""
        deadline = time.monotonic() + 15
        while True:
            got = self.admin.GetAuditCheckpoint(api.admin.GetAuditCheckpointRequest(),
                                                timeout=DEADLINE)
            if got.tree_size >= covering or time.monotonic() > deadline:
                return got
            time.sleep(0.3)


class BackupRestoreTest(harness.ServerTestCase, harness.EnlacectlChecks):
    TMP_PREFIX = "enlace-backup-"
    DB_PREFIX = "enlace_backup_"

    @classmethod
    def server_args(cls):
        # One audit log key for the source and the restored server, as in
        # production (it is backed up with the PKI): the checkpoints stored in
        # the dump are signed with it.
        key = os.path.join(cls.tmp, "audit_log.key")
        if not os.path.exists(key):
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key],
                           check=True, capture_output=True, timeout=harness.TOOL_TIMEOUT)
        return (f"--audit_log_key={key}",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # database A, migrated, and its server
        a, c, r = api.arrivals, api.cases, api.referrals
        src = Stubs(cls.channel)

        # Before the dump: 3 arrivals, a case, a referral; a checkpoint.
        cls.arrivals = [src.mfa.RecordArrival(a.RecordArrivalRequest(arrival=arrival(n)),
                                              timeout=DEADLINE).arrival_id for n in range(3)]
        cls.case = src.iom_cases.OpenCase(c.OpenCaseRequest(
            arrival_id=cls.arrivals[0], summary="before the dump"), timeout=DEADLINE)
        cls.referral = src.iom_referrals.CreateReferral(r.CreateReferralRequest(
            case_id=cls.case.case_id, to_agency="unhcr", service=a.NEED_TRAINING,
            reason="course"), timeout=DEADLINE)
        cls.checkpoint_before = cls.write_note("before.checkpoint", src.checkpoint())
        cls.at_dump = {
            "arrivals": src.arrival_ids(), "cases": src.case_ids(),
            "referrals": src.referral_ids(),
            "reads": src.reads(cls.arrivals[0], cls.case.case_id, cls.referral.referral_id)}
        # No call between this and the dump: nothing else writes these tables.
        cls.tables_at_dump = cls.table_checksums(cls.dbname)
        cls.events_at_dump = cls.event_count(cls.dbname)

        cls.backup = os.path.join(cls.tmp, "backups", "enlace.sql.gz")
        os.mkdir(os.path.dirname(cls.backup))
        started = time.monotonic()
        cls.dumped = cls.backup_sh(cls.dbname, "dump", "--output", cls.backup)
        cls.dump_seconds = time.monotonic() - started

        # After the dump: an arrival, a second case, the referral accepted; a
        # checkpoint covering them.
        cls.later_arrival = src.mfa.RecordArrival(a.RecordArrivalRequest(arrival=arrival(9)),
                                                  timeout=DEADLINE).arrival_id
        cls.later_case = src.iom_cases.OpenCase(c.OpenCaseRequest(
            arrival_id=cls.arrivals[1], summary="after the dump"), timeout=DEADLINE).case_id
        src.unhcr_referrals.AcceptReferral(r.AcceptReferralRequest(
            referral_id=cls.referral.referral_id, etag=cls.referral.etag), timeout=DEADLINE)
        cls.checkpoint_after = cls.write_note(
            "after.checkpoint", src.checkpoint(covering=cls.events_at_dump + 1))

        # The restore into database B, a new one.
        cls.restored_db = harness.unique_database_name("enlace_restored_")
        cls.addClassCleanup(harness.drop_database, cls.base_dsn, cls.restored_db)
        started = time.monotonic()
        cls.restored = cls.backup_sh(cls.restored_db, "restore", cls.backup)
        cls.restore_seconds = time.monotonic() - started
        cls.tables_restored = cls.table_checksums(cls.restored_db)
        cls.background_restored = cls.background_rows(cls.restored_db)
        log(f"dump {cls.dump_seconds:.1f} s, restore {cls.restore_seconds:.1f} s, "
            f"{os.path.getsize(cls.backup)} bytes, {cls.events_at_dump} audit events")

        # A server on B, as a user of its own: first without --migrate.
        cls.restored_user = "srv_" + cls.restored_db[-12:]
        cls.addClassCleanup(harness.drop_user, cls.base_dsn, cls.restored_user)
        password = harness.create_server_user(cls.base_dsn, cls.restored_user)
        restored_dsn = harness.dsn_for_user(cls.base_dsn, cls.restored_db, cls.restored_user,
                                            password)
        cls.unmigrated = subprocess.run(
            [os.path.abspath(cls.args.server), f"--ca_cert={cls.pki}/ca.crt",
             f"--server_cert={cls.pki}/server.crt", f"--server_key={cls.pki}/server.key",
             f"--policy={os.path.abspath(cls.args.policy)}",
             f"--token_keys={cls.pki}/token_keys", "--tls_addr=127.0.0.1:0", "--health_addr=",
             "--metrics_addr=", *cls.server_args()],
            env=harness.server_env(ENLACE_DB_DSN=restored_dsn), capture_output=True, text=True,
            timeout=harness.TOOL_TIMEOUT, cwd=cls.tmp)
        harness.migrate(cls.args.server, harness.dsn_with_database(cls.base_dsn, cls.restored_db),
                        harness.dsn_for_user(cls.base_dsn, cls.restored_db, cls.restored_user),
                        cls.tmp)
        restored_dir = os.path.join(cls.tmp, "restored")
        os.mkdir(restored_dir)
        cls.restored_server = harness.EnlaceServer(
            cls.args.server, pki=cls.pki, policy=cls.args.policy, dsn=restored_dsn,
            workdir=restored_dir, extra_args=cls.server_args())
        cls.addClassCleanup(cls.restored_server.stop)
        cls.restored_server.start()
        cls.dst = Stubs(lambda who: cls.channel_to(cls.restored_server.addr, who))

    # ------------------------------------------------------------- helpers

    @classmethod
    def channel_to(cls, addr, identity):
        ch = harness.mtls_channel(addr, cls.pki, identity)
        cls.channels.append(ch)  # closed by the class cleanup
        return ch

    @classmethod
    def write_note(cls, name, checkpoint):
        path = os.path.join(cls.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(checkpoint.note)
        return path

    @classmethod
    def sql(cls, database, query):
        return harness.mariadb(cls.base_dsn, query, database=database)

    @classmethod
    def table_checksums(cls, database):
        """{table: CHECKSUM TABLE ... EXTENDED} of every table of `database`
        but BACKGROUND_TABLES, whose names are listed with None."""
        tables = cls.sql(database, "SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = DATABASE() ORDER BY table_name").split()
        compared = [t for t in tables if t not in BACKGROUND_TABLES]
        out = cls.sql(database, "CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in compared)
                      + " EXTENDED")
        sums = {line.split("\t")[0].split(".", 1)[1]: line.split("\t")[1]
                for line in out.splitlines()}
        return {t: sums.get(t) for t in tables}

    @classmethod
    def background_rows(cls, database):
        """{table: set of rows} of BACKGROUND_TABLES (tree nodes, checkpoints)."""
        return {
            "audit_tree_nodes": set(cls.sql(database, "SELECT node_level, node_index, HEX(hash) "
                                                      "FROM audit_tree_nodes").splitlines()),
            "audit_checkpoints": set(cls.sql(database, "SELECT tree_size, HEX(root_hash), "
                                                       "HEX(note), created_at_us "
                                                       "FROM audit_checkpoints").splitlines())}

    @classmethod
    def event_count(cls, database):
        count, last = cls.sql(database, "SELECT COUNT(*), MAX(seq) FROM audit_events").split()
        if count != last:
            raise AssertionError(f"audit_events of {database}: {count} events, last seq {last}")
        return int(count)

    @classmethod
    def backup_sh(cls, database, *args):
        """scripts/backup.sh ARGS as the migration user of `database` (the
        administrator of ENLACE_TEST_DB_DSN here), through the environment."""
        admin = harness.dsn_with_database(cls.base_dsn, database)
        env = harness.server_env(ENLACE_MIGRATE_DSN=admin,
                                 ENLACE_MIGRATE_PASSWORD=harness.dsn_password(admin) or None)
        return subprocess.run(["bash", cls.args.backup_script, *args], env=env,
                              capture_output=True, text=True, timeout=harness.TOOL_TIMEOUT)

    def ctl(self, *args, addr=None, identity="admin"):
        env = harness.enlacectl_env(addr or self.restored_server.addr, self.pki, identity)
        return subprocess.run([self.args.enlacectl, *args], env=env, capture_output=True,
                              text=True, timeout=harness.TOOL_TIMEOUT)

    def assert_ran(self, res, what):
        self.assertEqual(res.returncode, 0,
                         f"{what}:\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")

    # --------------------------------------------------------------- tests

    def test_0_dump_and_restore_ran_and_the_restored_database_needs_migrate(self):
        self.assert_ran(self.dumped, "backup.sh dump")
        self.assertEqual(self.dumped.stdout, self.backup + "\n")
        with open(self.backup + ".sha256", encoding="ascii") as f:
            self.assertRegex(f.read(), r"\A[0-9a-f]{64}  enlace\.sql\.gz\n\Z")
        check = subprocess.run(["sha256sum", "--check", "--strict", "enlace.sql.gz.sha256"],
                               cwd=os.path.dirname(self.backup), capture_output=True, text=True)
        self.assertEqual((check.returncode, check.stdout), (0, "enlace.sql.gz: OK\n"))
        self.assertEqual(oct(os.stat(self.backup).st_mode & 0o777), "0o600")
        self.assert_ran(self.restored, "backup.sh restore")
        self.assertIn(f"backup.sh: creating database {self.restored_db}\n", self.restored.stderr)
        self.assertIn("next: enlace-server --migrate", self.restored.stderr)
        # Grants are not in a database's dump: the server's user had none on B.
        self.assertEqual(self.unmigrated.returncode, 1, self.unmigrated.stderr)
        self.assertIn(f"the database user {self.restored_user} may not read "
                      f"`{self.restored_db}`.schema_migrations", self.unmigrated.stderr)
        self.assertIn("its grants are missing; run `enlace-server --migrate` first",
                      self.unmigrated.stderr)

    def test_1_the_restore_holds_exactly_the_data_at_dump_time(self):
        # Table by table, as A was when it was dumped.
        self.assertEqual(self.tables_restored, self.tables_at_dump)
        for table in ("arrivals", "cases", "referrals", "audit_events", "audit_chain_head",
                      "audit_tree_nodes", "audit_checkpoints", "schema_migrations"):
            self.assertIn(table, self.tables_at_dump)
        self.assertGreater(self.events_at_dump, 0)
        # The tree and the checkpoints, which A's server went on writing: what
        # the restore holds of them A holds too (insert-only tables), the
        # checkpoint taken before the dump and the leaves it covers included.
        at_source = self.background_rows(self.dbname)
        for table, rows in self.background_restored.items():
            self.assertTrue(rows <= at_source[table], f"{table}: {rows - at_source[table]}")
        with open(self.checkpoint_before, encoding="utf-8") as f:
            size_before = int(f.read().split("\n")[1])
        self.assertIn(size_before, {int(row.split("\t")[0])
                                    for row in self.background_restored["audit_checkpoints"]})
        leaves = sum(1 for row in self.background_restored["audit_tree_nodes"]
                     if row.startswith("0\t"))
        self.assertGreaterEqual(leaves, size_before)
        # Through the API: the same records, read by id, and none of the later ones.
        self.assertEqual(self.dst.arrival_ids(), self.at_dump["arrivals"])
        self.assertEqual(len(self.at_dump["arrivals"]), 3)
        self.assertEqual(self.dst.case_ids(), [self.case.case_id])
        self.assertEqual(self.dst.referral_ids(), [self.referral.referral_id])
        got = self.dst.reads(self.arrivals[0], self.case.case_id, self.referral.referral_id)
        self.assertEqual(got, self.at_dump["reads"])
        self.assertEqual(got[2].status, api.referrals.REFERRAL_STATUS_PENDING)
        self.assertEqual(got[2].etag, self.referral.etag)
        for call, request in (
                (self.dst.mfa.GetArrival,
                 api.arrivals.GetArrivalRequest(arrival_id=self.later_arrival)),
                (self.dst.iom_cases.GetCase, api.cases.GetCaseRequest(case_id=self.later_case))):
            with self.assertRaises(grpc.RpcError) as cm:
                call(request, timeout=DEADLINE)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_2_the_restored_audit_log_verifies(self):
        res = self.ok("audit", "verify")
        self.assertRegex(res.stdout, r"\Aaudit log intact: \d+ events checked\n\Z")
        # It still extends what a witness held before the dump...
        res = self.ok("audit", "verify", "--checkpoint", self.checkpoint_before)
        self.assertRegex(res.stdout, r"\Aaudit log intact: \d+ events checked; .+\n\Z")
        # ...but not what it was shown after: the restore cut those events,
        # from the first one after the dump.
        res = self.fails("DATA_LOSS", "audit", "verify", "--checkpoint", self.checkpoint_after)
        self.assertTrue(res.stderr.startswith(
            f"enlacectl: DATA_LOSS: audit log broken at sequence {self.events_at_dump + 1} ("),
            res.stderr)

    def test_3_the_restored_server_takes_new_writes_and_the_chain_continues(self):
        a, r = api.arrivals, api.referrals
        new_arrival = self.dst.mfa.RecordArrival(a.RecordArrivalRequest(arrival=arrival(5)),
                                                 timeout=DEADLINE)
        self.assertEqual(new_arrival.outcome, a.OUTCOME_CREATED)
        # The referral as it was at dump time, accepted with its etag of then.
        accepted = self.dst.unhcr_referrals.AcceptReferral(r.AcceptReferralRequest(
            referral_id=self.referral.referral_id, etag=self.referral.etag), timeout=DEADLINE)
        self.assertEqual(accepted.status, r.REFERRAL_STATUS_ACCEPTED)
        events = self.event_count(self.restored_db)  # contiguous from 1
        self.assertGreater(events, self.events_at_dump)
        latest = self.dst.checkpoint(covering=events)
        self.assertGreaterEqual(latest.tree_size, events)
        checkpoint = self.write_note("restored.checkpoint", latest)
        for held in (None, self.checkpoint_before, checkpoint):
            with self.subTest(checkpoint=held):
                res = self.ok("audit", "verify", *(("--checkpoint", held) if held else ()))
                self.assertTrue(res.stdout.startswith("audit log intact: "), res.stdout)

    def test_4_restore_refuses_a_database_that_is_not_empty(self):
        tables = len(self.tables_at_dump)
        for database in (self.restored_db, self.dbname):
            with self.subTest(database=database):
                before = self.table_checksums(database)
                res = self.backup_sh(database, "restore", self.backup)
                self.assertEqual(res.returncode, 3, res.stderr)
                self.assertEqual(res.stderr, (
                    f"backup.sh: error: database {database} is not empty ({tables} tables): "
                    "restore only into an empty database, or pass --force to drop its "
                    "tables first\n"))
                self.assertEqual(res.stdout, "")
                self.assertEqual(self.table_checksums(database), before)
        # --force replaces what is there, a table of its own included.
        other = harness.unique_database_name("enlace_forced_")
        self.addCleanup(harness.drop_database, self.base_dsn, other)
        self.sql(None, f"CREATE DATABASE `{other}`")
        self.sql(other, "CREATE TABLE leftover (id INT PRIMARY KEY)")
        self.assertEqual(self.backup_sh(other, "restore", self.backup).returncode, 3)
        res = self.backup_sh(other, "restore", "--force", self.backup)
        self.assert_ran(res, "backup.sh restore --force")
        self.assertIn(f"backup.sh: warning: --force: dropping the 1 tables of {other}\n",
                      res.stderr)
        self.assertEqual(self.table_checksums(other), self.tables_at_dump)

    def test_5_restore_refuses_a_file_that_is_not_the_dump(self):
        altered = os.path.join(self.tmp, "backups", "altered.sql.gz")
        with open(self.backup, "rb") as f:
            data = f.read()
        with open(altered, "wb") as f:
            f.write(data[:-1] + bytes([data[-1] ^ 1]))
        with open(self.backup + ".sha256", encoding="ascii") as f:
            digest = f.read().split()[0]
        with open(altered + ".sha256", "w", encoding="ascii") as f:
            f.write(f"{digest}  altered.sql.gz\n")
        other = harness.unique_database_name("enlace_refused_")
        self.addCleanup(harness.drop_database, self.base_dsn, other)
        res = self.backup_sh(other, "restore", altered)
        self.assertEqual(res.returncode, 4, res.stderr)
        self.assertRegex(res.stderr, rf"\Abackup\.sh: error: {re.escape(altered)} does not match "
                                     rf"{re.escape(altered)}\.sha256 \(SHA-256 [0-9a-f]{{64}}, "
                                     rf"expected {digest}\): not restored\n\Z")
        self.assertEqual(self.sql(None, "SELECT COUNT(*) FROM information_schema.schemata "
                                        f"WHERE schema_name = '{other}'"), "0\n")


def main():
    global api
    args, rest = harness.parse_args(
        __doc__, protos=True,
        extra_flags=(("--backup-script", "the repository's scripts/backup.sh"),))
    if not harness.check_prerequisites(args, tools=("mariadb", "mariadb-dump", "protoc",
                                                    "openssl"),
                                       files=(args.backup_script,)):
        return 1
    with harness.generated_stubs(args.protos, "enlace-backup-gen-") as api:
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
