#!/usr/bin/python3
"""End-to-end test of `enlacectl` for every persona against the real server.

Starts the real `enlace-server` binary over mutual TLS with a fresh PKI (made by
`enlacectl pki init`) and a fresh database, then drives it only through the
`enlacectl` binary, as the ministry, the agencies and an administrator would:
`arrivals push` of CSV and JSON-lines files (exact counts, the rejects file, a
rerun that finds everything already recorded, a push interrupted by SIGKILL
and rerun), `arrivals list|get`, `consent update`, a referral workflow from
`cases open` to `referrals complete` with `referrals watch` and its resume
token, `report`, `audit list|verify` (including a tampered chain), `health`,
and the exit codes scripts rely on (0 to 7).

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/enlacectl_workflow_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf [unittest args...]

Needs the standard library and the `mariadb` client.
"""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

# The shared harness (server, PKI, database), beside the C++ test helpers.
_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402
from enlace_harness import mariadb  # noqa: E402

CALL_TIMEOUT = 120.0  # seconds, per enlacectl run

COLUMNS = ["external_id", "arrival_date", "mode", "origin_country", "given_name",
           "family_name", "birth_date", "sex", "document_number", "department_code",
           "municipality", "needs", "consent_agencies", "consent_purposes",
           "consent_given_at"]
REJECTS_HEADER = ["line", "external_id", "code", "field", "message"]


log = harness.set_log_tag("enlacectl-workflow")


def arrival_row(external_id, **over):
    """A CSV row (dict) of an arrival the server accepts, with `over` changes."""
    row = {
        "external_id": external_id, "arrival_date": "2024-01-15", "mode": "AIR",
        "origin_country": "US", "given_name": "Ana", "family_name": "Pérez",
        "birth_date": "1990-03-02", "sex": "FEMALE", "document_number": "",
        "department_code": "SV-SS", "municipality": "Guazapa",
        "needs": "PSYCHOSOCIAL_SUPPORT;SEED_CAPITAL", "consent_agencies": "iom;undp",
        "consent_purposes": "REINTEGRATION;STATISTICS",
        "consent_given_at": "2024-01-15T10:00:00Z",
    }
    row.update(over)
    return row


def write_csv(path, records, bom=False):
    """Writes `records` (dicts, or lists for raw rows) under the COLUMNS header
    with CRLF line ends, and returns the line number each record starts on."""
    chunks, lines, line = [], [], 1
    for record in [COLUMNS, *records]:
        out = io.StringIO()
        csv.writer(out).writerow(  # quotes where needed, doubles quotes, CRLF
            record if isinstance(record, list) else [record[c] for c in COLUMNS])
        chunks.append(out.getvalue())
        lines.append(line)
        line += out.getvalue().count("\n")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(("\ufeff" if bom else "") + "".join(chunks))
    return lines[1:]


def read_rejects(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


class EnlacectlWorkflowTest(harness.EnlacectlChecks, harness.ServerTestCase):
    """One server and one database for the class. Each test uses external_ids
    of its own, so tests can run alone or in any order."""

    TMP_PREFIX = "enlace-ctl-workflow-"
    DB_PREFIX = "enlace_ctl_workflow_"
    SERVER_CA_KEY = True
    FAILS_ALONE = False  # fails(): "enlacectl: <code>: ..." as the last line of stderr

    # --------------------------------------------------------------- helpers

    def env(self, identity):
        return harness.enlacectl_env(self.addr, self.pki, identity)

    def ctl(self, *args, identity="mfa", stdin=None):
        """Runs enlacectl as `identity` of the dev PKI (connection settings in
        ENLACE_*); identity=None: with no connection settings at all."""
        res = subprocess.run([self.args.enlacectl, *args], capture_output=True, text=True,
                             env=self.env(identity), input=stdin, cwd=self.tmp,
                             timeout=CALL_TIMEOUT)
        log(f"enlacectl {' '.join(args)} ({identity}) -> {res.returncode}")
        return res

    def path(self, name):
        return os.path.join(self.tmp, name)

    def push_one(self, external_id, **over):
        """Records one arrival as the ministry; returns its arrival_id."""
        path = self.path(f"{external_id}.csv")
        write_csv(path, [arrival_row(external_id, **over)])
        res = self.ok("arrivals", "push", path)
        self.assertEqual(res.stdout, "pushed 1 rows: 1 created, 0 already recorded, 0 rejected\n")
        found = [a for a in self.json_of("arrivals", "list")["arrivals"]
                 if a["externalId"] == external_id]
        self.assertEqual(len(found), 1)
        return found[0]["arrivalId"]

    # ----------------------------------------------------------------- tests

    def test_push_csv_counts_rejects_and_rerun(self):
        good = [arrival_row(f"CSV-{i:03d}") for i in range(44)]
        # Proper CSV: commas, doubled quotes and accents in quoted fields;
        # enum names in any case, with or without their prefix.
        good[1] = arrival_row("CSV-001", family_name="López, Díaz", given_name='Jo "JJ"')
        good[2] = arrival_row("CSV-002", mode="land", sex="male", origin_country="MX",
                              needs="need_training; EMPLOYMENT", consent_agencies="iom",
                              consent_purposes="purpose_reintegration",
                              department_code="SV-LI", municipality="San José Villanueva",
                              document_number="A-123")
        bad = {
            "bad date": arrival_row("CSV-BAD-DATE", arrival_date="2024-02-30"),
            "unknown municipality": arrival_row("CSV-BAD-TOWN", municipality="Atlantis"),
            "unknown enum": arrival_row("CSV-BAD-MODE", mode="BOAT"),
            "missing column": [arrival_row("CSV-BAD-COLS")[c] for c in COLUMNS[:-1]],
            "reused external_id": arrival_row("CSV-003", given_name="Someone Else"),
            "line break in a name": arrival_row("CSV-BAD-NAME", given_name="Ana\nMaría"),
        }
        records = good[:10] + [bad["bad date"]] + good[10:20] + [bad["unknown municipality"]] \
            + good[20:25] + [bad["unknown enum"], bad["line break in a name"]] + good[25:35] \
            + [bad["missing column"], bad["reused external_id"]] + good[35:]
        self.assertEqual(len(records), 50)
        path, rejects = self.path("arrivals.csv"), self.path("rejects.csv")
        lines = write_csv(path, records, bom=True)
        line_of = {id(r): lines[i] for i, r in enumerate(records)}
        expected = {
            (line_of[id(bad["bad date"])], "CSV-BAD-DATE", "INVALID_ARGUMENT",
             "arrival.arrival_date"),
            (line_of[id(bad["unknown municipality"])], "CSV-BAD-TOWN", "INVALID_ARGUMENT",
             "arrival.destination.municipality"),
            (line_of[id(bad["unknown enum"])], "CSV-BAD-MODE", "INVALID_ARGUMENT",
             "arrival.mode"),
            (line_of[id(bad["line break in a name"])], "CSV-BAD-NAME", "INVALID_ARGUMENT",
             "arrival.person.given_name"),
            (line_of[id(bad["missing column"])], "CSV-BAD-COLS", "INVALID_ARGUMENT", ""),
            (line_of[id(bad["reused external_id"])], "CSV-003", "ALREADY_EXISTS",
             "arrival.external_id"),
        }
        # The quoted line break makes one record span two lines.
        self.assertEqual(line_of[id(bad["missing column"])],
                         line_of[id(bad["line break in a name"])] + 12)

        def check_rejects():
            header, rows = read_rejects(rejects)
            self.assertEqual(header, REJECTS_HEADER)
            self.assertEqual(len(rows), 6, rows)
            self.assertEqual({(int(r[0]), r[1], r[2], r[3]) for r in rows}, expected)
            messages = {r[1]: r[4] for r in rows}
            self.assertTrue(all(messages.values()), rows)
            self.assertIn('"BOAT"', messages["CSV-BAD-MODE"])
            self.assertIn("expected 15 fields as in the header, found 14",
                          messages["CSV-BAD-COLS"])

        res = self.ctl("arrivals", "push", path, "--rejects", rejects)
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertEqual(res.stdout, "pushed 50 rows: 44 created, 0 already recorded, "
                                     f"6 rejected (rejects: {rejects})\n")
        check_rejects()

        # A rerun stores nothing new and rejects exactly the same rows.
        res = self.ctl("arrivals", "push", path, "--rejects", rejects, "--output", "json")
        self.assertEqual(res.returncode, 3, res.stderr)
        summary = json.loads(res.stdout)
        self.assertEqual({k: summary[k] for k in ("rows", "created", "alreadyRecorded",
                                                  "rejected", "rejectedLocally", "rejectsFile")},
                         {"rows": 50, "created": 0, "alreadyRecorded": 44, "rejected": 6,
                          "rejectedLocally": 2, "rejectsFile": rejects})
        check_rejects()

        # What was stored, as `arrivals list --output json` shows it.
        listed = self.json_of("arrivals", "list")["arrivals"]
        mine = {a["externalId"]: a for a in listed if a["externalId"].startswith("CSV-")}
        self.assertEqual(sorted(mine), sorted(r["external_id"] for r in good))
        self.assertEqual(mine["CSV-001"]["person"]["familyName"], "López, Díaz")
        self.assertEqual(mine["CSV-001"]["person"]["givenName"], 'Jo "JJ"')
        self.assertEqual(mine["CSV-003"]["person"]["givenName"], "Ana")  # the first one won
        b = mine["CSV-002"]
        self.assertEqual((b["mode"], b["person"]["sex"], b["person"]["documentNumber"]),
                         ("ARRIVAL_MODE_LAND", "SEX_MALE", "A-123"))
        self.assertEqual(b["needs"], ["NEED_TRAINING", "NEED_EMPLOYMENT"])
        self.assertEqual(b["destination"], {"departmentCode": "SV-LI",
                                            "municipality": "San José Villanueva"})
        self.assertEqual(b["consent"]["agencies"], ["iom"])
        self.assertEqual(b["consent"]["purposes"], ["PURPOSE_REINTEGRATION"])
        self.assertEqual(b["consent"]["givenAt"], "2024-01-15T10:00:00Z")

        # --limit stops early with a token that continues the listing.
        first = self.json_of("arrivals", "list", "--limit", "5")
        self.assertEqual(len(first["arrivals"]), 5)
        self.assertTrue(first["nextPageToken"])
        rest = self.json_of("arrivals", "list", "--page-token", first["nextPageToken"])
        ids = [a["arrivalId"] for a in first["arrivals"] + rest["arrivals"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(len(ids), len(listed))
        self.assertEqual(rest["nextPageToken"], "")

        # The table and the detail view.
        table = self.ok("arrivals", "list", "--department", "SV-LI").stdout.splitlines()
        self.assertRegex(table[0], r"^ARRIVAL ID +EXTERNAL ID +ARRIVED +MODE +NAME ")
        self.assertEqual(len([l for l in table if " CSV-002 " in l]), 1, table)
        detail = self.ok("arrivals", "get", b["arrivalId"]).stdout
        self.assertRegex(detail, r"(?m)^  external id +CSV-002$")
        self.assertRegex(detail, r"(?m)^  municipality +San José Villanueva$")
        self.assertRegex(detail, r"(?m)^  needs +TRAINING,EMPLOYMENT$")

    def test_push_csv_with_the_guardian_of_a_minor(self):
        columns = COLUMNS + ["consent_guardian_name", "consent_guardian_relationship"]
        child = {"birth_date": "2012-06-01", "given_name": "Luis"}
        rows = [
            arrival_row("GD-1", consent_guardian_name="Ana Pérez",
                        consent_guardian_relationship="parent", **child),
            arrival_row("GD-2", consent_guardian_name="", consent_guardian_relationship="",
                        **child),
            arrival_row("GD-3", consent_guardian_name="Ana Pérez",
                        consent_guardian_relationship="AUNT", **child),
        ]
        path, rejects = self.path("guardian.csv"), self.path("guardian-rejects.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(columns)
            for row in rows:
                out.writerow([row[c] for c in columns])
        res = self.ctl("arrivals", "push", path, "--rejects", rejects)
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertEqual(res.stdout, "pushed 3 rows: 1 created, 0 already recorded, "
                                     f"2 rejected (rejects: {rejects})\n")
        _, rejected = read_rejects(rejects)
        self.assertEqual({(r[1], r[2], r[3]) for r in rejected},
                         {("GD-2", "INVALID_ARGUMENT", "arrival.consent.guardian"),
                          ("GD-3", "INVALID_ARGUMENT",
                           "arrival.consent.guardian.relationship")})
        found = [a for a in self.json_of("arrivals", "list")["arrivals"]
                 if a["externalId"] == "GD-1"]
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["consent"]["guardian"],
                         {"name": "Ana Pérez", "relationship": "GUARDIAN_RELATIONSHIP_PARENT"})
        detail = self.ok("arrivals", "get", found[0]["arrivalId"]).stdout
        self.assertRegex(detail, r"(?m)^  consent +iom,undp for .* by the guardian Ana Pérez "
                                 r"\(PARENT\)$")

    def test_correct_an_arrival_and_read_its_versions(self):
        arrival_id = self.push_one("COR-1")
        res = self.ok("arrivals", "correct", arrival_id, "--birth-date", "1990-12-03",
                      "--municipality", "Aguilares", "--reason", "día y mes invertidos")
        self.assertIn(f"corrected arrival {arrival_id} (version 2)", res.stdout)
        self.assertRegex(res.stdout, r"(?m)^  birth date +1990-12-03$")
        self.assertRegex(res.stdout, r"(?m)^  version +2$")
        # iom, named in the consent, reads the versions as JSON and as a table.
        versions = self.json_of("arrivals", "versions", arrival_id, identity="iom")["versions"]
        self.assertEqual([v.get("version") for v in versions], [1, 2])
        self.assertEqual(versions[0]["arrival"]["person"]["birthDate"], "1990-03-02")
        self.assertEqual(versions[1]["arrival"]["destination"]["municipality"], "Aguilares")
        self.assertEqual(versions[1]["reason"], "día y mes invertidos")
        table = self.ok("arrivals", "versions", arrival_id, identity="iom").stdout.splitlines()
        self.assertRegex(table[0], r"^VERSION +CORRECTED AT +BY +NAME +BIRTH DATE ")
        self.assertEqual(len(table), 3, table)
        # Refusals: no reason is a usage error here; a bad value, the server's;
        # an agency may not correct; an agency not named does not see it.
        res = self.ctl("arrivals", "correct", arrival_id, "--birth-date", "1990-12-04")
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("--reason", res.stderr)
        res = self.ctl("arrivals", "correct", arrival_id, "--department", "SV-ZZ",
                       "--reason", "x")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("INVALID_ARGUMENT", res.stderr)
        self.assertIn("arrival.destination.department_code", res.stderr)
        res = self.ctl("arrivals", "correct", arrival_id, "--birth-date", "1990-12-04",
                       "--reason", "x", identity="iom")
        self.assertEqual(res.returncode, 5, res.stderr)
        res = self.ctl("arrivals", "versions", arrival_id, identity="unhcr")
        self.assertEqual(res.returncode, 6, res.stderr)  # not found
        self.assertIn("NOT_FOUND", res.stderr)

    def test_export_everything_held_about_a_returnee(self):
        arrival_id = self.push_one("EXP-1", given_name="Rosa Elena")
        # To standard output: the document, JSON of a ReturneeData.
        res = self.ok("arrivals", "export", arrival_id)
        document = json.loads(res.stdout)
        self.assertEqual(document["arrival"]["arrivalId"], arrival_id)
        self.assertEqual(document["arrival"]["person"]["givenName"], "Rosa Elena")
        self.assertEqual([v["version"] for v in document["consentHistory"]], [1])
        self.assertEqual(document["cases"], [])
        # To a file: mode 0600, never over an existing file.
        out = self.path("EXP-1.json")
        res = self.ok("arrivals", "export", arrival_id, "--to", out)
        self.assertIn(f"wrote {out} (mode 0600)", res.stdout)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out, encoding="utf-8") as f:
            self.assertEqual(json.load(f)["arrival"]["externalId"], "EXP-1")
        res = self.ctl("arrivals", "export", arrival_id, "--to", out)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("ALREADY_EXISTS", res.stderr)
        # The ministry's call: iom, named in the consent, may not; an id that
        # names nothing is not found; no id is a usage error.
        res = self.ctl("arrivals", "export", arrival_id, identity="iom")
        self.assertEqual(res.returncode, 5, res.stderr)
        res = self.ctl("arrivals", "export", "0123456789abcdef0123456789abcdef")
        self.assertEqual(res.returncode, 6, res.stderr)
        res = self.ctl("arrivals", "export")
        self.assertEqual(res.returncode, 2, res.stderr)

    def test_erase_a_returnee(self):
        arrival_id = self.push_one("ERA-1", given_name="Xiomara", family_name="Borrable")
        res = self.ctl("arrivals", "erase", arrival_id)  # no reason: a usage error
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("--reason", res.stderr)
        res = self.ctl("arrivals", "erase", arrival_id, "--reason", "x", identity="iom")
        self.assertEqual(res.returncode, 5, res.stderr)
        res = self.ok("arrivals", "erase", arrival_id, "--reason", "erasure request 2026-114")
        self.assertRegex(res.stdout, rf"^erased arrival {arrival_id} at \S+")
        res = self.ok("arrivals", "erase", arrival_id, "--reason", "erasure request 2026-114")
        self.assertRegex(res.stdout, rf"^already erased: arrival {arrival_id} at \S+")
        shown = self.ok("arrivals", "get", arrival_id).stdout
        self.assertNotIn("Xiomara", shown)
        self.assertNotIn("Borrable", shown)
        self.assertRegex(shown, r"(?m)^  erased at +\d{4}-")
        document = json.loads(self.ok("arrivals", "export", arrival_id).stdout)
        self.assertNotIn("Xiomara", json.dumps(document, ensure_ascii=False))
        self.assertIn("erasedAt", document["arrival"])
        res = self.ctl("arrivals", "correct", arrival_id, "--given-name", "Xiomara",
                       "--reason", "restore")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("FAILED_PRECONDITION", res.stderr)

    def test_find_link_and_unlink_duplicates(self):
        person = dict(given_name="Wilber Antonio", family_name="Duplo Quintanilla",
                      birth_date="1961-08-19")
        first = self.push_one("DUP-1", **person)
        second = self.push_one("DUP-2", **{**person, "family_name": "DUPLO-QUINTANILLA"})
        res = self.ok("arrivals", "duplicates", first)
        rows = [line.split() for line in res.stdout.splitlines()[1:]]
        self.assertEqual(len(rows), 1, res.stdout)
        self.assertEqual(rows[0][0], "0.90")
        self.assertEqual(rows[0][1], second)
        self.assertEqual(rows[0][-1], "names+birth")
        found = self.json_of("arrivals", "duplicates", first)["candidates"]
        self.assertEqual([c["arrival"]["arrivalId"] for c in found], [second])
        self.assertEqual(found[0]["reasons"], ["DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE"])
        res = self.ctl("arrivals", "link", first, second)  # no reason: a usage error
        self.assertEqual(res.returncode, 2, res.stderr)
        res = self.ctl("arrivals", "link", first, "--reason", "x")  # one arrival
        self.assertEqual(res.returncode, 2, res.stderr)
        res = self.ctl("arrivals", "link", first, second, "--reason", "x", identity="iom")
        self.assertEqual(res.returncode, 5, res.stderr)
        res = self.ok("arrivals", "link", first, second, "--reason", "same DUI, checked")
        match = re.fullmatch(rf"person ([0-9a-f]{{32}}): arrivals {first}, {second}\n", res.stdout)
        self.assertIsNotNone(match, res.stdout)
        person_id = match.group(1)
        self.assertRegex(self.ok("arrivals", "get", second).stdout,
                         rf"(?m)^  person id +{person_id}$")
        self.assertEqual(self.ok("arrivals", "duplicates", first).stdout.splitlines()[1:], [])
        res = self.ok("arrivals", "unlink", second, first, "--reason", "different mothers")
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], f"person {person_id}: arrivals {first}")
        self.assertRegex(lines[1], rf"^person [0-9a-f]{{32}}: arrivals {second}$")
        self.assertNotIn(person_id, lines[1])
        # Linked again, the person is erased as one, and the output says so.
        self.ok("arrivals", "link", first, second, "--reason", "same DUI after all")
        self.assertNotIn("erasedAt", self.json_of("arrivals", "get", first))
        res = self.ok("arrivals", "erase", second, "--reason", "erasure request 2026-300")
        lines = res.stdout.splitlines()
        self.assertRegex(lines[0], rf"^erased arrival {second} at ")
        self.assertEqual(lines[1:], [f"  and arrival {first} of the same person"])
        self.assertIn("erasedAt", self.json_of("arrivals", "get", first))
        res = self.ok("arrivals", "erase", first, "--reason", "erasure request 2026-300")
        self.assertEqual(res.stdout.splitlines()[1:],
                         [f"  and arrival {second} of the same person"])
        self.assertRegex(res.stdout, rf"^already erased: arrival {first} at ")

    def test_an_objection_withdraws_the_purpose_for_good(self):
        arrival_id = self.push_one("OBJ-1", consent_agencies="iom",
                                   consent_purposes="reintegration;protection")
        res = self.ctl("consent", "object", arrival_id)  # no --purpose: a usage error
        self.assertEqual(res.returncode, 2, res.stderr)
        res = self.ctl("consent", "object", arrival_id, "--purpose", "nonsense")
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("--purpose", res.stderr)
        res = self.ctl("consent", "object", arrival_id, "--purpose", "reintegration",
                       identity="iom")
        self.assertEqual(res.returncode, 5, res.stderr)  # PERMISSION_DENIED
        res = self.ok("consent", "object", arrival_id, "--purpose", "reintegration")
        self.assertEqual(res.stdout.splitlines()[0],
                         f"recorded the objection for arrival {arrival_id} (consent version 2)")
        self.assertRegex(res.stdout, r"(?m)^  consent +iom for PROTECTION, given .*; "
                                     r"objected to REINTEGRATION$")
        got = self.json_of("arrivals", "get", arrival_id)
        self.assertEqual(got["consent"]["purposes"], ["PURPOSE_PROTECTION"])
        self.assertEqual(got["consent"]["objectedPurposes"], ["PURPOSE_REINTEGRATION"])
        # Giving it back is refused, naming the field.
        res = self.ctl("consent", "update", arrival_id, "--agencies", "iom",
                       "--purposes", "reintegration")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("FAILED_PRECONDITION: purposes: the returnee objected to "
                      "PURPOSE_REINTEGRATION", res.stderr)

    def test_a_minors_consent_is_updated_with_the_guardian(self):
        arrival_id = self.push_one(
            "GDU-1", birth_date="2012-06-01", consent_agencies="", consent_purposes="",
            consent_given_at="")
        res = self.ctl("consent", "update", arrival_id, "--agencies", "iom",
                       "--purposes", "reintegration")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("consent.guardian", res.stderr)
        res = self.ctl("consent", "update", arrival_id, "--agencies", "iom",
                       "--purposes", "reintegration", "--guardian", "Ana Pérez")
        self.assertEqual(res.returncode, 2, res.stderr)  # the relationship goes with it
        res = self.ok("consent", "update", arrival_id, "--agencies", "iom",
                      "--purposes", "reintegration", "--guardian", "Ana Pérez",
                      "--guardian-relationship", "legal_guardian")
        self.assertRegex(res.stdout, r"(?m)^  consent +iom for .* by the guardian Ana Pérez "
                                     r"\(LEGAL_GUARDIAN\)$")

    def test_push_jsonl_file_and_stdin(self):
        arrivals = [{
            "externalId": f"JSONL-{i}", "arrivalDate": "2024-03-01", "mode": "ARRIVAL_MODE_LAND",
            "originCountry": "GT",
            "person": {"givenName": "Luis", "familyName": "Ramos", "birthDate": "1980-01-01",
                       "sex": "SEX_MALE"},
            "destination": {"departmentCode": "SV-SS", "municipality": "Guazapa"},
            "needs": ["NEED_EMPLOYMENT"],
            "consent": {"agencies": ["iom"], "purposes": ["PURPOSE_REINTEGRATION"],
                        "givenAt": "2024-03-01T08:00:00Z"},
        } for i in range(5)]
        lines = [json.dumps(a, ensure_ascii=False) for a in arrivals]
        lines.insert(3, "")  # blank lines are skipped
        lines.insert(2, json.dumps({"externalId": "JSONL-BAD", "nickname": "x"}))
        text = "\n".join(lines) + "\n"
        path, rejects = self.path("arrivals.jsonl"), self.path("jsonl-rejects.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

        res = self.ctl("arrivals", "push", path, "--rejects", rejects)
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertEqual(res.stdout, "pushed 6 rows: 5 created, 0 already recorded, "
                                     f"1 rejected (rejects: {rejects})\n")
        header, rows = read_rejects(rejects)
        self.assertEqual(header, REJECTS_HEADER)
        self.assertEqual([r[:4] for r in rows], [["3", "JSONL-BAD", "INVALID_ARGUMENT", ""]])
        self.assertIn("nickname", rows[0][4])

        # From standard input ("-" needs --format), with the summary as JSON.
        res = self.ctl("arrivals", "push", "-", "--format", "jsonl", "--output", "json",
                       stdin=text)
        self.assertEqual(res.returncode, 3, res.stderr)
        summary = json.loads(res.stdout)
        self.assertEqual((summary["rows"], summary["created"], summary["alreadyRecorded"],
                          summary["rejected"]), (6, 0, 5, 1))
        self.assertIsNone(summary["rejectsFile"])
        self.assertIn("rejected: line 3 (JSONL-BAD): INVALID_ARGUMENT:", res.stderr)

        # Only good rows: exit 0. CSV from stdin too.
        good = "\n".join(l for l in lines if "JSONL-BAD" not in l)
        res = self.ctl("arrivals", "push", "-", "--format", "jsonl", stdin=good)
        self.assertEqual((res.returncode, res.stdout),
                         (0, "pushed 5 rows: 0 created, 5 already recorded, 0 rejected\n"),
                         res.stderr)
        write_csv(self.path("stdin.csv"), [arrival_row("STDIN-1")])
        with open(self.path("stdin.csv"), encoding="utf-8") as f:
            res = self.ctl("arrivals", "push", "-", "--format", "csv", stdin=f.read())
        self.assertEqual((res.returncode, res.stdout),
                         (0, "pushed 1 rows: 1 created, 0 already recorded, 0 rejected\n"),
                         res.stderr)

    def test_push_killed_midway_then_rerun(self):
        n = 30000
        path = self.path("big.csv")
        write_csv(path, [arrival_row(f"BIG-{i:05d}") for i in range(n)])
        proc = subprocess.Popen([self.args.enlacectl, "arrivals", "push", path],
                                env=self.env("mfa"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        log(f"push killed with {proc.returncode}")

        res = self.ctl("arrivals", "push", path, "--output", "json")
        self.assertEqual(res.returncode, 0, res.stderr)
        summary = json.loads(res.stdout)
        self.assertEqual(summary["rows"], n)
        self.assertEqual(summary["rejected"], 0)
        self.assertEqual(summary["created"] + summary["alreadyRecorded"], n)
        log(f"after the kill: {summary['alreadyRecorded']} were already recorded")

        res = self.ctl("arrivals", "push", path, "--progress", "lines")
        self.assertEqual((res.returncode, res.stdout),
                         (0, f"pushed {n} rows: 0 created, {n} already recorded, 0 rejected\n"),
                         res.stderr)

    def test_workflow_through_the_cli(self):
        arrival_id = self.push_one("FLOW-1", given_name="María", family_name="Hernández")
        # iom, named in the consent, reads the arrival and opens a case.
        arrival = self.json_of("arrivals", "get", arrival_id, identity="iom")
        self.assertEqual(arrival["externalId"], "FLOW-1")
        self.fails("NOT_FOUND", "arrivals", "get", arrival_id, identity="unhcr")
        case = self.json_of("cases", "open", arrival_id, "--summary", "Seeks work",
                            identity="iom")
        case_id = case["caseId"]
        self.assertEqual((case["ownerAgency"], case["status"]), ("iom", "CASE_STATUS_OPEN"))
        res = self.ok("cases", "update", case_id, "--status", "in-progress", "--notes",
                      "Doing well", identity="iom")
        self.assertRegex(res.stdout, r"(?m)^  status +IN_PROGRESS$")
        got = self.json_of("cases", "get", case_id, identity="iom")
        self.assertEqual((got["status"], got["summary"], got["psychosocialNotes"]),
                         ("CASE_STATUS_IN_PROGRESS", "Seeks work", "Doing well"))
        self.assertIn(case_id, [c["caseId"] for c in
                                self.json_of("cases", "list", "--status", "in-progress",
                                             identity="iom")["cases"]])

        # undp watches its referrals from now on, one JSON object per line.
        # It says on stderr where it starts, before any event.
        watch = subprocess.Popen([self.args.enlacectl, "referrals", "watch", "--follow",
                                  "--output", "json"], env=self.env("undp"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: watch.poll() is None and watch.kill())
        watched, started = [], []
        reader = threading.Thread(target=lambda: watched.extend(iter(watch.stdout.readline, "")),
                                  daemon=True)
        reader.start()
        threading.Thread(target=lambda: started.append(watch.stderr.readline()),
                         daemon=True).start()
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(started, "the watch did not start within 30 s")
        self.assertRegex(started[0], r"^watching from --resume-token \S+\n$")
        start_token = started[0].split()[-1]

        referral = self.json_of("referrals", "create", case_id, "--to", "undp", "--service",
                                "seed-capital", "--reason", "Bakery plan", identity="iom")
        referral_id = referral["referralId"]
        self.assertEqual(referral["status"], "REFERRAL_STATUS_PENDING")
        inbox = self.json_of("referrals", "list", "--box", "inbox", "--status", "pending",
                             identity="undp")["referrals"]
        self.assertEqual([r["referralId"] for r in inbox], [referral_id])
        self.assertEqual(inbox[0]["returnee"]["givenName"], "María")

        res = self.ok("referrals", "accept", referral_id, identity="undp")
        self.assertTrue(res.stdout.startswith(f"accepted referral {referral_id}\n"), res.stdout)
        self.assertRegex(res.stdout, r"(?m)^  status +ACCEPTED$")
        listed = self.json_of("referrals", "list", identity="undp")["referrals"]
        self.assertEqual([(r["referralId"], r["status"]) for r in listed],
                         [(referral_id, "REFERRAL_STATUS_ACCEPTED")])
        outbox = self.json_of("referrals", "list", "--box", "outbox", identity="iom")
        self.assertIn(referral_id, [r["referralId"] for r in outbox["referrals"]])
        # Accepting twice breaks the status machine.
        self.fails("FAILED_PRECONDITION", "referrals", "accept", referral_id, identity="undp")

        # The initiative first (iom's, the case's owner), then undp's
        # disbursement to it: seed capital needs an amount and an initiative.
        initiative = self.json_of("initiatives", "register", case_id, "--name", "Panadería Luz",
                                  "--sector", "food", "--woman-led", identity="iom")
        self.assertEqual((initiative["status"], initiative["womanLed"]),
                         ("INITIATIVE_STATUS_PLANNED", True))
        self.fails("INVALID_ARGUMENT", "services", "record", case_id, "--service",
                   "seed_capital", "--initiative", initiative["initiativeId"], identity="undp")
        service = self.json_of("services", "record", case_id, "--service", "seed_capital",
                               "--amount", "1,250.50", "--initiative",
                               initiative["initiativeId"], "--notes", "an oven", identity="undp")
        self.assertEqual((service["service"], service["recordedBy"], service["amountUsdCents"],
                          service["initiativeId"]),
                         ("NEED_SEED_CAPITAL", "undp", "125050", initiative["initiativeId"]))
        self.ok("referrals", "complete", referral_id, "--outcome", "Disbursed", identity="undp")
        res = self.ok("initiatives", "update", initiative["initiativeId"], "--status", "active",
                      "--jobs", "3", identity="iom")
        self.assertRegex(res.stdout, r"(?m)^  status +ACTIVE$")
        self.assertRegex(res.stdout, r"(?m)^  jobs created +3$")
        self.assertRegex(res.stdout, r"(?m)^  disbursed +US\$ 1,250\.50$")
        self.fails("PERMISSION_DENIED", "initiatives", "update", initiative["initiativeId"],
                   "--status", "closed", identity="undp")
        initiatives = self.json_of("initiatives", "list", identity="undp")
        self.assertIn(initiative["initiativeId"],
                      [i["initiativeId"] for i in initiatives["initiatives"]])
        self.assertEqual(initiatives["target"], 70)
        self.assertGreaterEqual(int(initiatives["totalCount"]), 1)

        # The watch saw the three changes.
        deadline = time.monotonic() + 30
        while len(watched) < 3 and time.monotonic() < deadline and watch.poll() is None:
            time.sleep(0.1)
        watch.kill()
        watch.wait()
        reader.join(10)
        watch.stdout.close()
        watch.stderr.close()
        events = [json.loads(line) for line in watched]
        self.assertEqual([(e["type"], e["referral"]["referralId"]) for e in events],
                         [("REFERRAL_EVENT_TYPE_CREATED", referral_id),
                          ("REFERRAL_EVENT_TYPE_ACCEPTED", referral_id),
                          ("REFERRAL_EVENT_TYPE_COMPLETED", referral_id)])
        self.assertTrue(all(e["resumeToken"] for e in events))
        # From the start token: all three; with no event at all, the start is
        # still named for resuming.
        res = self.ok("referrals", "watch", "--resume-token", start_token, "--idle", "1s",
                      "--output", "json", identity="undp")
        self.assertEqual([json.loads(l)["resumeToken"] for l in res.stdout.splitlines()],
                         [e["resumeToken"] for e in events])
        res = self.ok("referrals", "watch", "--idle", "500ms", identity="undp")
        self.assertEqual(res.stdout, "")
        self.assertRegex(res.stderr, r"\Aresume with: --resume-token \S+\n\Z")
        # Resuming after the first event gives the other two, then stops when idle.
        res = self.ok("referrals", "watch", "--resume-token", events[0]["resumeToken"],
                      "--idle", "1s", "--output", "json", identity="undp")
        resumed = [json.loads(l) for l in res.stdout.splitlines()]
        self.assertEqual([e["resumeToken"] for e in resumed],
                         [e["resumeToken"] for e in events[1:]])
        self.assertIn(f"--resume-token {events[2]['resumeToken']}", res.stderr)
        res = self.ok("referrals", "watch", "--resume-token", events[0]["resumeToken"],
                      "--idle", "1s", identity="undp")
        self.assertRegex(res.stdout, rf"(?m)^\S+  ACCEPTED  {referral_id}  iom -> undp  "
                                     rf"SEED_CAPITAL  ACCEPTED  \S+$")
        # Another agency's token is refused.
        self.fails("INVALID_ARGUMENT", "referrals", "watch", "--resume-token",
                   events[0]["resumeToken"], "--idle", "1s", identity="iom")

        # A second referral, withdrawn by its sender before an answer.
        second = self.json_of("referrals", "create", case_id, "--to", "undp", "--service",
                              "training", "--reason", "Welding course", identity="iom")
        res = self.ok("referrals", "withdraw", second["referralId"], identity="iom")
        self.assertTrue(res.stdout.startswith(f"withdrew referral {second['referralId']}\n"))
        got = self.json_of("referrals", "get", second["referralId"], identity="undp")
        self.assertEqual(got["status"], "REFERRAL_STATUS_WITHDRAWN")
        self.fails("FAILED_PRECONDITION", "referrals", "decline", second["referralId"],
                   "--reason", "Too late", identity="undp")

        # The report: JSON parses; an administrator sees the small cells as *.
        report = self.json_of("report", "--from", "2024-01-01", identity="iom")
        self.assertIn("returneesByDepartment", report)
        self.assertEqual(report["initiativesTarget"], 70)
        res = self.ok("report", "--department", "SV-SS", identity="admin")
        for title in ("Returnees by department", "Returnees by month", "Cases by status",
                      "Referrals", "Services delivered", "Indicators"):
            self.assertIn(f"\n{title}\n", res.stdout)
        self.assertRegex(res.stdout, r"(?m)^iom +undp +COMPLETED +\*$")
        admin_report = self.json_of("report", identity="admin")
        self.assertTrue(any(r["referrals"].get("suppressed") for r in admin_report["referrals"]))

        # The ministry updates the consent: a new version.
        updated = self.json_of("consent", "update", arrival_id, "--agencies", "iom,undp",
                               "--purposes", "reintegration", identity="mfa")
        self.assertEqual(updated["consentVersion"], 2)
        self.assertEqual(updated["consent"]["purposes"], ["PURPOSE_REINTEGRATION"])

        # The owner reads who accessed the case.
        log_entries = self.json_of("cases", "access-log", case_id, identity="iom")["entries"]
        self.assertTrue(any(e["principal"] == "spiffe://enlace/agency/undp"
                            for e in log_entries), log_entries)
        # ... and which of its staff: the actor each call named (the harness's
        # ENLACE_ACTOR, harness.test_actor), in the table too.
        self.assertTrue(any(e["principal"] == "spiffe://enlace/agency/undp"
                            and e["actor"] == harness.test_actor("undp")
                            for e in log_entries), log_entries)
        table = self.ok("cases", "access-log", case_id, identity="iom").stdout
        self.assertRegex(table, r"^TIME +PRINCIPAL +ACTOR +METHOD +DECISION +STATUS +AUDIT SEQ\n")
        self.assertIn(harness.test_actor("undp"), table)

    def test_audit_and_health(self):
        write_csv(self.path("denied.csv"), [arrival_row("DENIED-1")])
        self.fails("PERMISSION_DENIED", "arrivals", "push", self.path("denied.csv"),
                   identity="unhcr")
        denied = self.json_of("audit", "list", "--principal", "agency:unhcr", "--decision",
                              "deny", "--method", "ArrivalService/RecordArrivals",
                              "--since", "1h", identity="admin")["events"]
        self.assertGreaterEqual(len(denied), 1)
        self.assertEqual({(e["principal"], e["method"], e["decision"]) for e in denied},
                         {("spiffe://enlace/agency/unhcr",
                           "/enlace.v1.ArrivalService/RecordArrivals", "DECISION_DENY")})
        res = self.ok("audit", "verify", identity="admin")
        self.assertRegex(res.stdout, r"\Aaudit log intact: \d+ events checked\n\Z")
        self.assertTrue(self.json_of("audit", "verify", identity="admin")["intact"])

        # Tamper with one event: verify names it and exits 1; restored, intact again.
        seq = 3
        original = mariadb(self.base_dsn, f"SELECT HEX(detail) FROM audit_events WHERE seq={seq}",
                           self.dbname).strip()
        mariadb(self.base_dsn, f"UPDATE audit_events SET detail='tampered' WHERE seq={seq}",
                self.dbname)
        try:
            res = self.fails("DATA_LOSS", "audit", "verify", identity="admin")
            self.assertIn(f"audit log broken at sequence {seq} ", res.stderr)
            res = self.ctl("audit", "verify", "--output", "json", identity="admin")
            self.assertEqual(res.returncode, 1)
            verdict = json.loads(res.stdout)
            self.assertEqual((verdict["intact"], int(verdict["firstBrokenSequence"])),
                             (False, seq))
        finally:
            mariadb(self.base_dsn,
                    f"UPDATE audit_events SET detail=UNHEX('{original}') WHERE seq={seq}",
                    self.dbname)
        self.ok("audit", "verify", identity="admin")
        # By now there are more than 3 events: --limit stops the table early.
        table = self.ok("audit", "list", "--limit", "3", identity="admin")
        self.assertRegex(table.stdout, r"^SEQ +TIME +PRINCIPAL +ACTOR +METHOD +DECISION +STATUS +DETAIL\n")
        self.assertEqual(len(table.stdout.splitlines()), 4, table.stdout)
        self.assertIn("--page-token", table.stderr)

        res = self.ok("health", identity="iom")
        self.assertEqual(res.stdout, "SERVING\n")
        res = self.ok("health", "--plaintext", f"127.0.0.1:{self.health_port}", identity=None)
        self.assertEqual(res.stdout, "SERVING\n")
        self.assertEqual(self.json_of("health", identity="admin"), {"status": "SERVING"})
        # A port where nothing listens: UNAVAILABLE, exit 7.
        self.fails("UNAVAILABLE", "health", "--plaintext", "127.0.0.1:1", "--timeout", "3s",
                   identity=None)

    def test_exit_codes(self):
        # The server refused (an agency pushing arrivals: 5; the ministry
        # running cases), with the gRPC code name; NOT_FOUND: 6.
        write_csv(self.path("iom.csv"), [arrival_row("IOM-1")])
        res = self.fails("PERMISSION_DENIED", "arrivals", "push", self.path("iom.csv"),
                         identity="iom")
        self.assertIn("spiffe://enlace/agency/iom", res.stderr)
        self.assertEqual(res.stdout, "")
        self.fails("PERMISSION_DENIED", "cases", "list", identity="mfa")
        self.fails("PERMISSION_DENIED", "audit", "verify", identity="iom")
        self.fails("NOT_FOUND", "cases", "get", "0123456789abcdef0123456789abcdef",
                   identity="iom")
        self.fails("NOT_FOUND", "arrivals", "push", self.path("missing.csv"))
        # 2: usage errors, before anything is sent.
        cases = [
            ("arrivals",), ("arrivals", "frobnicate"), ("nonsense",),
            ("arrivals", "push"),
            ("arrivals", "push", self.path("iom.csv"), "--bogus", "1"),
            ("arrivals", "push", "-"),                                  # needs --format
            ("arrivals", "push", self.path("iom.txt")),                 # unknown extension
            ("arrivals", "push", self.path("iom.csv"), "--format", "xml"),
            ("arrivals", "push", self.path("iom.csv"), "--progress", "loud"),
            ("arrivals", "push", "a.csv", "b.csv"),
            ("arrivals", "list", "--limit", "0"),
            ("arrivals", "list", "--from", "2024-13-01"),
            ("arrivals", "list", "--output", "xml"),
            ("arrivals", "get",),
            ("consent", "update", "abc"),                               # no consent flags
            ("consent", "update", "abc", "--withdraw", "--agencies", "iom"),
            ("consent", "update", "abc", "--agencies", "iom", "--purposes", "fun"),
            ("cases", "open"),
            ("cases", "list", "--status", "lost"),
            ("cases", "update", "abc"),                                 # nothing to change
            ("services", "record", "abc"),                              # no --service
            ("services", "record", "abc", "--service", "magic"),
            ("services", "record", "abc", "--service", "training", "--delivered-on", "yesterday"),
            ("initiatives", "register", "abc", "--name", "x"),          # no --sector
            ("referrals", "create", "abc", "--to", "undp", "--service", "training"),
            ("referrals", "list", "--box", "spam"),
            ("referrals", "list", "--page-token", "x"),                 # needs --box
            ("referrals", "list", "--status", "pending,lost"),
            ("referrals", "decline", "abc"),                            # no --reason
            ("referrals", "complete", "abc"),                           # no --outcome
            ("referrals", "watch", "--follow", "--idle", "1s"),
            ("referrals", "watch", "--follow=maybe"),
            ("report", "--from", "2024-1-1"),
            ("report", "extra"),
            ("audit", "list", "--decision", "maybe"),
            ("audit", "list", "--since", "yesterday"),
            ("health", "--plaintext", "127.0.0.1:1", "--cert", "x.crt"),
        ]
        for args in cases:
            with self.subTest(args=args):
                res = self.ctl(*args, identity="iom")
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertEqual(res.stdout, "")
                self.assertTrue(res.stderr.strip())
        # No connection settings at all: a usage error that says what to set.
        res = self.ctl("cases", "list", identity=None)
        self.assertEqual(res.returncode, 2)
        self.assertIn("give --ca FILE, set ENLACE_CA, or use a context", res.stderr)

    def test_help_on_every_command(self):
        commands = [
            ("arrivals",), ("arrivals", "push"), ("arrivals", "get"), ("arrivals", "list"),
            ("consent",), ("consent", "update"),
            ("cases",), ("cases", "open"), ("cases", "get"), ("cases", "list"),
            ("cases", "update"), ("cases", "access-log"),
            ("services",), ("services", "record"),
            ("initiatives",), ("initiatives", "register"), ("initiatives", "list"),
            ("referrals",), ("referrals", "create"), ("referrals", "get"),
            ("referrals", "list"), ("referrals", "accept"), ("referrals", "decline"),
            ("referrals", "complete"), ("referrals", "withdraw"), ("referrals", "watch"),
            ("report",), ("audit",), ("audit", "list"), ("audit", "verify"), ("health",),
            ("certs",), ("agencies",), ("pki",),
        ]
        for args in commands:
            with self.subTest(args=args):
                res = self.ctl(*args, "--help", identity=None)
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertEqual(res.stderr, "")
                self.assertIn("Example:\n", res.stdout)
                example = res.stdout.split("Example:\n", 1)[1]
                self.assertIn(f"enlacectl {args[0]}", example)
        res = self.ctl("--help", identity=None)
        self.assertEqual(res.returncode, 0)
        for group in ("arrivals", "consent", "cases", "services", "initiatives", "referrals",
                      "report", "certs", "agencies", "audit", "health"):
            self.assertRegex(res.stdout, rf"(?m)^  {group} ")
        # The push help documents the columns, exit status 3 and shows a file.
        res = self.ctl("arrivals", "push", "--help", identity=None)
        self.assertIn("consent_given_at", res.stdout)
        self.assertIn("3 some rows were\nrejected", res.stdout)
        self.assertIn("$ cat arrivals.csv\n  external_id,", res.stdout)


def main():
    args, rest = harness.parse_args(__doc__)
    if not harness.check_prerequisites(args, tools=("mariadb",)):
        return 1
    return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
