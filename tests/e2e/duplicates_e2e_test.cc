// End to end (real server, real MariaDB, mutual TLS on loopback): one person
// across arrivals. FindPossibleDuplicates proposes, scored and with its
// reasons, the arrivals that may be the same returnee, only among those the
// caller may see; LinkArrivals and UnlinkArrivals record the ministry's
// reviewed decisions, and a repeat returnee keeps one person_id across
// arrivals; the export and the erasure of a returnee take in every arrival
// of the person. Denials (an agency linking, a caller asking about an arrival it
// may not see) and bad input (self-links, empty reasons, unknown ids)
// change nothing and are audited.
#include <grpcpp/grpcpp.h>

#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/returnee_data.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;
using v1::Arrival;

constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kIom[] = "spiffe://enlace/agency/iom";
constexpr char kFind[] = "/enlace.v1.ArrivalService/FindPossibleDuplicates";
constexpr char kLink[] = "/enlace.v1.ArrivalService/LinkArrivals";
constexpr char kUnlink[] = "/enlace.v1.ArrivalService/UnlinkArrivals";
constexpr char kErase[] = "/enlace.v1.ArrivalService/EraseReturnee";
constexpr char kLinkReason[] = "Revisado: misma persona, retorno repetido (expediente 88-Quintero)";

Arrival Returnee(const std::string& external_id, const std::string& given,
                 const std::string& family, const std::string& birth,
                 const std::string& document = "", std::vector<std::string> agencies = {"iom"}) {
  Arrival a = MakeArrival(external_id, std::move(agencies));
  a.mutable_person()->set_given_name(given);
  a.mutable_person()->set_family_name(family);
  a.mutable_person()->set_birth_date(birth);
  a.mutable_person()->set_document_number(document);
  return a;
}

class DuplicatesTest : public ServerFixture {
 protected:
  grpc::Status Find(const auth::IssuedCertificate& cert, const std::string& arrival_id,
                    v1::FindPossibleDuplicatesResponse* response, int page_size = 0,
                    const std::string& page_token = "") {
    v1::FindPossibleDuplicatesRequest request;
    request.set_arrival_id(arrival_id);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return Arrivals(cert)->FindPossibleDuplicates(Context().get(), request, response);
  }
  // The candidates' arrival ids, in the order given.
  static std::vector<std::string> IdsOf(const v1::FindPossibleDuplicatesResponse& response) {
    std::vector<std::string> ids;
    for (const v1::DuplicateCandidate& c : response.candidates()) {
      ids.push_back(c.arrival().arrival_id());
    }
    return ids;
  }
  grpc::Status Link(const auth::IssuedCertificate& cert, const std::vector<std::string>& ids,
                    const std::string& reason, v1::LinkArrivalsResponse* response) {
    v1::LinkArrivalsRequest request;
    for (const std::string& id : ids) request.add_arrival_ids(id);
    request.set_reason(reason);
    return Arrivals(cert)->LinkArrivals(Context().get(), request, response);
  }
  grpc::Status Unlink(const auth::IssuedCertificate& cert, const std::vector<std::string>& ids,
                      const std::string& reason, v1::UnlinkArrivalsResponse* response) {
    v1::UnlinkArrivalsRequest request;
    for (const std::string& id : ids) request.add_arrival_ids(id);
    request.set_reason(reason);
    return Arrivals(cert)->UnlinkArrivals(Context().get(), request, response);
  }
  // The ministry's export of everything held about the returnee of
  // `arrival_id`, parsed.
  v1::ReturneeData Export(const std::string& arrival_id) {
    v1::ExportReturneeDataRequest request;
    request.set_arrival_id(arrival_id);
    v1::ReturneeDataExport exported;
    grpc::Status status =
        Arrivals(mfa_cert_)->ExportReturneeData(Context().get(), request, &exported);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::ReturneeData data;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(exported.document(), &data).ok());
    return data;
  }
  std::string PersonOf(const std::string& arrival_id,
                       const auth::IssuedCertificate* cert = nullptr) {
    v1::GetArrivalRequest request;
    request.set_arrival_id(arrival_id);
    Arrival arrival;
    grpc::Status status = Arrivals(cert == nullptr ? mfa_cert_ : *cert)
                              ->GetArrival(Context().get(), request, &arrival);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return arrival.person_id();
  }
};

TEST_F(DuplicatesTest, FindsTheSamePersonByEachRuleOnlyAmongWhatTheCallerMaySee) {
  const std::string subject =
      RecordOne(Returnee("dup-s", "María José", "Hernández López", "1990-04-03", "DUI-0411"));
  const std::string by_document =
      RecordOne(Returnee("dup-doc", "Maria José", "Hernandez Lopez", "1990-04-03", "DUI0411"));
  const std::string by_names =
      RecordOne(Returnee("dup-names", "MARIA JOSE", "HERNANDEZ-LOPEZ", "1990-04-03"));
  // Seen by the ministry, which recorded it, and unhcr; not by iom.
  const std::string hidden_from_iom = RecordOne(
      Returnee("dup-hidden", "María José", "Hernández López", "1990-04-03", "", {"unhcr"}));
  const std::string by_similar =
      RecordOne(Returnee("dup-similar", "María José", "Hernández", "1990-04-03"));
  const std::string by_swapped =
      RecordOne(Returnee("dup-swapped", "María José", "Hernández López", "1990-03-04"));
  // Not candidates: another woman born the same day, and an erased record.
  RecordOne(Returnee("dup-stranger", "Ana Gabriela", "Pérez", "1990-04-03"));
  const std::string erased =
      RecordOne(Returnee("dup-erased", "María José", "Hernández López", "1990-04-03"));
  v1::EraseReturneeRequest erase;
  erase.set_arrival_id(erased);
  erase.set_reason("Solicitud de supresión");
  v1::EraseReturneeResponse erased_response;
  ASSERT_TRUE(Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &erased_response).ok());

  // The ministry sees every arrival it recorded: highest score first, then
  // recording order.
  v1::FindPossibleDuplicatesResponse found;
  grpc::Status status = Find(mfa_cert_, subject, &found);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(IdsOf(found),
              ElementsAre(by_document, by_names, hidden_from_iom, by_similar, by_swapped));
  ASSERT_EQ(found.candidates_size(), 5);
  EXPECT_FLOAT_EQ(found.candidates(0).score(), 0.99F);
  EXPECT_THAT(found.candidates(0).reasons(),
              ElementsAre(v1::DUPLICATE_REASON_DOCUMENT_NUMBER,
                          v1::DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE));
  EXPECT_FLOAT_EQ(found.candidates(1).score(), 0.90F);
  EXPECT_THAT(found.candidates(1).reasons(),
              ElementsAre(v1::DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE));
  EXPECT_FLOAT_EQ(found.candidates(3).score(), 0.75F);
  EXPECT_THAT(found.candidates(3).reasons(),
              ElementsAre(v1::DUPLICATE_REASON_SIMILAR_NAMES_AND_BIRTH_DATE));
  EXPECT_FLOAT_EQ(found.candidates(4).score(), 0.60F);
  EXPECT_THAT(found.candidates(4).reasons(),
              ElementsAre(v1::DUPLICATE_REASON_SAME_NAMES_AND_SWAPPED_BIRTH_DATE));
  EXPECT_EQ(found.candidates(1).arrival().person().given_name(), "MARIA JOSE");
  EXPECT_THAT(found.next_page_token(), IsEmpty());

  // iom sees only the arrivals whose consent names it: not the one for unhcr.
  v1::FindPossibleDuplicatesResponse iom_found;
  status = Find(iom_cert_, subject, &iom_found);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(IdsOf(iom_found), ElementsAre(by_document, by_names, by_similar, by_swapped));
  // Its event names what it read: the subject and the candidates shown.
  const std::vector<v1::AuditEvent> iom_events = EventsOf(kIom, kFind);
  ASSERT_EQ(iom_events.size(), 1u);
  EXPECT_EQ(iom_events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_THAT(iom_events[0].record_ids(),
              UnorderedElementsAreArray({subject, by_document, by_names, by_similar, by_swapped}));
  EXPECT_EQ(iom_events[0].detail(), "candidates=4");
  EXPECT_EQ(iom_events[0].actor(), ::enlace::testing::kTestActor);

  // From the unhcr-only arrival, iom cannot even ask: NOT_FOUND, audited.
  v1::FindPossibleDuplicatesResponse none;
  status = Find(iom_cert_, hidden_from_iom, &none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_EQ(EventsOf(kIom, kFind).back().decision(), v1::DECISION_DENY);
  // unhcr may ask about the arrival whose consent names it, but every
  // candidate's consent names iom alone: none is shown to unhcr.
  v1::FindPossibleDuplicatesResponse unhcr_found;
  status = Find(unhcr_cert_, hidden_from_iom, &unhcr_found);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(unhcr_found.candidates(), IsEmpty());

  // Pages of two: the same five in the same order, then no token.
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    v1::FindPossibleDuplicatesResponse page;
    status = Find(mfa_cert_, subject, &page, 2, token);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const std::string& id : IdsOf(page)) paged.push_back(id);
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(paged, ElementsAreArray(IdsOf(found)));
  // A token is bound to its arrival and its caller.
  v1::FindPossibleDuplicatesResponse first;
  ASSERT_TRUE(Find(mfa_cert_, subject, &first, 2).ok());
  v1::FindPossibleDuplicatesResponse misused;
  status = Find(mfa_cert_, by_names, &misused, 2, first.next_page_token());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
  status = Find(iom_cert_, subject, &misused, 2, first.next_page_token());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // An erased record has nothing left to compare.
  status = Find(mfa_cert_, erased, &none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(DuplicatesTest, LinkingKeepsOnePersonAcrossArrivalsAndUnlinkingSeparatesThem) {
  Arrival first_return = Returnee("rep-1", "José Wilfredo", "Quintero", "1988-11-02", "DUI-7");
  first_return.set_arrival_date("2017-06-01");
  const std::string first = RecordOne(first_return);
  Arrival second_return = Returnee("rep-2", "Jose Wilfredo", "Quintero", "1988-11-02", "DUI-7");
  second_return.set_arrival_date("2018-02-10");
  const std::string second = RecordOne(second_return);
  const std::string third = RecordOne(Returnee("rep-3", "Jose Wilfredo", "Quintero", "1988-11-02"));

  // Each arrival starts as a person of its own, with an id that is no
  // arrival's id.
  const std::string first_person = PersonOf(first);
  EXPECT_EQ(first_person.size(), 32u);
  EXPECT_NE(first_person, first);
  EXPECT_NE(PersonOf(second), first_person);
  EXPECT_NE(PersonOf(third), first_person);
  v1::FindPossibleDuplicatesResponse found;
  ASSERT_TRUE(Find(mfa_cert_, first, &found).ok());
  EXPECT_THAT(IdsOf(found), ElementsAre(second, third));  // 0.99 (document), 0.90

  // The reviewed decision: one person, with the first arrival's person id,
  // seen by iom too; the pair is not proposed again.
  v1::LinkArrivalsResponse linked;
  grpc::Status status = Link(mfa_cert_, {second, first}, kLinkReason, &linked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(linked.person().person_id(), first_person);
  EXPECT_THAT(linked.person().arrival_ids(), ElementsAre(first, second));
  EXPECT_EQ(PersonOf(second), first_person);
  EXPECT_EQ(PersonOf(second, &iom_cert_), first_person);
  ASSERT_TRUE(Find(mfa_cert_, first, &found).ok());
  EXPECT_THAT(IdsOf(found), ElementsAre(third));
  // A repeat changes nothing.
  status = Link(mfa_cert_, {first, second}, kLinkReason, &linked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(linked.person().person_id(), first_person);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM person_decisions"), 1);

  // A third arrival joins the person.
  status = Link(mfa_cert_, {third, second}, kLinkReason, &linked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(linked.person().person_id(), first_person);
  EXPECT_THAT(linked.person().arrival_ids(), ElementsAre(first, second, third));
  EXPECT_EQ(PersonOf(third), first_person);
  ASSERT_TRUE(Find(mfa_cert_, first, &found).ok());
  EXPECT_THAT(found.candidates(), IsEmpty());

  // first and third are one person through second: unlinking them alone
  // would contradict the links kept, so it is refused and changes nothing.
  v1::UnlinkArrivalsResponse unlinked;
  status = Unlink(mfa_cert_, {first, third}, "No son la misma persona", &unlinked);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(second));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM person_decisions WHERE same_person = 0"), 0);
  EXPECT_EQ(PersonOf(third), first_person);

  // Unlinking second and third: third becomes a person of its own, with a
  // new id; first and second stay one person.
  status = Unlink(mfa_cert_, {third, second}, "No son la misma persona", &unlinked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(unlinked.persons_size(), 2);
  EXPECT_EQ(unlinked.persons(0).person_id(), first_person);
  EXPECT_THAT(unlinked.persons(0).arrival_ids(), ElementsAre(first, second));
  EXPECT_THAT(unlinked.persons(1).arrival_ids(), ElementsAre(third));
  const std::string third_person = unlinked.persons(1).person_id();
  EXPECT_NE(third_person, first_person);
  EXPECT_EQ(PersonOf(third), third_person);
  EXPECT_EQ(PersonOf(second), first_person);
  // second is not proposed for third again (decided not to be it); first
  // is (nothing was decided about that pair).
  v1::FindPossibleDuplicatesResponse for_third;
  ASSERT_TRUE(Find(mfa_cert_, third, &for_third).ok());
  EXPECT_THAT(IdsOf(for_third), ElementsAre(first));

  // The ministry's export of the returnee holds the decisions about them.
  v1::ReturneeData held = Export(first);
  ASSERT_EQ(held.person_decisions_size(), 1);
  EXPECT_THAT(held.person_decisions(0).arrival_ids(), ElementsAre(first, second));
  EXPECT_TRUE(held.person_decisions(0).same_person());
  EXPECT_EQ(held.person_decisions(0).reason(), kLinkReason);
  EXPECT_EQ(held.person_decisions(0).decided_by(), "mfa");
  EXPECT_EQ(Export(third).person_decisions(0).reason(), "No son la misma persona");
  EXPECT_FALSE(Export(third).person_decisions(0).same_person());
  // It is of the person: second's records come with first's, and third,
  // decided apart, is no part of it.
  ASSERT_EQ(held.linked_arrivals_size(), 1);
  const v1::ReturneeData& linked_held = held.linked_arrivals(0);
  EXPECT_EQ(linked_held.arrival().arrival_id(), second);
  EXPECT_EQ(linked_held.arrival().arrival_date(), "2018-02-10");
  EXPECT_EQ(linked_held.arrival().person().document_number(), "DUI-7");
  ASSERT_EQ(linked_held.versions_size(), 1);
  ASSERT_EQ(linked_held.consent_history_size(), 1);
  EXPECT_EQ(linked_held.person_decisions_size(), 2);  // with first; apart from third
  EXPECT_FALSE(linked_held.has_exported_at());
  EXPECT_THAT(linked_held.linked_arrivals(), IsEmpty());
  EXPECT_THAT(Export(third).linked_arrivals(), IsEmpty());

  // The decisions' free text goes with an erasure; the link stays.
  EXPECT_THAT(database_->ColumnsHolding(kLinkReason), Not(IsEmpty()));
  v1::EraseReturneeRequest erase;
  erase.set_arrival_id(second);
  erase.set_reason("Solicitud de supresión");
  v1::EraseReturneeResponse erased;
  status = Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(database_->ColumnsHolding(kLinkReason), IsEmpty());
  EXPECT_EQ(Export(first).person_decisions(0).reason(), "");
  EXPECT_EQ(PersonOf(second), first_person);
  // An erasure is of the person: first, linked with second, is erased too
  // (its document number was first's and second's only); third, decided
  // apart, keeps everything.
  EXPECT_FALSE(erased.already_erased());
  EXPECT_THAT(erased.linked_arrival_ids(), ElementsAre(first));
  EXPECT_THAT(database_->ColumnsHolding("DUI-7"), IsEmpty());
  EXPECT_EQ(database_->QueryInt(absl::StrCat(
                "SELECT COUNT(*) FROM arrivals WHERE erased_at_us IS NOT NULL AND given_name = '' "
                "AND arrival_id IN ('",
                first, "', '", second, "')")),
            2);
  EXPECT_EQ(database_->QueryInt(absl::StrCat(
                "SELECT COUNT(*) FROM arrivals WHERE erased_at_us IS NULL AND given_name = "
                "'Jose Wilfredo' AND arrival_id = '",
                third, "'")),
            1);
  const std::vector<v1::AuditEvent> erasures = EventsOf(kMfa, kErase);
  ASSERT_EQ(erasures.size(), 1u);
  EXPECT_THAT(erasures[0].record_ids(), ElementsAre(second, first));
  EXPECT_EQ(erasures[0].detail(), "erasure");
  // Erasing first now finds the whole person done.
  erase.set_arrival_id(first);
  v1::EraseReturneeResponse again;
  status = Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(again.already_erased());
  EXPECT_THAT(again.linked_arrival_ids(), ElementsAre(second));
  EXPECT_EQ(again.erased_at().seconds(), erased.erased_at().seconds());
  // An erased arrival takes no new link.
  status = Link(mfa_cert_, {second, third}, kLinkReason, &linked);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();

  // Each decision is audited with the arrivals it names, never its reason.
  const std::vector<v1::AuditEvent> links = EventsOf(kMfa, kLink);
  ASSERT_EQ(links.size(), 4u);
  EXPECT_EQ(links[0].detail(), "link");
  EXPECT_THAT(links[0].record_ids(), ElementsAre(second, first));
  EXPECT_EQ(links[3].status_code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  const std::vector<v1::AuditEvent> unlinks = EventsOf(kMfa, kUnlink);
  ASSERT_EQ(unlinks.size(), 2u);
  EXPECT_EQ(unlinks[1].detail(), "unlink");
  for (const v1::AuditEvent& e : links) EXPECT_THAT(e.detail(), Not(HasSubstr("Revisado")));
}

TEST_F(DuplicatesTest, OnlyTheMinistryLinksAndBadInputChangesNothing) {
  const std::string a = RecordOne(Returnee("bad-1", "Rosa", "Amaya", "1975-01-09"));
  const std::string b = RecordOne(Returnee("bad-2", "Rosa", "Amaya", "1975-01-09"));
  const std::string a_person = PersonOf(a);
  const std::string b_person = PersonOf(b);

  // Agencies may look, never decide: PERMISSION_DENIED, audited.
  v1::LinkArrivalsResponse linked;
  v1::UnlinkArrivalsResponse unlinked;
  EXPECT_EQ(Link(iom_cert_, {a, b}, kLinkReason, &linked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Unlink(iom_cert_, {a, b}, kLinkReason, &unlinked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(EventsOf(kIom, kLink).size(), 1u);
  EXPECT_EQ(EventsOf(kIom, kLink)[0].decision(), v1::DECISION_DENY);
  ASSERT_EQ(EventsOf(kIom, kUnlink).size(), 1u);

  struct Bad {
    std::vector<std::string> ids;
    std::string reason;
    grpc::StatusCode code;
    std::string field;
  };
  std::vector<std::string> too_many;
  too_many.reserve(21);
  for (int i = 0; i < 21; ++i) too_many.push_back(absl::StrCat(a.substr(0, 30), 10 + i));
  const Bad bad[] = {
      {{a, a}, kLinkReason, grpc::StatusCode::INVALID_ARGUMENT, "arrival_ids"},  // a self-link
      {{a}, kLinkReason, grpc::StatusCode::INVALID_ARGUMENT, "arrival_ids"},
      {{}, kLinkReason, grpc::StatusCode::INVALID_ARGUMENT, "arrival_ids"},
      {too_many, kLinkReason, grpc::StatusCode::INVALID_ARGUMENT, "arrival_ids"},
      {{a, "not an id"}, kLinkReason, grpc::StatusCode::INVALID_ARGUMENT, "arrival_ids"},
      {{a, b}, "", grpc::StatusCode::INVALID_ARGUMENT, "reason"},
      {{a, b}, "   ", grpc::StatusCode::INVALID_ARGUMENT, "reason"},
      {{a, b}, std::string(501, 'x'), grpc::StatusCode::INVALID_ARGUMENT, "reason"},
      {{a, std::string(32, 'f')}, kLinkReason, grpc::StatusCode::NOT_FOUND, ""},
  };
  for (const Bad& c : bad) {
    grpc::Status status = Link(mfa_cert_, c.ids, c.reason, &linked);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
    status = Unlink(mfa_cert_, c.ids, c.reason, &unlinked);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
  }
  // Nothing changed, and every refusal is audited.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM person_decisions"), 0);
  EXPECT_EQ(PersonOf(a), a_person);
  EXPECT_EQ(PersonOf(b), b_person);
  EXPECT_EQ(EventsOf(kMfa, kLink).size(), std::size(bad));
  EXPECT_EQ(EventsOf(kMfa, kUnlink).size(), std::size(bad));

  // FindPossibleDuplicates: malformed and unknown arrivals, bad paging.
  v1::FindPossibleDuplicatesResponse found;
  grpc::Status status = Find(mfa_cert_, "not an id", &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival_id"));
  status = Find(mfa_cert_, std::string(32, 'f'), &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  status = Find(mfa_cert_, a, &found, 501);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));
  status = Find(mfa_cert_, a, &found, 0, "forged");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
  // undp is named in neither consent: NOT_FOUND, as for an arrival that
  // does not exist.
  status = Find(undp_cert_, a, &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace enlace
