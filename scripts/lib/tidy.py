#!/usr/bin/env python3
"""tidy.py: the engine of scripts/tidy.sh (run that, not this).

Runs clang-tidy (the checks of .clang-tidy) over C++ sources, in parallel,
with the compile commands of BUILD_DIR/compile_commands.json, prints every
finding once (a header's finding is seen from each file that includes it)
and exits 1 if there is any.

A file that passed is remembered in BUILD_DIR/tidy-cache/ under a hash of
everything its result depends on: its contents, its compile command, the
.clang-tidy file, clang-tidy's version, and the contents of every file of
the repository (and generated file of the build tree) it includes, as Ninja
recorded them when it compiled the file (`ninja -t deps`), plus the size and
time of every system header it includes. The hash is only trusted when that
record is current: the object file is at least as new as the source and
every header of the repository it includes; otherwise the file is checked
and nothing is remembered. Files with findings are never remembered.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time

CACHE_FORMAT = "enlace-tidy-cache 1"
# A diagnostic's first line: FILE:LINE:COL: warning|error: MESSAGE [CHECKS]
DIAGNOSTIC = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): "
                        r"(?P<severity>warning|error): (?P<message>.*?)(?: \[(?P<checks>[^\]]+)\])?$")


def log(message):
    print(f"tidy.sh: {message}", file=sys.stderr, flush=True)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def under(path, directory):
    return path == directory or path.startswith(directory + os.sep)


class Project:
    def __init__(self, root, build_dir, use_cache):
        self.root = root
        self.build_dir = build_dir
        self.cache_dir = os.path.join(build_dir, "tidy-cache") if use_cache else None
        with open(os.path.join(build_dir, "compile_commands.json")) as f:
            entries = json.load(f)
        # A file compiled by several targets: its first command (they differ
        # at most in definitions the checks do not look at).
        self.commands = {}
        for entry in entries:
            path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
            self.commands.setdefault(path, entry)
        version = subprocess.run(["clang-tidy", "--version"], check=True, capture_output=True,
                                 text=True).stdout
        with open(os.path.join(root, ".clang-tidy"), "rb") as f:
            config = f.read()
        self.salt = hashlib.sha256(
            CACHE_FORMAT.encode() + b"\0" + version.encode() + b"\0" + config).hexdigest()

    def relative(self, path):
        return os.path.relpath(path, self.root) if under(path, self.root) else path

    def object_of(self, entry):
        args = entry.get("arguments") or shlex.split(entry["command"])
        for i, arg in enumerate(args[:-1]):
            if arg == "-o":
                return args[i + 1]
        return None

    def dependencies(self, paths):
        """{source path: [dependency paths]} from Ninja's record, for the
        sources whose record is current; the others are left out."""
        objects = {}
        for path in paths:
            entry = self.commands.get(path)
            if entry is None or os.path.realpath(entry["directory"]) != self.build_dir:
                continue
            obj = self.object_of(entry)
            if obj is not None:
                objects[obj] = path
        if not objects or not os.path.exists(os.path.join(self.build_dir, "build.ninja")):
            return {}
        run = subprocess.run(["ninja", "-C", self.build_dir, "-t", "deps", *objects],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return {}
        deps, current = {}, None
        for line in run.stdout.splitlines():
            if line and not line[0].isspace():
                obj = line.split(":", 1)[0]
                current = obj if obj in objects and "#deps" in line else None
                if current is not None:
                    deps[current] = []
            elif current is not None and line.strip():
                deps[current].append(os.path.normpath(os.path.join(self.build_dir, line.strip())))
        result = {}
        for obj, listed in deps.items():
            source = objects[obj]
            try:
                built = os.stat(os.path.join(self.build_dir, obj)).st_mtime_ns
                ours = [p for p in listed if under(p, self.root)]
                if source not in listed or any(os.stat(p).st_mtime_ns > built for p in ours):
                    continue  # edited since it was compiled: the record may be stale
            except OSError:
                continue
            result[source] = listed
        return result

    def cache_key(self, path, deps):
        entry = self.commands[path]
        command = entry.get("command") or shlex.join(entry["arguments"])
        digest = hashlib.sha256()
        digest.update(self.salt.encode())
        digest.update(self.relative(path).encode() + b"\0")
        digest.update(command.replace(self.root, "<root>").encode() + b"\0")
        for dep in sorted(set(deps) | {path}):
            if under(dep, self.root):
                digest.update(f"{self.relative(dep)} {sha256_file(dep)}\n".encode())
            else:
                st = os.stat(dep)
                digest.update(f"{dep} {st.st_size} {st.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def parse_diagnostics(output, root):
    """The diagnostics of clang-tidy's output: (key, text) with the lines
    that follow each first line (notes, source, caret) kept in its text."""
    diagnostics, current = [], None
    for line in output.splitlines():
        match = DIAGNOSTIC.match(line)
        if match and match.group("severity") in ("warning", "error"):
            path = os.path.realpath(match.group("file"))
            shown = os.path.relpath(path, root) if under(path, root) else path
            rest = line[len(match.group("file")):]
            current = {"file": path, "key": (shown, int(match.group("line")),
                                              int(match.group("col")), match.group("message")),
                       "checks": match.group("checks") or "", "lines": [shown + rest]}
            diagnostics.append(current)
        elif current is not None:
            current["lines"].append(line.replace(root + os.sep, ""))
    return diagnostics


def tidy_one(project, path, key):
    started = time.monotonic()
    run = subprocess.run(["clang-tidy", "-p", project.build_dir, "--quiet", path],
                         capture_output=True, text=True, cwd=project.root)
    seconds = time.monotonic() - started
    diagnostics = parse_diagnostics(run.stdout, project.root)
    if run.returncode == 0 and not diagnostics and key is not None:
        os.makedirs(project.cache_dir, exist_ok=True)
        with open(os.path.join(project.cache_dir, key), "w") as f:
            f.write(f"{project.relative(path)} passed in {seconds:.1f} s\n")
    return run.returncode, diagnostics, run.stderr, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--pending", help="file of paths to skip (one per line, # comments)")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    root = os.path.realpath(args.root)
    build_dir = os.path.realpath(args.build_dir)
    started = time.monotonic()
    project = Project(root, build_dir, use_cache=not args.no_cache)

    pending = set()
    if args.pending and os.path.exists(args.pending):
        with open(args.pending) as f:
            for number, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                path = os.path.realpath(os.path.join(root, line))
                if not os.path.isfile(path):
                    log(f"error: {args.pending}:{number}: {line}: no such file (remove the line)")
                    return 2
                pending.add(path)

    files, skipped = [], 0
    for name in args.files:
        path = os.path.realpath(name)
        if not os.path.isfile(path):
            log(f"error: {name}: no such file")
            return 2
        if path in pending:
            log(f"warning: {project.relative(path)} skipped: listed in .clang-tidy-pending "
                "(it has findings still to fix; whoever fixes them removes the line)")
            skipped += 1
            continue
        if path not in project.commands:
            log(f"{project.relative(path)} is not in compile_commands.json: clang-tidy infers "
                "its flags from a neighbour's")
        files.append(path)

    deps = project.dependencies(files) if project.cache_dir else {}
    keys = {path: project.cache_key(path, deps[path]) for path in files if path in deps}
    todo = [p for p in files
            if p not in keys or not os.path.exists(os.path.join(project.cache_dir, keys[p]))]
    cached = len(files) - len(todo)
    log(f"clang-tidy over {len(files)} files ({cached} unchanged since they passed, "
        f"{len(todo)} to check, {args.jobs} jobs)")

    findings, failures, seen = [], [], set()
    # The longest files first: the last job to finish is a short one.
    todo.sort(key=lambda p: -os.path.getsize(p))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = {pool.submit(tidy_one, project, p, keys.get(p)): p for p in todo}
        for done in concurrent.futures.as_completed(runs):
            path = runs[done]
            rc, diagnostics, stderr, seconds = done.result()
            fresh = 0
            for d in diagnostics:
                if d["file"] in pending:
                    continue  # a pending header's finding, seen from another file
                if d["key"] in seen:
                    continue
                seen.add(d["key"])
                findings.append(d)
                fresh += 1
            if rc != 0 and not diagnostics:
                failures.append((path, rc, stderr))
            if os.environ.get("ENLACE_TIDY_VERBOSE") == "1":
                log(f"{project.relative(path)}: {len(diagnostics)} findings, {seconds:.1f} s")

    findings.sort(key=lambda d: d["key"])
    for d in findings:
        print("\n".join(d["lines"]))
    for path, rc, stderr in failures:
        print(f"{project.relative(path)}: clang-tidy failed (exit {rc}) without a finding:")
        print(stderr.rstrip())
    by_check = {}
    for d in findings:
        for check in (d["checks"] or "clang-diagnostic-error").split(","):
            if check.startswith("-warnings-as-errors"):
                continue
            by_check[check] = by_check.get(check, 0) + 1
    elapsed = time.monotonic() - started
    if findings or failures:
        summary = ", ".join(f"{n} {c}" for c, n in sorted(by_check.items()))
        log(f"{len(findings)} findings in {len(files)} files"
            f"{' (' + summary + ')' if summary else ''}"
            f"{f', clang-tidy failed on {len(failures)} files' if failures else ''}; "
            f"{elapsed:.0f} s. Fix them (docs/testing.md, Static checks)")
        return 1
    log(f"no finding in {len(files)} files"
        f"{f' ({skipped} pending skipped)' if skipped else ''}; {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
