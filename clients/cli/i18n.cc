// enlacectl's languages through GNU gettext (see i18n.h).
#include "clients/cli/i18n.h"

#include <libintl.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace enlace::cli {
namespace {

bool g_spanish = false;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// The language the environment asks for messages in: the first entry of
// LANGUAGE, else the first of LC_ALL, LC_MESSAGES, LANG that is set.
std::string RequestedLanguage() {
  std::string language = Env("LANGUAGE");
  if (!language.empty()) return language.substr(0, language.find(':'));
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    std::string value = Env(name);
    if (!value.empty()) return value;
  }
  return "";
}

bool IsSpanish(absl::string_view language) {
  return absl::StartsWith(language, "es") &&
         (language.size() == 2 || std::strchr("_.@", language[2]) != nullptr);
}

bool FileExists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// The directory holding es/LC_MESSAGES/enlacectl.mo, or "" when none does.
std::string CatalogDirectory() {
  std::vector<std::string> candidates;
  if (std::string dir = Env("ENLACE_LOCALEDIR"); !dir.empty()) candidates.push_back(dir);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string bin(exe, static_cast<size_t>(n));
    bin = bin.substr(0, bin.rfind('/'));
    candidates.push_back(absl::StrCat(bin, "/locale"));  // the build tree
    candidates.push_back(absl::StrCat(bin, "/../share/locale"));  // the install prefix
  }
  for (const std::string& dir : candidates) {
    if (FileExists(absl::StrCat(dir, "/es/LC_MESSAGES/", kTextDomain, ".mo"))) return dir;
  }
  return "";
}

bool MessagesLocaleIsC() {
  const char* current = std::setlocale(LC_MESSAGES, nullptr);
  return current == nullptr || std::strcmp(current, "C") == 0 || std::strcmp(current, "POSIX") == 0;
}

// A msgid that every catalog translates: whether gettext finds the catalog.
constexpr char kProbe[] = "Usage:";

bool Translates() { return std::strcmp(dgettext(kTextDomain, kProbe), kProbe) != 0; }

}  // namespace

void InitLanguage() {
  const std::string language = RequestedLanguage();
  if (!IsSpanish(language)) return;  // English: the msgids themselves
  const std::string dir = CatalogDirectory();
  if (dir.empty()) return;
  bindtextdomain(kTextDomain, dir.c_str());
  bind_textdomain_codeset(kTextDomain, "UTF-8");
  // Only the categories messages need: numbers and dates stay as in C.
  const bool have_locale = std::setlocale(LC_MESSAGES, "") != nullptr && !MessagesLocaleIsC();
  std::setlocale(LC_CTYPE, "");
  if (have_locale && Translates()) {
    g_spanish = true;
    return;
  }
  // No such locale on this system (often only C and C.UTF-8 exist): in
  // C.UTF-8, unlike C, gettext follows LANGUAGE.
  std::setlocale(LC_MESSAGES, "C.UTF-8");
  std::setlocale(LC_CTYPE, "C.UTF-8");
  const std::string wanted = Env("LANGUAGE");
  if (!IsSpanish(wanted.substr(0, wanted.find(':')))) setenv("LANGUAGE", "es", 1);
  g_spanish = Translates();
}

bool SpanishSelected() { return g_spanish; }

std::string Tr(absl::string_view text) {
  if (!g_spanish || text.empty()) return std::string(text);
  const std::string msgid(text);
  return dgettext(kTextDomain, msgid.c_str());
}

const char* Tr(const char* text) {
  if (!g_spanish || *text == '\0') return text;
  return dgettext(kTextDomain, text);
}

}  // namespace enlace::cli
