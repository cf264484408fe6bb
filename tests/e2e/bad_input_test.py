#!/usr/bin/python3
"""Bad input from a foreign client: each gets its exact status code and the
offending field's name, and changes nothing.

Starts the real `enlace-server` over mutual TLS with a fresh PKI and database
(tests/testing/enlace_harness.py) and sends, with Python grpcio:

  - a message over the server's size limit (--max_message_bytes, 4 MiB);
  - a string field holding invalid UTF-8 (hand-built bytes on the wire);
  - enum numbers the API does not define (mode, sex, a need);
  - impossible dates (2018-02-30, 2019-13-01) and a 10,000-character name;
  - page sizes -1, 501 and 2^31-1 (0 means the default) and malformed,
    altered and foreign page tokens, on every List RPC of the API (found
    from the services' descriptors: a new List RPC is covered at once);
  - SQL injection strings in free-text fields: accepted as text, stored and
    returned verbatim, and nothing else changes.

"Changes nothing" is checked on the database itself: a checksum of every
table but the audit trail's is the same before and after each refused call,
and the refused call is in the audit trail with its status code.

Run through ctest (scripts/test.sh), which sets ENLACE_TEST_DB_DSN:

  /usr/bin/python3 tests/e2e/bad_input_test.py --server build/server/enlace-server \\
      --enlacectl build/clients/enlacectl --protos protos \\
      --policy server/default_policy.conf [unittest args...]
"""

import os
import sys

import grpc

_TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_TESTS_DIR, "testing"))
import enlace_harness as harness  # noqa: E402

DEADLINE = 60.0
api = None  # the generated modules, set by main()
log = harness.set_log_tag("bad-input")

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


class BadInputTest(harness.ServerTestCase):
    TMP_PREFIX = "enlace-bad-input-"
    DB_PREFIX = "enlace_bad_input_"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stubs = {
            "mfa": api.arrivals_grpc.ArrivalServiceStub(cls.channel("mfa")),
            "iom": api.arrivals_grpc.ArrivalServiceStub(cls.channel("iom")),
        }
        # Three stored arrivals, two of them with cases, so that the lists
        # have a second page (and GetCaseAccessLog a case).
        cases = api.cases_grpc.CaseServiceStub(cls.channel("iom"))
        case_ids, seed_ids = [], []
        for i in range(3):
            seed = cls.stubs["mfa"].RecordArrival(
                api.arrivals.RecordArrivalRequest(arrival=cls.arrival(f"bad-input-seed-{i}")),
                timeout=DEADLINE)
            seed_ids.append(seed.arrival_id)
            if i < 2:
                case_ids.append(cases.OpenCase(api.cases.OpenCaseRequest(
                    arrival_id=seed.arrival_id, summary="seed"), timeout=DEADLINE).case_id)
        for _ in range(2):  # the case's access log: its opening and two reads
            cases.GetCase(api.cases.GetCaseRequest(case_id=case_ids[0]), timeout=DEADLINE)
        # What each paging RPC needs besides its paging to be valid.
        # (The seeds are one person by name and birth date: possible
        # duplicates of each other, two of them, and so a second page.)
        cls.required = {"CaseService/GetCaseAccessLog": {"case_id": case_ids[0]},
                        "ArrivalService/FindPossibleDuplicates": {"arrival_id": seed_ids[0]},
                        "ArrivalService/ListArrivalVersions": {"arrival_id": seed_ids[0]},
                        "ReferralService/ListReferrals": {"box": api.referrals.BOX_INBOX}}

    def sql(self, query):
        return harness.mariadb(self.base_dsn, query, database=self.dbname)

    # --------------------------------------------------------------- helpers

    @staticmethod
    def arrival(external_id, **over):
        a = api.arrivals
        fields = dict(
            external_id=external_id,
            arrival_date="2018-03-14",
            mode=a.ARRIVAL_MODE_AIR,
            origin_country="US",
            person=a.Person(given_name="María", family_name="Peña",
                            birth_date="1985-07-02", sex=a.SEX_FEMALE),
            destination=a.Destination(department_code="SV-SS", municipality="Soyapango"),
            needs=[a.NEED_TRAINING],
            consent=a.Consent(agencies=["iom", "unhcr"], purposes=[a.PURPOSE_REINTEGRATION],
                              given_at={"seconds": 1521000000}),
        )
        fields.update(over)
        return a.Arrival(**fields)

    def state(self):
        """A checksum of every table but the audit trail's (which records
        each call, refused or not)."""
        tables = self.sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'audit%' "
            "ORDER BY table_name").split()
        self.assertIn("arrivals", tables)
        return self.sql("CHECKSUM TABLE " + ", ".join(tables) + " EXTENDED")

    def audited_codes(self, method):
        out = self.sql(
            "SELECT status_code FROM audit_events WHERE method = "
            f"'/enlace.v1.{method}' ORDER BY seq")
        return [int(x) for x in out.split()]

    def refused(self, code, field, call, request, method):
        """Calls `call(request)`, which must fail with `code` naming `field`
        and change nothing; the refusal must be audited with its code."""
        before = self.state()
        audited_before = len(self.audited_codes(method))
        with self.assertRaises(grpc.RpcError) as cm:
            call(request, timeout=DEADLINE)
        err = cm.exception
        self.assertEqual(err.code(), code, err.details())
        if field:
            self.assertIn(field, err.details())
        self.assertEqual(self.state(), before, "a refused call changed the database")
        audited = self.audited_codes(method)
        self.assertEqual(len(audited), audited_before + 1, "the refusal is not audited")
        self.assertEqual(audited[-1], code.value[0])
        return err

    def refused_arrival(self, field, arrival):
        return self.refused(INVALID_ARGUMENT, field, self.stubs["mfa"].RecordArrival,
                            api.arrivals.RecordArrivalRequest(arrival=arrival),
                            "ArrivalService/RecordArrival")

    # ----------------------------------------------------------------- tests

    def test_impossible_dates_are_refused_by_field(self):
        person = self.arrival("x").person
        for date in ("2018-02-30", "2019-13-01", "2018-2-3", "18-02-03", "2018-02-03T00:00"):
            with self.subTest(date=date):
                self.refused_arrival("arrival.arrival_date",
                                     self.arrival("bad-date", arrival_date=date))
                p = api.arrivals.Person()
                p.CopyFrom(person)
                p.birth_date = date
                self.refused_arrival("arrival.person.birth_date",
                                     self.arrival("bad-birth", person=p))

    def test_a_ten_thousand_character_name_is_refused(self):
        p = self.arrival("x").person
        p.given_name = "A" * 10000
        self.refused_arrival("arrival.person.given_name", self.arrival("long-name", person=p))
        d = api.arrivals.Destination(department_code="SV-SS", municipality="M" * 10000)
        self.refused_arrival("arrival.destination.municipality",
                             self.arrival("long-muni", destination=d))
        self.refused_arrival("arrival.external_id", self.arrival("e" * 10000))

    def test_enum_numbers_the_api_does_not_define_are_refused(self):
        self.refused_arrival("arrival.mode", self.arrival("bad-mode", mode=99))
        p = self.arrival("x").person
        p.sex = 77
        self.refused_arrival("arrival.person.sex", self.arrival("bad-sex", person=p))
        self.refused_arrival("arrival.needs[1]",
                             self.arrival("bad-need", needs=[api.arrivals.NEED_TRAINING, 4242]))
        c = self.arrival("x").consent
        c.purposes.append(-5)
        self.refused_arrival("arrival.consent.purposes[1]",
                             self.arrival("bad-purpose", consent=c))

    def test_a_minors_consent_without_its_guardian_is_refused(self):
        a = api.arrivals
        child = a.Person(given_name="Luis", family_name="Peña", birth_date="2010-01-05",
                         sex=a.SEX_MALE)
        self.refused_arrival("arrival.consent.guardian", self.arrival("minor", person=child))
        c = self.arrival("x").consent
        c.guardian.CopyFrom(a.Guardian(name="María Peña", relationship=42))
        self.refused_arrival("arrival.consent.guardian.relationship",
                             self.arrival("minor", person=child, consent=c))
        c.guardian.relationship = a.GUARDIAN_RELATIONSHIP_PARENT
        c.guardian.name = "\u200b"
        self.refused_arrival("arrival.consent.guardian.name",
                             self.arrival("minor", person=child, consent=c))
        # For an adult, a guardian is refused: no third person is named
        # without need.
        c.guardian.name = "María Peña"
        self.refused_arrival("arrival.consent.guardian", self.arrival("adult", consent=c))

    def refused_by_grpc(self, code, call, request):
        """Like refused(), for what gRPC itself refuses before any of the
        server's code runs (docs/api.md, Errors): the code, nothing changed,
        no audit event (the server never sees the call), and the connection
        still serves the next call."""
        before = self.state()
        audited_before = self.sql("SELECT COUNT(*) FROM audit_events")
        with self.assertRaises(grpc.RpcError) as cm:
            call(request, timeout=DEADLINE)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        self.assertEqual(self.state(), before)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM audit_events"), audited_before)
        self.stubs["mfa"].ListArrivals(api.arrivals.ListArrivalsRequest(page_size=1),
                                       timeout=DEADLINE)

    def test_invalid_utf8_on_the_wire_is_refused(self):
        # A valid request whose given name is then made invalid UTF-8, byte
        # for byte (same length, so the framing stays valid). Protobuf
        # refuses to parse it; gRPC 1.51's callback API then answers
        # UNIMPLEMENTED with no message (CallbackUnaryHandler::RunHandler),
        # before any handler runs.
        p = self.arrival("x").person
        p.given_name = "QQQQ"
        raw = api.arrivals.RecordArrivalRequest(
            arrival=self.arrival("bad-utf8", person=p)).SerializeToString()
        self.assertEqual(raw.count(b"QQQQ"), 1)
        call = self.channel("mfa").unary_unary(
            "/enlace.v1.ArrivalService/RecordArrival",
            request_serializer=lambda b: b,
            response_deserializer=api.arrivals.RecordArrivalResponse.FromString)
        self.refused_by_grpc(grpc.StatusCode.UNIMPLEMENTED, call,
                             raw.replace(b"QQQQ", b"\xff\xfe\xc3("))
        # The same bytes with valid UTF-8 are an ordinary, accepted request.
        self.assertEqual(call(raw, timeout=DEADLINE).outcome, api.arrivals.OUTCOME_CREATED)

    def test_a_message_over_the_size_limit_is_refused(self):
        p = self.arrival("x").person
        p.given_name = "A" * (5 * 1024 * 1024)
        self.refused_by_grpc(grpc.StatusCode.RESOURCE_EXHAUSTED, self.stubs["mfa"].RecordArrival,
                             api.arrivals.RecordArrivalRequest(arrival=self.arrival("huge",
                                                                                    person=p)))

    def test_sql_in_free_text_is_stored_and_returned_verbatim(self):
        texts = ["Robert'); DROP TABLE arrivals;--", "x' OR '1'='1", "\\'; SELECT SLEEP(5); #",
                 "Ana\" UNION SELECT * FROM audit_events --"]
        count = int(self.sql("SELECT COUNT(*) FROM arrivals"))
        for i, text in enumerate(texts):
            with self.subTest(text=text):
                p = self.arrival("x").person
                p.given_name = text
                p.family_name = text
                resp = self.stubs["mfa"].RecordArrival(
                    api.arrivals.RecordArrivalRequest(arrival=self.arrival(f"sql-{i}", person=p)),
                    timeout=DEADLINE)
                self.assertEqual(resp.outcome, api.arrivals.OUTCOME_CREATED)
                got = self.stubs["iom"].GetArrival(
                    api.arrivals.GetArrivalRequest(arrival_id=resp.arrival_id), timeout=DEADLINE)
                self.assertEqual(got.person.given_name, text)
                self.assertEqual(got.person.family_name, text)
        self.assertEqual(int(self.sql("SELECT COUNT(*) FROM arrivals")),
                         count + len(texts))

    def list_rpcs(self):
        """Every RPC of the API whose request pages (page_size and
        page_token), with the identity the shipped policy lets call it and a
        request that is valid but for the paging."""
        callers = {"ArrivalService": "iom", "CaseService": "iom", "ReferralService": "iom",
                   "ReportService": "mfa", "AdminService": "admin"}
        found = []
        for service, method in harness.api_methods(api):
            fields = method.input_type.fields_by_name
            if "page_size" not in fields or "page_token" not in fields:
                continue
            self.assertIn(service.name, callers, f"no caller for {service.name}")
            found.append((service, method, callers[service.name]))
        return found

    def test_every_list_refuses_bad_page_sizes_and_tokens(self):
        rpcs = self.list_rpcs()
        names = {f"{s.name}/{m.name}" for s, m, _ in rpcs}
        self.assertTrue({"ArrivalService/ListArrivals", "CaseService/ListCases",
                         "ReferralService/ListReferrals", "AdminService/ListAuditEvents"} <= names,
                        names)
        altered_tested = set()
        for service, method, who in rpcs:
            request_class = harness.api_message_class(api, method.input_type)
            response_class = harness.api_message_class(api, method.output_type)
            call = harness.method_callable(api, self.shared_channel(who), service, method)
            name = f"{service.name}/{method.name}"
            required = self.required.get(name, {})

            def request(**paging):
                return request_class(**required, **paging)  # noqa: B023 (used at once)

            with self.subTest(rpc=name):
                first = call(request(page_size=1), timeout=DEADLINE)
                for size in (-1, 501, 2**31 - 1):
                    self.refused(INVALID_ARGUMENT, "page_size", call, request(page_size=size),
                                 name)
                self.assertEqual(type(call(request(page_size=0), timeout=DEADLINE)),
                                 response_class)
                for token in ("garbage!", "AAAA", "x" * 5000):
                    self.refused(INVALID_ARGUMENT, "page_token", call,
                                 request(page_size=1, page_token=token), name)
                token = first.next_page_token
                if token:
                    # One character changed: the token's signature fails.
                    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
                    self.refused(INVALID_ARGUMENT, "page_token", call,
                                 request(page_size=1, page_token=altered), name)
                    altered_tested.add(name)
        # The RPCs whose first page of one has a second: their tokens were
        # altered above (the others have a single record here).
        self.assertTrue({"ArrivalService/ListArrivals", "CaseService/ListCases",
                         "CaseService/GetCaseAccessLog", "AdminService/ListAuditEvents",
                         "AdminService/ListAgencies", "AdminService/ListSharingAgreements"}
                        <= altered_tested, altered_tested)

    def test_a_page_token_is_refused_for_another_caller_or_query(self):
        iom = self.stubs["iom"]
        first = iom.ListArrivals(api.arrivals.ListArrivalsRequest(page_size=1), timeout=DEADLINE)
        token = first.next_page_token
        self.assertTrue(token)
        # The token works for its own caller and query...
        iom.ListArrivals(api.arrivals.ListArrivalsRequest(page_size=1, page_token=token),
                         timeout=DEADLINE)
        # ...but not for another agency that sees the same arrivals,
        unhcr = api.arrivals_grpc.ArrivalServiceStub(self.shared_channel("unhcr"))
        self.refused(INVALID_ARGUMENT, "page_token", unhcr.ListArrivals,
                     api.arrivals.ListArrivalsRequest(page_size=1, page_token=token),
                     "ArrivalService/ListArrivals")
        # nor for the same caller with another filter,
        for other in (dict(department_code="SV-SS"), dict(arrival_date_from="2018-01-01")):
            with self.subTest(other=other):
                fields = dict(page_size=1, page_token=token)
                fields.update(other)
                self.refused(INVALID_ARGUMENT, "page_token", iom.ListArrivals,
                             api.arrivals.ListArrivalsRequest(**fields),
                             "ArrivalService/ListArrivals")
        # nor for another list.
        cases = api.cases_grpc.CaseServiceStub(self.shared_channel("iom"))
        self.refused(INVALID_ARGUMENT, "page_token", cases.ListCases,
                     api.cases.ListCasesRequest(page_size=1, page_token=token),
                     "CaseService/ListCases")


def main():
    global api
    args, rest = harness.parse_args(__doc__, protos=True)
    if not harness.check_prerequisites(args, tools=("mariadb", "protoc")):
        return 1
    with harness.generated_stubs(args.protos, "enlace-bad-input-gen-") as generated:
        api = generated
        return harness.run_tests(args, rest)


if __name__ == "__main__":
    sys.exit(main())
