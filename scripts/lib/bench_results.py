#!/usr/bin/python3
"""bench_results.py: keeps bench-results.json and bench-results.md for scripts/bench.sh.

Every scenario of bench.sh records what it measured here: its headline keys
are merged into the top level of the JSON file (e.g. "get_ratio"), next to
"machine" and "versions" (of the latest run), and its whole entry (settings,
keys, the RESULT lines of every run, when it finished, the machine and the
versions it ran with) replaces the scenario's under "scenarios". The
Markdown file is regenerated from the JSON file each time: one table of the
headline keys, then a section per scenario. Scenarios measured at other
times keep their entries, so the files gather the latest run of each.

  bench_results.py record --json bench-results.json --md bench-results.md \\
      --scenario get --title "GetArrival, 64 in flight" \\
      --setting arrivals=100000 --setting server.max_calls_per_identity=16 \\
      --key get_ratio=0.31 --key get_calls_per_s=2100 \\
      --run "enlace=RESULT kind=get calls_per_s=2100 ..." \\
      [--markdown-file section.md] [--root REPO] [--mariadbd mariadbd]
  bench_results.py check --json FILE KEY...    # exit 1 unless every KEY is at the top level

A file written by an older bench.sh (fairness only, with "scenario" at the
top) is kept as the fairness entry.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def value_of(text):
    """A number when it reads as one, else the text."""
    if NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if text in ("true", "false"):
        return text == "true"
    return text


def pairs(items, what):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            sys.exit(f"bench_results.py: --{what} wants KEY=VALUE, not {item!r}")
        out[key] = value_of(value)
    return out


def result_fields(line):
    """{key: value} of a "RESULT k=v k=v" line."""
    fields = {}
    for token in line.split()[1:]:
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value_of(value)
    return fields


def command_output(args, cwd=None):
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=30,
                               check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": cpu_model, "ram_gib": ram_gib}


def versions(root, mariadbd, build_dir=None):
    rev = command_output(["git", "-C", root, "rev-parse", "HEAD"])
    dirty = bool(command_output(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"]))
    grpc = command_output(["pkg-config", "--modversion", "grpc++"])
    mariadb = command_output([mariadbd, "--version"])
    match = re.search(r"Ver\s+(\S+)", mariadb)
    compiler = ""
    cache = os.path.join(build_dir or os.path.join(root, "build"), "CMakeCache.txt")
    try:
        with open(cache, encoding="utf-8") as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    compiler = command_output([line.split("=", 1)[1].strip(), "--version"]).splitlines()[0]
                    break
    except (OSError, IndexError):
        pass
    return {
        "git_rev": rev,
        "git_dirty": dirty,
        "grpc": grpc,
        "mariadb": match.group(1) if match else mariadb,
        "compiler": compiler,
    }


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {"scenarios": {}}
    if not isinstance(data, dict):
        return {"scenarios": {}}
    if "scenarios" not in data:
        # An older bench.sh wrote the fairness scenario alone, at the top level.
        old = data
        data = {"scenarios": {}}
        if old.get("scenario") == "fairness":
            data["scenarios"]["fairness"] = {"keys": {"fairness_p99_ratio": old.get("p99_ratio")},
                                             "detail": old, "finished_at": old.get("finished_at")}
            data["fairness_p99_ratio"] = old.get("p99_ratio")
    return data


def fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def render(data):
    lines = ["# Enlace benchmark results (`scripts/bench.sh`)", ""]
    m = data.get("machine", {})
    v = data.get("versions", {})
    lines.append(f"Machine: {m.get('nproc')} CPUs ({m.get('cpu_model')}), {m.get('ram_gib')} GiB RAM; "
                 f"server, MariaDB and load generator share it. Latest run: git {v.get('git_rev', '')[:12]}"
                 f"{' (with local changes)' if v.get('git_dirty') else ''}, gRPC {v.get('grpc')}, "
                 f"MariaDB {v.get('mariadb')}, {v.get('compiler')}.")
    lines.append("")
    lines.append("Every figure is the median of the runs its scenario made (3 unless told otherwise); "
                 "the ratios compare measurements of the same run.")
    lines.append("")
    scenarios = data.get("scenarios", {})
    lines += ["| scenario | key | value | finished |", "|---|---|---:|---|"]
    for name in sorted(scenarios):
        entry = scenarios[name]
        for key, value in entry.get("keys", {}).items():
            lines.append(f"| {name} | `{key}` | {fmt(value)} | {entry.get('finished_at', '')} |")
    for name in sorted(scenarios):
        entry = scenarios[name]
        lines += ["", f"## {entry.get('title') or name} (`bench.sh {name}`, {entry.get('finished_at', '')})", ""]
        if entry.get("markdown"):
            lines.append(entry["markdown"].rstrip())
            lines.append("")
        settings = entry.get("settings", {})
        if settings:
            lines.append("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ".")
            lines.append("")
        runs = entry.get("runs", [])
        if runs:
            keys = []
            for run in runs:
                for key in run["result"]:
                    if key not in keys and key not in ("kind", "prefix"):
                        keys.append(key)
            shown = [k for k in keys if any(isinstance(r["result"].get(k), (int, float)) for r in runs)][:12]
            lines.append("| run | " + " | ".join(shown) + " |")
            lines.append("|---|" + "---:|" * len(shown))
            for run in runs:
                lines.append(f"| {run['label']} | " + " | ".join(fmt(run["result"].get(k)) for k in shown) + " |")
    lines.append("")
    return "\n".join(lines)


def write_atomically(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def record(args):
    data = load(args.json)
    root = args.root or os.getcwd()
    entry = {
        "title": args.title or args.scenario,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": pairs(args.setting, "setting"),
        "keys": pairs(args.key, "key"),
        "runs": [],
        "machine": machine(),
        "versions": versions(root, args.mariadbd, args.build_dir),
    }
    for run in args.run or []:
        label, sep, line = run.partition("=")
        if not sep or not line.startswith("RESULT"):
            sys.exit(f"bench_results.py: --run wants LABEL=RESULT ..., not {run!r}")
        entry["runs"].append({"label": label, "result": result_fields(line)})
    if args.markdown_file:
        with open(args.markdown_file, encoding="utf-8") as f:
            entry["markdown"] = f.read()
    if args.detail_file:
        with open(args.detail_file, encoding="utf-8") as f:
            entry["detail"] = json.load(f)
    data.setdefault("scenarios", {})[args.scenario] = entry
    data["machine"] = entry["machine"]
    data["versions"] = entry["versions"]
    data.update(entry["keys"])
    write_atomically(args.json, json.dumps(data, indent=2, sort_keys=False) + "\n")
    write_atomically(args.md, render(data))


def check(args):
    data = load(args.json)
    missing = [k for k in args.keys if k not in data]
    if missing:
        print(f"bench_results.py: {args.json} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="merge a scenario's results and regenerate the Markdown")
    r.add_argument("--json", required=True)
    r.add_argument("--md", required=True)
    r.add_argument("--scenario", required=True)
    r.add_argument("--title")
    r.add_argument("--setting", action="append")
    r.add_argument("--key", action="append")
    r.add_argument("--run", action="append")
    r.add_argument("--markdown-file")
    r.add_argument("--detail-file", help="a JSON document kept as the scenario's detail")
    r.add_argument("--root", help="the repository (git revision, build/CMakeCache.txt)")
    r.add_argument("--build-dir", help="the build tree (its CMakeCache.txt names the compiler)")
    r.add_argument("--mariadbd", default="mariadbd")
    c = sub.add_parser("check", help="exit 1 unless every KEY is in the file")
    c.add_argument("--json", required=True)
    c.add_argument("keys", nargs="+")
    args = parser.parse_args()
    if args.command == "record":
        record(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
