#!/usr/bin/env python3
"""The suite's layers (ctest labels), checked on the build tree itself.

Every test carries exactly one layer label: unit (no database, no server:
seconds), db (the stores against MariaDB), e2e (a server over mTLS), bench
(the harness's smoke run), install (the installed package), fuzz (the fuzz
harnesses replaying their seed corpora) or long (the long runs). `python` marks
the tests written in Python, on top of their layer. A test added without a
layer fails here, and so does a unit test that needs the database: the unit
layer is run again with the database's environment removed.

Usage: test_layers_test.py --build-dir DIR
"""
import argparse
import json
import os
import subprocess
import sys

LAYERS = {"unit", "db", "e2e", "bench", "install", "fuzz", "long"}
EXTRAS = {"python"}
SELF = "test_layers_test"


def tests_of(build_dir):
    listing = subprocess.run(
        ["ctest", "--test-dir", build_dir, "--show-only=json-v1"],
        check=True, capture_output=True, text=True).stdout
    tests = {}
    for test in json.loads(listing)["tests"]:
        labels = []
        for prop in test.get("properties", []):
            if prop["name"] == "LABELS":
                labels = prop["value"]
        tests[test["name"]] = labels
    return tests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()

    failures = []
    tests = tests_of(args.build_dir)
    counts = {layer: 0 for layer in LAYERS}
    for name, labels in sorted(tests.items()):
        layers = [label for label in labels if label in LAYERS]
        unknown = [label for label in labels if label not in LAYERS | EXTRAS]
        if len(layers) != 1 or unknown:
            failures.append(f"{name}: labels {labels}: want exactly one of {sorted(LAYERS)}"
                            f" (plus {sorted(EXTRAS)})")
            continue
        counts[layers[0]] += 1
    print("tests per layer: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for layer in ("unit", "db", "e2e"):
        if counts[layer] == 0:
            failures.append(f"no test in the {layer} layer")

    # The unit layer alone, with no database to reach: it must pass.
    env = {k: v for k, v in os.environ.items()
           if k not in ("ENLACE_TEST_DB_DSN", "ENLACE_DB_PASSWORD",
                        "ENLACE_MARIADB_TCP_ROOT_PASSWORD")}
    run = subprocess.run(
        ["ctest", "--test-dir", args.build_dir, "-L", "^unit$", "-E", SELF, "-j2",
         "--output-on-failure", "--no-tests=error"],
        env=env, capture_output=True, text=True)
    summary = [line for line in run.stdout.splitlines() if "tests passed" in line]
    print("unit layer without a database: " + (summary[0].strip() if summary else "no summary"))
    if run.returncode != 0:
        failures.append("the unit layer fails without a database:\n" + run.stdout[-4000:])

    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
