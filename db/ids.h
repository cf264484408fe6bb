// Server-assigned record ids: 128 random bits as 32 lower-case hex digits.
// Opaque to clients; unguessable, so an id reveals nothing about others.
#ifndef ENLACE_DB_IDS_H_
#define ENLACE_DB_IDS_H_

#include <string>

#include "absl/status/statusor.h"

namespace enlace::db {

// INTERNAL only if the system's random source fails.
absl::StatusOr<std::string> NewRecordId();

}  // namespace enlace::db

#endif  // ENLACE_DB_IDS_H_
