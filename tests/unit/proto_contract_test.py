"""The gRPC contract cannot break by accident: buf lints the protos and
compares them with the last release (protos/buf.yaml, protos/RELEASES,
docs/api.md).

Run by ctest (proto_contract_test) as
  proto_contract_test.py --buf BUF --repo ROOT
where BUF is the buf that scripts/test.sh installed from
scripts/npm/package-lock.json. Lint and breaking-change detection are each
shown to fail on a copy of the protos with a deliberate fault, so their
passing on the real protos means something.
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


def git(*args):
    return subprocess.run(["git", "-C", ARGS.repo, *args], capture_output=True, text=True,
                          check=False)


def last_release():
    """(tag, commit) of the last line of protos/RELEASES."""
    with open(os.path.join(protos_dir(), "RELEASES"), encoding="utf-8") as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    assert lines, "protos/RELEASES names no release"
    assert all(len(line) == 2 for line in lines), f"lines of protos/RELEASES: {lines}"
    return lines[-1][0], lines[-1][1]


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
    def test_the_last_release_is_a_commit_of_this_history(self):
        tag, commit = last_release()
        self.assertRegex(tag, RELEASE_TAG)
        self.assertRegex(commit, r"^[0-9a-f]{40}$")
        self.assertEqual(git("merge-base", "--is-ancestor", commit, "HEAD").returncode, 0,
                         f"{tag}'s commit {commit} is not in HEAD's history "
                         "(a shallow clone cannot check the contract)")
        tagged = git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}")
        if tagged.returncode == 0:  # a clone without tags still has the commit
            self.assertEqual(tagged.stdout.strip(), commit,
                             f"tag {tag} names another commit than protos/RELEASES")

    def test_nothing_broke_since_the_last_release(self):
        tag, commit = last_release()
        against = f"{os.path.join(ARGS.repo, '.git')}#ref={commit},subdir=protos"
        result = buf("breaking", "--against", against, cwd=protos_dir())
        self.assertEqual(result.returncode, 0,
                         f"breaking changes since {tag} ({commit}):\n"
                         f"{result.stdout}{result.stderr}")

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
    ARGS.buf, ARGS.repo = os.path.abspath(ARGS.buf), os.path.abspath(ARGS.repo)
    if not os.access(ARGS.buf, os.X_OK):
        sys.exit(f"proto_contract_test: no buf at {ARGS.buf}: scripts/test.sh installs it "
                 "(ensure_npm_tools in scripts/lib/common.sh)")
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
