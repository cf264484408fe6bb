#!/usr/bin/python3
"""End-to-end test of `enlacectl certs` and `enlacectl agencies` against the real server.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI (made by
`enlacectl pki init`, whose CA key the server gets with --ca_key so it can sign
CSRs) and a fresh database, then drives it only through the `enlacectl` binary,
checking exit codes, stdout and stderr exactly as an operator or a script sees
them. Certificates are inspected with the `openssl` command.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/enlacectl_certs_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf [unittest args...]

Needs the standard library, `openssl` and the `mariadb` client.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

DSN_ENV = "ENLACE_TEST_DB_DSN"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
CALL_TIMEOUT = 60.0  # seconds, per enlacectl run
REVOCATION_DEADLINE = 5.0  # API.md: a revocation takes effect within 5 s

ARGS = None  # the parsed command line, set by main()


def log(msg):
    print(f"[enlacectl-certs] {msg}", file=sys.stderr, flush=True)


def parse_dsn(dsn):
    """mysql://user[:password]@host:port/[db] -> parts."""
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


def details(stdout):
    """The "  field       value" lines that follow the first line of
    `certs issue` and `certs revoke` -> {field: value}."""
    out = {}
    for line in stdout.splitlines()[1:]:
        if not line.startswith("  "):
            raise AssertionError(f"not a detail line: {line!r} in\n{stdout}")
        out[line[2:14].strip()] = line[14:]
    return out


def openssl(*args):
    res = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{res.stderr}")
    return res.stdout


class EnlacectlCertsTest(unittest.TestCase):
    """One server and one database for the class. Each test uses names of its
    own (wfp, nosuch, ops, ...), so tests can run alone or in any order."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="enlace-ctl-certs-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pki = os.path.join(cls.tmp, "pki")
        res = subprocess.run([ARGS.enlacectl, "pki", "init", "--dir", cls.pki],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"enlacectl pki init failed ({res.returncode}):\n"
                               f"{res.stdout}{res.stderr}")

        base_dsn = os.environ[DSN_ENV]
        dbname = "enlace_ctl_certs_" + secrets.token_hex(6)
        cls.addClassCleanup(drop_database, base_dsn, dbname)
        u = parse_dsn(base_dsn)
        dsn = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, ""))

        ready = os.path.join(cls.tmp, "ready")
        cls.server_log_path = os.path.join(cls.tmp, "server.log")
        cls.server_log = open(cls.server_log_path, "wb")
        cls.addClassCleanup(cls.server_log.close)
        cmd = [ARGS.server, f"--db_dsn={dsn}",
               f"--ca_cert={cls.pki}/ca.crt", f"--ca_key={cls.pki}/ca.key",
               f"--server_cert={cls.pki}/server.crt", f"--server_key={cls.pki}/server.key",
               f"--policy={ARGS.policy}",
               "--tls_addr=127.0.0.1:0", "--health_addr=127.0.0.1:0",
               "--metrics_addr=127.0.0.1:0", f"--ready_file={ready}"]
        log(f"starting {' '.join(cmd)}")
        cls.server = subprocess.Popen(cmd, stdout=cls.server_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        cls.addClassCleanup(cls._stop_server)
        cls.tls_port = cls._wait_ready(ready)
        log(f"server ready on TLS port {cls.tls_port}")

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
        if cls.server.returncode != 0:
            log(f"enlace-server ended with {cls.server.returncode}; "
                f"its log:\n{cls._server_log_text()}")

    # --------------------------------------------------------------- helpers

    def ctl(self, *args, identity="admin", cert=None, key=None, cwd=None):
        """Runs enlacectl with the connection in the environment (ENLACE_*), as
        `identity` of the dev PKI or as the given cert/key files; identity=None
        runs it with no connection settings at all (offline commands)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENLACE_")}
        if identity is not None or cert is not None:
            env.update(ENLACE_ADDR=f"localhost:{self.tls_port}",
                       ENLACE_CA=os.path.join(self.pki, "ca.crt"),
                       ENLACE_CERT=cert or os.path.join(self.pki, f"{identity}.crt"),
                       ENLACE_KEY=key or os.path.join(self.pki, f"{identity}.key"))
        res = subprocess.run([ARGS.enlacectl, *args], capture_output=True, text=True,
                             env=env, cwd=cwd, timeout=CALL_TIMEOUT)
        log(f"enlacectl {' '.join(args)} -> {res.returncode}")
        return res

    def ok(self, *args, **kw):
        res = self.ctl(*args, **kw)
        self.assertEqual(res.returncode, 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def fails(self, code, *args, **kw):
        """Exit 1 with exactly one line "enlacectl: <code>: <message>" on stderr."""
        res = self.ctl(*args, **kw)
        self.assertEqual(res.returncode, 1, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        self.assertRegex(res.stderr, rf"\Aenlacectl: {code}: \S.*\n\Z")
        return res

    def json_of(self, *args, **kw):
        res = self.ok(*args, "--output", "json", **kw)
        return json.loads(res.stdout)

    def certificates(self, *filters):
        return self.json_of("certs", "list", *filters)["certificates"]

    def request_and_issue(self, name, *issue_args, kind="agency"):
        """As the agency: certs request in a directory of its own; as admin:
        certs issue for the CSR. Returns (agency dir, the issue result)."""
        home = tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)
        self.ok("certs", "request", "--kind", kind, "--name", name, identity=None, cwd=home)
        res = self.ctl("certs", "issue", "--csr", os.path.join(home, f"{name}.csr"),
                       "--kind", kind, "--name", name, *issue_args)
        return home, res

    # ----------------------------------------------------------------- tests

    def test_agency_onboarding_issue_list_revoke(self):
        # An administrator onboards the agency.
        res = self.ok("agencies", "register", "wfp", "--display-name", "World Food Programme")
        self.assertEqual(res.stdout, "registered agency wfp (World Food Programme): "
                                     "spiffe://enlace/agency/wfp\n")
        self.assertEqual(res.stderr, "")
        agencies = self.json_of("agencies", "list")["agencies"]
        self.assertIn({"code": "wfp", "displayName": "World Food Programme"},
                      [{k: a[k] for k in ("code", "displayName")} for a in agencies])
        self.assertIn("createdAt", [a for a in agencies if a["code"] == "wfp"][0])
        table = self.ok("agencies", "list").stdout.splitlines()
        self.assertRegex(table[0], r"^CODE +DISPLAY NAME +CREATED$")
        self.assertTrue(any(l.startswith("wfp ") and "World Food Programme" in l
                            for l in table[1:]), table)

        # The agency makes its key and CSR offline (no connection settings).
        home = os.path.join(self.tmp, "wfp-home")
        os.mkdir(home)
        res = self.ok("certs", "request", "--kind", "agency", "--name", "wfp",
                      identity=None, cwd=home)
        key_path, csr_path = os.path.join(home, "wfp.key"), os.path.join(home, "wfp.csr")
        self.assertIn("wrote ./wfp.key", res.stdout)
        self.assertIn("wrote ./wfp.csr", res.stdout)
        self.assertIn("enlacectl certs issue --csr wfp.csr --kind agency --name wfp",
                      res.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(home)), ["wfp.csr", "wfp.key"])
        self.assertIn("CN = wfp", openssl("req", "-in", csr_path, "-noout", "-subject"))
        openssl("req", "-in", csr_path, "-noout", "-verify")
        with open(key_path, "rb") as f:
            key_before = f.read()

        # A second request refuses to overwrite the key, and leaves it alone.
        res = self.fails("ALREADY_EXISTS", "certs", "request", "--kind", "agency",
                         "--name", "wfp", identity=None, cwd=home)
        self.assertIn("wfp.key already exists: refusing to overwrite a private key",
                      res.stderr)
        self.assertEqual(res.stdout, "")
        with open(key_path, "rb") as f:
            self.assertEqual(f.read(), key_before)
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)

        # Only the CSR travels: the administrator signs it in a directory of their own.
        admin_dir = os.path.join(self.tmp, "admin-inbox")
        os.mkdir(admin_dir)
        shutil.copy(csr_path, os.path.join(admin_dir, "wfp.csr"))
        res = self.ok("certs", "issue", "--csr", "wfp.csr", "--kind", "agency",
                      "--name", "wfp", cwd=admin_dir)
        crt_path = os.path.join(admin_dir, "wfp.crt")
        self.assertTrue(res.stdout.startswith("issued certificate, written to wfp.crt\n"),
                        res.stdout)
        lines = details(res.stdout)
        self.assertEqual(lines["spiffe id"], "spiffe://enlace/agency/wfp")
        self.assertEqual(lines["status"], "ACTIVE")
        self.assertEqual(lines["issued by"], "spiffe://enlace/admin/admin")
        self.assertRegex(lines["not after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        serial = lines["serial"]
        self.assertRegex(serial, r"^[1-9a-f][0-9a-f]*$")

        san = openssl("x509", "-in", crt_path, "-noout", "-ext", "subjectAltName")
        self.assertEqual([l.strip() for l in san.splitlines()[1:] if l.strip()],
                         ["URI:spiffe://enlace/agency/wfp"])
        openssl_serial = openssl("x509", "-in", crt_path, "-noout", "-serial")
        self.assertEqual(openssl_serial.strip().split("=", 1)[1].lower().lstrip("0"), serial)
        # The certificate carries the agency's own public key.
        self.assertEqual(openssl("x509", "-in", crt_path, "-noout", "-pubkey"),
                         openssl("pkey", "-in", key_path, "-pubout"))
        openssl("verify", "-CAfile", os.path.join(self.pki, "ca.crt"), crt_path)

        # It is listed as ACTIVE.
        mine = [c for c in self.certificates() if c["serial"] == serial]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["spiffeId"], "spiffe://enlace/agency/wfp")
        self.assertEqual(mine[0]["status"], "CERTIFICATE_STATUS_ACTIVE")
        self.assertEqual(mine[0]["kind"], "CERTIFICATE_KIND_AGENCY")
        self.assertEqual(mine[0]["name"], "wfp")
        with open(crt_path) as f:
            self.assertEqual(mine[0]["certificatePem"], f.read())
        self.assertIn(serial, [c["serial"] for c in self.certificates("--name", "wfp")])
        self.assertIn(serial, [c["serial"] for c in self.certificates("--status", "active")])
        self.assertNotIn(serial, [c["serial"] for c in self.certificates("--kind", "admin")])
        table = self.ok("certs", "list", "--name", "wfp").stdout.splitlines()
        self.assertRegex(table[0], r"^SERIAL +SPIFFE ID +STATUS +NOT AFTER +ISSUED BY$")
        self.assertIn([serial, "spiffe://enlace/agency/wfp", "ACTIVE", lines["not after"],
                       "spiffe://enlace/admin/admin"], [l.split() for l in table[1:]])

        # Active and expiring within 400 days (the default validity is 90).
        expiring = self.json_of("certs", "expiring", "--within", "400d")["certificates"]
        self.assertIn(serial, [c["serial"] for c in expiring])
        self.assertEqual({c["status"] for c in expiring}, {"CERTIFICATE_STATUS_ACTIVE"})
        res = self.ok("certs", "expiring", "--within", "400")
        self.assertRegex(res.stdout, rf"(?m)^{serial} +spiffe://enlace/agency/wfp +ACTIVE ")

        # The agency connects with it: known as agency/wfp, which is no admin.
        as_wfp = dict(cert=crt_path, key=key_path)
        res = self.fails("PERMISSION_DENIED", "certs", "list", **as_wfp)
        self.assertIn("spiffe://enlace/agency/wfp", res.stderr)

        # Revoked, with the reason recorded.
        res = self.ok("certs", "revoke", serial, "--reason", "key lost")
        self.assertTrue(res.stdout.startswith(f"revoked certificate {serial}\n"), res.stdout)
        lines = details(res.stdout)
        self.assertEqual(lines["status"], "REVOKED")
        self.assertEqual(lines["reason"], "key lost")
        self.assertEqual(lines["revoked by"], "spiffe://enlace/admin/admin")
        revoked_at = time.monotonic()
        revoked = [c for c in self.certificates("--status", "revoked") if c["serial"] == serial]
        self.assertEqual(len(revoked), 1)
        self.assertEqual(revoked[0]["status"], "CERTIFICATE_STATUS_REVOKED")
        self.assertEqual(revoked[0]["revocationReason"], "key lost")
        self.assertEqual(revoked[0]["revokedBy"], "spiffe://enlace/admin/admin")
        self.assertIn("revokedAt", revoked[0])
        self.assertNotIn(serial, [c["serial"] for c in self.certificates("--status", "active")])
        expiring = self.json_of("certs", "expiring", "--within", "400d")["certificates"]
        self.assertNotIn(serial, [c["serial"] for c in expiring])

        # Revoking again is refused; the revoked certificate no longer
        # authenticates (API.md: within 5 s).
        self.fails("FAILED_PRECONDITION", "certs", "revoke", serial, "--reason", "again")
        while True:
            res = self.ctl("certs", "list", **as_wfp)
            if "UNAUTHENTICATED" in res.stderr or time.monotonic() - revoked_at > 2 * REVOCATION_DEADLINE:
                break
            time.sleep(0.25)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: UNAUTHENTICATED: .*revoked.*\n\Z")
        log(f"revoked certificate refused after {time.monotonic() - revoked_at:.2f} s")

    def test_issue_for_unregistered_agency_fails(self):
        home, res = self.request_and_issue("nosuch")
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: FAILED_PRECONDITION: .*nosuch.*\n\Z")
        self.assertEqual(res.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(home, "nosuch.crt")))
        self.assertEqual(self.certificates("--name", "nosuch"), [])

    def test_non_admin_is_denied(self):
        for args in (("certs", "list"), ("certs", "expiring", "--within", "30d"),
                     ("agencies", "list"),
                     ("agencies", "register", "evil", "--display-name", "Evil"),
                     ("certs", "revoke", "1234", "--reason", "x")):
            with self.subTest(args=args):
                res = self.fails("PERMISSION_DENIED", *args, identity="iom")
                self.assertIn("spiffe://enlace/agency/iom", res.stderr)
                self.assertEqual(res.stdout, "")
        home = tempfile.mkdtemp(prefix="iom-", dir=self.tmp)
        self.ok("certs", "request", "--kind", "agency", "--name", "iom", identity=None,
                cwd=home)
        self.fails("PERMISSION_DENIED", "certs", "issue", "--csr",
                         os.path.join(home, "iom.csr"), "--kind", "agency", "--name", "iom",
                         identity="iom", cwd=home)
        self.assertFalse(os.path.exists(os.path.join(home, "iom.crt")))

    def test_admin_certificate_and_expiring_window(self):
        home, res = self.request_and_issue("ops", "--validity-days", "10", "--output", "json",
                                           kind="admin")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        cert = json.loads(res.stdout)  # one JSON document on stdout
        self.assertEqual(res.stderr, f"wrote {os.path.join(home, 'ops.crt')}\n")
        self.assertEqual(cert["spiffeId"], "spiffe://enlace/admin/ops")
        self.assertEqual(cert["kind"], "CERTIFICATE_KIND_ADMIN")
        san = openssl("x509", "-in", os.path.join(home, "ops.crt"), "-noout",
                      "-ext", "subjectAltName")
        self.assertIn("URI:spiffe://enlace/admin/ops", san)

        def expiring(within):
            got = self.json_of("certs", "expiring", "--within", within, "--kind", "admin")
            return [c["serial"] for c in got["certificates"]]

        self.assertIn(cert["serial"], expiring("11d"))
        self.assertIn(cert["serial"], expiring("30"))
        self.assertNotIn(cert["serial"], expiring("9d"))

        # The new administrator can work, and --output table is the default.
        res = self.ok("certs", "list", "--kind", "admin",
                      cert=os.path.join(home, "ops.crt"), key=os.path.join(home, "ops.key"))
        self.assertRegex(res.stdout, rf"(?m)^{cert['serial']} +spiffe://enlace/admin/ops +ACTIVE ")

        # Issuing to a file that exists is refused before anything is issued.
        before = len(self.certificates("--name", "ops"))
        res = self.fails("ALREADY_EXISTS", "certs", "issue", "--csr",
                         os.path.join(home, "ops.csr"), "--kind", "admin", "--name", "ops")
        self.assertIn("ops.crt already exists", res.stderr)
        self.assertEqual(len(self.certificates("--name", "ops")), before)

    def test_revoke_offline_issued_certificate(self):
        # undp's certificate came from `pki init`: the platform has no record of it.
        crt = os.path.join(self.pki, "undp.crt")
        res = self.ok("certs", "revoke", "--certificate", crt, "--reason", "replaced",
                      "--output", "json")
        cert = json.loads(res.stdout)
        self.assertEqual(cert["spiffeId"], "spiffe://enlace/agency/undp")
        self.assertEqual(cert["status"], "CERTIFICATE_STATUS_REVOKED")
        self.assertEqual(cert["issuedBy"], "offline")
        self.assertEqual(cert["revocationReason"], "replaced")
        serial = openssl("x509", "-in", crt, "-noout", "-serial").strip().split("=", 1)[1]
        self.assertEqual(cert["serial"], serial.lower().lstrip("0"))
        listed = self.certificates("--status", "revoked", "--name", "undp")
        self.assertEqual([c["serial"] for c in listed], [cert["serial"]])
        # A SERIAL that is not the certificate's is a usage error.
        res = self.ctl("certs", "revoke", "abc", "--certificate", crt, "--reason", "x")
        self.assertEqual(res.returncode, 2, res.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            ("certs",),
            ("certs", "nonsense"),
            ("certs", "request", "--name", "wfp"),                       # no --kind
            ("certs", "request", "--kind", "agency", "--name", "WFP"),   # bad name
            ("certs", "request", "--kind", "x", "--name", "wfp"),
            ("certs", "request", "--kind", "agency", "--name", "a", "--key-type", "dsa"),
            ("certs", "issue", "--kind", "agency", "--name", "wfp"),     # no --csr
            ("certs", "list", "--output", "yaml"),
            ("certs", "list", "--status", "lost"),
            ("certs", "list", "--bogus", "1"),
            ("certs", "list", "extra"),
            ("certs", "revoke", "--reason", "x"),                        # no SERIAL
            ("certs", "revoke", "abcd"),                                 # no --reason
            ("certs", "revoke", "xyz", "--reason", "x"),                 # not hex
            ("certs", "expiring", "--within", "soon"),
            ("certs", "expiring", "--within", "0d"),
            ("certs", "expiring", "--within", "-3"),
            ("agencies", "register", "--display-name", "No code"),
            ("agencies", "register", "wfp"),                             # no --display-name
            ("agencies", "register", "Bad!", "--display-name", "x"),
        ]
        for args in cases:
            with self.subTest(args=args):
                res = self.ctl(*args)
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertEqual(res.stdout, "")
                self.assertTrue(res.stderr.strip())
        # No connection settings at all: a usage error that says what to set.
        res = self.ctl("certs", "list", identity=None)
        self.assertEqual(res.returncode, 2)
        self.assertIn("give --ca FILE or set ENLACE_CA", res.stderr)

    def test_help_shows_an_example(self):
        for args in (("certs", "request"), ("certs", "issue"), ("certs", "list"),
                     ("certs", "revoke"), ("certs", "expiring"),
                     ("agencies", "register"), ("agencies", "list"), ("certs",),
                     ("agencies",)):
            with self.subTest(args=args):
                res = self.ctl(*args, "--help", identity=None)
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn("Example:\n  enlacectl " + " ".join(args[:1]), res.stdout)
                self.assertEqual(res.stderr, "")

    def test_unreadable_connection_file_is_named(self):
        res = self.fails("NOT_FOUND", "certs", "list",
                         cert=os.path.join(self.tmp, "missing.crt"))
        self.assertIn(os.path.join(self.tmp, "missing.crt"), res.stderr)
        # Flags win over the environment.
        res = self.ok("agencies", "list", "--cert", os.path.join(self.pki, "admin.crt"),
                      "--key", os.path.join(self.pki, "admin.key"),
                      cert=os.path.join(self.tmp, "missing.crt"))
        self.assertRegex(res.stdout, r"(?m)^iom ")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="path to enlace-server")
    parser.add_argument("--enlacectl", required=True, help="path to enlacectl")
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
    for tool in ("openssl", "mariadb"):
        if shutil.which(tool) is None:
            print(f"FAIL: `{tool}` is not on PATH", file=sys.stderr)
            return 1
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
