#!/usr/bin/python3
"""The TLS matrix: every kind of client certificate (and of non-client) the
mTLS port may meet, against the real `enlace-server`, each with the exact
outcome it must get.

Certificates are crafted here with python3-cryptography, signed by the
development CA that `enlacectl pki init` made for the test (its ca.key), or
by a second CA, or by themselves. There are two outcomes, and which one a
case gets follows from the code:

  refused at the handshake  The TLS port asks for and requires a client
      certificate that verifies against --ca_cert
      (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY in
      server/server.cc): OpenSSL refuses no certificate, another CA's, a
      self-signed one, an expired or not yet valid one, one whose extended
      key usage does not allow client authentication (OpenSSL checks the
      "ssl_client" purpose of a server's peer), and, with --crl_dir, a
      revoked one. The client sees UNAVAILABLE and no handler runs: no audit
      event is written.
  admitted, refused at the call gate  A certificate of the Enlace CA that
      verifies, but whose identity the gate refuses (server/call_gate.cc,
      CallGate::IdentityOf and Standing): no URI SAN, a SPIFFE ID of another
      trust domain, two URI SANs (gRPC sets peer_spiffe_id only for exactly
      one), or a revoked serial (the registry's revocation list, checked on
      every call whether or not --crl_dir is set). The call gets
      UNAUTHENTICATED and a DENY audit event with status 16.

And two that are not certificates at all: plaintext HTTP/2 (gRPC without
TLS) to the TLS port fails at once and the server goes on serving; a client
that opens a TCP connection and never finishes its handshake is dropped by
the server's handshake timeout (GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10 s):
not before 5 s, and by 20 s.

A control case shows that a certificate crafted here like the PKI's is
admitted, so that each refusal is the difference the case makes.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/tls_matrix_test.py --server build/server/enlace-server \\
      --enlacectl build/clients/enlacectl --protos protos \\
      --policy server/default_policy.conf [unittest args...]
"""

import datetime
import os
import select
import socket
import sys
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 30.0
api = None  # the generated modules, set by main()
log = harness.set_log_tag("tls-matrix")

C = grpc.StatusCode
DENY = 2  # enlace.v1.Decision DECISION_DENY, as audit_events.decision stores it
METHOD = "/enlace.v1.ArrivalService/ListArrivals"  # allowed to every agency
IOM = "spiffe://enlace/agency/iom"
HANDSHAKE_TIMEOUT = 10.0  # GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS in server/server.cc
# What gRPC's TLS layer (Debian's 1.51) logs when it refuses a client: the
# server sends no alert first, it closes the connection.
VERIFY_FAILED = "Handshake failed with fatal error SSL_ERROR_SSL: " \
                "error:0A000086:SSL routines::certificate verify failed"
NO_CERTIFICATE = "error:0A0000C7:SSL routines::peer did not return a certificate"
# With --crl_dir gRPC also logs OpenSSL's verify code: 23 is X509_V_ERR_CERT_REVOKED.
REVOKED_BY_CRL = "Certificate verify failed with code 23"


# ------------------------------------------------------------- certificates

def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_ca(pki):
    """(certificate, key) of the PKI's CA (ca.crt, ca.key)."""
    cert = x509.load_pem_x509_certificate(harness.read_pki_file(pki, "ca.crt"))
    key = serialization.load_pem_private_key(harness.read_pki_file(pki, "ca.key"), None)
    return cert, key


def make_ca(name):
    """A CA of its own (self-signed, CA:TRUE), as (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_client_cert(issuer, *, uris=(IOM,), dns=(), valid_from=None, valid_to=None,
                     eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)):
    """A client certificate with the extensions of the PKI's (`enlacectl pki`):
    CA:FALSE, keyUsage digitalSignature, extendedKeyUsage `eku`, a URI SAN for
    each of `uris` (and a DNS SAN for each of `dns`), valid from an hour ago
    for a day unless `valid_from`/`valid_to` say otherwise. `issuer` is a
    (certificate, key) pair, or None for a self-signed certificate.

    Returns (certificate PEM, key PEM, serial as lower-case hex)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls matrix")])
    if issuer is None:
        issuer_name, issuer_key, issuer_public = subject, key, key.public_key()
    else:
        issuer_name, issuer_key = issuer[0].subject, issuer[1]
        issuer_public = issuer[0].public_key()
    now = _now()
    serial = x509.random_serial_number()
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key())
               .serial_number(serial)
               .not_valid_before(valid_from or now - datetime.timedelta(hours=1))
               .not_valid_after(valid_to or now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False,
                                            decipher_only=False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),
                              critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    names = [x509.UniformResourceIdentifier(u) for u in uris] + [x509.DNSName(d) for d in dns]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    return (cert.public_bytes(serialization.Encoding.PEM), _pem_key(key),
            format(serial, "x"))


# ------------------------------------------------------------------ the tests

class TlsCase(harness.ServerTestCase):
    """What both classes below share: calls with a given certificate, and the
    two outcomes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = load_ca(cls.pki)
        cls.ca_pem = cls.read_pki("ca.crt")

    def sql(self, query):
        return harness.mariadb(self.base_dsn, query, database=self.dbname)

    def last_seq(self):
        return int(self.sql("SELECT COALESCE(MAX(seq), 0) FROM audit_events"))

    def events_since(self, seq):
        """(principal, method, decision, status_code) of each audit event after `seq`."""
        out = self.sql("SELECT principal, method, decision, status_code FROM audit_events "
                       f"WHERE seq > {int(seq)} ORDER BY seq")
        rows = []
        for line in out.splitlines():
            principal, method, decision, code = line.split("\t")
            rows.append((principal, method, int(decision), int(code)))
        return rows

    def list_arrivals(self, cert_pem=None, key_pem=None, *, root=None):
        """ListArrivals on a new channel presenting `cert_pem` (none if None),
        trusting `root` (default: the PKI's CA). Returns (code, details)."""
        creds = grpc.ssl_channel_credentials(root_certificates=root or self.ca_pem,
                                             private_key=key_pem, certificate_chain=cert_pem)
        with harness.client_package().with_actor(grpc.secure_channel(self.addr, creds),
                                                 "tls-matrix-0001") as channel:
            stub = api.arrivals_grpc.ArrivalServiceStub(channel)
            try:
                stub.ListArrivals(api.arrivals.ListArrivalsRequest(), timeout=DEADLINE)
                return C.OK, ""
            except grpc.RpcError as err:
                return err.code(), err.details() or ""

    def assert_admitted(self, cert_pem, key_pem):
        code, details = self.list_arrivals(cert_pem, key_pem)
        self.assertEqual(code, C.OK, details)

    def server_log_size(self):
        return os.path.getsize(self.server.log_path)

    def assert_logged_since(self, offset, reason):
        """The server's log, after byte `offset`, gets a line with `reason`
        (gRPC's TLS layer logs why a handshake failed) within 10 s."""
        deadline = time.monotonic() + 10
        while True:
            with open(self.server.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
            if reason in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn(reason, text, "the server's log does not say why the handshake failed")

    def assert_refused_at_handshake(self, cert_pem=None, key_pem=None, *,
                                    reason=VERIFY_FAILED):
        """UNAVAILABLE, the server's log says why (`reason`), and no handler
        ran: the only audit event written meanwhile is that of a good call
        made afterwards (so that an event of the refused call, had there
        been one, was written before it)."""
        before, logged = self.last_seq(), self.server_log_size()
        code, details = self.list_arrivals(cert_pem, key_pem)
        self.assertEqual(code, C.UNAVAILABLE, details)
        self.assert_logged_since(logged, reason)
        self.assertEqual(self.list_arrivals(self.read_pki("iom.crt"), self.read_pki("iom.key")),
                         (C.OK, ""), "the server no longer admits a good certificate")
        self.assertEqual(self.events_since(before), [(IOM, METHOD, 1, 0)],
                         "a call refused at the handshake reached the server's handlers")
        return details

    def assert_refused_at_gate(self, cert_pem, key_pem, *, principal, message):
        """UNAUTHENTICATED with `message` in its details, and exactly one
        audit event for it: DENY, status 16, of `principal`."""
        before = self.last_seq()
        code, details = self.list_arrivals(cert_pem, key_pem)
        self.assertEqual(code, C.UNAUTHENTICATED, details)
        self.assertIn(message, details)
        self.assertEqual(self.events_since(before),
                         [(principal, METHOD, DENY, C.UNAUTHENTICATED.value[0])])


class TlsMatrixTest(TlsCase):
    """The matrix against a server without --crl_dir."""

    TMP_PREFIX = "enlace-tls-matrix-"
    DB_PREFIX = "enlace_tls_matrix_"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = api.admin_grpc.AdminServiceStub(cls.channel("admin"))

    def test_control_a_certificate_crafted_like_the_pkis_is_admitted(self):
        cert, key, _ = make_client_cert(self.ca)
        before = self.last_seq()
        self.assert_admitted(cert, key)
        self.assertEqual(self.events_since(before), [(IOM, METHOD, 1, 0)])

    # Refused at the handshake.

    def test_no_client_certificate(self):
        self.assert_refused_at_handshake(None, None, reason=NO_CERTIFICATE)

    def test_a_certificate_of_another_ca(self):
        cert, key, _ = make_client_cert(make_ca("Enlace dev CA"))  # even the same name
        self.assert_refused_at_handshake(cert, key)

    def test_a_self_signed_certificate_with_an_enlace_spiffe_id(self):
        cert, key, _ = make_client_cert(None)
        self.assert_refused_at_handshake(cert, key)

    def test_an_expired_certificate(self):
        now = _now()
        cert, key, _ = make_client_cert(self.ca, valid_from=now - datetime.timedelta(days=2),
                                        valid_to=now - datetime.timedelta(days=1))
        self.assert_refused_at_handshake(cert, key)

    def test_a_certificate_not_yet_valid(self):
        now = _now()
        cert, key, _ = make_client_cert(self.ca, valid_from=now + datetime.timedelta(days=1),
                                        valid_to=now + datetime.timedelta(days=2))
        self.assert_refused_at_handshake(cert, key)

    def test_a_certificate_for_server_authentication_only(self):
        cert, key, _ = make_client_cert(self.ca, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
        self.assert_refused_at_handshake(cert, key)

    # Admitted by TLS, refused by the call gate.

    def test_a_certificate_without_a_uri_san(self):
        cert, key, _ = make_client_cert(self.ca, uris=(), dns=("iom.enlace.test",))
        self.assert_refused_at_gate(cert, key, principal="unauthenticated",
                                    message="no single SPIFFE ID")

    def test_a_spiffe_id_of_another_trust_domain(self):
        cert, key, _ = make_client_cert(self.ca, uris=("spiffe://example.org/agency/iom",))
        self.assert_refused_at_gate(cert, key, principal="unauthenticated",
                                    message="not an Enlace SPIFFE ID")

    def test_two_uri_sans(self):
        # Each would be a valid identity alone: together, neither is taken.
        cert, key, _ = make_client_cert(self.ca, uris=(IOM, "spiffe://enlace/agency/mfa"))
        self.assert_refused_at_gate(cert, key, principal="unauthenticated",
                                    message="no single SPIFFE ID")

    def test_a_revoked_certificate_without_a_crl(self):
        cert, key, serial = make_client_cert(self.ca)
        self.assert_admitted(cert, key)
        self.admin.RevokeCertificate(
            api.admin.RevokeCertificateRequest(serial=serial, reason="key lost",
                                               certificate_pem=cert.decode()),
            timeout=DEADLINE)
        # A revocation on this replica wakes its revocation refresh at once;
        # poll with a deadline for it.
        deadline = time.monotonic() + 10
        while self.list_arrivals(cert, key)[0] == C.OK and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assert_refused_at_gate(cert, key, principal=IOM, message="has been revoked")

    # Not a TLS client at all.

    def test_plaintext_http2_to_the_tls_port(self):
        with grpc.insecure_channel(self.addr) as channel:
            stub = api.arrivals_grpc.ArrivalServiceStub(channel)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.ListArrivals(api.arrivals.ListArrivalsRequest(), timeout=DEADLINE)
            self.assertEqual(cm.exception.code(), C.UNAVAILABLE, cm.exception.details())
        # The HTTP/2 connection preface on a raw socket: closed at once (well
        # before the handshake timeout), not left open.
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE) as s:
            started = time.monotonic()
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            self.assertTrue(closed_within(s, HANDSHAKE_TIMEOUT / 2),
                            "the server kept a plaintext connection open")
            log(f"plaintext connection closed after {time.monotonic() - started:.2f} s")
        # And the server goes on serving TLS clients.
        before = self.last_seq()
        self.assert_admitted(self.read_pki("mfa.crt"), self.read_pki("mfa.key"))
        self.assertEqual(self.events_since(before),
                         [("spiffe://enlace/agency/mfa", METHOD, 1, 0)])

    def test_a_handshake_never_finished_is_dropped_by_the_timeout(self):
        # Two clients at once: one sends nothing after connecting, one the
        # first bytes of a ClientHello (a record header announcing 512 bytes,
        # and the start of the handshake message) and then nothing.
        partial_hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        silent = socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE)
        partial = socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE)
        started = time.monotonic()
        try:
            partial.sendall(partial_hello)
            early = HANDSHAKE_TIMEOUT / 2
            for s in (silent, partial):
                self.assertFalse(closed_within(s, early - (time.monotonic() - started)),
                                 "closed before the handshake timeout: by something else")
            # Meanwhile the server serves others.
            self.assert_admitted(self.read_pki("unhcr.crt"), self.read_pki("unhcr.key"))
            for name, s in (("silent", silent), ("partial ClientHello", partial)):
                left = 2 * HANDSHAKE_TIMEOUT - (time.monotonic() - started)
                self.assertTrue(closed_within(s, left),
                                f"the {name} connection still open after "
                                f"{2 * HANDSHAKE_TIMEOUT:.0f} s")
                took = time.monotonic() - started
                log(f"{name} connection closed by the server after {took:.1f} s")
                self.assertGreaterEqual(took, early)
        finally:
            silent.close()
            partial.close()


def closed_within(sock, seconds):
    """True if the peer closes `sock` (EOF or reset) within `seconds`; False
    if it is still open then. Data the peer sends (a TLS alert) is read and
    the wait goes on."""
    deadline = time.monotonic() + max(seconds, 0)
    while True:
        left = max(deadline - time.monotonic(), 0)  # 0: look once, without waiting
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return False
        try:
            if not sock.recv(4096):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        if left == 0:
            return False


class TlsMatrixCrlTest(TlsCase):
    """Revocation with a CRL: the CA role publishes CRLs to --crl_dir, which
    the serving replica's TLS layer reads (both started with it)."""

    TMP_PREFIX = "enlace-tls-matrix-crl-"
    DB_PREFIX = "enlace_tls_matrix_crl_"
    CA_ROLE = True

    @classmethod
    def server_args(cls):
        return (f"--crl_dir={os.path.join(cls.tmp, 'crl')}",)

    def test_a_revoked_certificate_with_a_crl(self):
        cert, key, serial = make_client_cert(self.ca)
        self.assert_admitted(cert, key)
        admin = api.admin_grpc.AdminServiceStub(self.channel("admin"))
        admin.RevokeCertificate(
            api.admin.RevokeCertificateRequest(serial=serial, reason="key lost",
                                               certificate_pem=cert.decode()),
            timeout=DEADLINE)
        # The gate refuses it (UNAUTHENTICATED) until the CA role, which
        # reads the revocation from the database, has published the CRL that
        # makes the TLS layer refuse it. Poll with a deadline for that.
        deadline = time.monotonic() + 20
        while self.list_arrivals(cert, key)[0] != C.UNAVAILABLE and time.monotonic() < deadline:
            time.sleep(0.2)
        details = self.assert_refused_at_handshake(cert, key, reason=REVOKED_BY_CRL)
        log(f"refused with a CRL: {details}")
        self.assertGreaterEqual(len(os.listdir(os.path.join(self.tmp, "crl"))), 2,
                                "the CA role published no CRL after the revocation")


def main():
    global api
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-tls-matrix-gen-") as generated:
        api = generated
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
