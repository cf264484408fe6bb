#!/usr/bin/env bash
# demo.sh: the programme demo. Against a server started by `scripts/up.sh
# --detach`, the ministry records 7,216 synthetic returnee arrivals that match
# the official 2017 / Jan-Feb 2018 figures, IOM, UNHCR and UNDP run cases,
# services, referrals and the 70 economic initiatives, and the programme
# report is printed and checked. Idempotent: it can run again.
#
#   scripts/up.sh --detach && scripts/demo.sh [--seed N] [--addr HOST:PORT] [--pki DIR]
#
# Everything is in clients/python/demo.py (run with Debian's /usr/bin/python3,
# which has python3-grpcio); `scripts/demo.sh --help` lists the options.
set -euo pipefail

ENLACE_SCRIPT_NAME=demo.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if ! "${ENLACE_PYTHON}" -c 'import grpc, google.protobuf' 2>/dev/null; then
  die "${ENLACE_PYTHON} cannot import grpc: apt-get install python3-grpcio python3-protobuf (or run scripts/up.sh once)"
fi
command -v protoc >/dev/null 2>&1 || die "protoc not found: apt-get install protobuf-compiler (or run scripts/up.sh once)"
[[ -x /usr/bin/grpc_python_plugin ]] || die "/usr/bin/grpc_python_plugin not found: apt-get install protobuf-compiler-grpc"

exec "${ENLACE_PYTHON}" "${ENLACE_ROOT}/clients/python/demo.py" "$@"
