#!/usr/bin/python3
"""End-to-end test of enlacectl for the people who use it, against the real server.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI and a
fresh database, then drives it only through the `enlacectl` binary: contexts
in a config file of a temporary HOME (add, use, list, show, remove, the
precedence flag > environment > context, mode 0600), global flags anywhere on
the line, `-o json|yaml|csv` (YAML parsed with PyYAML, CSV with the csv
module, both compared with the JSON), the exit code of each kind of failure
(2 usage, 3 rejected rows, 4 unauthenticated, 5 permission denied, 6 not
found, 7 unavailable, 1 anything else), `version` (client and server),
`completion bash` driven through its completion function, the manual pages
the build wrote (rendered with `man -l`), and Spanish output under
LANG=es_SV.UTF-8 with the same exit codes.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/enlacectl_usability_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf --man-dir build/man/man1 [unittest args...]

Needs the standard library, python3-yaml, bash, man (man-db) and the
`mariadb` client.
"""

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time

import yaml

# The shared harness (server, PKI, database), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

CALL_TIMEOUT = 60.0  # seconds, per enlacectl run
REVOCATION_DEADLINE = 5.0  # docs/api.md: a revocation takes effect within 5 s
NOWHERE = "127.0.0.1:1"  # nothing listens there

COLUMNS = ["external_id", "arrival_date", "mode", "origin_country", "given_name",
           "family_name", "birth_date", "sex", "document_number", "department_code",
           "municipality", "needs", "consent_agencies", "consent_purposes",
           "consent_given_at"]

log = harness.set_log_tag("enlacectl-usability")


def arrival_row(external_id, **over):
    row = {
        "external_id": external_id, "arrival_date": "2024-02-10", "mode": "AIR",
        "origin_country": "US", "given_name": "Ana", "family_name": "López, Díaz",
        "birth_date": "1990-03-02", "sex": "FEMALE", "document_number": "",
        "department_code": "SV-SS", "municipality": "Guazapa",
        "needs": "PSYCHOSOCIAL_SUPPORT;SEED_CAPITAL", "consent_agencies": "iom;undp",
        "consent_purposes": "REINTEGRATION;STATISTICS",
        "consent_given_at": "2024-02-10T10:00:00Z",
    }
    row.update(over)
    return row


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row[c] for c in COLUMNS])


class EnlacectlUsabilityTest(harness.EnlacectlChecks, harness.ServerTestCase):
    """One server and one database for the class; each test has a HOME (and
    so a config file) of its own."""

    TMP_PREFIX = "enlace-ctl-usability-"
    DB_PREFIX = "enlace_ctl_usability_"
    FAILS_ALONE = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One arrival with consent for iom, and iom's case for it.
        path = os.path.join(cls.tmp, "setup.csv")
        write_csv(path, [arrival_row("USAB-1"), arrival_row("USAB-2")])
        res = cls.run_ctl(["arrivals", "push", path], harness.enlacectl_env(
            cls.addr, cls.pki, "mfa"))
        if res.returncode != 0:
            raise RuntimeError(f"push failed: {res.stdout}{res.stderr}")
        res = cls.run_ctl(["arrivals", "list", "-o", "json"],
                          harness.enlacectl_env(cls.addr, cls.pki, "mfa"))
        cls.arrival_ids = sorted(a["arrivalId"] for a in json.loads(res.stdout)["arrivals"]
                                 if a["externalId"].startswith("USAB-"))
        res = cls.run_ctl(["cases", "open", cls.arrival_ids[0], "--summary", "Busca empleo, \"ya\""],
                          harness.enlacectl_env(cls.addr, cls.pki, "iom"))
        if res.returncode != 0:
            raise RuntimeError(f"cases open failed: {res.stdout}{res.stderr}")
        cls.case_id = re.search(r"opened case (\S+)", res.stdout).group(1)

    @classmethod
    def run_ctl(cls, args, env, cwd=None):
        """Runs enlacectl; stdout and stderr decoded as UTF-8 with their line
        ends as written (CSV's CRLF stays)."""
        res = subprocess.run([cls.args.enlacectl, *args], capture_output=True, env=env, cwd=cwd,
                             timeout=CALL_TIMEOUT)
        return subprocess.CompletedProcess(res.args, res.returncode,
                                           res.stdout.decode("utf-8"), res.stderr.decode("utf-8"))

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="home-", dir=self.tmp)
        self.config = os.path.join(self.home, ".config", "enlace", "config")

    # --------------------------------------------------------------- helpers

    def env(self, identity=None, lang="C.UTF-8", **extra):
        """enlacectl's environment: the connection of `identity` in ENLACE_*
        (None: none), this test's HOME, no XDG_CONFIG_HOME, the language
        `lang` (LANG; LC_ALL, LC_MESSAGES and LANGUAGE unset) and `extra`."""
        env = harness.enlacectl_env(self.addr, self.pki, identity)
        for name in ("XDG_CONFIG_HOME", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
            env.pop(name, None)
        env.update(HOME=self.home, LANG=lang)
        env.update(extra)
        return env

    def ctl(self, *args, identity="iom", cwd=None, **env):
        res = self.run_ctl(args, self.env(identity, **env), cwd=cwd)
        log(f"enlacectl {' '.join(args)} ({identity}) -> {res.returncode}")
        return res

    def exits(self, code, *args, **kw):
        res = self.ctl(*args, **kw)
        self.assertEqual(res.returncode, code, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def add_context(self, name, identity, *more, cwd=None):
        pki = os.path.relpath(self.pki, cwd) if cwd else self.pki
        return self.exits(0, "context", "add", name, "--addr", self.addr,
                          "--ca", os.path.join(pki, "ca.crt"),
                          "--cert", os.path.join(pki, f"{identity}.crt"),
                          "--key", os.path.join(pki, f"{identity}.key"), *more,
                          identity=None, cwd=cwd)

    def read_config(self):
        with open(self.config, encoding="utf-8") as f:
            return f.read()

    # ----------------------------------------------------------------- tests

    def test_contexts_and_their_precedence(self):
        res = self.exits(0, "context", "list", identity=None)
        self.assertEqual(res.stdout, "CURRENT  NAME  ADDRESS  ACTOR\n")
        self.assertFalse(os.path.exists(self.config))
        # Relative paths are stored absolute; the first context is current.
        res = self.add_context("agency", "iom", "--actor", "iom-staff-0042", cwd=self.tmp)
        self.assertIn("current context: agency", res.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(self.config).st_mode), 0o600)
        text = self.read_config()
        self.assertIn("current-context = agency\n", text)
        self.assertIn(f"cert = {os.path.join(self.pki, 'iom.crt')}\n", text)
        self.assertIn("actor = iom-staff-0042\n", text)
        self.add_context("admin", "admin")
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.config))), ["config"])
        res = self.exits(0, "context", "list", identity=None)
        lines = res.stdout.splitlines()
        self.assertRegex(lines[1], r"^\*\s+agency\s+\S+\s+iom-staff-0042$")
        self.assertRegex(lines[2], r"^\s+admin\s+\S+\s+-$")
        listed = json.loads(self.exits(0, "context", "list", "-o", "json", identity=None).stdout)
        self.assertEqual([(c["name"], c["current"]) for c in listed["contexts"]],
                         [("agency", True), ("admin", False)])
        self.assertEqual(self.exits(0, "context", "list", "--names", identity=None).stdout,
                         "agency\nadmin\n")
        # A server command with no connection settings but the context's.
        cases = json.loads(self.exits(0, "cases", "list", "-o", "json", identity=None).stdout)
        self.assertEqual([c["caseId"] for c in cases["cases"]], [self.case_id])
        # --context picks another for one command; the current one is denied.
        self.exits(0, "--context", "admin", "audit", "verify", identity=None)
        self.fails("PERMISSION_DENIED", "audit", "verify", identity=None)
        # $ENLACE_CONTEXT beats the current context; --context beats it.
        self.exits(0, "audit", "verify", identity=None, ENLACE_CONTEXT="admin")
        self.fails("PERMISSION_DENIED", "audit", "verify", "--context", "agency",
                   identity=None, ENLACE_CONTEXT="admin")
        # The environment beats the context; a flag beats the environment.
        mfa = dict(ENLACE_CERT=os.path.join(self.pki, "mfa.crt"),
                   ENLACE_KEY=os.path.join(self.pki, "mfa.key"))
        self.fails("PERMISSION_DENIED", "cases", "list", identity=None, **mfa)
        res = self.exits(0, "context", "show", "--cert", os.path.join(self.pki, "undp.crt"),
                         identity=None, **mfa)
        shown = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1)
                     for line in res.stdout.splitlines())
        self.assertEqual(shown["context"], "agency")
        self.assertEqual(shown["cert"], f"{os.path.join(self.pki, 'undp.crt')}  (flag)")
        self.assertEqual(shown["key"], f"{os.path.join(self.pki, 'mfa.key')}  (environment)")
        self.assertEqual(shown["ca"], f"{os.path.join(self.pki, 'ca.crt')}  (context)")
        self.assertEqual(shown["actor"], "iom-staff-0042  (context)")
        self.assertEqual(shown["config file"], self.config)
        # Unknown contexts are usage errors that name them.
        for args in (("--context", "nope", "cases", "list"), ("context", "use", "nope"),
                     ("context", "remove", "nope"), ("cases", "list", "--context", "nope")):
            with self.subTest(args=args):
                res = self.exits(2, *args, identity=None)
                self.assertIn('unknown context "nope"', res.stderr)
                self.assertEqual(res.stdout, "")
        res = self.exits(2, "cases", "list", identity=None, ENLACE_CONTEXT="gone")
        self.assertIn('unknown context "gone" ($ENLACE_CONTEXT', res.stderr)
        # Adding the same name again is refused; --replace replaces it.
        res = self.ctl("context", "add", "admin", "--addr", self.addr,
                       "--ca", os.path.join(self.pki, "ca.crt"),
                       "--cert", os.path.join(self.pki, "admin.crt"),
                       "--key", os.path.join(self.pki, "admin.key"), identity=None)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertRegex(res.stderr, r'\Aenlacectl: ALREADY_EXISTS: context "admin" already')
        self.add_context("admin", "undp", "--replace")
        self.assertIn(os.path.join(self.pki, "undp.crt"), self.read_config())
        # use, remove.
        self.exits(0, "context", "use", "admin", identity=None)
        self.assertIn("current-context = admin\n", self.read_config())
        self.exits(0, "context", "remove", "admin", identity=None)
        self.assertNotIn("current-context", self.read_config())
        self.assertNotIn('"admin"', self.read_config())
        res = self.exits(2, "cases", "list", identity=None)  # no context is current now
        self.assertIn("give --ca FILE, set ENLACE_CA, or use a context", res.stderr)
        # Bad input to context add: usage errors.
        self.exits(2, "context", "add", "x", "--addr", self.addr, identity=None)  # no files
        res = self.exits(2, "context", "add", "bad name", "--addr", "a:1", "--ca", "c",
                         "--cert", "c", "--key", "k", identity=None)
        self.assertIn('invalid context name "bad name"', res.stderr)
        res = self.exits(2, "context", "add", "x", "--addr", "a:1", "--ca", "/no/such.crt",
                         "--cert", "/no/such.crt", "--key", "/no/such.key", identity=None)
        self.assertIn("--ca: no such file: /no/such.crt", res.stderr)

    def test_config_file_locations(self):
        xdg = os.path.join(self.home, "xdg")
        res = self.exits(0, "context", "add", "one", "--addr", self.addr,
                         "--ca", os.path.join(self.pki, "ca.crt"),
                         "--cert", os.path.join(self.pki, "iom.crt"),
                         "--key", os.path.join(self.pki, "iom.key"),
                         identity=None, XDG_CONFIG_HOME=xdg)
        self.assertIn(os.path.join(xdg, "enlace", "config"), res.stdout)
        self.assertTrue(os.path.exists(os.path.join(xdg, "enlace", "config")))
        self.assertFalse(os.path.exists(self.config))
        explicit = os.path.join(self.home, "elsewhere.conf")
        self.exits(0, "context", "add", "two", "--addr", self.addr,
                   "--ca", os.path.join(self.pki, "ca.crt"),
                   "--cert", os.path.join(self.pki, "iom.crt"),
                   "--key", os.path.join(self.pki, "iom.key"),
                   identity=None, XDG_CONFIG_HOME=xdg, ENLACE_CONFIG=explicit)
        self.assertEqual(stat.S_IMODE(os.stat(explicit).st_mode), 0o600)
        self.assertEqual(self.exits(0, "context", "list", "--names", identity=None,
                                    ENLACE_CONFIG=explicit).stdout, "two\n")
        # A malformed file is reported with its line.
        with open(explicit, "a", encoding="utf-8") as f:
            f.write("colour = red\n")
        res = self.exits(2, "cases", "list", identity=None, ENLACE_CONFIG=explicit)
        self.assertIn(f"{explicit}:", res.stderr)
        self.assertIn('unknown setting "colour"', res.stderr)

    def test_actor_is_validated(self):
        for args, env in ((("--actor", "ana lopez", "cases", "list"), {}),
                          (("cases", "list", "--actor", "x" * 65), {}),
                          (("cases", "list"), {"ENLACE_ACTOR": "ana/lopez"})):
            with self.subTest(args=args, env=env):
                res = self.exits(2, *args, **env)
                self.assertIn("invalid actor", res.stderr)
                self.assertEqual(res.stdout, "")
        # A valid actor goes with the call, and the server records it.
        self.exits(0, "--actor", "iom-staff-0042", "cases", "list")
        events = self.json_of("audit", "list", "--principal", "agency:iom", "--method",
                              "CaseService/ListCases", identity="admin")["events"]
        self.assertEqual(events[-1].get("actor"), "iom-staff-0042", events[-1])
        acted = self.json_of("audit", "list", "--acted-by", "iom-staff-0042",
                             identity="admin")["events"]
        self.assertEqual({(e["principal"], e["actor"]) for e in acted},
                         {("spiffe://enlace/agency/iom", "iom-staff-0042")})
        res = self.exits(2, "audit", "list", "--acted-by", "a b", identity="admin")
        self.assertIn("--acted-by: invalid actor", res.stderr)
        # Without one, the server refuses (the shipped policy requires it);
        # an e-mail address is refused by enlacectl before anything is sent.
        res = self.fails("INVALID_ARGUMENT", "cases", "list", ENLACE_ACTOR="")
        self.assertIn("enlace-actor", res.stderr)
        res = self.exits(2, "--actor", "ana.lopez@iom.int", "cases", "list")
        self.assertIn("invalid actor", res.stderr)
        res = self.exits(2, "context", "add", "a", "--addr", self.addr, "--actor", "no way",
                         "--ca", os.path.join(self.pki, "ca.crt"),
                         "--cert", os.path.join(self.pki, "iom.crt"),
                         "--key", os.path.join(self.pki, "iom.key"), identity=None)
        self.assertIn('invalid actor "no way"', res.stderr)

    def test_global_flags_anywhere(self):
        expected = json.loads(self.exits(0, "cases", "list", "--output", "json").stdout)
        self.assertEqual([c["caseId"] for c in expected["cases"]], [self.case_id])
        for args in (("-o", "json", "cases", "list"), ("cases", "-o", "json", "list"),
                     ("cases", "list", "-o", "json"), ("--output=json", "cases", "list"),
                     ("cases", "list", "-ojson"),
                     ("--timeout", "20s", "cases", "--output", "json", "list")):
            with self.subTest(args=args):
                self.assertEqual(json.loads(self.exits(0, *args).stdout), expected)
        # Connection flags too: before the group, between the names, after.
        for args in (("--addr", NOWHERE, "cases", "list"), ("cases", "--addr", NOWHERE, "list"),
                     ("cases", "list", "--addr", NOWHERE)):
            with self.subTest(args=args):
                res = self.exits(7, *args, "--timeout", "5s")
                self.assertRegex(res.stderr, r"\Aenlacectl: (UNAVAILABLE|DEADLINE_EXCEEDED): ")
        # -h is --help at every level.
        self.assertIn("Usage: enlacectl <command>", self.exits(0, "-h").stdout)
        self.assertIn("Usage: enlacectl cases <command>", self.exits(0, "cases", "-h").stdout)
        self.assertIn("Usage: enlacectl cases list", self.exits(0, "cases", "list", "-h").stdout)
        self.assertIn("Usage: enlacectl cases list",
                      self.exits(0, "-o", "json", "cases", "list", "-h").stdout)

    def test_output_formats(self):
        as_json = json.loads(self.exits(0, "cases", "list", "-o", "json").stdout)
        as_yaml = yaml.safe_load(self.exits(0, "cases", "list", "-o", "yaml").stdout)
        self.assertEqual(as_yaml, as_json)
        res = self.exits(0, "cases", "list", "-o", "csv")
        self.assertTrue(res.stdout.endswith("\r\n"))
        rows = list(csv.DictReader(io.StringIO(res.stdout, newline="")))
        self.assertEqual(len(rows), len(as_json["cases"]))
        self.assertEqual(rows[0]["caseId"], self.case_id)
        self.assertEqual(rows[0]["summary"], 'Busca empleo, "ya"')  # quoted, quotes doubled
        self.assertEqual(rows[0]["status"], as_json["cases"][0]["status"])
        # One record: one row (its services one cell), and YAML equal to JSON.
        one = json.loads(self.exits(0, "cases", "get", self.case_id, "-o", "json").stdout)
        self.assertEqual(yaml.safe_load(
            self.exits(0, "cases", "get", self.case_id, "-o", "yaml").stdout), one)
        rows = list(csv.reader(io.StringIO(
            self.exits(0, "cases", "get", self.case_id, "-o", "csv").stdout, newline="")))
        self.assertEqual(len(rows), 2)
        record = dict(zip(rows[0], rows[1]))
        self.assertEqual(record["caseId"], self.case_id)
        self.assertEqual(record["arrivalId"], one["arrivalId"])
        # An empty list is still a header.
        res = self.exits(0, "cases", "list", "--status", "closed", "-o", "csv")
        header = res.stdout.split("\r\n")[0].split(",")
        self.assertEqual(res.stdout, ",".join(header) + "\r\n")
        self.assertIn("caseId", header)
        # Lists of other commands, as another persona.
        arrivals = json.loads(self.exits(0, "arrivals", "list", "-o", "json",
                                         identity="mfa").stdout)
        self.assertEqual(yaml.safe_load(self.exits(0, "arrivals", "list", "-o", "yaml",
                                                   identity="mfa").stdout), arrivals)
        rows = list(csv.DictReader(io.StringIO(self.exits(
            0, "arrivals", "list", "-o", "csv", identity="mfa").stdout, newline="")))
        self.assertEqual(sorted(r["arrivalId"] for r in rows),
                         sorted(a["arrivalId"] for a in arrivals["arrivals"]))
        self.assertIn("López, Díaz", {r["person.familyName"] for r in rows})  # nested: dotted
        # The report: YAML is its JSON; CSV is the HXL export of its rows by
        # site (docs/report-export.md): titles, hashtags, one row per site,
        # each row's returnees the ministry's exact count.
        report = json.loads(self.exits(0, "report", "-o", "json", identity="mfa").stdout)
        self.assertEqual(yaml.safe_load(self.exits(0, "report", "-o", "yaml",
                                                   identity="mfa").stdout), report)
        res = self.exits(0, "report", "-o", "csv", identity="mfa")
        table = list(csv.reader(io.StringIO(res.stdout, newline="")))
        self.assertEqual(table[0][:5], ["Period", "Start", "End", "P-code", "Department"])
        self.assertEqual(table[1][:6], ["#date", "#date+start", "#date+end", "#adm1+code",
                                        "#adm1+name", "#affected+returnees+ind"])
        sites = report.get("sites", [])
        self.assertEqual(len(table), 2 + len(sites))
        for row, site in zip(table[2:], sites):
            self.assertEqual(row[0], site["period"])
            self.assertEqual(row[3], site["departmentPcode"])
            self.assertEqual(row[5], site["returnees"].get("count", "0"))
        # The health check's hand-made JSON too.
        self.assertEqual(yaml.safe_load(self.exits(0, "health", "-o", "yaml").stdout),
                         {"status": "SERVING"})
        self.assertEqual(self.exits(0, "health", "-o", "csv").stdout, "status\r\nSERVING\r\n")
        res = self.exits(2, "cases", "list", "-o", "xml")
        self.assertIn("--output must be table, json, yaml or csv", res.stderr)

    def test_exit_codes(self):
        # 2: usage.
        self.exits(2, "cases", "list", "--bogus")
        self.exits(2, "nonsense")
        # 3: rejected rows (the workflow test checks the rest of it).
        path = os.path.join(self.home, "bad.csv")
        write_csv(path, [arrival_row("USAB-BAD", birth_date="not a date")])
        self.exits(3, "arrivals", "push", path, identity="mfa")
        # 5: permission denied; 6: not found.
        self.fails("PERMISSION_DENIED", "audit", "verify")
        self.assertEqual(self.ctl("audit", "verify").returncode, 5)
        res = self.exits(6, "cases", "get", "0123456789abcdef0123456789abcdef")
        self.assertRegex(res.stderr, r"\Aenlacectl: NOT_FOUND: ")
        # 7: unavailable (nothing listens), for every kind of command.
        res = self.exits(7, "cases", "list", "--addr", NOWHERE, "--timeout", "5s")
        self.assertRegex(res.stderr, r"\Aenlacectl: (UNAVAILABLE|DEADLINE_EXCEEDED): ")
        self.exits(7, "health", "--plaintext", NOWHERE, "--timeout", "5s", identity=None)
        # 1: any other refusal: a second case for the same arrival.
        res = self.exits(1, "cases", "open", self.arrival_ids[0])
        self.assertRegex(res.stderr, r"\Aenlacectl: ALREADY_EXISTS: ")
        # 4: not authenticated: undp's certificate, once revoked.
        self.exits(0, "cases", "list", identity="undp")
        self.exits(0, "certs", "revoke", "--certificate", os.path.join(self.pki, "undp.crt"),
                   "--reason", "test", identity="admin")
        deadline = time.monotonic() + 2 * REVOCATION_DEADLINE
        while True:
            res = self.ctl("cases", "list", identity="undp")
            if res.returncode != 0 or time.monotonic() > deadline:
                break
        self.assertEqual(res.returncode, 4, res.stdout + res.stderr)
        self.assertRegex(res.stderr, r"\Aenlacectl: UNAUTHENTICATED: .*revoked")
        # Every code is in --help.
        res = self.exits(0, "--help", identity=None)
        block = res.stdout.split("Exit status:\n", 1)[1]
        for code in range(8):
            self.assertRegex(block, rf"(?m)^  {code}  \S")

    def test_version(self):
        res = self.exits(0, "version")
        match = re.fullmatch(r"enlacectl (\d+\.\d+\.\d+)\nserver +(\d+\.\d+\.\d+) \((\S+)\)\n",
                             res.stdout)
        self.assertIsNotNone(match, res.stdout)
        self.assertEqual(match.group(1), match.group(2))  # built from the same tree
        self.assertEqual(match.group(3), self.addr)
        self.assertEqual(json.loads(self.exits(0, "-o", "json", "version").stdout),
                         {"client": match.group(1), "server": match.group(1),
                          "address": self.addr})
        # No server: the client's version, "unreachable", exit 7.
        res = self.exits(7, "version", "--addr", NOWHERE, "--timeout", "5s")
        self.assertEqual(res.stdout, f"enlacectl {match.group(1)}\n")
        self.assertIn(f"the server at {NOWHERE} is unreachable", res.stderr)

    def test_completion(self):
        script = os.path.join(self.home, "enlacectl.bash")
        with open(script, "w", encoding="utf-8") as f:
            f.write(self.exits(0, "completion", "bash", identity=None).stdout)
        # enlacectl itself on PATH: --context values come from `context list`.
        self.add_context("ministry", "mfa")
        self.add_context("agency-iom", "iom")
        path = os.path.dirname(os.path.abspath(self.args.enlacectl))
        env = self.env(None, PATH=f"{path}:{os.environ.get('PATH', '/usr/bin:/bin')}")

        def complete(*words):
            line = " ".join(f"'{w}'" for w in words)
            res = subprocess.run(
                ["bash", "-c", f'source "$1"; COMP_WORDS=({line}); '
                 'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _enlacectl; '
                 'printf "%s\\n" "${COMPREPLY[@]}"', "bash", script],
                capture_output=True, text=True, env=env, timeout=CALL_TIMEOUT)
            self.assertEqual(res.returncode, 0, res.stderr)
            return sorted(w for w in res.stdout.split("\n") if w)

        self.assertEqual(complete("enlacectl", "co"), ["completion", "consent", "context"])
        self.assertEqual(complete("enlacectl", "c"),
                         ["cases", "certs", "completion", "consent", "context"])
        self.assertIn("referrals", complete("enlacectl", ""))
        self.assertEqual(complete("enlacectl", "cases", ""),
                         ["access-log", "get", "list", "open", "update"])
        self.assertEqual(complete("enlacectl", "-o", "json", "cases", "li"), ["list"])
        self.assertEqual(complete("enlacectl", "--context", "x", "referrals", "w"),
                         ["watch", "withdraw"])
        self.assertEqual(complete("enlacectl", "cases", "list", "--st"), ["--status"])
        flags = complete("enlacectl", "referrals", "watch", "--")
        for flag in ("--follow", "--resume-token", "--output", "--context", "--actor", "--help"):
            self.assertIn(flag, flags)
        self.assertEqual(complete("enlacectl", "cases", "list", "-o", ""),
                         ["csv", "json", "table", "yaml"])
        self.assertEqual(complete("enlacectl", "--context", ""), ["agency-iom", "ministry"])
        self.assertEqual(complete("enlacectl", "cases", "list", "--status", "open", "--mu"),
                         ["--municipality"])
        res = self.exits(0, "completion", "zsh", identity=None)
        self.assertTrue(res.stdout.startswith("#compdef enlacectl\n"))
        self.assertIn("bashcompinit", res.stdout)
        self.assertIn("complete -F _enlacectl enlacectl", res.stdout)
        self.exits(2, "completion", "fish", identity=None)
        self.exits(2, "completion", identity=None)

    def test_man_pages(self):
        man_dir = self.args.man_dir
        root_help = self.exits(0, "--help", identity=None).stdout
        groups = re.findall(r"(?m)^  ([a-z-]+)  ", root_help.split("Commands:\n", 1)[1]
                            .split("\n\n", 1)[0])
        self.assertIn("cases", groups)
        self.assertIn("version", groups)
        pages = sorted(os.listdir(man_dir))
        self.assertEqual(pages, sorted(["enlacectl.1"] + [f"enlacectl-{g}.1" for g in groups]))
        env = dict(os.environ, MANWIDTH="100", LANG="C.UTF-8", MAN_KEEP_FORMATTING="0")
        res = subprocess.run(["man", "-l", os.path.join(man_dir, "enlacectl-cases.1")],
                             capture_output=True, text=True, env=env, timeout=CALL_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        text = re.sub(r".\x08", "", res.stdout)  # no overstrike, whatever the pager
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "SEE ALSO"):
            self.assertRegex(text, rf"(?m)^{section}$")
        self.assertRegex(text, r"enlacectl-cases - reintegration cases")
        # The leaf's own --help, as the page renders it.
        leaf_help = self.exits(0, "cases", "list", "--help", identity=None).stdout
        first = leaf_help.splitlines()[0]
        self.assertIn(first, text)
        self.assertIn("--municipality NAME", text)
        self.assertRegex(text, r"(?m)^ +enlacectl cases list$")
        res = subprocess.run(["man", "-l", os.path.join(man_dir, "enlacectl.1")],
                             capture_output=True, text=True, env=env, timeout=CALL_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("enlacectl-cases(1)", re.sub(r".\x08", "", res.stdout))

    def test_spanish(self):
        es = dict(lang="es_SV.UTF-8")
        english = self.exits(0, "--help", identity=None).stdout
        spanish = self.exits(0, "--help", identity=None, **es).stdout
        self.assertIn("Usage: enlacectl <command>", english)
        self.assertIn("Commands:\n", english)
        self.assertIn("Uso: enlacectl <comando>", spanish)
        self.assertIn("Comandos:\n", spanish)
        self.assertIn("Estado de salida:", spanish)
        self.assertIn("casos de reintegración", spanish)
        self.assertNotIn("Usage:", spanish)
        # LC_ALL, LC_MESSAGES and LANGUAGE select it too; en_US does not.
        for env in ({"LC_ALL": "es_SV.UTF-8"}, {"LC_MESSAGES": "es_ES.UTF-8"},
                    {"LANGUAGE": "es"}):
            with self.subTest(env=env):
                self.assertEqual(self.exits(0, "--help", identity=None, **env).stdout, spanish)
        self.assertEqual(self.exits(0, "--help", identity=None, lang="en_US.UTF-8").stdout,
                         english)
        # A leaf's help, a usage error, a server error: same exit codes.
        res = self.exits(0, "cases", "list", "--help", identity=None, **es)
        self.assertIn("Uso: enlacectl cases list", res.stdout)
        self.assertIn("Opciones de conexión", res.stdout)
        self.assertIn("Listar los casos", res.stdout)
        res_en = self.exits(2, "cases", "list", "--bogus")
        res_es = self.exits(2, "cases", "list", "--bogus", **es)
        self.assertIn("unknown flag --bogus", res_en.stderr)
        self.assertIn("opción desconocida --bogus", res_es.stderr)
        res = self.exits(6, "cases", "get", "0123456789abcdef0123456789abcdef", **es)
        self.assertRegex(res.stderr, r"\Aenlacectl: NOT_FOUND: ")  # the code name stays
        res = self.exits(2, "--context", "nope", "cases", "list", identity=None, **es)
        self.assertIn('contexto desconocido "nope"', res.stderr)
        res = self.exits(7, "version", "--addr", NOWHERE, "--timeout", "5s", **es)
        self.assertIn(f"no se puede contactar el servidor en {NOWHERE}", res.stderr)
        for group in ("arrivals", "referrals", "context"):
            with self.subTest(group=group):
                res = self.exits(0, group, "--help", identity=None, **es)
                self.assertIn(f"Uso: enlacectl {group} <comando>", res.stdout)

    def command_paths(self, path=()):
        """Every command under `path` (a group's, from its English --help),
        groups and leaves alike, depth first."""
        text = self.exits(0, *path, "--help", identity=None).stdout
        if "\nCommands:\n" not in text:
            return []
        listing = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        paths = []
        for line in listing.splitlines():
            sub = (*path, line.split()[0])
            paths.append(sub)
            paths.extend(self.command_paths(sub))
        return paths

    def test_every_help_text_is_in_spanish(self):
        # docs/cli.md promises it: every group's and command's help, the
        # usage and the example alike. A text added in English only fails
        # here, naming its command.
        paths = self.command_paths()
        self.assertGreater(len(paths), 60)
        for path in [(), *paths]:
            with self.subTest(command=" ".join(path)):
                english = self.exits(0, *path, "--help", identity=None).stdout
                spanish = self.exits(0, *path, "--help", identity=None,
                                     lang="es_SV.UTF-8").stdout
                self.assertIn("Usage:", english)
                self.assertIn("Uso:", spanish)
                for label in ("Usage:", "Example:", "Examples:", "Flags:", "Commands:"):
                    self.assertNotIn(f"\n{label}", spanish)
                # The description before "Usage:" is translated, line by
                # line, but for lines that only name things (commands,
                # flags, RPCs).
                described = [line for line in english.split("Usage:", 1)[0].splitlines()
                             if re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}", line)]
                translated = set(spanish.splitlines())
                untranslated = [line for line in described if line in translated]
                self.assertEqual(untranslated, [], spanish)
                # A group lists its commands with translated summaries.
                if "\nCommands:\n" in english:
                    listing = english.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
                    for line in listing.splitlines():
                        self.assertNotIn(line, translated)


def main():
    args, rest = harness.parse_args(__doc__, extra_flags=(
        ("--man-dir", "the directory the build wrote enlacectl's manual pages into"),))
    if not harness.check_prerequisites(args, tools=("mariadb", "bash", "man")):
        return 1
    return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
