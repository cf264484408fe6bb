#!/usr/bin/python3
"""Interop test: an independent verifier of the audit log's transparency, in Python.

Starts the real `enlace-server` binary over mutual TLS (a fresh PKI and
database, through tests/testing/enlace_harness.py) with a log key this test
makes with `cryptography`, and checks what the server serves with code of its
own, written from the specifications and sharing nothing with the C++:

  - RFC 9162 (RFC 6962) Merkle hashing, inclusion and consistency proof
    verification (sections 2.1.3.2 and 2.1.4.2);
  - the audit leaf format of docs/audit.md, recomputed from ListAuditEvents;
  - C2SP signed notes and tlog-checkpoint: the log's Ed25519 signature and
    key id; C2SP tlog-cosignature: a witness key made here, registered,
    cosigning through AddAuditCosignature, and the cosignatures the server
    serves back; and `enlacectl audit witness`'s cosignature checked here.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/interop/audit_proofs_test.py \\
      --server build/server/enlace-server --enlacectl build/clients/enlacectl \\
      --protos protos --policy server/default_policy.conf [unittest args...]

Uses the standard library, grpcio, protobuf and cryptography (Debian's
python3-grpcio and python3-cryptography, hence /usr/bin/python3).
"""

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 30.0
ORIGIN = "enlace.local/audit"
EM_DASH = "\u2014"

ad_pb = ad_grpc = None  # the generated AdminService modules, set by main()
log = harness.set_log_tag("audit-proofs")


# ------------------------------------------------------- RFC 9162, from the RFC

def sha256(data):
    return hashlib.sha256(data).digest()


def hash_leaf(data):
    return sha256(b"\x00" + data)


def hash_children(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """MTH(D[n]) of leaf hashes: the largest power of two strictly below n splits."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hash_children(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf_hash, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2, and the cases it leaves to the caller."""
    if first > second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---------------------------------------- the audit leaf, from docs/audit.md

def leaf_bytes(event):
    """ "enlace-audit-leaf-v1\\n" <seq> "\\n" then the canonical content: a tag and
    each field as "<byte length>:<bytes>\\n"; v2 (an event with an actor) adds the
    actor after the peer."""
    def field(value):
        data = value.encode() if isinstance(value, str) else value
        return str(len(data)).encode() + b":" + data + b"\n"

    at_us = event.time.seconds * 1000000 + event.time.nanos // 1000
    tag = b"enlace-audit-v2\n" if event.actor else b"enlace-audit-v1\n"
    content = tag + b"".join(field(str(v)) for v in (
        event.sequence, at_us)) + field(event.principal) + field(event.method) + \
        field(str(event.decision)) + field(str(event.status_code)) + \
        field(str(len(event.record_ids))) + b"".join(field(i) for i in event.record_ids) + \
        field(event.detail) + field(event.peer) + (field(event.actor) if event.actor else b"")
    return b"enlace-audit-leaf-v1\n" + str(event.sequence).encode() + b"\n" + content


# ------------------------------------------------- C2SP notes, from the specs

def key_id(name, sig_type, public_key):
    return sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key)[:4]


def raw_public(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)


def split_note(note):
    """(text, [(name, key id, signature)]) of a signed note."""
    cut = note.rindex("\n\n")
    text, lines = note[:cut + 1], note[cut + 2:]
    assert lines.endswith("\n"), note
    signatures = []
    for line in lines[:-1].split("\n"):
        assert line.startswith(EM_DASH + " "), line
        name, blob = line[2:].split(" ")
        raw = base64.b64decode(blob, validate=True)
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def verify_note(note, name, public_key):
    """The checkpoint body of `note` when a signature by (name, Ed25519 key)
    verifies; signatures of other keys are ignored. Raises otherwise."""
    text, signatures = split_note(note)
    wanted = key_id(name, 0x01, public_key)
    verifier = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
    good = 0
    for sig_name, sig_id, signature in signatures:
        if sig_name == name and sig_id == wanted:
            verifier.verify(signature, text.encode())  # raises InvalidSignature
            good += 1
    if not good:
        raise InvalidSignature("no signature by the log's key")
    origin, size, root, *extensions = text[:-1].split("\n")
    return origin, int(size), base64.b64decode(root, validate=True), extensions


def cosignature_message(text, timestamp):
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(text, name, key, timestamp):
    signature = key.sign(cosignature_message(text, timestamp))
    blob = key_id(name, 0x04, raw_public(key)) + struct.pack(">Q", timestamp) + signature
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n"


def verify_cosignature(text, line, name, public_key):
    """The time of `line`, a cosignature of `text` by (name, key); raises otherwise."""
    assert line.startswith(EM_DASH + " ") and line.endswith("\n"), line
    sig_name, blob = line[2:-1].split(" ")
    raw = base64.b64decode(blob, validate=True)
    if sig_name != name or raw[:4] != key_id(name, 0x04, public_key) or len(raw) != 76:
        raise InvalidSignature("not this witness's cosignature")
    timestamp = struct.unpack(">Q", raw[4:12])[0]
    ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(
        raw[12:], cosignature_message(text, timestamp))
    return timestamp


def vkey(name, sig_type, public_key):
    return (f"{name}+{key_id(name, sig_type, public_key).hex()}+"
            f"{base64.b64encode(bytes([sig_type]) + public_key).decode()}")


# ----------------------------------------------------------------- the server

class AuditServer(harness.EnlaceServer):
    """The harness's server, also given the log key this test made."""
    LOG_KEY_PATH = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if AuditServer.LOG_KEY_PATH and "--role=ca" not in self.cmd:
            self.cmd.append(f"--audit_log_key={AuditServer.LOG_KEY_PATH}")


class AuditProofsTest(harness.ServerTestCase):
    TMP_PREFIX = "enlace-audit-proofs-"
    DB_PREFIX = "enlace_audit_proofs_"

    @classmethod
    def setUpClass(cls):
        # The log key, made here: the server must sign with exactly it.
        cls.key_dir = tempfile.mkdtemp(prefix="enlace-audit-key-")
        cls.addClassCleanup(shutil.rmtree, cls.key_dir, ignore_errors=True)
        cls.log_key = ed25519.Ed25519PrivateKey.generate()
        cls.log_public = raw_public(cls.log_key)
        AuditServer.LOG_KEY_PATH = os.path.join(cls.key_dir, "audit_log.key")
        with open(os.open(AuditServer.LOG_KEY_PATH, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                  "wb") as f:
            f.write(cls.log_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        harness.EnlaceServer = AuditServer
        super().setUpClass()
        cls.admin = ad_grpc.AdminServiceStub(cls.channel("admin"))
        cls.iom = ad_grpc.AdminServiceStub(cls.channel("iom"))
        cls.undp = ad_grpc.AdminServiceStub(cls.channel("undp"))

    def make_events(self, n):
        for _ in range(n):
            self.admin.ListAgencies(ad_pb.ListAgenciesRequest(), timeout=DEADLINE)

    def checkpoint(self, stub=None, at_least=0):
        """The latest checkpoint, once it covers `at_least` events."""
        deadline = time.monotonic() + 20
        while True:
            cp = (stub or self.iom).GetAuditCheckpoint(ad_pb.GetAuditCheckpointRequest(),
                                                       timeout=DEADLINE)
            if cp.tree_size >= at_least or time.monotonic() > deadline:
                return cp
            time.sleep(1.1)  # the server signs on request at most once a second

    def events(self, up_to):
        """Every audit event with sequence <= up_to, in order (admin)."""
        out, token = [], ""
        while True:
            page = self.admin.ListAuditEvents(
                ad_pb.ListAuditEventsRequest(page_size=500, page_token=token), timeout=DEADLINE)
            out.extend(e for e in page.events if e.sequence <= up_to)
            token = page.next_page_token
            if not token or (page.events and page.events[-1].sequence >= up_to):
                return out

    def test_1_the_checkpoint_is_signed_by_the_log_key_in_the_c2sp_format(self):
        self.make_events(3)
        cp = self.checkpoint(at_least=3)
        origin, size, root, extensions = verify_note(cp.note, ORIGIN, self.log_public)
        self.assertEqual((origin, size, root, extensions),
                         (ORIGIN, cp.tree_size, cp.root_hash, []))
        text, signatures = split_note(cp.note)
        self.assertEqual(text, f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n")
        self.assertEqual([(n, i) for n, i, _ in signatures],
                         [(ORIGIN, key_id(ORIGIN, 0x01, self.log_public))])
        # Altered, it no longer verifies here either.
        with self.assertRaises(InvalidSignature):
            verify_note(cp.note.replace(f"\n{size}\n", f"\n{size + 1}\n"), ORIGIN,
                        self.log_public)

    def test_2_every_event_is_in_the_tree_its_root_is_the_checkpoints(self):
        self.make_events(6)
        cp = self.checkpoint(at_least=6)
        events = self.events(cp.tree_size)
        self.assertEqual([e.sequence for e in events], list(range(1, cp.tree_size + 1)))
        leaves = [hash_leaf(leaf_bytes(e)) for e in events]
        # The root recomputed here from the events is the one the log signed.
        self.assertEqual(mth(leaves), cp.root_hash)
        for i, event in enumerate(events):
            proof = self.iom.GetAuditInclusionProof(
                ad_pb.GetAuditInclusionProofRequest(sequence=event.sequence,
                                                    tree_size=cp.tree_size),
                timeout=DEADLINE).hashes
            self.assertTrue(verify_inclusion(i, cp.tree_size, leaves[i], list(proof),
                                             cp.root_hash), event.sequence)
            self.assertFalse(verify_inclusion(i, cp.tree_size, hash_leaf(b"forged"),
                                              list(proof), cp.root_hash))

    def test_3_consistency_proofs_between_any_sizes_verify(self):
        self.make_events(4)
        old = self.checkpoint(at_least=4)
        self.make_events(9)
        new = self.checkpoint(at_least=old.tree_size + 9)
        leaves = [hash_leaf(leaf_bytes(e)) for e in self.events(new.tree_size)]
        self.assertEqual(mth(leaves[:old.tree_size]), old.root_hash)
        self.assertEqual(mth(leaves), new.root_hash)
        n = new.tree_size
        for m in sorted({0, 1, 2, old.tree_size // 2, old.tree_size, n - 1, n}):
            proof = list(self.undp.GetAuditConsistencyProof(
                ad_pb.GetAuditConsistencyProofRequest(from_size=m, to_size=n),
                timeout=DEADLINE).hashes)
            self.assertTrue(verify_consistency(m, n, mth(leaves[:m]), new.root_hash, proof), m)
            if 0 < m < n:
                self.assertFalse(verify_consistency(m, n, hash_leaf(b"fork"), new.root_hash,
                                                    proof), m)

    def test_4_impossible_sizes_are_invalid_argument_naming_the_field(self):
        cp = self.checkpoint()
        cases = [
            (self.iom.GetAuditInclusionProof,
             ad_pb.GetAuditInclusionProofRequest(sequence=0, tree_size=1), "sequence"),
            (self.iom.GetAuditInclusionProof,
             ad_pb.GetAuditInclusionProofRequest(sequence=1, tree_size=cp.tree_size + 10**6),
             "tree_size"),
            (self.iom.GetAuditConsistencyProof,
             ad_pb.GetAuditConsistencyProofRequest(from_size=3, to_size=2), "to_size"),
            (self.iom.GetAuditConsistencyProof,
             ad_pb.GetAuditConsistencyProofRequest(from_size=-1, to_size=2), "from_size"),
        ]
        for call, request, field in cases:
            with self.assertRaises(grpc.RpcError) as caught:
                call(request, timeout=DEADLINE)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertTrue(caught.exception.details().startswith(field + ":"),
                            caught.exception.details())

    def test_5_a_witness_key_made_here_cosigns_and_forgeries_are_refused(self):
        witness = ed25519.Ed25519PrivateKey.generate()
        name = "iom.example/python-witness"
        public = raw_public(witness)
        registered = self.admin.RegisterWitnessKey(
            ad_pb.RegisterWitnessKeyRequest(agency="iom", public_key=vkey(name, 0x04, public)),
            timeout=DEADLINE)
        self.assertEqual(registered.key_id, key_id(name, 0x04, public).hex())
        cp = self.checkpoint()
        text, _ = split_note(cp.note)
        now = int(time.time())
        line = cosign(text, name, witness, now)
        cosigned = self.iom.AddAuditCosignature(
            ad_pb.AddAuditCosignatureRequest(note=cp.note, cosignature=line), timeout=DEADLINE)
        self.assertIn(line, list(cosigned.cosignatures))
        for served in cosigned.cosignatures:
            if served.split(" ")[1] == name:
                self.assertEqual(verify_cosignature(text, served, name, public), now)

        def refused(note, cosignature, stub=self.iom):
            with self.assertRaises(grpc.RpcError) as caught:
                stub.AddAuditCosignature(
                    ad_pb.AddAuditCosignatureRequest(note=note, cosignature=cosignature),
                    timeout=DEADLINE)
            return caught.exception.code(), caught.exception.details()

        blob = bytearray(base64.b64decode(line.split(" ")[2]))
        blob[40] ^= 1
        forged = f"{EM_DASH} {name} {base64.b64encode(bytes(blob)).decode()}\n"
        self.assertEqual(refused(cp.note, forged)[0], grpc.StatusCode.INVALID_ARGUMENT)
        other = text.replace(f"\n{cp.tree_size}\n", f"\n{cp.tree_size + 1}\n")
        self.assertEqual(refused(cp.note, cosign(other, name, witness, now))[0],
                         grpc.StatusCode.INVALID_ARGUMENT)
        stranger = ed25519.Ed25519PrivateKey.generate()
        self.assertEqual(refused(cp.note, cosign(text, "stranger.example/w", stranger, now))[0],
                         grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(refused(cp.note, line, self.undp)[0], grpc.StatusCode.PERMISSION_DENIED)

    def test_6_enlacectl_witness_cosignatures_verify_here(self):
        tmp = tempfile.mkdtemp(prefix="enlace-audit-cli-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        env = harness.enlacectl_env(self.addr, self.pki, "iom")
        key_file, state = os.path.join(tmp, "w.key"), os.path.join(tmp, "w.state")
        pub_file = os.path.join(tmp, "audit_log.pub")
        with open(pub_file, "wb") as f:
            f.write(self.log_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        made = subprocess.run([self.args.enlacectl, "audit", "witness-key", "--name",
                               "iom.example/cli-witness", "--out", key_file],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        printed = made.stdout.strip()
        name, hex_id, material = printed.split("+", 2)
        public = base64.b64decode(material)[1:]
        self.assertEqual(printed, vkey(name, 0x04, public))  # the key id rule, checked here
        self.admin.RegisterWitnessKey(
            ad_pb.RegisterWitnessKeyRequest(agency="iom", public_key=printed), timeout=DEADLINE)
        for _ in range(2):
            self.make_events(2)
            time.sleep(1.1)  # a new checkpoint each round
            run = subprocess.run([self.args.enlacectl, "audit", "witness", "--log-key", pub_file,
                                  "--witness-key", key_file, "--state", state],
                                 capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        with open(state) as f:
            held = f.read()
        origin, size, root, _ = verify_note(held, ORIGIN, self.log_public)
        text, _ = split_note(held)
        # (The mariadb client escapes the line's newline in batch mode: trimmed.)
        rows = harness.mariadb(self.base_dsn,
                               "SELECT TRIM(TRAILING '\\n' FROM signature_line) "
                               f"FROM audit_cosignatures WHERE tree_size = {size} "
                               f"AND key_name = '{name}'",
                               database=self.dbname)
        line = rows.rstrip("\n") + "\n"
        self.assertGreater(verify_cosignature(text, line, name, public), 0)


def main():
    global ad_pb, ad_grpc
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-audit-proofs-gen-") as api:
        ad_pb, ad_grpc = api.admin, api.admin_grpc
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
