// The duplicate rules (see duplicate_match.h).
#include "server/duplicate_match.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "db/person_store.h"

namespace enlace::server {
namespace {

// Decodes the UTF-8 code point at text[*i] and advances *i past it. A byte
// that starts no valid sequence reads as itself (validated input has none).
uint32_t NextCodePoint(absl::string_view text, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(*i);
  int length = lead < 0x80           ? 1
               : (lead >> 5) == 0x6  ? 2
               : (lead >> 4) == 0xE  ? 3
               : (lead >> 3) == 0x1E ? 4
                                     : 1;
  if (*i + length > text.size()) length = 1;
  uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (int k = 1; k < length; ++k) cp = (cp << 6) | (byte(*i + k) & 0x3F);
  *i += length;
  return cp;
}

// The ASCII letter a Latin-1 accented letter folds to; 0 for none.
char FoldLatin1(uint32_t cp) {
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 0x20;  // upper to lower (not ×)
  if (cp >= 0xE0 && cp <= 0xE5) return 'a';
  if (cp == 0xE7) return 'c';
  if (cp >= 0xE8 && cp <= 0xEB) return 'e';
  if (cp >= 0xEC && cp <= 0xEF) return 'i';
  if (cp == 0xF1) return 'n';
  if ((cp >= 0xF2 && cp <= 0xF6) || cp == 0xF8) return 'o';
  if (cp >= 0xF9 && cp <= 0xFC) return 'u';
  if (cp == 0xFD || cp == 0xFF) return 'y';
  return 0;
}

bool IsSeparator(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '-' || cp == '\'' || cp == '.' || cp == ',' ||
         cp == 0x2019;  // right single quotation mark, the typographic apostrophe
}

}  // namespace

std::string FoldName(absl::string_view name) {
  std::string folded;
  folded.reserve(name.size());
  bool pending_space = false;
  for (size_t i = 0; i < name.size();) {
    const size_t start = i;
    const uint32_t cp = NextCodePoint(name, &i);
    if (IsSeparator(cp)) {
      pending_space = !folded.empty();
      continue;
    }
    if (pending_space) folded.push_back(' ');
    pending_space = false;
    if (cp < 0x80) {
      folded.push_back(absl::ascii_tolower(static_cast<unsigned char>(cp)));
    } else if (char ascii = FoldLatin1(cp); ascii != 0) {
      folded.push_back(ascii);
    } else {
      folded.append(name.data() + start, i - start);
    }
  }
  return folded;
}

std::string FoldDocumentNumber(absl::string_view document_number) {
  std::string folded;
  for (char c : document_number) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      folded.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    }
  }
  return folded;
}

bool OneSlipApart(absl::string_view a, absl::string_view b) {
  if (a == b) return false;
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;  // the first difference
  if (a.size() == b.size()) {
    // One changed, or two neighbours swapped.
    if (a.substr(i + 1) == b.substr(i + 1)) return true;
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           a.substr(i + 2) == b.substr(i + 2);
  }
  return a.substr(i) == b.substr(i + 1);  // one added to the shorter
}

bool SameOrFirstWordsOf(absl::string_view a, absl::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (a.empty()) return false;
  return b.substr(0, a.size()) == a && (b.size() == a.size() || b[a.size()] == ' ');
}

std::optional<DuplicateMatch> MatchArrivals(const enlace::v1::Arrival& a,
                                            const enlace::v1::Arrival& b) {
  const std::string document_a = FoldDocumentNumber(a.person().document_number());
  const bool same_document =
      !document_a.empty() && document_a == FoldDocumentNumber(b.person().document_number());

  const std::string given_a = FoldName(a.person().given_name());
  const std::string family_a = FoldName(a.person().family_name());
  const std::string given_b = FoldName(b.person().given_name());
  const std::string family_b = FoldName(b.person().family_name());
  const bool named = !given_a.empty() && !family_a.empty() && !given_b.empty() && !family_b.empty();
  const bool same_names = named && given_a == given_b && family_a == family_b;
  const bool similar_names =
      named && !same_names &&
      ((SameOrFirstWordsOf(given_a, given_b) && SameOrFirstWordsOf(family_a, family_b)) ||
       OneSlipApart(given_a + " " + family_a, given_b + " " + family_b));

  const std::string& birth_a = a.person().birth_date();
  const bool same_birth = !birth_a.empty() && birth_a == b.person().birth_date();
  const std::optional<std::string> swapped = db::SwappedBirthDate(birth_a);
  const bool swapped_birth = swapped.has_value() && *swapped == b.person().birth_date();

  DuplicateMatch match;
  if (same_document) {
    match.reasons.push_back(enlace::v1::DUPLICATE_REASON_DOCUMENT_NUMBER);
    match.score = 0.95F;
  }
  float by_name = 0;
  if (same_names && same_birth) {
    match.reasons.push_back(enlace::v1::DUPLICATE_REASON_SAME_NAMES_AND_BIRTH_DATE);
    by_name = 0.90F;
  }
  if (similar_names && same_birth) {
    match.reasons.push_back(enlace::v1::DUPLICATE_REASON_SIMILAR_NAMES_AND_BIRTH_DATE);
    by_name = std::max(by_name, 0.75F);
  }
  if (same_names && swapped_birth) {
    match.reasons.push_back(enlace::v1::DUPLICATE_REASON_SAME_NAMES_AND_SWAPPED_BIRTH_DATE);
    by_name = std::max(by_name, 0.60F);
  }
  if (match.reasons.empty()) return std::nullopt;
  match.score = same_document ? (by_name > 0 ? 0.99F : 0.95F) : by_name;
  return match;
}

}  // namespace enlace::server
