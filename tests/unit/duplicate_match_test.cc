// The duplicate rules (server/duplicate_match.h) and the swapped birth date
// the database looks up (db/person_store.h), table-tested: every rule and
// score, the near misses that must not match, and the folding of names and
// document numbers.
#include "server/duplicate_match.h"

#include <optional>
#include <string>
#include <vector>

#include "db/person_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::server {
namespace {

using enlace::v1::Arrival;
using ::testing::ElementsAreArray;

TEST(FoldNameTest, DropsCaseAccentsAndPunctuation) {
  const std::pair<std::string, std::string> cases[] = {
      {"María José", "maria jose"},
      {"  NÚÑEZ-O'Brien ", "nunez o brien"},
      {"Peña  López", "pena lopez"},
      {"Güiza", "guiza"},
      {"ÁÉÍÓÚÜÑÇ", "aeiouunc"},
      {"D’Aubuisson", "d aubuisson"},
      {"J. Carlos", "j carlos"},
      {"", ""},
      {" - ", ""},
      {"Ørsted", "orsted"},
      // Not Latin: kept as written.
      {"Ωmega", "Ωmega"},
  };
  for (const auto& [name, folded] : cases) EXPECT_EQ(FoldName(name), folded) << name;
}

TEST(FoldDocumentNumberTest, KeepsLettersAndDigitsInUpperCase) {
  EXPECT_EQ(FoldDocumentNumber("a-123 45"), "A12345");
  EXPECT_EQ(FoldDocumentNumber("04567890-1"), "045678901");
  EXPECT_EQ(FoldDocumentNumber("--"), "");
}

TEST(OneSlipApartTest, OneEditOrOneSwapOnly) {
  EXPECT_TRUE(OneSlipApart("hernandez", "hernandes"));  // changed
  EXPECT_TRUE(OneSlipApart("hernandez", "hernadez"));  // dropped
  EXPECT_TRUE(OneSlipApart("hernadez", "hernandez"));  // added
  EXPECT_TRUE(OneSlipApart("hernandez", "hernadnez"));  // neighbours swapped
  EXPECT_TRUE(OneSlipApart("ana", "anna"));
  EXPECT_TRUE(OneSlipApart("ana", "an"));  // dropped at the end
  EXPECT_FALSE(OneSlipApart("hernandez", "hernandez"));  // equal
  EXPECT_FALSE(OneSlipApart("hernandez", "hrenandes"));  // two slips
  EXPECT_FALSE(OneSlipApart("ana", "anita"));
  EXPECT_FALSE(OneSlipApart("abc", "cba"));
}

TEST(SameOrFirstWordsOfTest, WholeWordsOnly) {
  EXPECT_TRUE(SameOrFirstWordsOf("hernandez", "hernandez lopez"));
  EXPECT_TRUE(SameOrFirstWordsOf("hernandez lopez", "hernandez"));
  EXPECT_TRUE(SameOrFirstWordsOf("maria", "maria"));
  EXPECT_FALSE(SameOrFirstWordsOf("hernan", "hernandez"));
  EXPECT_FALSE(SameOrFirstWordsOf("lopez", "hernandez lopez"));
  EXPECT_FALSE(SameOrFirstWordsOf("", "hernandez"));
}

TEST(SwappedBirthDateTest, OnlyAnotherRealDate) {
  EXPECT_EQ(db::SwappedBirthDate("2001-04-03"), "2001-03-04");
  EXPECT_EQ(db::SwappedBirthDate("2001-12-01"), "2001-01-12");
  EXPECT_EQ(db::SwappedBirthDate("2001-04-13"), std::nullopt);  // no 13th month
  EXPECT_EQ(db::SwappedBirthDate("2001-05-05"), std::nullopt);  // the same date
  EXPECT_EQ(db::SwappedBirthDate("2001-02-10"), "2001-10-02");
  EXPECT_EQ(db::SwappedBirthDate("not a date"), std::nullopt);
  EXPECT_EQ(db::SwappedBirthDate(""), std::nullopt);
}

Arrival Person(const std::string& given, const std::string& family, const std::string& birth,
               const std::string& document = "") {
  Arrival a;
  a.mutable_person()->set_given_name(given);
  a.mutable_person()->set_family_name(family);
  a.mutable_person()->set_birth_date(birth);
  a.mutable_person()->set_document_number(document);
  return a;
}

struct Case {
  const char* what;
  Arrival other;
  float score;  // 0: no match
  std::vector<enlace::v1::DuplicateReason> reasons;
};

TEST(MatchArrivalsTest, EachRuleItsScoreAndTheNearMissesThatDoNotMatch) {
  using Reason = enlace::v1::DuplicateReason;
  const Reason kDocument = enlace::v1::DUPLICATE_REASON_DOCUMENT_NUMBER;
  const Reason kSame = enlace::v1::DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE;
  const Reason kSimilar = enlace::v1::DUPLICATE_REASON_SIMILAR_NAMES_AND_BIRTH_DATE;
  const Reason kSwapped = enlace::v1::DUPLICATE_REASON_SAME_NAMES_AND_SWAPPED_BIRTH_DATE;
  const Arrival subject = Person("María José", "Hernández López", "1990-04-03", "04567890-1");
  const Case cases[] = {
      {"the same document, names and birth date",
       Person("MARIA JOSE", "HERNANDEZ LOPEZ", "1990-04-03", "045678901"),
       0.99F,
       {kDocument, kSame}},
      {"the same document only",
       Person("Ana", "Pérez", "1970-01-01", "04567890-1"),
       0.95F,
       {kDocument}},
      {"the same document, similar names",
       Person("María José", "Hernandez", "1990-04-03", "04567890-1"),
       0.99F,
       {kDocument, kSimilar}},
      {"the same names and birth date, no document",
       Person("maria jose", "hernandez-lopez", "1990-04-03"),
       0.90F,
       {kSame}},
      {"one family name of two",
       Person("María José", "Hernández", "1990-04-03"),
       0.75F,
       {kSimilar}},
      {"one given name of two",
       Person("María", "Hernández López", "1990-04-03"),
       0.75F,
       {kSimilar}},
      {"one letter off", Person("Maria Jose", "Hernandes Lopez", "1990-04-03"), 0.75F, {kSimilar}},
      {"two letters swapped",
       Person("Maria Jsoe", "Hernandez Lopez", "1990-04-03"),
       0.75F,
       {kSimilar}},
      {"day and month swapped",
       Person("María José", "Hernández López", "1990-03-04"),
       0.60F,
       {kSwapped}},
      // Near misses.
      {"the same names, another birth date",
       Person("María José", "Hernández López", "1990-04-05"),
       0,
       {}},
      {"similar names and a swapped date", Person("María José", "Hernández", "1990-03-04"), 0, {}},
      {"two slips", Person("Mria Jose", "Hernandes Lopez", "1990-04-03"), 0, {}},
      {"another person born the same day", Person("Ana", "Pérez", "1990-04-03"), 0, {}},
      {"a family name that merely starts the same",
       Person("María José", "Hernán", "1990-04-03"),
       0,
       {}},
      {"an erased record (names gone)", Person("", "", "1990-04-03"), 0, {}},
  };
  for (const Case& c : cases) {
    std::optional<DuplicateMatch> match = MatchArrivals(subject, c.other);
    if (c.score == 0) {
      EXPECT_EQ(match, std::nullopt) << c.what;
      continue;
    }
    ASSERT_TRUE(match.has_value()) << c.what;
    EXPECT_FLOAT_EQ(match->score, c.score) << c.what;
    EXPECT_THAT(match->reasons, ElementsAreArray(c.reasons)) << c.what;
    // The rules are symmetric.
    std::optional<DuplicateMatch> back = MatchArrivals(c.other, subject);
    ASSERT_TRUE(back.has_value()) << c.what;
    EXPECT_FLOAT_EQ(back->score, c.score) << c.what;
  }
}

TEST(MatchArrivalsTest, AnEmptyDocumentNumberMatchesNothing) {
  EXPECT_EQ(
      MatchArrivals(Person("Ana", "Pérez", "1990-01-01"), Person("Luis", "Gómez", "1970-01-01")),
      std::nullopt);
}

}  // namespace
}  // namespace enlace::server
