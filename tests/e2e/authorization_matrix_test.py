#!/usr/bin/python3
"""The authorization matrix: every RPC of the API, called as every kind of
identity, answers the exact code the shipped policy prescribes, and every
denial is in the audit trail.

The RPCs come from the services' descriptors (protos/), so a new RPC is in
the matrix at once, and fails it until EMPTY_REQUEST below says what an
allowed caller gets for an empty request. The policy decision is computed
here, independently of the server, from server/default_policy.conf (allow
when an `allow` rule matches and no `deny` rule does). The identities:

  mfa, iom, unhcr, undp, admin  the development PKI's (`enlacectl pki init`)
  fao                           an agency registered by the administrator
                                during the test, certificate issued then
  acme                          a certificate of the Enlace CA for an agency
                                the registry does not know

An allowed call with an empty request gets EMPTY_REQUEST[method]: mostly
INVALID_ARGUMENT naming the first required field; OK where the API gives an
empty field a meaning (lists, an open report period, the checkpoint);
FAILED_PRECONDITION for issuance, which only the CA role does. A denied call
gets PERMISSION_DENIED naming the method, whatever its request.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN.
"""

import os
import subprocess
import sys

import grpc

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 60.0
# The initial metadata key of an admitted WatchReferrals stream (server/referral_service.cc).
RESUME_TOKEN_KEY = "enlace-resume-token"
api = None  # the generated modules, set by main()
log = harness.set_log_tag("authz-matrix")

C = grpc.StatusCode
# What an allowed caller gets for an empty request: (code, a word of the
# message, or None).
EMPTY_REQUEST = {
    "ArrivalService/RecordArrivals": (C.OK, None),  # a stream with no record
    "ArrivalService/RecordArrival": (C.INVALID_ARGUMENT, "arrival"),
    "ArrivalService/GetArrival": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/ListArrivals": (C.OK, None),
    "ArrivalService/UpdateConsent": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/CorrectArrival": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/ListArrivalVersions": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/ExportReturneeData": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/EraseReturnee": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/FindPossibleDuplicates": (C.INVALID_ARGUMENT, "arrival_id"),
    "ArrivalService/LinkArrivals": (C.INVALID_ARGUMENT, "arrival_ids"),
    "ArrivalService/UnlinkArrivals": (C.INVALID_ARGUMENT, "arrival_ids"),
    "ArrivalService/RecordObjection": (C.INVALID_ARGUMENT, "arrival_id"),
    "CaseService/OpenCase": (C.INVALID_ARGUMENT, "arrival_id"),
    "CaseService/GetCase": (C.INVALID_ARGUMENT, "case_id"),
    "CaseService/ListCases": (C.OK, None),
    "CaseService/UpdateCase": (C.INVALID_ARGUMENT, "case_id"),
    "CaseService/RecordService": (C.INVALID_ARGUMENT, "case_id"),
    "CaseService/RegisterInitiative": (C.INVALID_ARGUMENT, "case_id"),
    "CaseService/UpdateInitiative": (C.INVALID_ARGUMENT, "initiative.initiative_id"),
    "CaseService/ListInitiatives": (C.OK, None),
    "CaseService/GetCaseAccessLog": (C.INVALID_ARGUMENT, "case_id"),
    "ReferralService/CreateReferral": (C.INVALID_ARGUMENT, "case_id"),
    "ReferralService/GetReferral": (C.INVALID_ARGUMENT, "referral_id"),
    "ReferralService/ListReferrals": (C.INVALID_ARGUMENT, "box"),
    "ReferralService/AcceptReferral": (C.INVALID_ARGUMENT, "referral_id"),
    "ReferralService/DeclineReferral": (C.INVALID_ARGUMENT, "referral_id"),
    "ReferralService/CompleteReferral": (C.INVALID_ARGUMENT, "referral_id"),
    "ReferralService/WithdrawReferral": (C.INVALID_ARGUMENT, "referral_id"),
    "ReferralService/WatchReferrals": (C.OK, None),  # the stream opens
    "ReportService/GetProgrammeReport": (C.OK, None),  # empty: an open period
    # Issuance is the CA role's; this is a serving replica.
    "AdminService/IssueCertificate": (C.FAILED_PRECONDITION, "--role=ca"),
    "AdminService/ListCertificates": (C.OK, None),
    "AdminService/RevokeCertificate": (C.INVALID_ARGUMENT, "serial"),
    "AdminService/RegisterAgency": (C.INVALID_ARGUMENT, "code"),
    "AdminService/ListAgencies": (C.OK, None),
    "AdminService/ListAuditEvents": (C.OK, None),
    "AdminService/VerifyAuditLog": (C.OK, None),
    "AdminService/GetAuditCheckpoint": (C.OK, None),
    "AdminService/GetAuditConsistencyProof": (C.OK, None),  # from 0 to 0: empty
    "AdminService/GetAuditInclusionProof": (C.INVALID_ARGUMENT, "tree_size"),
    "AdminService/RegisterWitnessKey": (C.INVALID_ARGUMENT, "agency"),
    "AdminService/AddAuditCosignature": (C.INVALID_ARGUMENT, "note"),
    "AdminService/RegisterSharingAgreement": (C.INVALID_ARGUMENT, "parties"),
    "AdminService/ListSharingAgreements": (C.OK, None),
    "AdminService/EndSharingAgreement": (C.INVALID_ARGUMENT, "agreement_id"),
}
AGENCIES = ("mfa", "iom", "unhcr", "undp", "fao", "acme")


def policy_rules(path):
    rules = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                verb, principal, method = line.split()
                rules.append((verb, principal, method))
    return rules


def allowed(rules, kind, name, method):
    """The shipped policy's decision for spiffe://enlace/<kind>/<name>."""
    def matches(principal, pattern):
        p_kind, p_name = principal.split(":", 1)
        if p_kind != kind or p_name not in ("*", name):
            return False
        return method == pattern or (pattern.endswith("/*") and method.startswith(pattern[:-1]))
    hits = [verb for verb, principal, pattern in rules if matches(principal, pattern)]
    return "allow" in hits and "deny" not in hits


class AuthorizationMatrixTest(harness.ServerTestCase):
    TMP_PREFIX = "enlace-authz-matrix-"
    DB_PREFIX = "enlace_authz_matrix_"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = api.admin_grpc.AdminServiceStub(cls.channel("admin"))
        admin.RegisterAgency(api.admin.RegisterAgencyRequest(code="fao", display_name="FAO"),
                             timeout=DEADLINE)
        for name in ("fao", "acme"):
            subprocess.run([cls.args.enlacectl, "pki", "issue", "--dir", cls.pki,
                            "--kind", "agency", "--name", name], check=True,
                           capture_output=True, timeout=60)


    def sql(self, query):
        return harness.mariadb(self.base_dsn, query, database=self.dbname)

    def call(self, identity, service, method):
        """Calls `method` with an empty request; returns (code, message)."""
        call = harness.method_callable(api, self.shared_channel(identity), service, method)
        request = harness.api_message_class(api, method.input_type)()
        try:
            if method.client_streaming:
                list(call(iter(()), timeout=DEADLINE))
            elif method.server_streaming:
                # An admitted watch sends its resume token in its initial
                # metadata; a refused one ends with its status at once. Its
                # initial metadata (trailers-only) may be seen a moment
                # before the status, so done() right after it is no answer:
                # wait for the status of a stream that was not admitted.
                stream = call(request, timeout=DEADLINE)
                if RESUME_TOKEN_KEY in dict(stream.initial_metadata() or ()):
                    stream.cancel()
                    return C.OK, ""
                return stream.code(), stream.details() or ""
            else:
                call(request, timeout=DEADLINE)
            return C.OK, ""
        except grpc.RpcError as err:
            return err.code(), err.details() or ""

    def test_every_rpc_as_every_identity(self):
        rules = policy_rules(self.args.policy)
        names = {f"{s.name}/{m.name}" for s, m in harness.api_methods(api)}
        self.assertEqual(names - set(EMPTY_REQUEST), set(),
                         "RPCs without an entry in EMPTY_REQUEST")
        self.assertEqual(set(EMPTY_REQUEST) - names, set(), "entries for RPCs that do not exist")
        denies_before = int(self.sql("SELECT COUNT(*) FROM audit_events WHERE decision = 2"))
        denied = 0
        identities = [("agency", a) for a in AGENCIES] + [("admin", "admin")]
        for service, method in harness.api_methods(api):
            name = f"{service.name}/{method.name}"
            full = f"/{service.full_name}/{method.name}"
            for kind, who in identities:
                with self.subTest(rpc=name, identity=who):
                    code, message = self.call(who, service, method)
                    if allowed(rules, kind, who, full):
                        want, word = EMPTY_REQUEST[name]
                        self.assertEqual(code, want, message)
                        if word:
                            self.assertIn(word, message)
                    else:
                        denied += 1
                        self.assertEqual(code, C.PERMISSION_DENIED, message)
                        self.assertIn(full, message)
        self.assertGreater(denied, 0)
        denies = int(self.sql("SELECT COUNT(*) FROM audit_events WHERE decision = 2"))
        self.assertEqual(denies - denies_before, denied, "a denial is not in the audit trail")


def main():
    global api
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-authz-matrix-gen-") as generated:
        api = generated
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
