#!/usr/bin/python3
"""Cross-agency record access: an agency the record rules keep out of
another agency's arrival, case, referral or initiative gets NOT_FOUND for
every RPC that names that record, exactly as for a record that does not
exist (no existence oracle), changes nothing, and each attempt is audited
as denied with the record's id, so that the case's owner sees it in the
case's access log. Lists never show such records.

The records: the ministry (mfa) records an arrival whose consent names iom
and unhcr for reintegration; iom opens the case, registers an initiative on
it and refers it to unhcr. undp is named nowhere: the policy lets it call
every case and referral RPC, and the record rules must keep it out.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN.
"""

import os
import sys

import grpc

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 60.0
api = None  # the generated modules, set by main()
log = harness.set_log_tag("cross-agency")

C = grpc.StatusCode
DENY = 2  # enlace.v1.DECISION_DENY
MISSING = "doesnotexist0000"  # an id of the right shape that no record has


class CrossAgencyAccessTest(harness.ServerTestCase):
    TMP_PREFIX = "enlace-cross-agency-"
    DB_PREFIX = "enlace_cross_agency_"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a, c, r = api.arrivals, api.cases, api.referrals
        mfa = api.arrivals_grpc.ArrivalServiceStub(cls.channel("mfa"))
        cls.arrival = mfa.RecordArrival(a.RecordArrivalRequest(arrival=a.Arrival(
            external_id="cross-agency-1", arrival_date="2018-03-14",
            mode=a.ARRIVAL_MODE_AIR, origin_country="US",
            person=a.Person(given_name="Ana", family_name="Ruiz", birth_date="1990-01-02",
                            sex=a.SEX_FEMALE),
            destination=a.Destination(department_code="SV-SS", municipality="Soyapango"),
            needs=[a.NEED_TRAINING],
            consent=a.Consent(agencies=["iom", "unhcr"], purposes=[a.PURPOSE_REINTEGRATION],
                              given_at={"seconds": 1521000000}))),
            timeout=DEADLINE)
        iom_cases = api.cases_grpc.CaseServiceStub(cls.channel("iom"))
        cls.case = iom_cases.OpenCase(c.OpenCaseRequest(arrival_id=cls.arrival.arrival_id,
                                                        summary="owned by iom"), timeout=DEADLINE)
        cls.initiative = iom_cases.RegisterInitiative(c.RegisterInitiativeRequest(
            case_id=cls.case.case_id, name="Panadería", sector="food"), timeout=DEADLINE)
        cls.referral = api.referrals_grpc.ReferralServiceStub(cls.channel("iom")).CreateReferral(
            r.CreateReferralRequest(case_id=cls.case.case_id, to_agency="unhcr",
                                    service=api.arrivals.NEED_TRAINING, reason="course"),
            timeout=DEADLINE)

    def sql(self, query):
        return harness.mariadb(self.base_dsn, query, database=self.dbname)

    def state(self):
        """A checksum of every table but the audit trail's."""
        tables = self.sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'audit%' "
            "ORDER BY table_name").split()
        return self.sql("CHECKSUM TABLE " + ", ".join(tables) + " EXTENDED")

    def last_event(self, principal, method):
        """(decision, status_code, record_ids) of the newest audit event of
        `principal` for `method`."""
        out = self.sql(
            "SELECT decision, status_code, record_ids FROM audit_events "
            f"WHERE principal = 'spiffe://enlace/agency/{principal}' "
            f"AND method = '/enlace.v1.{method}' ORDER BY seq DESC LIMIT 1")
        decision, code, *ids = out.split()
        return int(decision), int(code), " ".join(ids)

    def trespass(self, who, method, call, make_request, record_id, want=C.NOT_FOUND):
        """`who` calls `call(make_request(record_id))` for a record the record
        rules keep it out of: `want` (NOT_FOUND for a record it may not see;
        PERMISSION_DENIED for one it sees but may not change); nothing
        changes; the attempt is audited as denied with the record's id. A
        hidden record's NOT_FOUND must read like a missing one's:
        `call(make_request(MISSING))` gets the same message but for the id."""
        before = self.state()
        errors = {}
        for rid in (record_id, MISSING) if want == C.NOT_FOUND else (record_id,):
            with self.assertRaises(grpc.RpcError, msg=f"{method} as {who}") as cm:
                call(make_request(rid), timeout=DEADLINE)
            self.assertEqual(cm.exception.code(), want, cm.exception.details())
            errors[rid] = (cm.exception.details() or "").replace(rid, "<id>")
            decision, code, ids = self.last_event(who, method)
            self.assertEqual((decision, code), (DENY, want.value[0]),
                             f"{method} as {who} is not audited as a denial")
            self.assertIn(rid, ids.split())
        if want == C.NOT_FOUND:
            self.assertEqual(errors[record_id], errors[MISSING],
                             "the answer tells a hidden record from a missing one")
        self.assertEqual(self.state(), before, f"{method} as {who} changed the database")

    def test_an_outsider_gets_not_found_for_every_rpc_naming_the_records(self):
        a, c, r = api.arrivals, api.cases, api.referrals
        arrivals = api.arrivals_grpc.ArrivalServiceStub(self.shared_channel("undp"))
        cases = api.cases_grpc.CaseServiceStub(self.shared_channel("undp"))
        referrals = api.referrals_grpc.ReferralServiceStub(self.shared_channel("undp"))
        case, referral = self.case, self.referral
        attempts = [
            ("ArrivalService/GetArrival", arrivals.GetArrival,
             lambda i: a.GetArrivalRequest(arrival_id=i), self.arrival.arrival_id),
            ("CaseService/OpenCase", cases.OpenCase,
             lambda i: c.OpenCaseRequest(arrival_id=i, summary="mine now"),
             self.arrival.arrival_id),
            ("CaseService/GetCase", cases.GetCase,
             lambda i: c.GetCaseRequest(case_id=i), case.case_id),
            ("CaseService/UpdateCase", cases.UpdateCase,
             lambda i: c.UpdateCaseRequest(case=c.Case(case_id=i, status=c.CASE_STATUS_CLOSED),
                                           etag=case.etag), case.case_id),
            ("CaseService/RecordService", cases.RecordService,
             lambda i: c.RecordServiceRequest(case_id=i, service=a.NEED_TRAINING,
                                              delivered_on="2018-04-01", training_hours=8),
             case.case_id),
            ("CaseService/RegisterInitiative", cases.RegisterInitiative,
             lambda i: c.RegisterInitiativeRequest(case_id=i, name="x", sector="y"),
             case.case_id),
            ("CaseService/GetCaseAccessLog", cases.GetCaseAccessLog,
             lambda i: c.GetCaseAccessLogRequest(case_id=i), case.case_id),
            ("CaseService/UpdateInitiative", cases.UpdateInitiative,
             lambda i: c.UpdateInitiativeRequest(
                 initiative=c.Initiative(initiative_id=i, status=c.INITIATIVE_STATUS_ACTIVE),
                 etag=self.initiative.etag), self.initiative.initiative_id),
            ("ReferralService/CreateReferral", referrals.CreateReferral,
             lambda i: r.CreateReferralRequest(case_id=i, to_agency="undp",
                                               service=a.NEED_TRAINING, reason="me"),
             case.case_id),
            ("ReferralService/GetReferral", referrals.GetReferral,
             lambda i: r.GetReferralRequest(referral_id=i), referral.referral_id),
            ("ReferralService/AcceptReferral", referrals.AcceptReferral,
             lambda i: r.AcceptReferralRequest(referral_id=i, etag=referral.etag),
             referral.referral_id),
            ("ReferralService/DeclineReferral", referrals.DeclineReferral,
             lambda i: r.DeclineReferralRequest(referral_id=i, reason="no", etag=referral.etag),
             referral.referral_id),
            ("ReferralService/CompleteReferral", referrals.CompleteReferral,
             lambda i: r.CompleteReferralRequest(referral_id=i, outcome="done",
                                                 etag=referral.etag),
             referral.referral_id),
            ("ReferralService/WithdrawReferral", referrals.WithdrawReferral,
             lambda i: r.WithdrawReferralRequest(referral_id=i, etag=referral.etag),
             referral.referral_id),
        ]
        for method, call, make_request, record_id in attempts:
            with self.subTest(method=method):
                self.trespass("undp", method, call, make_request, record_id)
        log(f"{len(attempts)} RPCs x (hidden, missing) as undp: NOT_FOUND, audited as denied")

        # The owner sees each attempt on its case in the case's access log.
        iom = api.cases_grpc.CaseServiceStub(self.shared_channel("iom"))
        entries = []
        page = c.GetCaseAccessLogRequest(case_id=case.case_id, page_size=500)
        while True:
            got = iom.GetCaseAccessLog(page, timeout=DEADLINE)
            entries += got.entries
            if not got.next_page_token:
                break
            page.page_token = got.next_page_token
        seen = {e.method.rsplit("/", 1)[1] for e in entries
                if e.principal == "spiffe://enlace/agency/undp" and e.decision == DENY
                and e.status_code == C.NOT_FOUND.value[0]}
        self.assertEqual(seen, {"GetCase", "UpdateCase", "RecordService", "RegisterInitiative",
                                "GetCaseAccessLog", "CreateReferral"},
                         "the owner's access log misses an attempt on its case")

    def test_the_records_are_in_no_list_of_an_outsider(self):
        a, c, r = api.arrivals, api.cases, api.referrals
        undp = self.shared_channel("undp")
        arrivals = api.arrivals_grpc.ArrivalServiceStub(undp).ListArrivals(
            a.ListArrivalsRequest(page_size=500), timeout=DEADLINE)
        self.assertNotIn(self.arrival.arrival_id, [x.arrival_id for x in arrivals.arrivals])
        cases = api.cases_grpc.CaseServiceStub(undp)
        listed = cases.ListCases(c.ListCasesRequest(page_size=500), timeout=DEADLINE)
        self.assertNotIn(self.case.case_id, [x.case_id for x in listed.cases])
        initiatives = cases.ListInitiatives(c.ListInitiativesRequest(page_size=500),
                                            timeout=DEADLINE)
        self.assertNotIn(self.initiative.initiative_id,
                         [x.initiative_id for x in initiatives.initiatives])
        referrals = api.referrals_grpc.ReferralServiceStub(undp)
        for box in (r.BOX_INBOX, r.BOX_OUTBOX):
            got = referrals.ListReferrals(r.ListReferralsRequest(box=box, page_size=500),
                                          timeout=DEADLINE)
            self.assertNotIn(self.referral.referral_id, [x.referral_id for x in got.referrals])
        # The same lists show them to the agencies the consent names: the
        # filter above is the record rules, not an empty database.
        iom_cases = api.cases_grpc.CaseServiceStub(self.shared_channel("iom"))
        self.assertIn(self.initiative.initiative_id,
                      [x.initiative_id for x in iom_cases.ListInitiatives(
                          c.ListInitiativesRequest(page_size=500), timeout=DEADLINE).initiatives])
        unhcr = api.referrals_grpc.ReferralServiceStub(self.shared_channel("unhcr"))
        self.assertIn(self.referral.referral_id,
                      [x.referral_id for x in unhcr.ListReferrals(
                          r.ListReferralsRequest(box=r.BOX_INBOX, page_size=500),
                          timeout=DEADLINE).referrals])

    def test_parties_to_a_referral_may_not_do_what_is_the_others(self):
        # unhcr receives the referral and so sees the case, but does not own
        # it: changing it is PERMISSION_DENIED, and its access log, the
        # owner's alone, is NOT_FOUND. iom, the sender, may not answer its own
        # referral. Each refusal is audited as denied.
        a, c, r = api.arrivals, api.cases, api.referrals
        case_id, referral = self.case.case_id, self.referral
        cases = api.cases_grpc.CaseServiceStub(self.shared_channel("unhcr"))
        PD = C.PERMISSION_DENIED
        self.trespass("unhcr", "CaseService/UpdateCase", cases.UpdateCase,
                      lambda i: c.UpdateCaseRequest(
                          case=c.Case(case_id=i, status=c.CASE_STATUS_CLOSED),
                          etag=self.case.etag), case_id, want=PD)
        self.trespass("unhcr", "CaseService/RegisterInitiative", cases.RegisterInitiative,
                      lambda i: c.RegisterInitiativeRequest(case_id=i, name="x", sector="y"),
                      case_id, want=PD)
        self.trespass("unhcr", "CaseService/GetCaseAccessLog", cases.GetCaseAccessLog,
                      lambda i: c.GetCaseAccessLogRequest(case_id=i), case_id)
        # The consent names unhcr: it sees the initiative in its list, but
        # only the owner changes its outcomes.
        self.trespass("unhcr", "CaseService/UpdateInitiative", cases.UpdateInitiative,
                      lambda i: c.UpdateInitiativeRequest(
                          initiative=c.Initiative(initiative_id=i,
                                                  status=c.INITIATIVE_STATUS_CLOSED),
                          etag=self.initiative.etag),
                      self.initiative.initiative_id, want=PD)
        unhcr_referrals = api.referrals_grpc.ReferralServiceStub(self.shared_channel("unhcr"))
        self.trespass("unhcr", "ReferralService/CreateReferral", unhcr_referrals.CreateReferral,
                      lambda i: r.CreateReferralRequest(case_id=i, to_agency="iom",
                                                        service=a.NEED_TRAINING, reason="back"),
                      case_id, want=PD)
        iom_referrals = api.referrals_grpc.ReferralServiceStub(self.shared_channel("iom"))
        self.trespass("iom", "ReferralService/AcceptReferral", iom_referrals.AcceptReferral,
                      lambda i: r.AcceptReferralRequest(referral_id=i, etag=referral.etag),
                      referral.referral_id, want=PD)


def main():
    global api
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-cross-agency-gen-") as generated:
        api = generated
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
