// Marks a status as the database's own error, whatever the database: its
// message holds the database's text (SQL, key names, a duplicated value),
// which belongs in the logs and never in an answer to a caller. Stores that
// mean an error to be read (e.g. "agency iom is already registered") make a
// new, unmarked status.
#ifndef ENLACE_DB_DATABASE_ERROR_H_
#define ENLACE_DB_DATABASE_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace enlace::db {

inline constexpr absl::string_view kDatabaseErrorPayload =
    "type.enlace.dev/enlace.db.DatabaseError";

inline absl::Status MarkDatabaseError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kDatabaseErrorPayload, absl::Cord("1"));
  return status;
}

inline bool IsDatabaseError(const absl::Status& status) {
  return status.GetPayload(kDatabaseErrorPayload).has_value();
}

}  // namespace enlace::db

#endif  // ENLACE_DB_DATABASE_ERROR_H_
