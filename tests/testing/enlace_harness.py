"""The shared harness of Enlace's Python end-to-end tests.

The Python tests that ctest runs (tests/interop/arrivals_interop_test.py and
tests/e2e/*_test.py) each start the real `enlace-server` binary over mutual
TLS with a fresh PKI (`enlacectl pki init`) and a fresh database, and talk to
it as a foreign client would: with grpcio stubs generated from protos/, or
through the `enlacectl` binary. This module is that set-up, once:

  - the command line every such test takes (--server --enlacectl --policy,
    optionally --protos) and the checks before any test runs: without
    ENLACE_TEST_DB_DSN a test fails, it never skips;
  - ServerTestCase: one temporary directory, PKI, database and server for a
    test class, all removed afterwards (also when set-up or a test fails);
    the server's log is printed when it does not start or does not stop
    cleanly. As in production, the database is migrated by
    `enlace-server --migrate` as the administrator (ENLACE_TEST_DB_DSN's
    user), and the server connects as a database user of its own with only
    the grants of db/grants.h; with CA_ROLE, a second process, the CA role
    (--role=ca), alone holds the CA key and issues certificates;
  - stubs generated with protoc at test time, mutual-TLS channels, the
    `mariadb` client, the environment `enlacectl` connects with, and
    EnlacectlChecks (ok/fails/json_of) for tests that drive `enlacectl`.

It needs only the standard library (grpcio only to make channels), so it runs
under Debian's /usr/bin/python3 like the tests. A test is a script, run by
ctest; it finds this module relative to its own file (tests/<dir>/x_test.py):

    import os
    import sys

    _TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
    import enlace_harness as harness  # noqa: E402

    api = None  # the generated stubs, set by main()
    log = harness.set_log_tag("my-test")

    class MyTest(harness.ServerTestCase):
        TMP_PREFIX = "enlace-my-test-"   # its temporary directory
        DB_PREFIX = "enlace_my_test_"    # its database: + 12 random hex digits

        @classmethod
        def setUpClass(cls):
            super().setUpClass()         # PKI, database, server; cls.addr, cls.pki ...
            cls.mfa = api.arrivals_grpc.ArrivalServiceStub(cls.channel("mfa"))

        def test_something(self):
            ...

    def main():
        global api
        args, rest = harness.parse_args(__doc__, protos=True)
        if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
            return 1  # it printed "FAIL: ..."
        with harness.generated_stubs(args.protos, "enlace-my-test-gen-") as api:
            return harness.run_tests(args, rest)

    if __name__ == "__main__":
        sys.exit(main())

and is run as ctest runs it (tests/CMakeLists.txt), with the MariaDB that
scripts/test.sh starts or one of your own (scripts/lib/mariadb.sh,
mariadb_test_server, sets both variables; the password may also be in the DSN):

    ENLACE_TEST_DB_DSN=mysql://root@127.0.0.1:3399/ ENLACE_DB_PASSWORD=... /usr/bin/python3 \\
        tests/e2e/my_test.py --server build/server/enlace-server \\
        --enlacectl build/clients/enlacectl --protos protos \\
        --policy server/default_policy.conf [unittest args, e.g. -k test_something]
"""

import argparse
import base64
import contextlib
import glob
import importlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import unittest
import urllib.parse

# The repository (this file is tests/testing/enlace_harness.py).
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DSN_ENV = "ENLACE_TEST_DB_DSN"
PASSWORD_ENV = "ENLACE_DB_PASSWORD"  # the password of a DSN that names none (db/dsn.h)
START_TIMEOUT = 60.0   # seconds for the server to write its ready file
STOP_TIMEOUT = 15.0    # seconds for a process to end after SIGTERM before it is killed
TOOL_TIMEOUT = 60.0    # seconds for one run of `enlacectl pki init` or `mariadb`
SERVER_LOG_TAIL = 20000  # characters of the server's log shown on a failure
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"
READY_KEYS = ("tls_port", "health_port", "metrics_port")  # what --ready_file holds

_log_tag = "e2e"


# -------------------------------------------------------------------- logging

def set_log_tag(tag):
    """Sets the "[tag]" that log() puts before each message, and returns log.

    Call it once, at the top of the test script: the harness's own messages
    (server start and stop, cleanup problems) then carry the test's tag."""
    global _log_tag
    _log_tag = tag
    return log


def log(msg):
    """Prints "[tag] msg" to stderr at once (ctest shows it with -V or on failure)."""
    print(f"[{_log_tag}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------- command line, checks

def parse_args(doc, *, protos=False, extra_flags=()):
    """Parses the command line every end-to-end test takes.

    Flags: --server (enlace-server), --enlacectl, --policy, with protos=True
    also --protos (the repository's protos/, made absolute), and each
    (flag, help) of extra_flags, all required. `doc` is the test's module
    docstring: its first paragraph is the --help description. Returns
    (args, rest): the arguments the flags do not take go to unittest.
    A missing flag ends the program with argparse's usage error (exit 2)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="path to enlace-server")
    parser.add_argument("--enlacectl", required=True, help="path to enlacectl")
    if protos:
        parser.add_argument("--protos", required=True,
                            help="the repository's protos/ directory")
    parser.add_argument("--policy", required=True, help="the policy file for the server")
    for flag, help_text in extra_flags:
        parser.add_argument(flag, required=True, help=help_text)
    args, rest = parser.parse_known_args()
    if protos:
        args.protos = os.path.abspath(args.protos)
    return args, rest


def check_prerequisites(args, *, tools=("mariadb",), files=()):
    """Checks what every test needs before anything starts, so that a missing
    piece fails clearly instead of skipping or failing half-way.

    In order: ENLACE_TEST_DB_DSN is set (a test fails without it, never
    skips) and is a mysql:// DSN (else SystemExit with the reason, exit 1);
    args.server and args.enlacectl are executables; each of `tools` is on
    PATH ("protoc" also needs /usr/bin/grpc_python_plugin); each of `files`
    exists. Prints "FAIL: ..." for the first problem to stderr and returns
    False (the test then exits 1); True when all is there."""
    if not os.environ.get(DSN_ENV):
        _fail(f"{DSN_ENV} is not set. This test needs a running MariaDB: "
              f"run through scripts/test.sh (it starts one and sets "
              f"{DSN_ENV}=mysql://root@127.0.0.1:PORT/).")
        return False
    parse_dsn(os.environ[DSN_ENV])
    for path in (args.server, args.enlacectl):
        if not os.access(path, os.X_OK):
            _fail(f"{path} is not an executable")
            return False
    for tool in tools:
        if shutil.which(tool) is None:
            _fail(f"`{tool}` is not on PATH")
            return False
        if tool == "protoc" and not os.access(GRPC_PLUGIN, os.X_OK):
            _fail(f"{GRPC_PLUGIN} is not an executable (it generates the gRPC stubs)")
            return False
    for path in files:
        if not os.path.isfile(path):
            _fail(f"{path} not found")
            return False
    return True


def _fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)


def run_tests(args, rest):
    """Runs the unittest tests of the __main__ module (the test script) with
    `rest` as unittest's arguments (e.g. -k NAME, -f), verbosely.

    `args` (from parse_args) becomes ServerTestCase.args, which set-up reads.
    Returns the exit status: 0 when every test passed, else 1."""
    ServerTestCase.args = args
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


# ------------------------------------------------------------------- database

def parse_dsn(dsn):
    """mysql://user[:password]@host:port/[db] -> urllib's SplitResult.

    Anything else ends the program (SystemExit, exit 1) naming the variable."""
    u = urllib.parse.urlsplit(dsn)
    if u.scheme != "mysql" or not u.hostname:
        raise SystemExit(f"{DSN_ENV}={dsn!r}: expected mysql://user@host:port/")
    return u


def dsn_with_database(dsn, dbname):
    """The DSN `dsn` (its user, password, host, port, options) naming database `dbname`."""
    u = parse_dsn(dsn)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, ""))


def unique_database_name(prefix):
    """prefix + 12 random hex digits: a database name no other run uses."""
    return prefix + secrets.token_hex(6)


def dsn_password(dsn):
    """The password of `dsn`: its own, else ENLACE_DB_PASSWORD's (as
    enlace-server reads a DSN), else empty."""
    u = parse_dsn(dsn)
    if u.password:
        return urllib.parse.unquote(u.password)
    return os.environ.get(PASSWORD_ENV, "")


def dsn_for_user(dsn, dbname, user, password=None):
    """`dsn`'s host and port (or socket option) for `user`, naming `dbname`;
    with the password when given (pass such a DSN in the environment, never on
    a command line)."""
    u = parse_dsn(dsn)
    host = u.hostname + (f":{u.port}" if u.port else "")
    credentials = user + (f":{password}" if password else "")
    return urllib.parse.urlunsplit((u.scheme, f"{credentials}@{host}", "/" + dbname, u.query, ""))


def mariadb(dsn, sql, database=None):
    """Runs `sql` with the `mariadb` client as the user of `dsn` (the password,
    if any, from the DSN or ENLACE_DB_PASSWORD, through MYSQL_PWD; the SQL
    through stdin: neither on the command line), in `database` if given.

    Returns its output: tab-separated, without column names (-N -B). A failure
    raises AssertionError with the client's message (in a test: a failure);
    a hang raises subprocess.TimeoutExpired after TOOL_TIMEOUT."""
    u = parse_dsn(dsn)
    env = dict(os.environ)
    password = dsn_password(dsn)
    if password:
        env["MYSQL_PWD"] = password
    query = urllib.parse.parse_qs(u.query)
    if "socket" in query:
        where = [f"--socket={query['socket'][0]}"]
    else:
        where = ["--protocol=TCP", f"-h{u.hostname}", f"-P{u.port or 3306}"]
    cmd = ["mariadb", "--no-defaults", *where,
           f"-u{urllib.parse.unquote(u.username or 'root')}", "-N", "-B"]
    if database:
        cmd.append(database)
    res = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=env,
                         timeout=TOOL_TIMEOUT)
    if res.returncode != 0:
        raise AssertionError(f"mariadb {sql!r} failed: {res.stderr.strip()}")
    return res.stdout


def drop_database(dsn, dbname):
    """DROP DATABASE IF EXISTS `dbname`; a refusal is logged, not raised, so
    that the rest of the cleanup still runs."""
    try:
        mariadb(dsn, f"DROP DATABASE IF EXISTS `{dbname}`")
    except AssertionError as e:
        log(f"could not drop database {dbname}: {e}")


def create_server_user(dsn, user):
    """As the administrator of `dsn`: a new database account 'user'@'%' with a
    random password and no privilege (`enlace-server --migrate` grants it
    what it needs). Returns the password."""
    password = secrets.token_hex(16)
    mariadb(dsn, f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    return password


def drop_user(dsn, user):
    """DROP USER IF EXISTS 'user'@'%'; a refusal is logged, not raised."""
    try:
        mariadb(dsn, f"DROP USER IF EXISTS '{user}'@'%'")
    except AssertionError as e:
        log(f"could not drop database user {user}: {e}")


def server_env(**settings):
    """This process's environment without any ENLACE_* variable (none of the
    test runner's passwords reaches a server by accident), plus `settings`
    (e.g. ENLACE_DB_DSN=...): how a server gets its DSN and passwords, never
    on its command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENLACE_")}
    env.update({k: v for k, v in settings.items() if v is not None})
    return env


def migrate(binary, admin_dsn, server_dsn, workdir):
    """`enlace-server --migrate`: the schema of `server_dsn`'s database,
    migrated as the administrator `admin_dsn` (the migration user), and the
    grants of db/grants.h given to `server_dsn`'s user. Both DSNs and the
    password go through the environment. Raises RuntimeError with the output
    when it fails."""
    env = server_env(ENLACE_MIGRATE_DSN=admin_dsn,
                     ENLACE_MIGRATE_PASSWORD=dsn_password(admin_dsn) or None,
                     ENLACE_DB_DSN=server_dsn)
    res = subprocess.run([os.path.abspath(binary), "--migrate"], capture_output=True, text=True, env=env,
                         cwd=workdir, timeout=TOOL_TIMEOUT)
    if res.returncode != 0:
        raise RuntimeError(f"enlace-server --migrate failed ({res.returncode}):\n"
                           f"{res.stdout}{res.stderr}")
    return res


# ------------------------------------------------------------------------ PKI

def make_pki(enlacectl, directory):
    """`enlacectl pki init --dir directory`: the development PKI (ca.crt/.key,
    server.crt/.key, and <name>.crt/.key for admin, mfa, iom, unhcr, undp),
    and token_keys, the key that signs page and resume tokens (one random key,
    so that every server started on this PKI honours the others' tokens).

    Returns `directory`; raises RuntimeError with enlacectl's output if it fails."""
    res = subprocess.run([enlacectl, "pki", "init", "--dir", directory],
                         capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    if res.returncode != 0:
        raise RuntimeError(f"enlacectl pki init failed ({res.returncode}):\n"
                           f"{res.stdout}{res.stderr}")
    keys = os.path.join(directory, "token_keys")
    if not os.path.exists(keys):
        with open(os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(f"k1 {base64.b64encode(secrets.token_bytes(32)).decode()}\n")
    return directory


def read_pki_file(pki, name):
    """The bytes of file `name` (e.g. "ca.crt", "iom.key") of a PKI directory."""
    with open(os.path.join(pki, name), "rb") as f:
        return f.read()


def test_actor(identity):
    """The staff member the tests act for on behalf of `identity` (the shipped
    policy requires one, as `enlace-actor` metadata, for every arrival, case
    and referral call of an agency): "<identity>-staff-0001"."""
    return f"{identity}-staff-0001"


_TEST_ACTOR = object()  # mtls_channel's default: test_actor(identity)


def mtls_channel(addr, pki, identity, actor=_TEST_ACTOR):
    """A grpc channel to `addr` over mutual TLS as `identity` of a PKI made by
    make_pki (its ca.crt, <identity>.crt and <identity>.key), whose calls name
    `actor` (default test_actor(identity); None: no actor), through the client
    package's interceptor. The caller closes it."""
    import grpc  # only the tests that make channels need grpcio
    creds = grpc.ssl_channel_credentials(
        root_certificates=read_pki_file(pki, "ca.crt"),
        private_key=read_pki_file(pki, f"{identity}.key"),
        certificate_chain=read_pki_file(pki, f"{identity}.crt"))
    if actor is _TEST_ACTOR:
        actor = test_actor(identity)
    return client_package().with_actor(grpc.secure_channel(addr, creds), actor)


def client_package():
    """The Python client package (clients/python/enlace_client.py), imported."""
    path = os.path.join(_ROOT, "clients", "python")
    if path not in sys.path:
        sys.path.append(path)
    import enlace_client  # noqa: E402
    return enlace_client


def enlacectl_env(addr, pki, identity=None, cert=None, key=None, ca_addr=None,
                  actor=_TEST_ACTOR):
    """The environment to run `enlacectl` with: this process's, without any
    ENLACE_* variable, plus the connection settings ENLACE_ADDR, ENLACE_CA,
    ENLACE_CERT, ENLACE_KEY for `identity` of the PKI (or the given cert/key
    files) when identity or cert is given, and ENLACE_CA_ADDR (where `certs
    issue` finds the CA role) when ca_addr is given; with neither identity nor
    cert, no connection settings at all (for offline commands and usage
    errors). With `identity`, ENLACE_ACTOR is test_actor(identity) unless
    `actor` says otherwise (None: no actor). Messages are in English whatever this process's language
    (enlacectl speaks Spanish under LANG=es_*: docs/cli.md)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ENLACE_") and k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env["LANG"] = "C.UTF-8"
    if identity is not None or cert is not None:
        env.update(ENLACE_ADDR=addr,
                   ENLACE_CA=os.path.join(pki, "ca.crt"),
                   ENLACE_CERT=cert or os.path.join(pki, f"{identity}.crt"),
                   ENLACE_KEY=key or os.path.join(pki, f"{identity}.key"))
        if identity is not None and actor is _TEST_ACTOR:
            env.update(ENLACE_ACTOR=test_actor(identity))
        elif actor not in (None, _TEST_ACTOR):
            env.update(ENLACE_ACTOR=actor)
        if ca_addr is not None:
            env.update(ENLACE_CA_ADDR=ca_addr)
    return env


# enlacectl's exit status for the gRPC codes that have one of their own
# (kExitCodes in clients/cli/cli.h, docs/cli.md); any other failure is 1.
ENLACECTL_EXIT = {
    "UNAUTHENTICATED": 4,
    "PERMISSION_DENIED": 5,
    "NOT_FOUND": 6,
    "UNAVAILABLE": 7,
    "DEADLINE_EXCEEDED": 7,
}


class EnlacectlChecks:
    """Assertions on `enlacectl` runs, mixed into a unittest.TestCase that has
    a method ctl(*args, **kw) running enlacectl and returning its
    subprocess.CompletedProcess (text output); ok/fails/json_of pass **kw on.

    FAILS_ALONE chooses how strict fails() is about stderr: True, the error
    line must be all of it; False, its last line (for commands that report
    progress or rejected rows on stderr first)."""

    FAILS_ALONE = True

    def ok(self, *args, **kw):
        """ctl(...) must exit 0; returns the result."""
        res = self.ctl(*args, **kw)
        self.assertEqual(res.returncode, 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def fails(self, code, *args, **kw):
        """ctl(...) must exit with the exit status of `code` (ENLACECTL_EXIT:
        4 to 7 for the codes that have one, else 1) and the line
        "enlacectl: <code>: <message>" (code: a gRPC status name) closing
        stderr (see FAILS_ALONE); returns the result."""
        res = self.ctl(*args, **kw)
        self.assertEqual(res.returncode, ENLACECTL_EXIT.get(code, 1),
                         f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        before = r"\A" if self.FAILS_ALONE else r"(?:\A|\n)"
        self.assertRegex(res.stderr, rf"{before}enlacectl: {code}: \S.*\n\Z")
        return res

    def json_of(self, *args, **kw):
        """ok(..., "--output", "json"): returns its stdout parsed as JSON."""
        res = self.ok(*args, "--output", "json", **kw)
        return json.loads(res.stdout)


# ---------------------------------------------------------------------- stubs

@contextlib.contextmanager
def generated_stubs(protos, prefix):
    """protoc for protos/enlace/v1/*.proto into a new temporary directory
    (named with `prefix`), removed when the block ends.

    Yields a namespace with each proto's message module and service module,
    e.g. api.arrivals (arrivals_pb2) and api.arrivals_grpc (arrivals_pb2_grpc);
    `from enlace.v1 import ...` works as well inside the block. A missing
    .proto or a protoc error ends the program (SystemExit, exit 1)."""
    out_dir = tempfile.mkdtemp(prefix=prefix)
    try:
        yield generate_stubs(protos, out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def generate_stubs(protos, out_dir):
    """protoc -> out_dir, which goes first on sys.path; returns the namespace
    of generated_stubs()."""
    files = sorted(glob.glob(os.path.join(protos, "enlace", "v1", "*.proto")))
    if not files:
        raise SystemExit(f"no .proto files under {protos}/enlace/v1")
    cmd = ["protoc", "-I", protos, f"--python_out={out_dir}", f"--grpc_out={out_dir}",
           f"--plugin=protoc-gen-grpc={GRPC_PLUGIN}", *files]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"protoc failed ({res.returncode}):\n{res.stderr}")
    sys.path.insert(0, out_dir)
    api = types.SimpleNamespace()
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        setattr(api, name, importlib.import_module(f"enlace.v1.{name}_pb2"))
        setattr(api, f"{name}_grpc", importlib.import_module(f"enlace.v1.{name}_pb2_grpc"))
    return api


def api_methods(api):
    """Every (service, method) descriptor pair of the API's generated modules
    (a namespace of generated_stubs()), in file and declaration order: tests
    that must cover every RPC find them here, so a new RPC is covered at once."""
    modules = sorted((m for m in vars(api).values()
                      if getattr(m, "DESCRIPTOR", None) is not None
                      and m.DESCRIPTOR.services_by_name),
                     key=lambda m: m.DESCRIPTOR.name)
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield service, method


def api_message_class(api, descriptor):
    """The generated class of a top-level message of the API."""
    module = getattr(api, os.path.splitext(os.path.basename(descriptor.file.name))[0])
    return getattr(module, descriptor.name)


def method_callable(api, channel, service, method):
    """A grpcio multi-callable for `method` of `service` (descriptors) on
    `channel`, of the method's kind (unary_unary, unary_stream or
    stream_stream), sending the request message and parsing the response."""
    response_class = api_message_class(api, method.output_type)
    full = f"/{service.full_name}/{method.name}"
    if method.client_streaming:
        make = channel.stream_stream
    elif method.server_streaming:
        make = channel.unary_stream
    else:
        make = channel.unary_unary
    return make(full, request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=response_class.FromString)


# ------------------------------------------------------------------ processes

def stop_process(proc, name, timeout=STOP_TIMEOUT):
    """Ends `proc` (a subprocess.Popen) as an operator would: SIGTERM, then
    up to `timeout` seconds for it to exit, then SIGKILL (logged).

    Returns True if it ended by itself (proc.returncode is its status),
    False if it had to be killed. Does nothing to a process that has ended."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        log(f"{name} ignored SIGTERM for {timeout:.0f} s: killing it")
        proc.kill()
        proc.wait()
        return False


class EnlaceServer:
    """The real enlace-server binary over mutual TLS, on free ports of 127.0.0.1.

    start() launches it with a --ready_file in `workdir` and waits for it;
    its stdout and stderr go to workdir/server.log (workdir/ca.log for the
    CA role). Afterwards tls_port, health_port and metrics_port are the ports
    it listens on (0 for a listener that was switched off) and addr is
    "localhost:<tls_port>" (the name in the server certificate). stop() ends
    it (SIGTERM, then kill) and prints its log unless it exited 0."""

    def __init__(self, binary, *, pki, policy, dsn, workdir, role="serving", health=True,
                 metrics=True, extra_args=()):
        """`pki` is a directory made by make_pki; `dsn` the server user's DSN
        (with its password: it goes in ENLACE_DB_DSN, not on the command
        line); role="ca" makes the CA role, the one process given the CA key
        (--ca_key) to sign CSRs; health/metrics=False switch off the plaintext
        health port and the metrics port; extra_args go on the command line."""
        self.env = server_env(ENLACE_DB_DSN=dsn)
        self.cmd = [binary, f"--role={role}", f"--ca_cert={pki}/ca.crt"]
        if role == "ca":
            self.cmd.append(f"--ca_key={pki}/ca.key")
        name = "ca" if role == "ca" else "server"
        self.ready_path = os.path.join(workdir, f"{name}.ready")
        self.cmd += [f"--server_cert={pki}/server.crt", f"--server_key={pki}/server.key",
                     f"--policy={policy}", "--tls_addr=127.0.0.1:0",
                     f"--token_keys={pki}/token_keys",
                     "--health_addr=" + ("127.0.0.1:0" if health else ""),
                     "--metrics_addr=" + ("127.0.0.1:0" if metrics else ""),
                     # No drain on SIGTERM: no load balancer to wait for
                     # (a test of the drain passes its own in extra_args).
                     "--drain_seconds=0",
                     f"--ready_file={self.ready_path}", *extra_args]
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self._log_file = None
        self._stopped = False
        self.tls_port = self.health_port = self.metrics_port = None
        self.addr = None

    def start(self, timeout=START_TIMEOUT):
        """Starts the server and waits until its ready file names all ports.

        Raises RuntimeError, with the server's log, if it exits first or is
        not ready within `timeout` seconds; call stop() in any case."""
        self._log_file = open(self.log_path, "wb")
        log(f"starting {' '.join(self.cmd)}")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        ports = self._wait_ready(timeout)
        self.tls_port = ports["tls_port"]
        self.health_port = ports["health_port"]
        self.metrics_port = ports["metrics_port"]
        self.addr = f"localhost:{self.tls_port}"
        log(f"server ready: {ports}")
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(f"enlace-server exited with {rc} before it was ready; "
                                   f"its log:\n{self.log_text()}")
            if os.path.exists(self.ready_path):  # written whole, then renamed
                with open(self.ready_path) as f:
                    kv = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
                if all(kv.get(k, "").isdigit() for k in READY_KEYS):
                    return {k: int(kv[k]) for k in READY_KEYS}
            time.sleep(0.1)
        raise RuntimeError(f"enlace-server not ready after {timeout:.0f} s; "
                           f"its log:\n{self.log_text()}")

    def log_text(self):
        """The end of the server's log (SERVER_LOG_TAIL characters), or why it
        cannot be read."""
        try:
            if self._log_file and not self._log_file.closed:
                self._log_file.flush()
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-SERVER_LOG_TAIL:]
        except OSError as e:
            return f"(cannot read {self.log_path}: {e})"

    def stop(self):
        """Ends the server (stop_process) and closes its log; logs "stopped
        cleanly", or its exit status and log. Safe to call more than once,
        and when start() failed or was never called."""
        if self._stopped:
            return
        self._stopped = True
        if self.proc is not None:
            stop_process(self.proc, "enlace-server")
            rc = self.proc.returncode
            if rc != 0:
                log(f"enlace-server ended with {rc}; its log:\n{self.log_text()}")
            else:
                log("enlace-server stopped cleanly")
        if self._log_file:
            self._log_file.close()


# ----------------------------------------------------------------- test class

class ServerTestCase(unittest.TestCase):
    """A unittest class with one server and one database for the whole class.

    setUpClass makes, each removed again by a class cleanup (in reverse
    order, also when set-up itself fails):
      cls.tmp      a temporary directory (TMP_PREFIX),
      cls.pki      its pki/ subdirectory, made by `enlacectl pki init`,
      cls.base_dsn ENLACE_TEST_DB_DSN (the administrator), cls.dbname the
                   test's database (DB_PREFIX + random; `enlace-server
                   --migrate` creates it as the administrator, cleanup drops it),
      cls.db_user  the server's database user (srv_ + random, created with a
                   random password, granted by --migrate, dropped by cleanup),
      cls.server   the EnlaceServer, connected as cls.db_user (SERVER_HEALTH,
                   SERVER_METRICS choose its options), with cls.tls_port,
                   cls.health_port, cls.metrics_port and cls.addr,
      cls.ca_server with CA_ROLE: the CA role (--role=ca, the only process
                   with the CA key; its own TLS port, cls.ca_addr; no health
                   or metrics port), same database user; else None,
    and closes the channels that cls.channel() made. Subclasses set the class
    attributes, extend setUpClass with super().setUpClass() first, and give
    each test data of its own so that tests can run alone or in any order.
    cls.args (from parse_args) is set by run_tests()."""

    args = None
    TMP_PREFIX = "enlace-e2e-"
    DB_PREFIX = "enlace_e2e_"
    CA_ROLE = False
    SERVER_CA_KEY = False  # the older name of CA_ROLE
    SERVER_HEALTH = True
    SERVER_METRICS = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.args is None:
            raise RuntimeError("ServerTestCase.args is not set: run the tests with "
                               "enlace_harness.run_tests()")
        cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.pki = make_pki(cls.args.enlacectl, os.path.join(cls.tmp, "pki"))

        cls.base_dsn = os.environ[DSN_ENV]
        cls.dbname = unique_database_name(cls.DB_PREFIX)
        cls.addClassCleanup(drop_database, cls.base_dsn, cls.dbname)
        cls.db_user = "srv_" + cls.dbname[-12:]
        cls.addClassCleanup(drop_user, cls.base_dsn, cls.db_user)
        password = create_server_user(cls.base_dsn, cls.db_user)
        server_dsn = dsn_for_user(cls.base_dsn, cls.dbname, cls.db_user, password)
        migrate(cls.args.server, dsn_with_database(cls.base_dsn, cls.dbname),
                dsn_for_user(cls.base_dsn, cls.dbname, cls.db_user), cls.tmp)

        cls.ca_server = cls.ca_addr = None
        extra = list(cls.server_args())
        if cls.CA_ROLE or cls.SERVER_CA_KEY:
            cls.ca_server = EnlaceServer(cls.args.server, pki=cls.pki, policy=cls.args.policy,
                                         dsn=server_dsn, workdir=cls.tmp, role="ca",
                                         health=False, metrics=False, extra_args=extra)
            cls.addClassCleanup(cls.ca_server.stop)
            cls.ca_server.start()
            cls.ca_addr = cls.ca_server.addr
            extra.append(f"--ca_role_addr={cls.ca_addr}")
        cls.server = EnlaceServer(cls.args.server, pki=cls.pki, policy=cls.args.policy,
                                  dsn=server_dsn, workdir=cls.tmp,
                                  health=cls.SERVER_HEALTH, metrics=cls.SERVER_METRICS,
                                  extra_args=extra)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.tls_port, cls.addr = cls.server.tls_port, cls.server.addr
        cls.health_port, cls.metrics_port = cls.server.health_port, cls.server.metrics_port

        cls.channels = []
        cls.addClassCleanup(cls._close_channels)

    @classmethod
    def server_args(cls):
        """More command-line arguments for the class's server, and for its CA
        role too (e.g. a shared --crl_dir under cls.tmp, which exists, like
        cls.pki, when set-up calls this). None by default."""
        return ()

    @classmethod
    def _close_channels(cls):
        for ch in cls.channels:
            ch.close()

    @classmethod
    def channel(cls, identity):
        """A mutual-TLS channel to the server as `identity` of cls.pki, closed
        by the class cleanup."""
        ch = mtls_channel(cls.addr, cls.pki, identity)
        cls.channels.append(ch)
        return ch

    @classmethod
    def shared_channel(cls, identity):
        """Like channel(), but one channel per identity for the whole class:
        for tests that call as many identities many times."""
        shared = cls.__dict__.get("_shared_channels")
        if shared is None:
            shared = {}
            cls._shared_channels = shared
        if identity not in shared:
            shared[identity] = cls.channel(identity)
        return shared[identity]

    @classmethod
    def read_pki(cls, name):
        """The bytes of file `name` of cls.pki (e.g. "ca.crt")."""
        return read_pki_file(cls.pki, name)
