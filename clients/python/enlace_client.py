"""Small helpers for Python clients of Enlace: stubs, a mutual-TLS channel, paging.

Uses only the standard library, grpcio and protobuf (Debian's python3-grpcio,
i.e. /usr/bin/python3). The stubs are generated from the repository's protos
with protoc the first time they are needed, into a cache directory keyed by
the protos' content, so an edited .proto is picked up at the next start:

    import enlace_client as ec

    api = ec.load_stubs()                       # protoc -> cache, then import
    parser = argparse.ArgumentParser()
    ec.add_connection_flags(parser)             # --addr --ca --cert --key
    args = parser.parse_args()
    channel = ec.channel_from_args(parser, args)
    referrals = api.referrals_grpc.ReferralServiceStub(channel)
    for r in ec.paged(referrals.ListReferrals,
                      api.referrals.ListReferralsRequest(box=api.referrals.BOX_INBOX),
                      "referrals"):
        print(r.referral_id)

Connection settings come from the flags, else from the environment
(ENLACE_ADDR, ENLACE_CA, ENLACE_CERT, ENLACE_KEY, ENLACE_ACTOR), as for
`enlacectl`; the address defaults to localhost:7443. The certificate is the
caller's identity; the actor (--actor) is the staff member on whose behalf it
calls, sent as `enlace-actor` metadata with every call: an opaque staff
identifier, which the server's policy requires for arrival, case and referral
calls.

Environment for the stubs: ENLACE_PROTOS (the protos/ directory; default: the
repository's, found from this file), ENLACE_STUB_CACHE (where generated code
is kept; default: <tmp>/enlace-py-stubs-<uid>).
"""

import glob
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

import grpc

DEFAULT_ADDR = "localhost:7443"
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"
PROTO_MODULES = ("arrivals", "cases", "referrals", "reports", "admin")
# Keepalive that the server accepts (it refuses pings closer than 10 s): keeps
# idle watch streams alive through NAT and notices a dead peer.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # After an outage, try the server again at least every 10 s (gRPC's default
    # backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 10000),
)

_REPO_PROTOS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "..", "..", "protos"))


class SetupError(Exception):
    """A problem with the local set-up (files, protoc), with a message for the user."""


# ----------------------------------------------------------------------- stubs

def _proto_files(protos):
    files = sorted(glob.glob(os.path.join(protos, "enlace", "v1", "*.proto")))
    if not files:
        raise SetupError(f"no .proto files under {protos}/enlace/v1 "
                         "(set ENLACE_PROTOS to the repository's protos/ directory)")
    return files


def generate_stubs(protos, out_dir):
    """Runs protoc for protos/enlace/v1/*.proto into out_dir (Python + gRPC)."""
    if not os.access(GRPC_PLUGIN, os.X_OK):
        raise SetupError(f"{GRPC_PLUGIN} not found: apt-get install protobuf-compiler-grpc "
                         "python3-grpcio")
    cmd = ["protoc", "-I", protos, f"--python_out={out_dir}", f"--grpc_out={out_dir}",
           f"--plugin=protoc-gen-grpc={GRPC_PLUGIN}", *_proto_files(protos)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SetupError("protoc not found: apt-get install protobuf-compiler") from None
    if res.returncode != 0:
        raise SetupError(f"protoc failed ({res.returncode}):\n{res.stderr}")


def load_stubs(protos=None, cache=None):
    """Generates (once per content of the protos) and imports the stubs.

    Returns a namespace with the message modules `arrivals`, `cases`,
    `referrals`, `reports`, `admin` and the service modules `arrivals_grpc`,
    `cases_grpc`, ... (e.g. `api.referrals.BOX_INBOX`,
    `api.referrals_grpc.ReferralServiceStub`).
    """
    protos = os.path.abspath(protos or os.environ.get("ENLACE_PROTOS") or _REPO_PROTOS)
    files = _proto_files(protos)
    digest = hashlib.sha256()
    for path in files:
        digest.update(os.path.relpath(path, protos).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
    base = cache or os.environ.get("ENLACE_STUB_CACHE") or os.path.join(
        tempfile.gettempdir(), f"enlace-py-stubs-{os.getuid()}")
    target = os.path.join(base, digest.hexdigest()[:16])
    if not os.path.isfile(os.path.join(target, "enlace", "v1", "admin_pb2_grpc.py")):
        os.makedirs(base, mode=0o700, exist_ok=True)
        staging = tempfile.mkdtemp(prefix="gen-", dir=base)
        try:
            generate_stubs(protos, staging)
            try:
                os.rename(staging, target)  # atomic: a concurrent run may have won
            except OSError:
                if not os.path.isdir(target):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if target not in sys.path:
        sys.path.insert(0, target)
    api = types.SimpleNamespace(protos=protos, stub_dir=target)
    for name in PROTO_MODULES:
        setattr(api, name, importlib.import_module(f"enlace.v1.{name}_pb2"))
        setattr(api, f"{name}_grpc", importlib.import_module(f"enlace.v1.{name}_pb2_grpc"))
    return api


# ------------------------------------------------------------------ connection

ACTOR_METADATA_KEY = "enlace-actor"


def add_connection_flags(parser, default_addr=None):
    """--addr --ca --cert --key --actor, each falling back to ENLACE_ADDR, ENLACE_CA, ..."""
    g = parser.add_argument_group("connection (flags win over the environment)")
    g.add_argument("--addr", default=None,
                   help=f"server address (env ENLACE_ADDR; default "
                        f"{default_addr or DEFAULT_ADDR})")
    g.add_argument("--ca", default=None, help="CA certificate, PEM (env ENLACE_CA)")
    g.add_argument("--cert", default=None,
                   help="client certificate, PEM: it is your identity (env ENLACE_CERT)")
    g.add_argument("--key", default=None, help="client private key, PEM (env ENLACE_KEY)")
    g.add_argument("--actor", default=None,
                   help="your staff identifier, sent with every call (env ENLACE_ACTOR)")
    parser.set_defaults(_default_addr=default_addr or DEFAULT_ADDR)


def connection_settings(args):
    """(addr, ca, cert, key) from parsed flags, else the environment."""
    env = os.environ.get
    addr = args.addr or env("ENLACE_ADDR") or getattr(args, "_default_addr", DEFAULT_ADDR)
    return (addr, args.ca or env("ENLACE_CA"), args.cert or env("ENLACE_CERT"),
            args.key or env("ENLACE_KEY"))


def actor_setting(args):
    """The actor from --actor, else ENLACE_ACTOR, else None."""
    return getattr(args, "actor", None) or os.environ.get("ENLACE_ACTOR") or None


class _ActorInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                        grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `enlace-actor: <actor>` to the metadata of every call."""

    def __init__(self, actor):
        self._actor = actor

    def _with_actor(self, details):
        metadata = [(k, v) for k, v in (details.metadata or ()) if k != ACTOR_METADATA_KEY]
        metadata.append((ACTOR_METADATA_KEY, self._actor))
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_actor(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_actor(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_actor(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_actor(details), requests)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


def with_actor(channel, actor):
    """`channel`, sending `actor` as enlace-actor with every call (None: unchanged)."""
    return grpc.intercept_channel(channel, _ActorInterceptor(actor)) if actor else channel


def _read_pem(what, path, marker):
    if not path:
        raise SetupError(f"no {what} given")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SetupError(f"cannot read {what} {path}: {e.strerror}") from None
    if marker not in data:
        raise SetupError(f"{what} {path} holds no PEM {marker.decode().strip('-')}")
    return data


def secure_channel(addr, ca, cert, key, options=CHANNEL_OPTIONS, actor=None):
    """A mutual-TLS channel; the files are PEM. With `actor`, every call names it
    (enlace-actor). Raises SetupError on bad files."""
    if not addr:
        raise SetupError("no server address given")
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read_pem("CA certificate (--ca / ENLACE_CA)", ca,
                                    b"-----BEGIN CERTIFICATE-----"),
        private_key=_read_pem("client private key (--key / ENLACE_KEY)", key,
                              b"PRIVATE KEY-----"),
        certificate_chain=_read_pem("client certificate (--cert / ENLACE_CERT)", cert,
                                    b"-----BEGIN CERTIFICATE-----"))
    return with_actor(grpc.secure_channel(addr, creds, options=list(options)), actor)


def channel_from_args(parser, args):
    """secure_channel() from the flags/environment; a bad set-up ends the program
    through parser.error (exit status 2)."""
    try:
        return secure_channel(*connection_settings(args), actor=actor_setting(args))
    except SetupError as e:
        parser.error(str(e))


def pki_channel(addr, pki_dir, name, actor=None):
    """Channel as `name` with the files of an `enlacectl pki init` directory
    (ca.crt, <name>.crt, <name>.key), naming `actor` in every call when given."""
    return secure_channel(addr, os.path.join(pki_dir, "ca.crt"),
                          os.path.join(pki_dir, f"{name}.crt"),
                          os.path.join(pki_dir, f"{name}.key"), actor=actor)


# ----------------------------------------------------------------------- calls

def paged(method, request, field, page_size=500, timeout=60.0):
    """Yields every item of a List RPC, following next_page_token.

    `request` is copied; its page_size and page_token are set here."""
    req = type(request)()
    req.CopyFrom(request)
    req.page_size = page_size
    req.page_token = ""
    while True:
        resp = method(req, timeout=timeout)
        yield from getattr(resp, field)
        if not resp.next_page_token:
            return
        req.page_token = resp.next_page_token


def describe(error):
    """'CODE: details' for a grpc.RpcError."""
    code = error.code() if hasattr(error, "code") else None
    name = code.name if code is not None else "ERROR"
    return f"{name}: {error.details() if hasattr(error, 'details') else error}"


def enum_name(enum_type, value, prefix=""):
    """NEED_SEED_CAPITAL -> 'SEED_CAPITAL' with prefix 'NEED_' (unknown values as numbers)."""
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    return name[len(prefix):] if prefix and name.startswith(prefix) else name
