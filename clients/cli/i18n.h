// enlacectl's languages: messages and help in Spanish when the environment
// asks for it (LANGUAGE, LC_ALL, LC_MESSAGES or LANG naming es_*), English
// otherwise, through GNU gettext and the catalog compiled from
// clients/cli/po/es.po (domain "enlacectl").
//
// A msgid is the English text itself, exactly as written in the source: the
// help blocks, group summaries and leaf usages are translated as whole texts
// (Tr(text) at the time they are printed), error messages as patterns with
// absl::Substitute placeholders ($0, $1), e.g.
//   Tr("unknown flag --$0")  ->  "opción desconocida --$0"
#ifndef ENLACE_CLIENTS_CLI_I18N_H_
#define ENLACE_CLIENTS_CLI_I18N_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/strings/substitute.h"

namespace enlace::cli {

// The gettext domain, also the name of the catalog (enlacectl.mo).
inline constexpr char kTextDomain[] = "enlacectl";

// Selects the language from the environment and binds the catalog: the
// directory $ENLACE_LOCALEDIR, else "locale" beside the binary (the build
// tree), else ../share/locale from it (the installed prefix). When Spanish is
// asked for but the system has no such locale (setlocale fails, or leaves
// the C locale), falls back to C.UTF-8 with LANGUAGE=es so that gettext
// still translates. Call once, first thing in main().
void InitLanguage();

// True when messages are being translated into Spanish.
bool SpanishSelected();

// The translation of `text` (a msgid), or `text` itself.
std::string Tr(absl::string_view text);
const char* Tr(const char* text);

// Tr(pattern) with absl::Substitute's $0, $1, ... filled in.
template <typename... Args>
std::string TrFormat(const char* pattern, const Args&... args) {
  return absl::Substitute(Tr(pattern), args...);
}

}  // namespace enlace::cli

#endif  // ENLACE_CLIENTS_CLI_I18N_H_
