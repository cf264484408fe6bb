#!/usr/bin/python3
"""End-to-end test of upgrading a database that already holds records.

A database at schema version 6 (the migrations before the report's
pre-aggregated grid, applied with the `mariadb` client as an older release
left them) with arrivals and cases in it is migrated by the real
`enlace-server --migrate`: the grid must then count the records that were
already there, once, and a second --migrate must not count them again.
`enlace-server --recount_reports` rebuilds cells damaged by hand.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/upgrade_migration_test.py \
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \
      --policy server/default_policy.conf --migrations db/migrations [unittest args...]

Needs the standard library and the `mariadb` client.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

log = harness.set_log_tag("upgrade-migration")

# The last schema version before the report grid (0007_report_cells.sql).
VERSION_BEFORE_GRID = 6


class UpgradeMigrationTest(unittest.TestCase):
    def setUp(self):
        args = harness.ServerTestCase.args
        self.server = args.server
        self.tmp = tempfile.mkdtemp(prefix="enlace-upgrade-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.base_dsn = os.environ[harness.DSN_ENV]
        self.dbname = harness.unique_database_name("enlace_upgrade_")
        self.addCleanup(harness.drop_database, self.base_dsn, self.dbname)
        self.db_user = "srv_" + self.dbname[-12:]
        self.addCleanup(harness.drop_user, self.base_dsn, self.db_user)
        harness.create_server_user(self.base_dsn, self.db_user)
        self.admin_dsn = harness.dsn_with_database(self.base_dsn, self.dbname)

        # The schema as version 6 left it, recorded as the migrator records it.
        harness.mariadb(self.base_dsn, f"CREATE DATABASE `{self.dbname}`")
        harness.mariadb(self.base_dsn,
                        "CREATE TABLE schema_migrations (version INT NOT NULL PRIMARY KEY, "
                        "file_name VARCHAR(200) NOT NULL, applied_at TIMESTAMP(6) NOT NULL "
                        "DEFAULT CURRENT_TIMESTAMP(6))", database=self.dbname)
        files = sorted(f for f in os.listdir(args.migrations) if f.endswith(".sql"))
        self.assertGreater(len(files), VERSION_BEFORE_GRID)
        for name in files[:VERSION_BEFORE_GRID]:
            with open(os.path.join(args.migrations, name), encoding="utf-8") as f:
                harness.mariadb(self.base_dsn, f.read(), database=self.dbname)
            harness.mariadb(self.base_dsn, "INSERT INTO schema_migrations (version, file_name) "
                            f"VALUES ({int(name[:4])}, '{name}')", database=self.dbname)

        # Records of the older release: 7 arrivals in SV-SS in March 2018 (3
        # women), 4 in SV-LI in April; a case of iom for the first woman and
        # the first man, and a second case (undp) for the first woman.
        for n in range(11):
            department, day = ("SV-SS", "2018-03-10") if n < 7 else ("SV-LI", "2018-04-02")
            sex = 2 if n < 3 else 1
            self.sql("INSERT INTO arrivals (arrival_id, submitted_by, external_id, content_hash, "
                     "arrival_date, mode, origin_country, given_name, family_name, birth_date, "
                     "sex, document_number, department_code, municipality, needs_mask, "
                     "consent_purposes_mask, consent_given_at_us, consent_version, "
                     f"recorded_at_us) VALUES (LPAD('{n}', 32, 'a'), 'mfa', 'old-{n}', "
                     f"UNHEX(SHA2('old-{n}', 256)), '{day}', 1, 'US', 'Ana', 'Peña', "
                     f"'1990-01-01', {sex}, '', '{department}', 'Guazapa', 0, 0, NULL, 1, 0)")
        march = 1521072000000000  # 2018-03-15T00:00:00Z
        for case_id, arrival, owner in (("c1", 0, "iom"), ("c2", 3, "iom"), ("c3", 0, "undp")):
            self.sql("INSERT INTO cases (case_id, arrival_seq, owner_agency, status, "
                     "department_code, municipality, summary, psychosocial_notes, version, "
                     f"created_at_us, updated_at_us) SELECT LPAD('{case_id}', 32, 'c'), seq, "
                     f"'{owner}', 1, department_code, municipality, '', '', 1, {march}, {march} "
                     f"FROM arrivals WHERE external_id = 'old-{arrival}'")
        # An initiative of the older release (before outcomes, version 9).
        self.sql("INSERT INTO initiatives (initiative_id, case_seq, owner_agency, name, sector, "
                 "department_code, municipality, registered_at_us) SELECT LPAD('i1', 32, 'i'), "
                 f"seq, 'iom', 'Bakery', 'food', 'SV-SS', 'Guazapa', {march} FROM cases "
                 "WHERE case_id = LPAD('c1', 32, 'c')")

    def sql(self, statement):
        return harness.mariadb(self.base_dsn, statement, database=self.dbname)

    def cells(self):
        """Every grid cell with records, as sorted lines."""
        lines = []
        for table in ("report_returnee_cells", "report_case_cells", "report_referral_cells",
                      "report_service_cells", "report_initiative_cells"):
            out = self.sql(f"SELECT * FROM {table} WHERE records <> 0")
            lines += [f"{table} {line}" for line in out.splitlines() if line]
        return sorted(lines)

    def run_server(self, *flags):
        env = harness.server_env(
            ENLACE_MIGRATE_DSN=self.admin_dsn,
            ENLACE_MIGRATE_PASSWORD=harness.dsn_password(self.admin_dsn) or None,
            ENLACE_DB_DSN=harness.dsn_for_user(self.base_dsn, self.dbname, self.db_user))
        res = subprocess.run([os.path.abspath(self.server), *flags], capture_output=True,
                             text=True, env=env, cwd=self.tmp, timeout=harness.TOOL_TIMEOUT)
        self.assertEqual(res.returncode, 0, f"enlace-server {flags}:\n{res.stdout}{res.stderr}")
        return res.stdout + res.stderr

    def test_migrating_counts_the_records_already_there_once(self):
        out = self.run_server("--migrate")
        self.assertIn("report grid counted from the records", out)
        self.assertEqual(self.cells(), sorted([
            # grid_month department submitter records sex age_band: 3 men
            # (sex 2) and 4 women (1) in SV-SS, 4 women in SV-LI, all 28 on
            # arrival (band 4: 25 to 29)
            "report_returnee_cells 2018-03\tSV-SS\tmfa\t3\t2\t4",
            "report_returnee_cells 2018-03\tSV-SS\tmfa\t4\t1\t4",
            "report_returnee_cells 2018-04\tSV-LI\tmfa\t4\t1\t4",
            # grid_month department status role owner records sex age_band:
            # roles 0 first woman, 1 first other, 2 later (no sex or band)
            "report_case_cells 2018-03\tSV-SS\t1\t0\tiom\t1\t1\t4",
            "report_case_cells 2018-03\tSV-SS\t1\t1\tiom\t1\t2\t4",
            "report_case_cells 2018-03\tSV-SS\t1\t2\tundp\t1\t0\t0",
            # grid_month department owner records status woman_led jobs: the
            # initiative of the older release is planned, not woman-led
            "report_initiative_cells 2018-03\tSV-SS\tiom\t1\t1\t0\t0",
        ]))
        # Outcomes the older release did not record take neutral values.
        self.assertEqual(self.sql(
            "SELECT status, jobs_created, woman_led, disbursed_usd_cents, version, "
            "updated_at_us = registered_at_us FROM initiatives"), "1\t0\t0\t0\t1\t1\n")
        self.assertEqual(self.sql("SELECT recounted_at_us IS NOT NULL FROM report_grid_state"),
                         "1\n")
        # Once: a second --migrate leaves the grid as it is.
        out = self.run_server("--migrate")
        self.assertNotIn("report grid counted", out)
        self.assertEqual(len(self.cells()), 7)
        self.assertEqual(self.sql("SELECT SUM(records) FROM report_returnee_cells"), "11\n")

    def test_the_programmes_agreements_are_in_force_after_the_upgrade(self):
        # Records flow only under data-sharing agreements (schema 15): the
        # upgrade registers the programme's, so what the older release let
        # agencies read they still read.
        self.run_server("--migrate")
        in_force = self.sql(
            "SELECT CONCAT(party_low, '+', party_high, ' ', purposes_mask) FROM "
            "sharing_agreements WHERE ended_at_us IS NULL AND valid_from <= UTC_DATE() "
            "AND valid_until >= UTC_DATE() ORDER BY party_low, party_high").split()
        self.assertEqual(in_force, ["iom+mfa", "14", "iom+undp", "14", "iom+unhcr", "14",
                                    "mfa+undp", "14", "mfa+unhcr", "14", "undp+unhcr", "14"])
        # The records of the older release are all still there, unchanged.
        self.assertEqual(self.sql("SELECT COUNT(*) FROM arrivals WHERE objected_purposes_mask "
                                  "= 0"), "11\n")

    def test_recount_reports_rebuilds_damaged_cells(self):
        self.run_server("--migrate")
        counted = self.cells()
        self.sql("UPDATE report_returnee_cells SET records = records + 5")
        self.sql("DELETE FROM report_case_cells WHERE owner_agency = 'undp'")
        self.assertNotEqual(self.cells(), counted)
        out = self.run_server("--recount_reports")
        self.assertIn("report grid counted from the records", out)
        self.assertEqual(self.cells(), counted)


def main():
    args, rest = harness.parse_args(
        __doc__, extra_flags=(("--migrations", "the repository's db/migrations directory"),))
    if not harness.check_prerequisites(args):
        return 1
    return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
