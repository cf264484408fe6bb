"""The gRPC contract cannot break by accident: buf lints the protos and
compares them with the last release (protos/buf.yaml, docs/api.md).

Run by ctest (proto_contract_test) as
  proto_contract_test.py --buf BUF --repo ROOT
where BUF is the buf that scripts/test.sh installed from
scripts/npm/package-lock.json. Each check is shown to fail on a copy of the
protos with a deliberate fault, so a passing check means something.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

ARGS = None
# buf's exit status when it found lint or breaking-change findings.
BUF_FINDINGS = 100
# The lint rules the protos deliberately do not follow, and why, are in
# protos/buf.yaml; a new exception must be argued there and added here.
EXPECTED_LINT_EXCEPTIONS = {"RPC_REQUEST_RESPONSE_UNIQUE", "RPC_RESPONSE_STANDARD_NAME"}
RELEASE_TAG = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")


def buf(*args, cwd):
    return subprocess.run([ARGS.buf, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def protos_dir():
    return os.path.join(ARGS.repo, "protos")


class ScratchProtos:
    """A copy of protos/ (buf.yaml included) to break on purpose."""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="enlace-protos.")
        self.dir = os.path.join(self.tmp, "protos")
        shutil.copytree(protos_dir(), self.dir, ignore=shutil.ignore_patterns("CMakeLists.txt"))
        return self

    def edit(self, relative, old, new):
        path = os.path.join(self.dir, relative)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert text.count(old) == 1, f"{old!r} is not once in {relative}"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp)


def last_release_tag():
    """The newest vX.Y.Z tag reachable from HEAD, or None."""
    described = subprocess.run(
        ["git", "-C", ARGS.repo, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*"],
        capture_output=True, text=True, check=False)
    tag = described.stdout.strip()
    return tag if described.returncode == 0 and RELEASE_TAG.match(tag) else None


class LintTest(unittest.TestCase):
    def test_the_protos_pass_lint(self):
        result = buf("lint", cwd=protos_dir())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.strip(), "")

    def test_lint_catches_a_badly_named_message_and_field(self):
        with ScratchProtos() as protos:
            protos.edit("enlace/v1/referrals.proto", "package enlace.v1;\n",
                        "package enlace.v1;\n\nmessage referral_note {\n  string NoteText = 1;\n}\n")
            result = buf("lint", cwd=protos.dir)
        self.assertEqual(result.returncode, BUF_FINDINGS, result.stderr)
        self.assertRegex(result.stdout, r'enlace/v1/referrals\.proto:\d+:\d+:Message name '
                                        r'"referral_note" should be PascalCase')
        self.assertRegex(result.stdout, r'Field name "NoteText" should be lower_snake_case')

    def test_lint_catches_what_the_exceptions_do_not_cover(self):
        # A service name without the Service suffix: STANDARD still applies
        # to everything of ours but the two response-naming rules.
        with ScratchProtos() as protos:
            protos.edit("enlace/v1/reports.proto", "service ReportService {", "service Reports {")
            result = buf("lint", cwd=protos.dir)
        self.assertEqual(result.returncode, BUF_FINDINGS, result.stderr)
        self.assertIn('Service name "Reports" should be suffixed with "Service"', result.stdout)

    def test_the_exceptions_are_the_documented_ones(self):
        with open(os.path.join(protos_dir(), "buf.yaml"), encoding="utf-8") as f:
            config = yaml.safe_load(f)
        self.assertEqual(config["lint"]["use"], ["STANDARD"])
        self.assertEqual(set(config["lint"]["except"]), EXPECTED_LINT_EXCEPTIONS)
        # Only gRPC's own protocols, restated with their upstream names, are ignored.
        self.assertEqual(config["lint"]["ignore"], ["grpc"])
        self.assertEqual(config["breaking"]["use"], ["FILE"])


class BreakingTest(unittest.TestCase):
    def test_nothing_broke_since_the_last_release(self):
        tag = last_release_tag()
        self.assertIsNotNone(tag, "no vX.Y.Z release tag reachable from HEAD: "
                                  "a clone without tags (--no-tags, --depth) cannot check this")
        against = f"{os.path.join(ARGS.repo, '.git')}#tag={tag},subdir=protos"
        result = buf("breaking", "--against", against, cwd=protos_dir())
        self.assertEqual(result.returncode, 0,
                         f"breaking changes since {tag}:\n{result.stdout}{result.stderr}")

    def test_a_deleted_field_is_breaking(self):
        with ScratchProtos() as protos:
            protos.edit("enlace/v1/referrals.proto", "  string decline_reason = 9;\n", "")
            result = buf("breaking", "--against", protos_dir(), cwd=protos.dir)
        self.assertEqual(result.returncode, BUF_FINDINGS, result.stderr)
        self.assertRegex(result.stdout, r'Previously present field "9" with name "decline_reason" on '
                                        r'message "Referral" was deleted')

    def test_a_renumbered_field_and_a_renamed_rpc_are_breaking(self):
        with ScratchProtos() as protos:
            protos.edit("enlace/v1/referrals.proto", "  string decline_reason = 9;\n",
                        "  string decline_reason = 19;\n")
            protos.edit("enlace/v1/reports.proto", "rpc GetProgrammeReport(", "rpc GetReport(")
            result = buf("breaking", "--against", protos_dir(), cwd=protos.dir)
        self.assertEqual(result.returncode, BUF_FINDINGS, result.stderr)
        self.assertIn('Previously present field "9" with name "decline_reason"', result.stdout)
        self.assertIn('Previously present RPC "GetProgrammeReport" on service "ReportService" '
                      'was deleted', result.stdout)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buf", required=True, help="the buf executable")
    parser.add_argument("--repo", required=True, help="the repository's root")
    ARGS, rest = parser.parse_known_args()
    if not os.access(ARGS.buf, os.X_OK):
        sys.exit(f"proto_contract_test: no buf at {ARGS.buf}: scripts/test.sh installs it "
                 "(ensure_npm_tools in scripts/lib/common.sh)")
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
