// ISO 3166-1 alpha-2 country codes, for checking Arrival.origin_country.

#ifndef ENLACE_SERVER_ISO_COUNTRIES_H_
#define ENLACE_SERVER_ISO_COUNTRIES_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace enlace::server {

// True iff `code` is one of the 249 officially assigned ISO 3166-1 alpha-2
// codes, in upper case ("SV", "US"; not "sv", not user-assigned codes such as
// "XK", not exceptionally reserved ones such as "UK" or "EU").
bool IsIsoAlpha2Country(absl::string_view code);

// All the codes IsIsoAlpha2Country accepts, sorted.
std::vector<absl::string_view> IsoAlpha2Countries();

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ISO_COUNTRIES_H_
