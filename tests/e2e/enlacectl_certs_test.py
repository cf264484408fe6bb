#!/usr/bin/python3
"""End-to-end test of `enlacectl certs` and `enlacectl agencies` against the real server.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI (made by
`enlacectl pki init`) and a fresh database, twice: a serving replica, which
holds no CA key, and the CA role (--role=ca), the only process given the CA key
(--ca_key) to sign CSRs; `certs issue` reaches it through ENLACE_CA_ADDR. Then
drives them only through the `enlacectl` binary, checking exit codes, stdout and
stderr exactly as an operator or a script sees them: issuance at the CA role, a
serving replica refusing to issue and saying where issuance runs, revocation on
the serving replica holding on both. Certificates are inspected with the
`openssl` command.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/enlacectl_certs_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf [unittest args...]

Needs the standard library, `openssl` and the `mariadb` client.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

# The shared harness (server, PKI, database), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

CALL_TIMEOUT = 60.0  # seconds, per enlacectl run
REVOCATION_DEADLINE = 5.0  # docs/api.md: a revocation takes effect within 5 s

log = harness.set_log_tag("enlacectl-certs")


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


class EnlacectlCertsTest(harness.EnlacectlChecks, harness.ServerTestCase):
    """One server and one database for the class. Each test uses names of its
    own (wfp, nosuch, ops, ...), so tests can run alone or in any order."""

    TMP_PREFIX = "enlace-ctl-certs-"
    DB_PREFIX = "enlace_ctl_certs_"
    CA_ROLE = True        # a CA role process signs CSRs; the serving replica cannot
    FAILS_ALONE = True    # fails(): exactly one line "enlacectl: <code>: ..." on stderr

    # --------------------------------------------------------------- helpers

    def ctl(self, *args, identity="admin", cert=None, key=None, cwd=None, ca_role=True):
        """Runs enlacectl with the connection in the environment (ENLACE_*), as
        `identity` of the dev PKI or as the given cert/key files; identity=None
        runs it with no connection settings at all (offline commands).
        ENLACE_CA_ADDR names the CA role unless ca_role=False."""
        env = harness.enlacectl_env(self.addr, self.pki, identity, cert=cert, key=key,
                                    ca_addr=self.ca_addr if ca_role else None)
        res = subprocess.run([self.args.enlacectl, *args], capture_output=True, text=True,
                             env=env, cwd=cwd, timeout=CALL_TIMEOUT)
        log(f"enlacectl {' '.join(args)} -> {res.returncode}")
        return res

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
        # authenticates (docs/api.md: within 5 s).
        self.fails("FAILED_PRECONDITION", "certs", "revoke", serial, "--reason", "again")
        while True:
            res = self.ctl("certs", "list", **as_wfp)
            if "UNAUTHENTICATED" in res.stderr or time.monotonic() - revoked_at > 2 * REVOCATION_DEADLINE:
                break
            time.sleep(0.25)
        self.assertEqual(res.returncode, harness.ENLACECTL_EXIT["UNAUTHENTICATED"], res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: UNAUTHENTICATED: .*revoked.*\n\Z")
        log(f"revoked certificate refused after {time.monotonic() - revoked_at:.2f} s")

    def test_serving_replica_refuses_issuance_and_says_where_it_runs(self):
        self.ok("agencies", "register", "fao", "--display-name", "FAO")
        home = tempfile.mkdtemp(prefix="fao-", dir=self.tmp)
        self.ok("certs", "request", "--kind", "agency", "--name", "fao", identity=None, cwd=home)
        csr = os.path.join(home, "fao.csr")
        # Without ENLACE_CA_ADDR, enlacectl asks the serving address (--addr).
        res = self.fails("FAILED_PRECONDITION", "certs", "issue", "--csr", csr, "--kind",
                         "agency", "--name", "fao", ca_role=False)
        self.assertIn("issuance runs in the CA role (enlace-server --role=ca)", res.stderr)
        self.assertIn(f"at {self.ca_addr}", res.stderr)  # the serving replica's --ca_role_addr
        self.assertIn("--ca-addr or ENLACE_CA_ADDR", res.stderr)
        self.assertIn(f"enlacectl asked {self.addr}", res.stderr)
        # Named explicitly, a serving replica refuses the same way.
        res = self.fails("FAILED_PRECONDITION", "certs", "issue", "--csr", csr, "--kind",
                         "agency", "--name", "fao", "--ca-addr", self.addr, ca_role=False)
        self.assertIn("--role=ca", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(home, "fao.crt")))
        self.assertEqual(self.certificates("--name", "fao"), [])
        # --ca-addr wins over ENLACE_CA_ADDR; the CA role issues.
        res = self.ok("certs", "issue", "--csr", csr, "--kind", "agency", "--name", "fao",
                      "--ca-addr", self.ca_addr, "--output", "json", ca_role=False)
        serial = json.loads(res.stdout)["serial"]
        self.assertEqual([c["serial"] for c in self.certificates("--name", "fao")], [serial])
        # The CA role serves nothing else.
        res = self.ctl("certs", "list", "--addr", self.ca_addr)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: UNIMPLEMENTED")

    def test_revocation_on_the_serving_replica_holds_on_the_ca_role(self):
        home, res = self.request_and_issue("ops2", "--output", "json", kind="admin")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        serial = json.loads(res.stdout)["serial"]
        as_ops2 = dict(cert=os.path.join(home, "ops2.crt"), key=os.path.join(home, "ops2.key"))
        # The new administrator issues at the CA role...
        other = tempfile.mkdtemp(prefix="bob-", dir=self.tmp)
        self.ok("certs", "request", "--kind", "admin", "--name", "bob", identity=None, cwd=other)
        self.ok("certs", "issue", "--csr", os.path.join(other, "bob.csr"), "--kind", "admin",
                "--name", "bob", "--out", os.path.join(other, "bob-1.crt"), **as_ops2)
        # ...until it is revoked on the serving replica (the CA role reads the
        # revocation from the database, as every replica does).
        self.ok("certs", "revoke", serial, "--reason", "left")
        revoked_at = time.monotonic()
        n = 2
        while True:
            res = self.ctl("certs", "issue", "--csr", os.path.join(other, "bob.csr"), "--kind",
                           "admin", "--name", "bob", "--out", os.path.join(other, f"bob-{n}.crt"),
                           **as_ops2)
            n += 1
            if res.returncode != 0 or time.monotonic() - revoked_at > 2 * REVOCATION_DEADLINE:
                break
            time.sleep(0.25)
        self.assertEqual(res.returncode, harness.ENLACECTL_EXIT["UNAUTHENTICATED"],
                         res.stdout + res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: UNAUTHENTICATED: .*revoked.*\n\Z")
        self.assertLess(time.monotonic() - revoked_at, REVOCATION_DEADLINE)
        self.fails("UNAUTHENTICATED", "certs", "list", **as_ops2)

    def test_issue_for_unregistered_agency_fails(self):
        home, res = self.request_and_issue("nosuch")
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: FAILED_PRECONDITION: .*nosuch.*\n\Z")
        self.assertEqual(res.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(home, "nosuch.crt")))
        self.assertEqual(self.certificates("--name", "nosuch"), [])

    def test_sharing_agreements_register_list_end(self):
        # The programme's agreements, from the migration: six pairs in force.
        listed = self.json_of("agreements", "list", "--in-force")["agreements"]
        self.assertEqual(len(listed), 6, listed)
        self.assertEqual(sorted("+".join(a["parties"]) for a in listed),
                         ["iom+mfa", "iom+undp", "iom+unhcr", "mfa+undp", "mfa+unhcr",
                          "undp+unhcr"])
        table = self.ok("agreements", "list", "--party", "undp").stdout.splitlines()
        self.assertRegex(table[0], r"^AGREEMENT ID +PARTIES +PURPOSES +FROM +UNTIL +STATUS"
                                   r" +REFERENCE$")
        self.assertEqual(len(table), 4, table)
        self.assertTrue(all(" IN_FORCE " in line for line in table[1:]), table)

        res = self.ok("agreements", "register", "undp", "mfa", "--purposes",
                      "reintegration,protection", "--from", "2027-01-01", "--until",
                      "2028-12-31", "--reference", "MRREE-PNUD protocol 2027/3")
        lines = res.stdout.splitlines()
        self.assertRegex(lines[0], r"^registered the agreement [0-9a-f]{32}$")
        agreement_id = lines[0].split()[-1]
        fields = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[1:])
        self.assertEqual(fields["parties"], "mfa and undp")
        self.assertEqual(fields["purposes"], "REINTEGRATION,PROTECTION")
        self.assertEqual(fields["valid"], "2027-01-01 to 2028-12-31")
        self.assertEqual(fields["status"], "NOT_YET_IN_FORCE")
        self.assertEqual(res.stderr, "")

        ended = self.json_of("agreements", "end", agreement_id, "--reason", "Drafted in error")
        self.assertEqual(ended["status"], "SHARING_AGREEMENT_STATUS_ENDED")
        self.assertEqual(ended["endReason"], "Drafted in error")
        self.fails("FAILED_PRECONDITION", "agreements", "end", agreement_id, "--reason", "again")
        self.fails("NOT_FOUND", "agreements", "end", "0" * 32, "--reason", "unknown")
        # Bad input is refused by the server, naming the field.
        res = self.fails("INVALID_ARGUMENT", "agreements", "register", "iom", "iom",
                         "--purposes", "reintegration", "--from", "2027-01-01", "--until",
                         "2027-12-31", "--reference", "x")
        self.assertIn("parties", res.stderr)
        res = self.fails("INVALID_ARGUMENT", "agreements", "register", "iom", "undp",
                         "--purposes", "reintegration", "--from", "2027-02-30", "--until",
                         "2027-12-31", "--reference", "x")
        self.assertIn("valid_from", res.stderr)
        # Usage errors (exit 2) before any call: a missing flag, one party.
        for args in (("agreements", "register", "iom", "undp", "--purposes", "reintegration",
                      "--from", "2027-01-01", "--until", "2027-12-31"),
                     ("agreements", "register", "iom", "--purposes", "reintegration"),
                     ("agreements", "end", agreement_id)):
            with self.subTest(args=args):
                res = self.ctl(*args)
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        # An agency may not manage agreements.
        self.fails("PERMISSION_DENIED", "agreements", "list", identity="iom")
        # Still the six in force, and the ended one listed as ended.
        self.assertEqual(len(self.json_of("agreements", "list", "--in-force")["agreements"]), 6)
        statuses = {a["agreementId"]: a["status"]
                    for a in self.json_of("agreements", "list")["agreements"]}
        self.assertEqual(statuses[agreement_id], "SHARING_AGREEMENT_STATUS_ENDED")

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
            ("certs", "issue", "--csr", "x.csr", "--kind", "agency", "--name", "wfp",
             "--ca-addr", ""),
            ("certs", "list", "--output", "xml"),
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
        self.assertIn("give --ca FILE, set ENLACE_CA, or use a context", res.stderr)

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
    args, rest = harness.parse_args(__doc__)
    if not harness.check_prerequisites(args, tools=("openssl", "mariadb")):
        return 1
    return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
